"""The hidden tests of every student function, and which of them an assignment grades.

``CATALOG`` holds every test, keyed by the manifest key of the function it
tests; ``plan_tests`` picks an assignment's tests, splits each function's
points over its tests, adds its checkpoints, and adds (for no points) the
tests of functions from other assignments that its tests rely on, so that
feedback can name a failing prerequisite.

Suites are collected, not registered: every module of this package that
defines ``TESTS`` (a list of ``spec.Test``) is a suite. The catalog takes the
suites in alphabetical order of their module names and each suite's tests in
its own order; that order numbers the prerequisite tests (``0.n``, see
``prerequisites``), and a function's own tests are numbered in their order.
"""
import importlib
import pkgutil
from dataclasses import dataclass

from autograder.suites.logs import experiment, log_test
from autograder.suites.spec import Test, accuracy_test


def suite_modules():
    """The modules of this package that define ``TESTS``, in alphabetical order of their names."""
    modules = [importlib.import_module(f"{__name__}.{info.name}")
               for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name)]
    return [module for module in modules if hasattr(module, "TESTS")]


def collect(modules):
    """{manifest key: [its tests]} from the suites' ``TESTS``, in the order of ``modules``."""
    catalog = {}
    for module in modules:
        for test in module.TESTS:
            catalog.setdefault(test.function, []).append(test)
    return catalog


CATALOG = collect(suite_modules())


@dataclass(frozen=True)
class PlannedTest:
    """A test as one assignment grades it."""

    test: Test
    number: str
    max_score: float
    prerequisite_only: bool = False

    @property
    def id(self):
        return self.test.id


def tests_of(key):
    if key not in CATALOG:
        raise KeyError(f"no hidden tests for function {key!r}; add them to autograder/suites")
    return CATALOG[key]


def split_points(points, weights):
    """Points shared in proportion to weights, rounded to 4 decimals, summing exactly to ``points``."""
    total = sum(weights)
    shares = [round(points * weight / total, 4) for weight in weights[:-1]]
    return shares + [round(points - sum(shares), 4)]


def prerequisites(keys):
    """Functions outside ``keys`` that the tests of ``keys`` rely on, transitively, in catalog order.

    Keys without hidden tests rely on nothing (plan_tests is where a missing test is an error).
    """
    needed, queue = set(), [key for key in keys if key in CATALOG]
    while queue:
        for test in tests_of(queue.pop()):
            for required in test.requires:
                if required not in keys and required not in needed:
                    needed.add(required)
                    queue.append(required)
    return [key for key in CATALOG if key in needed]


def assignment_prerequisites(functions, experiments=()):
    """Functions of other assignments that an assignment's tests (of ``functions`` and of the named
    ``experiments``) rely on, transitively, in catalog order."""
    outside = {key for name in experiments for key in experiment(name).requires if key not in functions}
    needed = set(prerequisites(list(functions) + sorted(outside))) | outside
    return [key for key in CATALOG if key in needed]


def plan_tests(assignment):
    """Numbered tests with max scores for an assignment entry of the baked manifest.

    ``assignment`` has "functions" ({key: points}), "checkpoints" (list of
    dicts with name, file, dataset, lo, hi, points) and "experiments" ({name: points}).
    """
    functions = assignment["functions"]
    planned = []
    experiments = assignment.get("experiments", {})
    extra = [test for key in assignment_prerequisites(functions, experiments) for test in tests_of(key)]
    planned += [PlannedTest(test, f"0.{index}", 0.0, True) for index, test in enumerate(extra, start=1)]
    for group, (key, points) in enumerate(functions.items(), start=1):
        tests = tests_of(key)
        shares = split_points(points, [test.weight for test in tests])
        planned += [PlannedTest(test, f"{group}.{position}", share)
                    for position, (test, share) in enumerate(zip(tests, shares), start=1)]
    first_checkpoint = len(functions) + 1
    for group, checkpoint in enumerate(assignment.get("checkpoints", []), start=first_checkpoint):
        planned.append(PlannedTest(accuracy_test(checkpoint), f"{group}.1", float(checkpoint["points"])))
    first_experiment = first_checkpoint + len(assignment.get("checkpoints", []))
    for group, (name, points) in enumerate(experiments.items(), start=first_experiment):
        planned.append(PlannedTest(log_test(name), f"{group}.1", float(points)))
    return planned
