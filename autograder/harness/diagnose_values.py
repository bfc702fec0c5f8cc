"""Relations between the values of a failing output and the expected ones: sign, factors, terms, masks, NaN,
dtype, state and mode."""
import numpy as np

from autograder.harness.diagnose_common import CLOSE, WEIGHT_NAME, close, diagnosis, nontrivial
from autograder.harness.programs import SWAPPED_PREFIX, call_inputs, call_mode

LARGE_INPUT = 100.0  # exp() of inputs this large overflows or loses every digit


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
    if base.startswith("next_") and np.shape(inputs.get(base[len("next_"):])) == out.actual.shape:
        old = base[len("next_"):]
        terms.append((np.asarray(inputs[old]), f"{old} (the value before the update)"))
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


