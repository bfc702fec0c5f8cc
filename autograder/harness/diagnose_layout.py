"""Relations on the layout of a failing output: right values in another shape, a reduction over other axes."""
import itertools
import re

import numpy as np

from autograder.harness.diagnose_common import close, diagnosis, nontrivial

LAYER_KEY = re.compile(r"^([A-Za-z_]+?)(\d+)$")


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
    if mine and wanted and set(mine) != set(wanted):
        have = {(letters, n) for letters, n in mine.values()}
        want = {(letters, n) for letters, n in wanted.values()}
        shifts = {n - m for (letters, n) in have for (other, m) in want if letters == other}
        for shift in sorted(shifts, key=abs):
            if shift and {(letters, n - shift) for letters, n in have} == want:
                return [diagnosis("numbering", f"your {name} are numbered from layer "
                                               f"{min(n for _, n in have)} instead of {min(n for _, n in want)}: "
                                               "check where the layer count starts (range, enumerate(start=...))")]
        extra, missing = sorted(set(mine) - set(wanted)), sorted(set(wanted) - set(mine))
        if extra and not missing:
            return [diagnosis("numbering", f"your {name} have {', '.join(extra[:4])} too many: does a loop run one "
                                           "layer too far?")]
        if missing and not extra and len(missing) < len(wanted):
            return [diagnosis("numbering", f"your {name} lack {', '.join(missing[:4])}: does a loop stop one layer "
                                           "too early, or start one too late?")]
        return []
    found = []
    for key in sorted(set(outputs) & set(expected)):
        if not key.startswith(prefix):
            continue
        got, want = np.asarray(outputs[key]), np.asarray(expected[key])
        if got.ndim == want.ndim == 2 and got.shape != want.shape and got.shape == want.shape[::-1]:
            found.append(diagnosis("transposed_shape", f"your {key} has the transposed shape {got.shape}: a weight "
                                                       "matrix is (inputs of the layer, outputs of the layer)"))
        elif got.shape == want.shape and got.ndim >= 2 and got.size >= 50 and got.dtype.kind == "f":
            spread, wanted_spread = float(np.std(got)), float(np.std(want))
            if abs(spread - 1) < 0.15 and abs(wanted_spread - 1) > 0.5:
                found.append(diagnosis("init_scale", f"your {key} has entries of standard deviation about 1, that "
                                                     "of np.random.randn itself: is the weight scale missing?"))
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
