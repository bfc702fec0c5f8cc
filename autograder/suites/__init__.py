"""The hidden tests of every student function, and which of them an assignment grades.

``CATALOG`` holds every test, keyed by the manifest key of the function it
tests; ``plan_tests`` picks an assignment's tests, splits each function's
points over its tests, adds its checkpoints, and adds (for no points) the
tests of functions from other assignments that its tests rely on, so that
feedback can name a failing prerequisite.
"""
from dataclasses import dataclass

from autograder.suites import conv, functional, functional_nets, mlp
from autograder.suites.logs import experiment, log_test
from autograder.suites.spec import Test, accuracy_test

CATALOG = {}
for _test in functional.TESTS + functional_nets.TESTS + conv.TESTS + mlp.TESTS:
    CATALOG.setdefault(_test.function, []).append(_test)


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
