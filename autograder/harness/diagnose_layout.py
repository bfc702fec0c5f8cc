"""Relations on the layout of a failing output: right values in another shape, a reduction over other axes."""
import itertools
import re

import numpy as np

from autograder.harness.diagnose_common import close, diagnosis, nontrivial

LAYER_KEY = re.compile(r"^([A-Za-z_]+?)(\d+)$")
OUTLIER_RATIO = 50  # largest over median magnitude; about 5 for a thousand normal samples


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




def numbered(keys, prefix):
    """{name: layer number} of the keys ``<prefix>/<letters><number>`` (W1, gamma2...)."""
    found = {}
    for key in keys:
        match = LAYER_KEY.match(key[len(prefix):]) if key.startswith(prefix) else None
        if match:
            found[match.group(0)] = (match.group(1), int(match.group(2)))
    return found


def init_relations(name, outputs, expected):
    """Initial parameters (a dict ``name/<key>``) numbered from another layer, shaped transposed, or drawn
    without their scale."""
    prefix = name + "/"
    mine, wanted = numbered(outputs, prefix), numbered(expected, prefix)
    if wanted and not mine:
        return [diagnosis("numbering", f"your {name} hold none of the numbered parameters ({', '.join(sorted(wanted)[:3])}"
                                       "...): does the loop that creates them run at all (an empty range?)")]
    if mine and wanted and set(mine) != set(wanted):
        return numbering_relation(name, mine, wanted)
    found = []
    for key in sorted(set(outputs) & set(expected)):
        if not key.startswith(prefix):
            continue
        got, want = np.asarray(outputs[key]), np.asarray(expected[key])
        if got.ndim == want.ndim == 2 and got.shape != want.shape and got.shape == want.shape[::-1]:
            found.append(diagnosis("transposed_shape", f"your {key} has the transposed shape {got.shape}: a weight "
                                                       "matrix is (inputs of the layer, outputs of the layer)"))
        elif got.ndim == want.ndim >= 3 and got.shape != want.shape and sorted(got.shape) == sorted(want.shape):
            found.append(diagnosis("transposed_shape", f"your {key} has the expected dimensions in another order "
                                                       f"{got.shape}: check the order of the sizes you draw it with"))
        elif got.ndim == want.ndim == 2 and got.shape[1] == want.shape[1] and got.shape[0] != want.shape[0]:
            found.append(diagnosis("input_size", f"your {key} has the right number of outputs but another number "
                                                 f"of inputs ({got.shape[0]}): is the size of what feeds this layer "
                                                 "(after convolution and pooling: padding, stride, the // 2) right?"))
        elif got.shape == want.shape and got.ndim >= 2 and got.size >= 50 and got.dtype.kind == "f":
            spread, wanted_spread = float(np.std(got)), float(np.std(want))
            magnitude = np.abs(got.astype(np.float64))
            if abs(spread - 1) < 0.15 and abs(wanted_spread - 1) > 0.5:
                found.append(diagnosis("init_scale", f"your {key} has entries of standard deviation about 1, that "
                                                     "of np.random.randn itself: is the weight scale missing?"))
            elif np.median(magnitude) > 0 and np.max(magnitude) > OUTLIER_RATIO * np.median(magnitude):
                found.append(diagnosis("init_outliers", f"a few entries of your {key} are over {OUTLIER_RATIO} "
                                                        "times its typical magnitude, which normal samples never "
                                                        "are: is the random matrix in a denominator?"))
    return found[:1]


def shape_patterns(out):
    """What a wrong shape says when the values cannot be compared: the input it equals (or has the shape of),
    axes in another order, one entry per class instead of per example, a size off by a little."""
    actual, wanted, knowns = out.actual, out.wanted, out.knowns
    for name, source in sorted(knowns.inputs.items()):
        if np.shape(source) == actual.shape and actual.size >= 2 and np.shape(source) != wanted.shape:
            if close(actual, source):
                return [diagnosis("input", f"your {out.key} is the input {name} itself, returned unchanged: is a "
                                           "computation (or a term) missing?")]
            if all(np.shape(other) != actual.shape for key, other in knowns.inputs.items() if key != name):
                return [diagnosis("input_shape", f"your {out.key} has the shape of the input {name} "
                                                 f"{actual.shape}: is a term missing, or {name} used where another "
                                                 "array belongs?")]
    if actual.ndim == wanted.ndim >= 2 and sorted(actual.shape) == sorted(wanted.shape):
        return [diagnosis("axes_order", f"your {out.key} has the expected dimensions in another order "
                                        f"{actual.shape}: is a factor transposed, or are the axes permuted?")]
    if actual.ndim == wanted.ndim == 1 and knowns.batch and knowns.classes and knowns.batch != knowns.classes:
        if (actual.shape[0], wanted.shape[0]) == (knowns.classes, knowns.batch):
            return [diagnosis("axis", f"your {out.key} has one entry per class ({knowns.classes}) instead of one "
                                      "per example: is the reduction (argmax, sum...) over axis 0 instead of 1?")]
    if actual.ndim == wanted.ndim and actual.ndim >= 1:
        off = [(axis, a - w) for axis, (a, w) in enumerate(zip(actual.shape, wanted.shape)) if a != w]
        if off and all(abs(d) <= 2 for _, d in off):
            axes = " and ".join(str(axis) for axis, _ in off)
            how = "larger" if all(d > 0 for _, d in off) else "smaller" if all(d < 0 for _, d in off) else "off"
            return [diagnosis("size", f"your {out.key} is {how} than the expected shape by at most 2 along axis "
                                      f"{axes}: check the size formula (padding, stride, the + 1) or a range's end")]
    if abs(actual.ndim - wanted.ndim) == 1 and actual.size != wanted.size:
        fewer = actual.ndim < wanted.ndim
        return [diagnosis("ndim", f"your {out.key} has {'one axis fewer' if fewer else 'one axis more'} than "
                                  f"expected ({actual.ndim} instead of {wanted.ndim}): "
                                  + ("a reduction where none belongs, or the wrong axis reduced?" if fewer else
                                     "a missing reduction, or broadcasting (N,) against (N, 1)?"))]
    return []


def numbering_relation(name, mine, wanted):
    """Per family of parameters (W, b, gamma...), layers numbered from another start, one too many or too few."""
    for letters in sorted({letters for letters, _ in wanted.values()}):
        have = sorted(n for other, n in mine.values() if other == letters)
        want = sorted(n for other, n in wanted.values() if other == letters)
        if not have or have == want:
            continue
        families = sorted({other for other, _ in wanted.values()
                           if sorted(n for o, n in mine.values() if o == other) == have
                           and sorted(n for o, n in wanted.values() if o == other) == want})
        which = " and ".join(families)
        if len(have) == len(want) and len({h - w for h, w in zip(have, want)}) == 1:
            return [diagnosis("numbering", f"your {which} are numbered from layer {have[0]} instead of {want[0]}: "
                                           "check where the layer count starts (range, enumerate(start=...))")]
        if set(have) > set(want):
            extra = ", ".join(f"{letters}{n}" for n in sorted(set(have) - set(want))[:3])
            return [diagnosis("numbering", f"your {name} have {extra} too many: does a loop run one layer too far?")]
        if set(have) < set(want):
            missing = ", ".join(f"{letters}{n}" for n in sorted(set(want) - set(have))[:3])
            return [diagnosis("numbering", f"your {name} lack {missing}: does a loop stop one layer too early, or "
                                           "start one too late?")]
    return []
