"""Judging a graded variant from the results.json tests that were run.

Checks, failures and diagnoses come from each test's ``extra_data``. The
feedback text is read only for the prerequisite note that lets a test of
another function fail without being collateral ("This test relies on
<function>, whose own test failed"), and as the one message of a test whose
code failed before any check.
"""
import re


def function_of(test):
    """The manifest key a results.json test belongs to."""
    extra = test.get("extra_data") or {}
    if extra.get("function"):
        return extra["function"]
    return test["name"].split(": ", 1)[0]


def lost_points(test):
    return test.get("status") != "passed"


def failing_checks(test):
    """The checks of a results.json test that lost points (from its ``extra_data["checks"]``); a test
    whose code failed before any check (``extra_data["failure"]``) stands as one check of its first line."""
    extra = test.get("extra_data") or {}
    if extra.get("failure"):
        return [{"name": "", "message": test["output"].split("\n", 1)[0]}]
    return [check for check in extra.get("checks") or [] if not check["passed"]]


def names_output(checks, word):
    """Whether a failing check judged output ``word`` or names it as a whole word in its message
    (``dx`` is not in ``dx_test`` or ``layers.dx``)."""
    pattern = re.compile(rf"(?<![\w.]){re.escape(word)}(?![\w])")
    return any(check["name"] == word or pattern.search(check["message"]) for check in checks)


def own_failures(variant, tests):
    """The failing tests of the functions the variant patches."""
    return [t for t in tests if lost_points(t) and function_of(t) in variant.functions]


def points_lost_elsewhere(variant, tests):
    """Points a variant lost on tests of functions it does not patch (0: its mistake cost only its own tests)."""
    return sum(t["max_score"] - t["score"] for t in tests
               if lost_points(t) and function_of(t) not in variant.functions)


def missed_functions(variant, tests):
    """The functions a wrong variant breaks whose tests all pass anyway (the bug survives)."""
    failing = {function_of(t) for t in own_failures(variant, tests)}
    return [key for key in variant.functions if key not in failing]


def collateral_failures(variant, tests):
    """Failing tests of other functions whose feedback does not name a broken function, and every failing
    test of a function the variant rewrites but keeps right."""
    return [t for t in tests if lost_points(t) and function_of(t) not in variant.functions
            and (function_of(t) in variant.rewrites or not any(key in t["output"] for key in variant.functions))]


def feedback_problems(variant, tests):
    """Wrong outputs no failing check names, and right ones a failing check blames."""
    failing = own_failures(variant, tests)
    if not failing:
        return []
    checks = [check for t in failing for check in failing_checks(t)]
    return ([f"feedback never names {word!r}" for word in variant.names if not names_output(checks, word)]
            + [f"feedback blames {word!r}, which is still right" for word in variant.intact
               if names_output(checks, word)])


def judge(variant, tests):
    """What is wrong with how the grader treated ``variant``: a list of problems (empty = as expected).

    ``tests``: the results.json tests that were run.
    """
    if not variant.wrong:
        return [f"lost points on {t['number']} {t['name']} ({t['score']:g}/{t['max_score']:g})"
                for t in tests if lost_points(t)]
    return ([f"survived: every test of {key} passes" for key in missed_functions(variant, tests)]
            + [f"collateral: {t['number']} {t['name']} lost points and its feedback does not name "
               f"{' or '.join(variant.functions)}" for t in collateral_failures(variant, tests)]
            + feedback_problems(variant, tests))


def diagnoses(test):
    """The diagnoses a results.json test carries: [{"kind", "message"}, ...]."""
    return list((test.get("extra_data") or {}).get("diagnoses") or [])


def generic_diagnoses(test):
    """The diagnoses of a results.json test that come from relations, not from matching a known mistake."""
    return [item for item in diagnoses(test) if not str(item.get("kind", "")).startswith("known:")]


def names_variant(diagnosis, variant):
    """Whether a diagnosis recognises ``variant``: its kind is ``known:<name>`` or its message holds the hint."""
    if diagnosis.get("kind") == f"known:{variant.name}":
        return True
    hint = " ".join(variant.hint.split())
    return bool(hint) and hint in " ".join(str(diagnosis.get("message", "")).split())


def own_diagnosis(variant, tests):
    """Whether a failing test of a function the wrong variant breaks carries a diagnosis naming the variant."""
    return any(names_variant(diagnosis, variant) for test in own_failures(variant, tests)
               for diagnosis in diagnoses(test))
