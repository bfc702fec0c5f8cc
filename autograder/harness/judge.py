"""Scoring what a worker sent back: each check of a test becomes a CheckResult and a share of credit.

A CheckResult is data (which output, passed or not, the error and the
tolerance, what kind of problem, diagnoses); its ``message`` is the feedback
line. results.json carries the data in ``extra_data["checks"]``, and
everything downstream (fidelity, the class report) reads that, not the prose.
Feedback names the output (``dw``), gives the error and the tolerance, and
diagnoses shapes, dtypes and NaNs; it never shows an expected value.
"""
import traceback
from dataclasses import asdict, dataclass, field

import numpy as np

from autograder.harness.diagnose import diagnose_checks

NUMERIC_PREFIX = "numeric/"


# What went wrong with a check, as data: the class report counts these and fidelity reads them.
PROBLEMS = ("", "missing", "shape", "nonfinite", "mismatch", "numeric", "unexpected", "rule", "unreadable")
# Why a whole test failed without its checks being judged.
FAILURES = ("", "not_implemented", "missing_file", "error", "timeout", "crashed", "budget", "not_selected", "harness")
MESSAGE_LIMIT = 300


@dataclass
class CheckResult:
    """One scored item of a test: which output (or rule), whether it passed, and why not.

    ``error`` and ``tolerance`` are the relative error that decided it and the
    bound it was held to, when a comparison decided it; ``problem`` is one of
    PROBLEMS; ``diagnoses`` are ``{"kind", "message"}`` dicts naming a likely
    mistake (never an expected value).
    """

    name: str
    kind: str
    passed: bool
    message: str
    weight: float = 1.0
    error: float | None = None
    tolerance: float | None = None
    problem: str = ""
    diagnoses: list = field(default_factory=list)

    def as_data(self):
        data = asdict(self)
        data["message"] = data["message"][:MESSAGE_LIMIT]
        if data["error"] is not None:
            data["error"] = float(f"{data['error']:.3g}") if data["error"] == data["error"] else None
        return data


@dataclass
class Verdict:
    """The outcome of one test: the fraction of its points earned, its checks and what to tell the student.

    ``failure`` (one of FAILURES) says why no check was judged: the code
    raised, timed out, crashed, was not run...
    """

    fraction: float
    lines: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    leaderboard: tuple = ()
    checks: list = field(default_factory=list)
    failure: str = ""
    causes: list = field(default_factory=list)  # diagnoses of the test as a whole (of an exception it raised)

    @property
    def passed(self):
        return self.fraction >= 1.0

    @property
    def not_implemented(self):
        return self.failure == "not_implemented"

    @property
    def diagnoses(self):
        """Every diagnosis of the test and of its failing checks, each once, in order."""
        seen = [] if self.passed else list(self.causes)
        for check in self.checks:
            for diagnosis in check.diagnoses:
                if not check.passed and diagnosis not in seen:
                    seen.append(diagnosis)
        return seen


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
    """Evaluates the checks of one test against the reference's fixture.

    With ``program`` (the test's), failing checks get diagnoses; ``known`` is
    [(variant name, hint, its outputs on this test)] of the known mistakes.
    """

    def __init__(self, outputs, kinds, expected, inputs, reference, numerics=(), program=None, known=(),
                 own_forward=False):
        self.outputs = outputs
        # The test's prerequisites failed their own tests and the reference's could not stand in (the
        # student's code could not read what they hand over): the student's own forward is all there is.
        self.own_forward = own_forward
        self.kinds = kinds or {}
        self.expected = expected
        self.inputs = inputs
        self.reference = reference
        self.program = program
        self.known = known
        self.notes = []
        self.implied = {}  # {output: the gradient the student's own forward implies}, for the diagnoses
        self.numerical = {}
        for spec in numerics:
            self.numerical.update(numerical_gradients(outputs, spec, inputs))

    def run(self, checks):
        results = without_lone_bookkeeping(checks, [self.evaluate(check) for check in checks])
        if self.program is not None:
            try:
                diagnose_checks(checks, results, self.outputs, self.expected, self.inputs, self.program, self.known,
                                self.numerical, self.implied)
            except Exception:  # a diagnosis is a courtesy: its failure must not cost the grade
                traceback.print_exc()
        total = sum(result.weight for result in results)
        earned = sum(result.weight for result in results if result.passed)
        return Verdict(earned / total if total else 0.0, [result.message for result in results], self.notes,
                       checks=results)

    def evaluate(self, check):
        method = getattr(self, f"check_{check.kind}", None)
        if method is None:
            raise ValueError(f"unknown check kind {check.kind!r}")
        try:
            result = method(check)
        except Exception as error:  # whatever the worker sent, one unreadable output costs only its check
            result = failed(f"{check.name}: your results could not be read ({type(error).__name__})", "unreadable")
        result.name, result.kind, result.weight = check.name, check.kind, check.weight
        return result

    def compared(self, name, tol):
        """The CheckResult of output ``name`` (an array, or every entry of a dict) against the fixture."""
        expected = entries(self.expected, name)
        actual = entries(self.outputs, name)
        worst = 0.0
        for key, want in sorted(expected.items()):
            if key not in actual:
                return failed(describe_missing(key, self.kinds), "missing")
            got = actual[key]
            problem = shape_problem(key, got, want)
            if problem:
                return failed(problem, "shape" if got.shape != want.shape else "nonfinite")
            note = dtype_note(key, got, want)
            if note:
                self.notes.append(note)
            error = relative_error(got, want)
            if not error <= tol:
                return failed(f"{key}: relative error {error:.1e} > tolerance {tol:.0e}", "mismatch", error, tol)
            worst = max(worst, error)
        extra = sorted(set(actual) - set(expected))
        if extra:
            return failed(f"{name}: unexpected entries {', '.join(extra)}", "unexpected")
        return CheckResult(name, "", True, f"{name}: ok (relative error {worst:.1e})", error=worst, tolerance=tol)

    def numeric_agreement(self, name, tol):
        """The CheckResult of the analytic gradient against the numerical gradient of the student's own
        forward, which this process computes from the forward outputs the worker sent."""
        analytic = self.outputs.get(name)
        numerical = self.numerical.get(name)
        if analytic is None:
            return failed(describe_missing(name, self.kinds), "missing")
        if not isinstance(numerical, np.ndarray):
            return failed(f"{name}: the numerical gradient could not be computed"
                          + (f" ({numerical})" if numerical else ""), "numeric")
        problem = shape_problem(name, analytic, numerical)
        if problem:
            return failed(problem, "shape" if analytic.shape != numerical.shape else "nonfinite")
        error = relative_error(analytic, numerical)
        if not error <= tol:
            return failed(f"{name}: differs from the numerical gradient of your own forward pass "
                          f"(relative error {error:.1e} > tolerance {tol:.0e})", "numeric", error, tol)
        return CheckResult(name, "", True, f"{name}: ok (relative error {error:.1e} against the numerical gradient)",
                           error=error, tolerance=tol)

    def check_match(self, check):
        result = self.compared(check.output, check.tol)
        if check.label:
            result.message = f"{check.label}: {result.message}"
        return result

    def check_numeric(self, check):
        """Where the reference's own gradient cannot be compared (random masks), the expected one is computed
        here from what the student's forward produced; agreement with the numerical gradient alone earns nothing."""
        if check.expect is None:
            return self.check_gradient(check)
        analytic = self.outputs.get(check.output)
        if analytic is None:
            return failed(describe_missing(check.output, self.kinds), "missing")
        try:
            expected = np.asarray(check.expect(self.outputs, self.inputs, self.reference), dtype=np.float64)
        except ValueError as error:  # the forward's output implies no gradient that proves anything
            return failed(f"{check.output}: {error}", "rule")
        self.implied[check.output] = expected
        problem = shape_problem(check.output, analytic, expected)
        if problem:
            return failed(problem, "shape" if analytic.shape != expected.shape else "nonfinite")
        error = relative_error(analytic, expected)
        if not error <= check.tol:
            return failed(f"{check.output}: relative error {error:.1e} > tolerance {check.tol:.0e} against the "
                          "gradient your own forward pass implies", "mismatch", error, check.tol)
        return self.numeric_agreement(check.output, check.numeric_tol)

    def check_gradient(self, check):
        """A gradient equal to the reference's is right, even beside a wrong forward pass: that mistake costs
        the forward's own test, not this one. A wrong gradient that agrees with the numerical gradient of the
        student's own forward points at the forward (or at the cache it hands over); it counts when that
        forward failed its own tests and the reference's could not stand in for it (the student's backward
        reads a cache of its own format), since no other forward can show the backward wrong."""
        matched = self.compared(check.output, check.tol)
        if matched.passed:
            return matched
        if check.output in self.outputs and self.numeric_agreement(check.output, check.numeric_tol).passed:
            if self.own_forward:
                return CheckResult(check.output, "", True,
                                   f"{check.output}: ok against the numerical gradient of your own forward pass "
                                   "(which failed its own tests; your backward does not read the reference's "
                                   "cache, so it is checked against your forward)", error=matched.error,
                                   tolerance=check.numeric_tol)
            matched.message += "; it agrees with the numerical gradient of your own forward, so check the forward pass"
        return matched

    def check_exact(self, check):
        want, got = self.expected.get(check.output), self.outputs.get(check.output)
        if got is None:
            return failed(describe_missing(check.output, self.kinds), "missing")
        if got.shape != want.shape:
            return failed(f"{check.output}: shape {got.shape}, expected {want.shape}", "shape")
        wrong = int(np.sum(got != want))
        if wrong:
            return failed(f"{check.output}: {wrong} of {want.size} differ", "mismatch", wrong / want.size, 0.0)
        return CheckResult(check.output, "", True, f"{check.output}: all {want.size} correct", error=0.0,
                           tolerance=0.0)

    def check_init(self, check):
        problems = init_problems(entries(self.outputs, check.output), entries(self.expected, check.output),
                                 check.output + "/")
        if problems:
            return failed("; ".join(problems[:4]), "rule")
        return CheckResult(check.output, "", True, f"{check.output}: names, shapes and initial values ok")

    def check_custom(self, check):
        try:
            ok, message = check.rule(self.outputs, self.expected, self.inputs, self.reference)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as error:
            ok, message = False, f"could not read your results ({type(error).__name__})"
            return failed(f"{check.name}: {message}", "unreadable")
        if ok:
            return CheckResult(check.name, "", True, f"{check.name}: ok")
        return failed(f"{check.name}: {message}", "rule")


def numerical_gradients(outputs, spec, inputs):
    """{name: central-difference gradient, or why there is none} of one ``numeric`` spec of a program.

    The worker sends the student's forward output at x + h e_i and x - h e_i
    for every entry i; the gradient of sum(output * dout) (or of the scalar
    output) is computed here, so nothing in the student's process decides it.
    """
    h = float(spec.get("h", 1e-6))
    dout = np.asarray(inputs[spec["dout"]], dtype=np.float64) if spec.get("dout") else None
    gradients = {}
    for name in spec["wrt"]:
        plus, minus = outputs.get(f"{NUMERIC_PREFIX}{name}/plus"), outputs.get(f"{NUMERIC_PREFIX}{name}/minus")
        if plus is None or minus is None or plus.shape != minus.shape:
            gradients[name] = ""
            continue
        difference = plus.astype(np.float64) - minus.astype(np.float64)
        if dout is None:
            gradients[name] = difference / (2 * h)
        elif difference.shape[difference.ndim - dout.ndim:] != dout.shape:
            gradients[name] = f"your forward output has shape {difference.shape[difference.ndim - dout.ndim:]}, " \
                              f"dout has {dout.shape}"
        else:
            gradients[name] = np.tensordot(difference, dout, axes=dout.ndim) / (2 * h)
    return gradients


def without_lone_bookkeeping(checks, results):
    """Bookkeeping checks (dtypes, inputs left unchanged) fail when every value check of the test failed:
    a function returning zeros keeps its dtype and leaves its inputs alone, and earns nothing for it."""
    values = [result for check, result in zip(checks, results) if not check.bookkeeping]
    if not values or any(result.passed for result in values):
        return results
    gated = []
    for check, result in zip(checks, results):
        if check.bookkeeping and result.passed:
            result = CheckResult(result.name, result.kind, False, f"{result.name}: counts only beside right values",
                                 result.weight, problem="rule")
        gated.append(result)
    return gated


def failed(message, problem, error=None, tolerance=None):
    """A failing CheckResult; Judge.evaluate fills in the check's name, kind and weight."""
    return CheckResult("", "", False, message, error=error, tolerance=tolerance, problem=problem)


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
