"""Where things live in an autograder zip (unpacked to ``<root>/source`` on Gradescope) and in its root.

Shared by the builder, which writes these files, and the harness, which reads them.
"""
from pathlib import Path

MANIFEST = "manifest.json"  # the assignment's manifest entry, baked (no TOML parser needed)
FIXTURES = "fixtures.npz"  # inputs and reference outputs of every hidden test
HELDOUT = "heldout"  # heldout/<dataset>.npz: uint8 images, labels and the preprocessing
EXPERIMENT_DATA = "experiments.npz"  # the training images the logged experiments ran on, for their replay
STUBS = "stubs"  # stubs/course_lib: the released library the submission is laid over
REFERENCE = "reference"  # reference/course_lib: used by the grading process only
KNOWN_MISTAKES = "known_mistakes.npz"  # outputs of the fidelity corpus' wrong variants on the hidden tests' inputs
KNOWN_HINTS = "known_mistakes.json"  # {variant name: {"hint": sentence for the student, "tests": [test ids]}}
SCRIPTS = ("setup.sh", "run_autograder")


def fixture_key(test_id, part, name):
    """Key of an array in FIXTURES: part is "in" (worker inputs) or "out" (reference outputs)."""
    return f"{test_id}::{part}::{name}"


def split_fixture_key(key):
    test_id, part, name = key.rsplit("::", 2)
    return test_id, part, name


def known_key(variant, test_id, name):
    """Key of an array in KNOWN_MISTAKES: a known wrong variant's output ``name`` on test ``test_id``."""
    return f"{variant}::{test_id}::{name}"


def split_known_key(key):
    variant, rest = key.split("::", 1)
    test_id, name = rest.rsplit("::", 1)
    return variant, test_id, name


class Root:
    """An autograder root laid out like Gradescope's /autograder."""

    def __init__(self, root):
        self.root = Path(root)

    @property
    def source(self):
        return self.root / "source"

    @property
    def submission(self):
        return self.root / "submission"

    @property
    def results(self):
        return self.root / "results" / "results.json"
