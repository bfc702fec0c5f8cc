"""The hostile corpus: submissions that attack the autograder, each with the exact score it must get.

Every other module of this package is one submission: the reference
submission of hw3 with hostile code appended to (``APPEND``), added next to
(``ADD``) or removed from (``REMOVE``) its ``course_lib`` files, and
``adjust(submission)`` for anything else. What it must score: each test of a
function in ``ZERO`` and each test titled in ``ZERO_TESTS`` scores 0, every
other test full marks; ``FEEDBACK`` maps a function (all its tests) or a test
title to text that feedback must contain. What must not happen is in the module's docstring, and
tests/test_hostile.py checks all of it for every case: grading ends within
``BUDGET`` seconds, results.json is valid, the score is exact, no output holds
fixture or autograder text or a harness path, no attack left a success mark,
the canary file is intact and no process of the workers' user is left.

The hostile code starts with ``PRELUDE``, which gives it ``_mark(what)`` to
leave a note in the proof folder (``ran`` as soon as it runs, when ``RAN`` is
true; ``succeeded-...`` when an attack worked), ``_as_root()``, which the
attacks that could harm the machine (fork bomb, kill, delete) call to refuse
to run as root, ``_roots()``, the places an
attacker would look for the autograder (``/autograder`` and the grading folders
found in a folder above its job), and ``_CANARY``, a root-owned file it would like
to destroy.
"""
import importlib
import pkgutil
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

NEURAL_NET = ("classifiers.neural_net.TwoLayerNet.loss", "classifiers.neural_net.TwoLayerNet.train",
              "classifiers.neural_net.TwoLayerNet.predict")
FC_NET = ("classifiers.fc_net.TwoLayerNet.__init__", "classifiers.fc_net.TwoLayerNet.loss",
          "classifiers.fc_net.FullyConnectedNet.__init__", "classifiers.fc_net.FullyConnectedNet.loss")

PRELUDE = '''

# ---- hostile code (tests/hostile) ----
import os as _os

_PROOF = "@PROOF@"
_CASE = "@CASE@"
_CANARY = "@CANARY@"


def _mark(what):
    """Leave a note for the test: what this code did or managed."""
    try:
        with open(_os.path.join(_PROOF, _CASE + "." + what), "w") as note:
            note.write(what)
    except OSError:
        pass


def _as_root():
    """True, and noted, when this runs as root: the dangerous attacks then refuse and the test fails."""
    if _os.getuid() == 0:
        _mark("ran-as-root")
        return True
    return False


def _roots():
    """Where an attacker looks for the autograder: /autograder, and grading folders beside a folder above its job."""
    folder = _os.getcwd()
    while folder != _os.path.dirname(folder):
        folder = _os.path.dirname(folder)
        try:
            names = sorted(_os.listdir(folder))
        except OSError:
            continue
        found = [_os.path.join(folder, name) for name in names if name.startswith("course-grade-")]
        if found:
            return ["/autograder"] + found
    return ["/autograder"]


'''


@dataclass(frozen=True)
class Case:
    """One hostile submission and what grading it must give."""

    name: str
    about: str
    append: dict
    add: dict
    remove: tuple
    zero: tuple
    zero_tests: tuple
    feedback: dict
    ran: bool
    needs_user_switch: bool
    budget: float
    adjust: Callable | None
    partial_tests: dict  # {test title: fraction}: tests that keep only the checks the attack leaves right

    def expected_fraction(self, test):
        """What a test entry of results.json must score, as a fraction of its max_score."""
        zeroed = test["extra_data"]["function"] in self.zero or test["name"] in self.zero_tests
        return 0.0 if zeroed else self.partial_tests.get(test["name"], 1.0)


def load_cases():
    """Every case module of this package, by name."""
    cases = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        cases.append(Case(
            name=info.name,
            about=module.__doc__.strip(),
            append=getattr(module, "APPEND", {}),
            add=getattr(module, "ADD", {}),
            remove=tuple(getattr(module, "REMOVE", ())),
            zero=tuple(getattr(module, "ZERO", ())),
            zero_tests=tuple(getattr(module, "ZERO_TESTS", ())),
            feedback=getattr(module, "FEEDBACK", {}),
            ran=getattr(module, "RAN", True),
            needs_user_switch=getattr(module, "NEEDS_USER_SWITCH", False),
            budget=getattr(module, "BUDGET", 60.0),
            adjust=getattr(module, "adjust", None),
            partial_tests=getattr(module, "PARTIAL_TESTS", {}),
        ))
    return cases


def write_submission(case, reference, destination, tokens):
    """The reference submission with the case's hostile changes, in ``destination``.

    tokens: {"@PROOF@": folder, "@CASE@": name, "@CANARY@": file} put into the hostile code.
    """
    shutil.copytree(reference, destination)
    library = Path(destination) / "course_lib"

    def hostile(code):
        text = PRELUDE + code
        for token, value in tokens.items():
            text = text.replace(token, str(value))
        return text

    for relative, code in case.append.items():
        with open(library / relative, "a") as file:
            file.write(hostile(code))
    for relative, code in case.add.items():
        (library / relative).write_text(hostile(code))
    for relative in case.remove:
        (library / relative).unlink()
    if case.adjust is not None:
        case.adjust(Path(destination))
    return Path(destination)
