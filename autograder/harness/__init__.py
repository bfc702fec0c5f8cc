"""The grading process of the Gradescope autograder (Python 3.10, numpy only).

``python -m autograder.harness --root /autograder`` grades ``/autograder/submission``
with the autograder unpacked in ``/autograder/source`` and writes
``/autograder/results/results.json``; see ``autograder.harness.pipeline``.
"""
