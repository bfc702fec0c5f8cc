"""Scoring what a worker sent back: each check of a test becomes a line of feedback and a share of credit.

Feedback names the output (``dw``), gives the error and the tolerance, and
diagnoses shapes, dtypes and NaNs; it never shows an expected value.
"""
from dataclasses import dataclass, field

import numpy as np

NUMERIC_PREFIX = "numeric/"


@dataclass
class Verdict:
    """The outcome of one test: the fraction of its points earned and what to tell the student."""

    fraction: float
    lines: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    leaderboard: tuple = ()
    not_implemented: bool = False

    @property
    def passed(self):
        return self.fraction >= 1.0


def relative_error(actual, expected):
    """max |actual - expected| relative to the larger of the two arrays' magnitudes (floor 1e-8)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), float(np.max(np.abs(actual), initial=0.0)), 1e-8)
    return float(np.max(np.abs(actual - expected), initial=0.0)) / scale


def entries(arrays, name):
    """{key: array} of an output: the array itself, or a dict's entries ``name/key``."""
    if name in arrays:
        return {name: arrays[name]}
    prefix = name + "/"
    return {key: value for key, value in arrays.items() if key.startswith(prefix)}


def describe_missing(name, kinds):
    """Why output ``name`` has no array: what the student's code produced instead."""
    kind = kinds.get(name, {}) if isinstance(kinds, dict) else {}
    found = kind.get("type") if isinstance(kind, dict) else None
    if found == "None":
        return f"{name}: your code returned None"
    if found == "missing":
        return f"{name}: not found ({kind.get('error', 'missing')})"
    if found:
        return f"{name}: expected a numeric array, got {found}"
    return f"{name}: missing from your results"


def shape_problem(name, actual, expected):
    """A line explaining why ``actual`` cannot be compared with ``expected``, or None."""
    if actual.shape != expected.shape:
        return f"{name}: shape {actual.shape}, expected {expected.shape}"
    if actual.dtype.kind == "f" and not np.all(np.isfinite(actual)):
        return f"{name}: contains NaN or inf"
    return None


def dtype_note(name, actual, expected):
    if actual.dtype != expected.dtype and actual.dtype.kind == expected.dtype.kind == "f":
        return f"{name}: dtype {actual.dtype}, expected {expected.dtype} (not penalized)"
    return None


class Judge:
    """Evaluates the checks of one test against the reference's fixture."""

    def __init__(self, outputs, kinds, expected, inputs, reference):
        self.outputs = outputs
        self.kinds = kinds or {}
        self.expected = expected
        self.inputs = inputs
        self.reference = reference
        self.notes = []

    def run(self, checks):
        results = [self.evaluate(check) for check in checks]
        total = sum(check.weight for check in checks)
        earned = sum(check.weight for check, (ok, _) in zip(checks, results) if ok)
        return Verdict(earned / total if total else 0.0, [line for _, line in results], self.notes)

    def evaluate(self, check):
        method = getattr(self, f"check_{check.kind}", None)
        if method is None:
            raise ValueError(f"unknown check kind {check.kind!r}")
        return method(check)

    def compared(self, name, tol):
        """(ok, line) for output ``name`` (an array, or every entry of a dict) against the fixture."""
        expected = entries(self.expected, name)
        actual = entries(self.outputs, name)
        worst = 0.0
        for key, want in sorted(expected.items()):
            if key not in actual:
                return False, describe_missing(key, self.kinds)
            got = actual[key]
            problem = shape_problem(key, got, want)
            if problem:
                return False, problem
            note = dtype_note(key, got, want)
            if note:
                self.notes.append(note)
            error = relative_error(got, want)
            if not error <= tol:
                return False, f"{key}: relative error {error:.1e} > tolerance {tol:.0e}"
            worst = max(worst, error)
        extra = sorted(set(actual) - set(expected))
        if extra:
            return False, f"{name}: unexpected entries {', '.join(extra)}"
        return True, f"{name}: ok (relative error {worst:.1e})"

    def numeric_agreement(self, name, tol):
        """(ok, line): the analytic gradient against the numerical gradient of the student's own code."""
        analytic = self.outputs.get(name)
        numerical = self.outputs.get(NUMERIC_PREFIX + name)
        if analytic is None:
            return False, describe_missing(name, self.kinds)
        if numerical is None:
            return False, f"{name}: the numerical gradient could not be computed"
        problem = shape_problem(name, analytic, numerical)
        if problem:
            return False, problem
        error = relative_error(analytic, numerical)
        if not error <= tol:
            return False, (f"{name}: differs from the numerical gradient of your own forward pass "
                           f"(relative error {error:.1e} > tolerance {tol:.0e})")
        return True, f"{name}: ok (relative error {error:.1e} against the numerical gradient)"

    def check_match(self, check):
        ok, line = self.compared(check.output, check.tol)
        return ok, (f"{check.label}: {line}" if check.label else line)

    def check_numeric(self, check):
        return self.numeric_agreement(check.output, check.numeric_tol)

    def check_gradient(self, check):
        matches, line = self.compared(check.output, check.tol)
        consistent, numeric_line = self.numeric_agreement(check.output, check.numeric_tol)
        if matches and consistent:
            return True, line
        if consistent and check.output in self.outputs:
            return False, f"{line}; it agrees with the numerical gradient of your own forward, so check the forward pass"
        if matches:
            return False, numeric_line
        return False, line

    def check_exact(self, check):
        want, got = self.expected.get(check.output), self.outputs.get(check.output)
        if got is None:
            return False, describe_missing(check.output, self.kinds)
        if got.shape != want.shape:
            return False, f"{check.output}: shape {got.shape}, expected {want.shape}"
        wrong = int(np.sum(got != want))
        if wrong:
            return False, f"{check.output}: {wrong} of {want.size} differ"
        return True, f"{check.output}: all {want.size} correct"

    def check_init(self, check):
        problems = init_problems(entries(self.outputs, check.output), entries(self.expected, check.output),
                                 check.output + "/")
        if problems:
            return False, "; ".join(problems[:4])
        return True, f"{check.output}: names, shapes and initial values ok"

    def check_custom(self, check):
        try:
            ok, message = check.rule(self.outputs, self.expected, self.inputs, self.reference)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as error:
            ok, message = False, f"could not read your results ({type(error).__name__})"
        return ok, f"{check.name}: {'ok' if ok else message}"


def init_problems(actual, expected, prefix):
    """What differs between two sets of initial parameters, in names, shapes, dtypes and statistics."""
    names = lambda arrays: {key[len(prefix):] for key in arrays}  # noqa: E731
    missing, extra = sorted(names(expected) - names(actual)), sorted(names(actual) - names(expected))
    problems = []
    if missing:
        problems.append(f"missing parameters {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected parameters {', '.join(extra)}")
    for key in sorted(set(expected) & set(actual)):
        problems += parameter_problems(key[len(prefix):], actual[key], expected[key])
    return problems


def parameter_problems(name, actual, expected):
    if actual.shape != expected.shape:
        return [f"{name} has shape {actual.shape}, expected {expected.shape}"]
    if actual.dtype != expected.dtype:
        return [f"{name} has dtype {actual.dtype}, expected {expected.dtype}"]
    if expected.size == 0:
        return []
    if np.all(expected == expected.flat[0]):
        if not np.allclose(actual, expected.flat[0], rtol=0, atol=1e-12):
            return [f"{name} must start as a constant array (like zeros for biases, ones for gammas)"]
        return []
    return spread_problems(name, actual, expected)


def spread_problems(name, actual, expected):
    """Random initial values: the spread must be the reference's (within sampling error), the mean near 0."""
    want, got = float(np.std(expected)), float(np.std(actual))
    allowed = max(0.1, 4.0 / np.sqrt(2.0 * expected.size))
    if not abs(got / want - 1.0) <= allowed:
        return [f"{name} has standard deviation {got:.3g}; check the scale of the random initialisation"]
    if abs(float(np.mean(actual))) > 5.0 * want / np.sqrt(expected.size):
        return [f"{name} has mean {float(np.mean(actual)):.3g}; random weights should be centred on 0"]
    return []
