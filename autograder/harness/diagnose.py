"""Likely causes of a failing check: exact relations between a student's output and the one it is held to.

Runs in the grading process (Python 3.10, numpy only) on every failing check.
A relation fires only when it holds within CLOSE on the whole array, on data
that can tell it apart (non-zero, non-symmetric...), so it never fires on a
right output. Each diagnosis states a fact about the student's output and a
question; its only numbers are shapes, axes, counts and the test's own known
quantities (batch size, number of classes, dropout probability, ...), never
an expected value.

Besides the relations, a test's program is run with *probes* and, at build
time, with train and test mode swapped (see ``autograder.harness.programs``).
Known mistakes are the outputs of the fidelity corpus' wrong variants on the
same inputs, stored in the zip by the builder.
"""
import itertools
import re

import numpy as np

from autograder.harness.programs import (
    PROBE_PREFIX,
    SWAPPED_PREFIX,
    call_inputs,
    call_mode,
    program_values,
)

CLOSE = 1e-6  # relative error under which a relation holds
MAX_PER_CHECK = 3
NUMERIC_PREFIX = "numeric/"
LARGE_INPUT = 100.0  # exp() of inputs this large overflows or loses every digit
WEIGHT_NAME = re.compile(r"^[Ww]\d*$")


def diagnosis(kind, message):
    return {"kind": kind, "message": message}


def close(actual, wanted):
    """Same shape, finite, and equal within CLOSE (relative to the larger magnitude)."""
    actual, wanted = np.asarray(actual, dtype=np.float64), np.asarray(wanted, dtype=np.float64)
    if actual.shape != wanted.shape or not (np.all(np.isfinite(actual)) and np.all(np.isfinite(wanted))):
        return False
    scale = max(float(np.max(np.abs(wanted), initial=0.0)), float(np.max(np.abs(actual), initial=0.0)), 1e-12)
    return float(np.max(np.abs(actual - wanted), initial=0.0)) <= CLOSE * scale


def nontrivial(array):
    """An array a relation can be read on: some non-zero finite entries."""
    array = np.asarray(array, dtype=np.float64)
    return array.size > 0 and bool(np.all(np.isfinite(array))) and bool(np.any(array != 0))


def number(value):
    """A known quantity as written in a message: 4, 0.3, 1e-05."""
    return f"{value:g}"


# The test's known quantities ------------------------------------------------------------------


class Knowns:
    """Quantities a test fixes: batch size, number of classes, dropout probabilities, L2 strength."""

    def __init__(self, program, inputs, expected):
        self.inputs = inputs
        values = [(key, value) for key, value in program_values(program.get("calls", []))
                  if isinstance(value, (int, float)) and not isinstance(value, bool)]
        self.probabilities = sorted({(k, float(v)) for k, v in values if k in ("p", "keep_prob", "dropout") and 0 < v < 1})
        self.classes = next((int(v) for k, v in values if k in ("num_classes", "output_size")), None)
        if self.classes is None and np.ndim(expected.get("scores")) == 2:
            self.classes = int(expected["scores"].shape[1])
        self.reg = next((float(v) for k, v in values if k == "reg" and v), None)
        if self.reg is None:
            self.reg = loss_argument_reg(program)
        self.batch = batch_size(inputs)

    def factors(self):
        """(value, how it reads, the question it raises), one per distinct value."""
        found = [(2.0, "2", "is a factor 2 left over (from the derivative of a square?) or something counted twice?"),
                 (0.5, "1/2", "is a 0.5 missing somewhere, or something halved?")]
        if self.batch and self.batch > 2:
            n = self.batch
            found += [(1.0 / n, f"1/N (N = {n}, the batch size)", "did you divide by the batch size once too often?"),
                      (float(n), f"N = {n}, the batch size", "did you forget to divide by the batch size?")]
        if self.classes and self.classes > 2 and self.classes != self.batch:
            c = self.classes
            found += [(1.0 / c, f"1/C (C = {c}, the number of classes)", "did you divide by the number of classes?"),
                      (float(c), f"C = {c}, the number of classes", "did you sum over the classes?")]
        question = "is a dropout scale missing, applied twice, or written with the keep and drop probabilities swapped?"
        for name, p in self.probabilities:
            setting = f"{name} = {number(p)}"
            found += [(p, setting, question), (1 - p, f"1 - {name} ({setting})", question),
                      (1 / p, f"1/{name} ({setting})", question), (1 / (1 - p), f"1/(1 - {name}) ({setting})", question)]
        distinct = []
        for value, label, question in found:
            if value != 1.0 and not any(np.isclose(value, seen[0], rtol=1e-9) for seen in distinct):
                distinct.append((value, label, question))
        return distinct


def loss_argument_reg(program):
    """The L2 strength passed positionally to a ``loss(X, y, reg)`` method call, if any."""
    for item in program.get("calls", []):
        args = item.get("args", [])
        if item.get("method") == "loss" and len(args) >= 3 and isinstance(args[2], (int, float)) and args[2]:
            return float(args[2])
    return None


def batch_size(inputs):
    """The first dimension of the test's data arrays (x, X, dout, data...), else the most common one."""
    for name in ("x", "X", "dout", "data", "scores"):
        if np.ndim(inputs.get(name)) >= 1:
            return int(np.shape(inputs[name])[0])
    dims = [np.shape(a)[0] for a in inputs.values() if np.ndim(a) >= 2]
    return max(set(dims), key=dims.count) if dims else None


# Relations on one output -------------------------------------------------------------------------


class Output:
    """One failing output: the student's array, the one it is held to, and how to name both."""

    def __init__(self, key, actual, wanted, knowns, against_numeric=False):
        self.key = key
        self.actual = np.asarray(actual)
        self.wanted = np.asarray(wanted)
        self.knowns = knowns
        self.wanted_name = (f"the numerical gradient of your own code for {key}" if against_numeric
                            else f"the expected {key}")


def dtype_relation(out):
    actual, wanted = out.actual, out.wanted
    if actual.dtype == wanted.dtype or actual.shape != wanted.shape or wanted.dtype.kind != "f":
        return []
    if actual.dtype.kind in "biu":
        rounded = [(np.trunc, "truncated"), (np.floor, "rounded down"), (np.rint, "rounded")]
        for rounding, how in rounded:
            if np.array_equal(actual, rounding(wanted)) and not np.array_equal(wanted, rounding(wanted)):
                return [diagnosis("dtype", f"your {out.key} has the integer dtype {actual.dtype}, so its values are "
                                           f"{how}: keep floating point (look for astype(int) or an integer array "
                                           "filled in place)")]
        return []
    if actual.dtype.kind == "f" and actual.dtype.itemsize < wanted.dtype.itemsize:
        if close(actual, wanted.astype(actual.dtype)) or np.allclose(actual, wanted, rtol=10 * np.finfo(actual.dtype).eps):
            return [diagnosis("dtype", f"your {out.key} has dtype {actual.dtype}, not {wanted.dtype}: its values are "
                                       "right to that precision only (look for a cast or an array created without "
                                       "the input's dtype)")]
    return []


def shape_relations(out):
    """Right values in the wrong layout: transposed, permuted axes, flattened, a lost keepdims."""
    actual, wanted = out.actual, out.wanted
    if actual.shape == wanted.shape or actual.size != wanted.size or not nontrivial(wanted):
        return []
    if actual.ndim == wanted.ndim >= 2:
        for order in itertools.permutations(range(wanted.ndim)):
            if list(order) != sorted(order) and actual.shape == tuple(wanted.shape[i] for i in order) \
                    and close(actual, wanted.transpose(order)):
                what = (f"is the transpose of {out.wanted_name}" if wanted.ndim == 2 else
                        f"holds {out.wanted_name} with its axes in the order {order}")
                return [diagnosis("transposed", f"your {out.key} (shape {actual.shape}) {what}: check the order of "
                                                "the factors or of the axes")]
    if close(actual.reshape(wanted.shape), wanted):
        if tuple(d for d in actual.shape if d != 1) == tuple(d for d in wanted.shape if d != 1):
            return [diagnosis("keepdims", f"your {out.key} has the right values in shape {actual.shape} instead of "
                                          f"{wanted.shape}: a reduction lost (or gained) a dimension of size 1; "
                                          "keepdims=True?")]
        return [diagnosis("reshape", f"your {out.key} has the right values in shape {actual.shape} instead of "
                                     f"{wanted.shape}: reshape it (e.g. to the shape of the input it is the "
                                     "gradient of)")]
    return []


def reduction_relations(out):
    """The student's output is a sum or mean of an input over other axes than the expected one."""
    if not nontrivial(out.actual):
        return []
    for name, source in sorted(out.knowns.inputs.items()):
        source = np.asarray(source)
        if source.ndim < 2 or source.dtype.kind != "f":
            continue
        for count in range(1, source.ndim):
            for axes in itertools.combinations(range(source.ndim), count):
                for how, reduce in (("sum", np.sum), ("mean", np.mean)):
                    value = reduce(source, axis=axes)
                    if value.shape == out.actual.shape and close(out.actual, value):
                        shown = axes[0] if count == 1 else axes
                        return [diagnosis("reduction", f"your {out.key} is the {how} of {name} over axis {shown} "
                                                       f"(shape {out.actual.shape}): is that the axis the "
                                                       f"{'sum' if how == 'sum' else 'mean'} should run over?")]
    return []


def sign_relation(out):
    if close(out.actual, -out.wanted):
        return [diagnosis("sign", f"your {out.key} equals {out.wanted_name} with the sign flipped: look for a "
                                  "minus sign (gradient ascent instead of descent, a - b instead of b - a?)")]
    return []


def factor_relations(out):
    actual, wanted = out.actual, out.wanted
    for value, label, question in out.knowns.factors():
        if close(actual, value * wanted):
            return [diagnosis("factor", f"your {out.key} equals {out.wanted_name} times {label}: {question}")]
    significant = np.abs(wanted) > 1e-3 * np.max(np.abs(wanted), initial=0.0)
    if np.count_nonzero(significant) >= 3 and np.array_equal(actual == 0, wanted == 0):
        ratio = float(np.median(actual[significant] / wanted[significant]))
        if abs(ratio) > 1e-12 and not np.isclose(abs(ratio), 1.0, rtol=1e-3) and close(actual, ratio * wanted):
            return [diagnosis("scale", f"your {out.key} is {out.wanted_name} times a constant factor: look for a "
                                       "wrong or missing scale (a learning rate, a 1/N, a dropout scale, a decay)")]
    return []


def additive_terms(out):
    """(array, how it reads) of the known quantities that a missing or extra term could equal."""
    knowns, inputs, key = out.knowns, out.knowns.inputs, out.key
    terms = []
    base = key.split("/")[-1]
    own = base if base in inputs else base[1:] if base.startswith("d") and base[1:] in inputs else None
    if knowns.reg and own is not None and np.shape(inputs[own]) == out.actual.shape:
        terms.append((knowns.reg * np.asarray(inputs[own]), f"reg * {own} (its L2 gradient)"))
    if knowns.reg and out.actual.ndim == 0 and "loss" in key:
        weights = [np.asarray(a) for name, a in sorted(inputs.items()) if WEIGHT_NAME.match(name)]
        if weights:
            terms.append((0.5 * knowns.reg * sum(float(np.sum(w * w)) for w in weights),
                          "0.5 * reg * sum(W**2) (the L2 term of the loss)"))
    for name in ("b", "bias"):
        if name in inputs and np.ndim(inputs[name]) == 1 and out.actual.ndim >= 1 \
                and out.actual.shape[-1] == np.shape(inputs[name])[0]:
            terms.append((np.broadcast_to(inputs[name], out.actual.shape), f"the bias {name}"))
    if "dout" in inputs and np.shape(inputs["dout"]) == out.actual.shape:
        terms.append((np.asarray(inputs["dout"]), "dout"))
    for name in ("x", "X"):
        if np.ndim(inputs.get(name)) >= 2 and np.shape(inputs[name]) == out.actual.shape:
            terms.append((np.broadcast_to(np.mean(inputs[name], axis=0), out.actual.shape),
                          f"the mean of {name} over the batch"))
    return terms


TERM_READINGS = ((1, "plus", "is that term added where it does not belong (or twice)?"),
                 (-1, "minus", "is that term missing?"),
                 (2, "plus twice", "is that term added where it should be subtracted?"),
                 (-2, "minus twice", "is that term subtracted where it should be added?"))


def additive_relations(out):
    difference = out.actual.astype(np.float64) - out.wanted.astype(np.float64)
    for term, label in additive_terms(out):
        if not nontrivial(term):
            continue
        for coefficient, words, question in TERM_READINGS:
            if close(out.actual, out.wanted + coefficient * term) and close(difference, coefficient * term):
                return [diagnosis("term", f"your {out.key} equals {out.wanted_name} {words} {label}: {question}")]
    return []


def masked_relations(out):
    """Right only where an input of the same shape is positive (or only where it is negative)."""
    actual, wanted = out.actual.astype(np.float64), out.wanted.astype(np.float64)
    scale = max(float(np.max(np.abs(wanted), initial=0.0)), float(np.max(np.abs(actual), initial=0.0)), 1e-12)
    agree = np.abs(actual - wanted) <= CLOSE * scale
    found = []
    for name, source in sorted(out.knowns.inputs.items()):
        if np.shape(source) != actual.shape or np.asarray(source).dtype.kind != "f":
            continue
        positive = np.asarray(source) > 0
        for mask, right, wrong in ((positive, "> 0", "< 0"), (~positive, "< 0", "> 0")):
            if 2 <= np.count_nonzero(mask) and np.count_nonzero(~mask) >= 2 and np.all(agree[mask]) \
                    and not np.any(agree[~mask]):
                found.append(diagnosis("masked", f"your {out.key} is right where {name} {right} and wrong wherever "
                                                 f"{name} {wrong}: check how negative (or positive) inputs are "
                                                 "handled"))
    if not found and np.count_nonzero(wanted == 0) >= 2 and np.count_nonzero(wanted) >= 2 \
            and np.array_equal(actual != 0, wanted == 0):
        found.append(diagnosis("inverted_mask", f"your {out.key} is non-zero exactly where {out.wanted_name} is zero, "
                                                "and zero elsewhere: is a mask or a comparison inverted?"))
    return found[:1]


def dropped_relation(out):
    """Some entries zeroed regardless of sign, the others the expected ones (perhaps scaled): a dropout mask."""
    actual, wanted = out.actual.astype(np.float64), out.wanted.astype(np.float64)
    zeroed, kept = (actual == 0) & (wanted != 0), actual != 0
    if np.any(kept & (wanted == 0)) or min(np.count_nonzero(zeroed), np.count_nonzero(kept)) < max(2, wanted.size // 20):
        return []
    if not all(np.any(part & (wanted > 0)) and np.any(part & (wanted < 0)) for part in (zeroed, kept)):
        return []
    ratio = float(np.median(actual[kept] / wanted[kept]))
    if not close(actual[kept], ratio * wanted[kept]):
        return []
    label = next((f"times {label}" for value, label, _ in out.knowns.factors() if np.isclose(ratio, value, rtol=1e-9)),
                 "unchanged" if np.isclose(ratio, 1.0, rtol=1e-9) else "scaled by a constant")
    return [diagnosis("dropped", f"your {out.key} is {out.wanted_name} with {int(np.count_nonzero(zeroed))} of "
                                 f"{wanted.size} entries set to zero and the others {label}: is a dropout mask applied "
                                 "where none belongs (in test mode?), or the wrong one?")]


def state_relation(out):
    """An output that should be updated state still holds its initial value."""
    for name in (out.key, out.key.replace("/", "_")):
        initial = out.knowns.inputs.get(name)
        if initial is not None and nontrivial(initial) and close(out.actual, initial) and not close(out.wanted, initial):
            return [diagnosis("state", f"your {out.key} still holds the value it was given: the call must update it "
                                       "(assign the new value back into the dict or attribute it came from)")]
    return []


def mode_relation(out, expected, program):
    swapped = expected.get(SWAPPED_PREFIX + out.key)
    if swapped is None or not close(out.actual, swapped) or close(out.wanted, swapped):
        return []
    asked = call_mode(program, out.key)
    if asked is None:
        return [diagnosis("mode", f"your {out.key} equals what the other mode (train or test) gives: check the "
                                  "mode this call asks for")]
    other = "test" if asked == "train" else "train"
    return [diagnosis("mode", f"your {out.key} equals what {other} mode gives, but this call asks for {asked} mode: "
                              f"check the {asked}-mode branch")]


def nonfinite_relations(out, program):
    actual = out.actual.astype(np.float64)
    if actual.shape != out.wanted.shape or np.all(np.isfinite(actual)) or not np.all(np.isfinite(out.wanted)):
        return []
    bad = ~np.isfinite(actual)
    for name in call_inputs(program, out.key):
        source = np.asarray(out.knowns.inputs.get(name))
        if source.shape == actual.shape and source.dtype.kind == "f" and actual.ndim >= 1:
            bad_rows = np.any(bad.reshape(len(actual), -1), axis=1)
            large_rows = np.max(np.abs(source.reshape(len(source), -1)), axis=1) >= LARGE_INPUT
            if np.any(bad_rows) and np.all(large_rows[bad_rows]):
                return [diagnosis("overflow", f"your {out.key} has NaN or inf exactly in rows where {name} holds large "
                                              "values: an exp() overflows there; subtract each row's maximum before "
                                              "exponentiating")]
    return [diagnosis("unstable", f"your {out.key} has NaN or inf in {int(np.count_nonzero(bad))} of {bad.size} "
                                  "entries where every expected entry is finite: look for an unstable formula "
                                  "(exp of a large number, log of 0, a division by 0)")]


def output_relations(out, expected, program):
    """Every relation that holds for one failing output, most specific first."""
    if out.actual.dtype.kind not in "biuf" or out.wanted.dtype.kind not in "biuf":
        return []
    if out.actual.shape != out.wanted.shape:
        return shape_relations(out) or reduction_relations(out)
    if not np.all(np.isfinite(out.actual.astype(np.float64))):
        return nonfinite_relations(out, program)
    if not nontrivial(out.wanted) or close(out.actual, out.wanted):
        return dtype_relation(out)
    found = dtype_relation(out) + mode_relation(out, expected, program) + state_relation(out)
    for relation in (sign_relation, factor_relations, additive_relations, masked_relations, dropped_relation,
                     reduction_relations):
        if found:
            break
        found += relation(out)
    return found


def probe_relations(outputs, expected, inputs, program):
    """Inputs the student's code modified in place where the reference leaves them as they were (the fixtures
    hold only the probes of inputs the reference changes)."""
    found = []
    for key in sorted(outputs):
        if not key.startswith(PROBE_PREFIX) or key in expected:
            continue
        index, name = key[len(PROBE_PREFIX):].split("/", 1)
        given = inputs.get(name)
        if given is None or outputs[key].shape != np.shape(given) or close(outputs[key], given):
            continue
        item = program["calls"][int(index)]
        where = item.get("fn") or item.get("method", "your code")
        found.append(diagnosis("inplace", f"your {where} changed {name}, which it received and must leave as it "
                                          "was here: work on a copy (x = x.copy(), out = x * mask), and update "
                                          "state only where the call asks for it"))
    return found


# Known mistakes -----------------------------------------------------------------------------


def matches_known(outputs, expected, known_outputs, tolerances):
    """Whether the student's outputs equal a known mistake's on every output it produced, and that mistake's
    outputs are wrong somewhere (otherwise matching it says nothing)."""
    differs = False
    for key, value in known_outputs.items():
        got = outputs.get(key)
        tol = tolerances.get(key.split("/")[0], 1e-7)
        if got is None or got.shape != value.shape:
            return False
        want = expected.get(key)
        # A mistake of dtype only (a float64 buffer) is matched by its dtype, not by its values.
        wrong_dtype = want is not None and want.dtype != value.dtype
        if wrong_dtype and got.dtype != value.dtype:
            return False
        if value.dtype.kind in "biu" or tol == 0:
            if not np.array_equal(got, value):
                return False
        elif not within(got, value, max(tol, CLOSE)):
            return False
        if want is None or want.shape != value.shape or wrong_dtype or not within(value, want, max(tol, CLOSE)):
            differs = True
    return differs


def within(actual, wanted, tol):
    actual, wanted = np.asarray(actual, dtype=np.float64), np.asarray(wanted, dtype=np.float64)
    if not (np.all(np.isfinite(actual)) and np.all(np.isfinite(wanted))):
        return bool(np.array_equal(actual, wanted, equal_nan=True))
    scale = max(float(np.max(np.abs(wanted), initial=0.0)), float(np.max(np.abs(actual), initial=0.0)), 1e-8)
    return float(np.max(np.abs(actual - wanted), initial=0.0)) <= tol * scale


def known_relations(outputs, expected, known, tolerances):
    return [diagnosis(f"known:{name}", f"your outputs are those of a known mistake: {hint}")
            for name, hint, known_outputs in known
            if known_outputs and matches_known(outputs, expected, known_outputs, tolerances)]


# Entry point ----------------------------------------------------------------------------------


def diagnose_checks(checks, results, outputs, expected, inputs, program, known=()):
    """Fill ``diagnoses`` of every failing CheckResult in ``results`` (one per Check of ``checks``).

    Per-output relations go on the check of that output; test-wide ones (known
    mistakes, inputs modified in place) on the first failing check.
    """
    failing = [(check, result) for check, result in zip(checks, results) if not result.passed]
    if not failing:
        return
    knowns = Knowns(program, inputs, expected)
    for check, result in failing:
        found = []
        for out in failing_outputs(check, result, outputs, expected, knowns):
            found += output_relations(out, expected, program)
        result.diagnoses = found[:MAX_PER_CHECK]
    tolerances = {check.output: (0.0 if check.kind == "exact" else check.tol) for check in checks if check.output}
    first = failing[0][1]
    first.diagnoses = (known_relations(outputs, expected, known, tolerances)
                       + probe_relations(outputs, expected, inputs, program) + first.diagnoses)


def failing_outputs(check, result, outputs, expected, knowns):
    """The Output pairs of a failing check: student's array against the fixture, or against the student's own
    numerical gradient when that is what failed."""
    if check.kind not in ("match", "gradient", "exact", "numeric") or not check.output:
        return []
    numeric = check.kind == "numeric" or result.problem == "numeric"
    pairs = []
    if numeric:
        if check.output in outputs and NUMERIC_PREFIX + check.output in outputs:
            pairs.append(Output(check.output, outputs[check.output], outputs[NUMERIC_PREFIX + check.output], knowns,
                                against_numeric=True))
        return pairs
    prefix = check.output + "/"
    for key in sorted(expected):
        if (key == check.output or key.startswith(prefix)) and key in outputs:
            pairs.append(Output(key, outputs[key], expected[key], knowns))
    return pairs
