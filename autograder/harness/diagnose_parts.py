"""Relations that locate or rebuild a mistake: where a failing output is wrong (which rows, columns, border),
a threshold other than 0, a difference that is a multiple of a known array, the L2 term of a loss written
another way, an output equal to an input or to zero, and an update (new state minus old) that is wrong by a
sign or a factor."""
import itertools

import numpy as np

from autograder.harness.diagnose_common import CLOSE, close, diagnosis, nontrivial

STATE_SOURCES = ("w", "x", "running_mean", "running_var")  # inputs a returned array is the update of


def agreement(out):
    """Elementwise: the student's entry equals the expected one within CLOSE of the larger array's magnitude."""
    actual, wanted = out.actual.astype(np.float64), out.wanted.astype(np.float64)
    scale = max(float(np.max(np.abs(wanted), initial=0.0)), float(np.max(np.abs(actual), initial=0.0)), 1e-12)
    return np.abs(actual - wanted) <= CLOSE * scale


def informative(out, agree):
    """Some entries right (and not all of them zeros, which many mistakes get right by chance), some wrong."""
    return (np.count_nonzero(agree) >= 2 and not np.all(agree)
            and np.count_nonzero(agree & (out.wanted != 0)) >= 2)


def place(index, length):
    if index == 0:
        return "first"
    if index == length - 1:
        return "last"
    return f"index {index}"


def located_relation(out):
    """Right everywhere except in some rows, columns or channels, or on the border of a 4-D map."""
    agree = agreement(out)
    if out.actual.ndim == 0 or not informative(out, agree):
        return []
    wrong = ~agree
    shape = out.actual.shape
    if out.actual.ndim == 4 and min(shape[2:]) >= 3:
        border = np.ones(shape[2:], dtype=bool)
        border[1:-1, 1:-1] = False
        if not np.any(wrong[..., ~border]):
            return [diagnosis("border", f"your {out.key} is right inside its spatial axes (2 and 3) and wrong "
                                        "only on their border: check the padding, and where the first and last "
                                        "windows start and end")]
    for axis in range(out.actual.ndim):
        if shape[axis] < 3:
            continue
        bad = np.flatnonzero(np.any(np.moveaxis(wrong, axis, 0).reshape(shape[axis], -1), axis=1))
        if 0 < len(bad) < shape[axis] and len(bad) <= max(1, shape[axis] // 3):
            where = " and ".join(place(int(i), shape[axis]) for i in bad[:3]) if len(bad) <= 3 else \
                f"{len(bad)} of {shape[axis]} positions"
            ends = set(bad.tolist()) <= {0, shape[axis] - 1}
            question = ("an off-by-one in a range, a slice or an index?" if ends else
                        "is something computed for one position only, or written to the wrong index?")
            return [diagnosis("located", f"your {out.key} is right except at the {where} of axis {axis} "
                                         f"(of {shape[axis]}): {question}")]
    return []


def threshold_relation(out):
    """Wrong exactly where an input of the same shape lies in one range of values: below (or above) a cut that
    is not 0, or in a band with right entries on both sides."""
    agree = agreement(out)
    if not informative(out, agree):
        return []
    for name, source in sorted(out.knowns.inputs.items()):
        source = np.asarray(source)
        if source.shape != agree.shape or source.dtype.kind != "f":
            continue
        order = np.argsort(source, axis=None, kind="stable")
        wrong = ~agree.ravel()[order]
        runs = np.flatnonzero(np.diff(wrong.astype(np.int8)))
        values = source.ravel()[order]
        if len(runs) == 1:
            if values[runs[0]] < 0 < values[runs[0] + 1]:
                continue  # a cut at 0 is the masked relation's
            side = "below" if wrong[0] else "above"
            return [diagnosis("threshold", f"your {out.key} is wrong exactly where {name} is {side} some value "
                                           "other than 0, and right elsewhere: compare (or clip) against 0?")]
        if len(runs) == 2 and not wrong[0]:
            return [diagnosis("band", f"your {out.key} is wrong exactly where {name} lies in one range of values, "
                                      "and right above and below it: is a comparison made against another value "
                                      "than intended (x > 1 for x > 0?)")]
    return []


def label_relation(out):
    """Wrong exactly at each row's label entry (``[range(N), y]``) of a 2-D output, right elsewhere."""
    agree = agreement(out)
    if out.actual.ndim != 2 or not informative(out, agree):
        return []
    rows = np.arange(out.actual.shape[0])
    for name, labels in sorted(out.knowns.inputs.items()):
        labels = np.asarray(labels)
        if labels.shape != rows.shape or labels.dtype.kind not in "iu" or np.any(labels < 0) \
                or np.any(labels >= out.actual.shape[1]):
            continue
        at_label = np.zeros(agree.shape, dtype=bool)
        at_label[rows, labels] = True
        if np.array_equal(~agree, at_label):
            return [diagnosis("label", f"your {out.key} is wrong exactly at each row's entry {out.key}[i, {name}[i]] "
                                       "and right elsewhere: check what is added to (or subtracted from) the "
                                       "correct class's entry")]
    return []


def sign_pieces_relation(out):
    """The expected output times one constant where an input is positive and another where it is negative."""
    actual, wanted = out.actual.astype(np.float64), out.wanted.astype(np.float64)
    for name, source in sorted(out.knowns.inputs.items()):
        if np.shape(source) != actual.shape or np.asarray(source).dtype.kind != "f":
            continue
        positive = np.asarray(source) > 0
        ratios = []
        for part in (positive, ~positive):
            usable = part & (wanted != 0)
            if np.count_nonzero(usable) < 2:
                break
            ratio = float(np.median(actual[usable] / wanted[usable]))
            if not close(actual[part], ratio * wanted[part]):
                break
            ratios.append(ratio)
        if len(ratios) == 2 and not np.isclose(ratios[0], ratios[1], rtol=1e-6) \
                and not any(np.isclose(ratio, 1.0, rtol=1e-6) for ratio in ratios):
            return [diagnosis("sign_pieces", f"your {out.key} is the expected one times one constant where {name} "
                                             "> 0 and another where it is < 0: are the two branches (np.where) "
                                             "swapped, or the slope applied on the wrong side?")]
    return []


def multiple_terms(out):
    """(array, how it reads) a difference could be a multiple of: the input that has the output's name (W1 for
    dW1 or W1), dout, and an input of the same shape that the call read."""
    inputs, base = out.knowns.inputs, out.key.split("/")[-1]
    terms = []
    own = base if base in inputs else base[1:] if base.startswith("d") and base[1:] in inputs else None
    if own is not None and np.shape(inputs[own]) == out.actual.shape:
        terms.append((inputs[own], f"{own} itself"))
    if "dout" in inputs and np.shape(inputs["dout"]) == out.actual.shape:
        terms.append((inputs["dout"], "dout"))
    return terms


def multiple_relation(out):
    """actual - wanted = c * term for one constant c (not the readings the term relation names)."""
    if out.actual.size < 3:
        return []
    difference = out.actual.astype(np.float64) - out.wanted.astype(np.float64)
    for term, label in multiple_terms(out):
        term = np.asarray(term, dtype=np.float64)
        if not nontrivial(term) or np.count_nonzero(term) < 3:
            continue
        c = float(np.sum(difference * term) / np.sum(term * term))
        if c != 0 and close(difference, c * term):
            reg = " (the L2 term's factor differs between your loss and your gradient?)" if "itself" in label else ""
            return [diagnosis("multiple", f"your {out.key} differs from {out.wanted_name} by a constant multiple of "
                                          f"{label}: is that term's factor (reg, 0.5, 2, a scale) wrong{reg}?")]
    return []


def l2_readings(reg, weights):
    """(L2 term, how the student wrote it) of the usual ways to get the L2 term of a loss wrong."""
    total = sum(float(np.sum(w * w)) for _, w in weights)
    means = sum(float(np.mean(w * w)) for _, w in weights)
    readings = [(0.0, "no L2 term at all"), (reg * total, "reg * sum(W**2), without the 0.5"),
                (0.5 * total, "0.5 * sum(W**2), without reg"), (total, "sum(W**2), without 0.5 and reg"),
                (0.25 * reg * total, "reg * sum(W**2) / 4"), (0.5 * reg * means, "np.mean where np.sum belongs"),
                (0.5 * reg * reg * total, "0.5 * reg**2 * sum(W**2)")]
    for count in range(1, len(weights)):
        for chosen in itertools.combinations(weights, count):
            names = ", ".join(name for name, _ in chosen)
            readings.append((0.5 * reg * sum(float(np.sum(w * w)) for _, w in chosen), f"only over {names}"))
    return readings


def l2_relation(out):
    """A scalar loss whose L2 term is written another way (read from the test's reg and weights)."""
    knowns = out.knowns
    if out.actual.ndim != 0 or "loss" not in out.key or knowns.reg_setting is None or not knowns.weights \
            or out.key != out.key.split("/")[-1] or "numerical" in out.wanted_name:
        return []
    right = 0.5 * knowns.reg_setting * sum(float(np.sum(w * w)) for _, w in knowns.weights)
    data_loss = float(out.wanted) - right
    for term, how in l2_readings(knowns.reg_setting, knowns.weights):
        if not np.isclose(term, right, rtol=1e-9, atol=0) and close(out.actual, data_loss + term):
            return [diagnosis("l2", f"your {out.key} equals the expected data loss plus an L2 term written as "
                                    f"{how}: the L2 term is 0.5 * reg * (the sum of the squares of every weight "
                                    "matrix)")]
    return []


def equal_relation(out):
    """The output equals an input (returned unchanged, or the wrong variable) or is all zeros."""
    actual = out.actual
    if actual.size >= 2 and not np.any(actual) and np.count_nonzero(out.wanted) >= 2:
        return [diagnosis("zero", f"your {out.key} is all zeros: is it computed at all (or overwritten, or "
                                  "multiplied by a mask that is all zero)?")]
    for name, source in sorted(out.knowns.inputs.items()):
        if np.shape(source) == actual.shape and actual.size >= 2 and np.count_nonzero(source) >= 2 \
                and close(actual, source) and not close(out.wanted, source):
            return [diagnosis("input", f"your {out.key} equals the input {name} as it was given: is {name} "
                                       "returned (or passed on) where a result computed from it belongs?")]
    return []


def step_relations(out):
    """An updated array (next_w, a running mean) whose step from the old value is wrong by a sign or a factor."""
    inputs, base = out.knowns.inputs, out.key.split("/")[-1]
    names = [base[len("next_"):]] if base.startswith("next_") else []
    names += [name for name in (base, *STATE_SOURCES) if name not in names]
    for name in names:
        old = inputs.get(name)
        if old is None or np.shape(old) != out.actual.shape or np.asarray(old).dtype.kind != "f":
            continue
        old = np.asarray(old, dtype=np.float64)
        taken, wanted = out.actual.astype(np.float64) - old, out.wanted.astype(np.float64) - old
        if np.count_nonzero(wanted) < min(3, wanted.size) or close(out.wanted, old):
            continue
        if close(taken, -wanted):
            return [diagnosis("step_sign", f"your {out.key} moves from {name} by the expected step with the sign "
                                           "flipped: is the update added where it should be subtracted (or the "
                                           "reverse)?")]
        for value, label, question in out.knowns.factors():
            if close(taken, value * wanted):
                return [diagnosis("step_factor", f"your {out.key} moves from {name} by the expected step times "
                                                 f"{label}: {question}")]
        c = float(np.sum(taken * wanted) / np.sum(wanted * wanted))
        if wanted.size >= 3 and c != 0 and not np.isclose(c, 1.0, rtol=1e-6) and close(taken, c * wanted):
            return [diagnosis("step_scale", f"your {out.key} moves from {name} in the expected direction but by "
                                            "a step of another size: check the learning rate, the momentum or "
                                            "decay factor, and their places in the update")]
    return []


def columnwise_relation(out):
    """The difference is, in every column (feature), a constant, or a constant plus a multiple of an input of
    the same shape: a per-feature term (a mean, a bias, a term of a normalisation's gradient) is wrong."""
    actual, wanted = out.actual.astype(np.float64), out.wanted.astype(np.float64)
    if actual.ndim != 2 or actual.shape[0] < 4 or actual.shape[1] < 2:
        return []
    difference = actual - wanted
    if close(difference, np.broadcast_to(difference.mean(axis=0), difference.shape)) and not close(
            difference, np.full(difference.shape, difference.mean())):
        return [diagnosis("per_column", f"your {out.key} differs from {out.wanted_name} by one constant per column "
                                        "(the same in every row): is a per-feature term (a mean, a bias, a sum "
                                        "over the batch) missing, extra or wrong?")]
    for name, source in sorted(out.knowns.inputs.items()):
        source = np.asarray(source, dtype=np.float64) if np.asarray(source).dtype.kind == "f" else None
        if source is None or source.shape != actual.shape:
            continue
        centered = source - source.mean(axis=0)
        spread = np.sum(centered * centered, axis=0)
        if np.any(spread == 0):
            continue
        slope = np.sum(centered * (difference - difference.mean(axis=0)), axis=0) / spread
        fitted = difference.mean(axis=0) + slope * centered
        if np.count_nonzero(np.abs(slope) > 1e-12) >= 2 and close(difference, fitted):
            return [diagnosis("per_column", f"your {out.key} differs from {out.wanted_name}, in every column, by "
                                            f"a constant plus a multiple of {name}: is a per-feature statistic (a "
                                            "mean, a variance) or a term of its gradient wrong or missing?")]
    return []
