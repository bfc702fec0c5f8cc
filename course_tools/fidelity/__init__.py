"""Grading fidelity: how the autograder judges realistic wrong and alternative correct solutions.

The corpus lives in ``fidelity/wrong/<assignment>.toml`` (mistakes students
really make) and ``fidelity/correct/<assignment>.toml`` (other valid ways to
write a student function). Each variant is a small patch on the reference
``course_lib``. A submission is made per variant (the reference submission
with the patch applied, reference checkpoints included) and graded with the
assignment's autograder zip. What is expected:

- a wrong variant loses points on the tests of every function it breaks,
  keeps full marks on every other test (unless that test's feedback names a
  broken function as its failing prerequisite), and the feedback of its
  failing tests names the wrong outputs (``names``) and does not blame the
  outputs that are still right (``intact``);
- a correct variant scores full marks.

The mutation analysis (``--mutants``) measures the hidden suites the other
way round: systematic small mutations of every solution region, each graded
by the tests that can see it, classified by whether the mutated function's
own test kills it.

Modules, by job: ``corpus`` (load and check the corpus), ``patching`` (apply a
variant's edits), ``tracing`` (which functions each hidden test executes),
``grading`` (grade variants with the autograder zip), ``judging`` (read the
results), ``unit_tests`` (the project's own tests against each variant),
``report`` (the markdown report), ``mutants`` (generate mutants),
``mutation`` (grade and classify them), ``mutation_report`` and ``cli``.

``python -m course_tools.fidelity [ASSIGNMENT ...] --report PATH`` grades the
whole corpus and writes a markdown report an instructor can read;
``--unit-tests`` also checks every variant against the project's own test
suite; ``--mutants`` runs the mutation analysis instead.
"""
from course_tools.fidelity.corpus import REPO_ROOT, CorpusError, Variant, check_corpus, load_corpus
from course_tools.fidelity.patching import PatchError, apply_variant, patched_text

__all__ = ["REPO_ROOT", "CorpusError", "PatchError", "Variant", "apply_variant", "check_corpus", "load_corpus",
           "patched_text"]
