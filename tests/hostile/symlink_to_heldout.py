"""The upload's two checkpoints are symbolic links into the autograder: the held-out data and the hidden fixtures.

Must not happen: a link followed, so that the held-out data or the fixtures
are read as a checkpoint (their member names and shapes echoed in the
feedback, or their arrays evaluated). The links are skipped and named in the
summary; both checkpoints score 0 as missing; nothing else is affected.
"""
import os

ZERO = ("checkpoint two_layer_best_net", "checkpoint fc_two_layer_net")
FEEDBACK = {"checkpoint two_layer_best_net": "was not found in your upload",
            "checkpoint fc_two_layer_net": "was not found in your upload"}
RAN = False


def adjust(submission):
    """Links to where Gradescope keeps the autograder, /autograder/source (refused whether or not it exists)."""
    for name, target in (("two_layer_best_net", "heldout/cifar10.npz"), ("fc_two_layer_net", "fixtures.npz")):
        checkpoint = submission / "checkpoints" / f"{name}.npz"
        checkpoint.unlink()
        os.symlink(f"/autograder/source/{target}", checkpoint)
