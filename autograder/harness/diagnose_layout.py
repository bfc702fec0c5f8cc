"""Relations on the layout of a failing output: right values in another shape, a reduction over other axes."""
import itertools

import numpy as np

from autograder.harness.diagnose_common import close, diagnosis, nontrivial


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


