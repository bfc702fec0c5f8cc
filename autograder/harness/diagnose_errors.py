"""Likely causes of an exception the student's code raised: what its message says about shapes and indices.

The feedback already names the exception and the line; a diagnosis is given
only when the message says more than that: two shapes that fit a matrix
product but not an elementwise operation, or that are transposes of each
other, a product whose factors would fit in the other order, the arrays of a
call that fit its arguments in another order, an index one past the end, a
layer key one past the last. Its numbers are the shapes, sizes and indices of
the message.
"""
import itertools
import re

import numpy as np

from autograder.harness.diagnose_common import diagnosis

SHAPE = r"\(([\d, ]*)\)"
BROADCAST = re.compile(rf"operands could not be broadcast together with (?:remapped )?shapes(?: \[original->remapped\]:)?"
                       rf" {SHAPE}(?:->\S+)? {SHAPE}")
MATMUL = re.compile(r"matmul: Input operand 1 has a mismatch in its core dimension 0.*\(size (\d+) is different "
                    r"from (\d+)\)")
NOT_ALIGNED = re.compile(rf"shapes {SHAPE} and {SHAPE} not aligned")
GOT_ARGUMENTS = re.compile(rf"got ((?:\w+ {SHAPE}(?:, )?)+)")
ARGUMENT = re.compile(rf"(\w+) {SHAPE}")
EXPECTS = re.compile(r"expects ((?:\w+ \([^)]*\)(?:, )?)+)")
FEATURES = re.compile(rf"(\w+) of shape {SHAPE} has \d+ features per example but (\w+) of shape {SHAPE}")
SCORES_SHAPE = re.compile(rf"expects (?:\w+ )*(\w+) of shape \([^)]*\), got {SHAPE}")
OUT_OF_BOUNDS = re.compile(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)")
RESHAPE = re.compile(rf"cannot reshape array of size (\d+) into shape {SHAPE}")
LAYER_KEY = re.compile(r"^'([A-Za-z_]+)(\d+)'$")
UNPACK = re.compile(r"(too many|not enough) values to unpack \(expected (\d+)")
SHAPES = re.compile(r"shapes((?: \([\d,]*\))+)")
NOT_BROADCASTABLE = re.compile(rf"non-broadcastable output operand with shape {SHAPE} doesn't match the broadcast "
                               rf"shape {SHAPE}")
HAS_SHAPE = re.compile(rf"(\S+) has shape {SHAPE}, expected {SHAPE}")
EMPTY = ("attempt to get argmax of an empty sequence", "attempt to get argmin of an empty sequence",
         "zero-size array to reduction operation")
FLOAT_INDEX = ("slice indices must be integers", "'float' object cannot be interpreted as an integer",
               "only integers, slices")
FOR_X = re.compile(r"(\w+) has shape \((\d+),\), expected \((\d+),\) for (\w+) \((\d+), (\d+)\)")
AXIS_PAST = re.compile(r"axis (\d+) is out of bounds for array of dimension (\d+)")
INDEX_ARRAYS = re.compile(r"indexing arrays could not be broadcast together with shapes \((\d+),\) \((\d+),\)")
WRONG_KIND = re.compile(r"(\w+) must be a positive integer, got (?:'[^']*'|\d*\.\d+)")


def shape_of(text):
    return tuple(int(part) for part in text.replace(" ", "").split(",") if part)


def shown(shape):
    return str(tuple(shape))


def broadcast_cause(message, code):
    match = BROADCAST.search(message)
    if not match:
        return []
    a, b = shape_of(match.group(1)), shape_of(match.group(2))
    if len(a) == len(b) == 2 and a == b[::-1]:
        return [diagnosis("error_transposed", f"an elementwise operation got arrays of shapes {shown(a)} and "
                                              f"{shown(b)}, each the transpose of the other: is a .T missing or "
                                              "one too many?")]
    for row, column in ((a, b), (b, a)):
        if len(row) == 2 and column == (row[0],) and row[0] != row[1]:
            return [diagnosis("error_keepdims", f"an array of shape {shown(row)} met one of shape {shown(column)}, "
                                                "one value per row: keep that axis (keepdims=True, shape "
                                                f"{shown((row[0], 1))}) so that it broadcasts along the rows")]
    if len(a) == len(b) == 2 and a[1] == b[0] and "*" in code:
        return [diagnosis("error_product", f"the arrays of shapes {shown(a)} and {shown(b)} fit a matrix product "
                                           "but not an elementwise one: did you write * where @ (np.dot) belongs?")]
    return []


def differing_axes_cause(message):
    """Arrays of one number of axes that differ along one axis only, or hold the same entries in another
    shape (broadcasting, an in-place update)."""
    match = NOT_BROADCASTABLE.search(message)
    shapes = [shape_of(match.group(1)), shape_of(match.group(2))] if match else []
    if not shapes:
        found = SHAPES.search(message)
        shapes = [shape_of(part) for part in re.findall(SHAPE, found.group(1))] if found else []
    distinct = list(dict.fromkeys(shapes))
    if len(distinct) != 2:
        return []
    a, b = distinct
    if len(a) == len(b) >= 2:
        axes = [axis for axis in range(len(a)) if a[axis] != b[axis]]
        if len(axes) == 1:
            axis = axes[0]
            return [diagnosis("error_axis", f"the arrays of shapes {shown(a)} and {shown(b)} differ only along axis "
                                            f"{axis} ({a[axis]} against {b[axis]}): is a slice, a window or a size "
                                            "along that axis wrong (an off-by-one, the stride)?")]
    elif int(np.prod(a)) == int(np.prod(b)) and min(len(a), len(b)) >= 2:
        return [diagnosis("error_reshape", f"arrays of shapes {shown(a)} and {shown(b)} hold the same number of "
                                           "entries in another shape: is a reshape missing?")]
    return []


def contract_cause(message):
    """A library check naming a shape it got and the one it expected, or a value of the wrong kind."""
    match = HAS_SHAPE.search(message)
    if match:
        got, want = shape_of(match.group(2)), shape_of(match.group(3))
        if len(got) == 2 and got == want[::-1]:
            return [diagnosis("error_transposed", f"{match.group(1)} has the transposed shape {shown(got)}: are "
                                                  "its two dimensions in the wrong order?")]
        off = [axis for axis in range(len(got)) if len(got) == len(want) and got[axis] != want[axis]]
        if len(off) == 1 and abs(got[off[0]] - want[off[0]]) == 1:
            return [diagnosis("error_axis", f"{match.group(1)} is one off along axis {off[0]}: an off-by-one in "
                                            "a size or a range?")]
    match = FOR_X.search(message)
    if match and match.group(2) == match.group(5) and match.group(3) == match.group(6):
        return [diagnosis("error_transposed", f"{match.group(1)} has the length of the first axis of "
                                              f"{match.group(4)} ({match.group(5)}, {match.group(6)}) where that of "
                                              f"its last axis belongs: are the axes of {match.group(4)} in the wrong "
                                              "order (a reshape or transpose before the call)?")]
    match = WRONG_KIND.search(message)
    if match:
        return [diagnosis("error_arguments", f"{match.group(1)} got a value of another kind: are the arguments "
                                             "in the wrong order (or given by position where a keyword belongs)?")]
    return []


def value_cause(message):
    if "shape-mismatch for sum" in message:
        return [diagnosis("error_axis", "np.tensordot summed over axes of different sizes: does each window "
                                        "(slice) have exactly the filter's size? check its start, end and stride")]
    match = AXIS_PAST.search(message)
    if match and match.group(1) == match.group(2):
        return [diagnosis("error_axis", f"axis {match.group(1)} of an array of {match.group(2)} axes, one past "
                                        f"the last (axes count from 0 to {int(match.group(2)) - 1}): an axis number "
                                        "off by one?")]
    match = INDEX_ARRAYS.search(message)
    if match:
        return [diagnosis("error_index", f"two index arrays of different lengths ({match.group(1)} and "
                                         f"{match.group(2)}) pick entries together: is each one entry per example "
                                         "(np.arange(N) with N from the batch axis, axis 0)?")]
    if any(text in message for text in EMPTY):
        return [diagnosis("error_empty", "a reduction (max, argmax...) got an empty array: does a slice end before "
                                         "it starts, or start past the end (a window's bounds)?")]
    if any(text in message for text in FLOAT_INDEX):
        return [diagnosis("error_float", "a size or an index is a float: is / used where // belongs (sizes and "
                                         "indices computed by a division must be integers)?")]
    return []


def product_cause(message):
    match = MATMUL.search(message)
    if match:
        return [diagnosis("error_product", f"a matrix product (@) got factors whose inner dimensions differ "
                                           f"({match.group(1)} and {match.group(2)}): is a factor transposed, or "
                                           "are the two factors in the wrong order?")]
    match = NOT_ALIGNED.search(message)
    if match:
        a, b = shape_of(match.group(1)), shape_of(match.group(2))
        if len(a) == len(b) == 2 and b[1] == a[0]:
            return [diagnosis("error_product", f"np.dot got shapes {shown(a)} and {shown(b)}, which fit in the "
                                               "other order: are the two factors swapped?")]
        if len(a) == len(b) == 2 and (a[1] == b[1] or a[0] == b[0]):
            return [diagnosis("error_product", f"np.dot got shapes {shown(a)} and {shown(b)}, which fit once one "
                                               "of them is transposed: is a .T missing?")]
    return []


def pattern_fits(pattern, shape):
    """Whether ``shape`` has the number of axes a contract pattern such as ``(N, d_1, ..., d_k)`` asks for."""
    parts = [part.strip() for part in pattern.split(",") if part.strip()]
    if "..." in parts:
        return len(shape) >= len(parts) - 2
    return len(shape) == len(parts)


def argument_order_cause(message):
    """A library call's own check listing what it expects and what it got: the arrays fit in another order."""
    expects, got = EXPECTS.search(message), GOT_ARGUMENTS.search(message)
    if expects and got:
        wanted = [(name, pattern) for name, pattern in re.findall(r"(\w+) \(([^)]*)\)", expects.group(1))]
        given = [(name, shape_of(shape)) for name, shape in ARGUMENT.findall(got.group(1))]
        if len(wanted) == len(given) >= 2 and [n for n, _ in wanted] == [n for n, _ in given]:
            shapes = [shape for _, shape in given]
            for order in itertools.permutations(range(len(shapes))):
                if list(order) != sorted(order) and all(pattern_fits(pattern, shapes[i])
                                                        for (_, pattern), i in zip(wanted, order)):
                    fitted = ", ".join(f"{name} {shown(shapes[i])}" for (name, _), i in zip(wanted, order))
                    return [diagnosis("error_arguments", f"the arrays your code passed fit the arguments in another "
                                                         f"order ({fitted}): check the order of the arguments")]
    match = FEATURES.search(message)
    if match:
        x, w = shape_of(match.group(2)), shape_of(match.group(4))
        if len(w) == 2 and len(x) >= 2 and int(np.prod(w[1:])) == x[0] and int(np.prod(x[1:])) != w[0]:
            return [diagnosis("error_arguments", f"{match.group(1)} {shown(x)} and {match.group(3)} {shown(w)} "
                                                 "would fit the other way round: are the two arguments swapped?")]
    return []


def input_shape_cause(message, inputs):
    """A call checked the shape of one argument and got exactly the shape of another input of the test."""
    match = SCORES_SHAPE.search(message)
    if not match:
        return []
    got = shape_of(match.group(2))
    wanted = re.search(r"of shape \((?:N, )?(\d+)\)", match.group(0))
    if len(got) > 2 and wanted and int(np.prod(got[1:])) == int(wanted.group(1)):
        return [diagnosis("error_reshape", f"a batch of shape {shown(got)} reached a layer that takes rows of "
                                           f"{wanted.group(1)} values: is a flatten (reshape to (N, -1)) missing "
                                           "before it?")]
    names = [name for name, value in sorted(inputs.items()) if np.shape(value) == got]
    if len(names) == 1 and names[0] != match.group(1):
        return [diagnosis("error_arguments", f"the array your code passed as {match.group(1)} has the shape of "
                                             f"{names[0]} {shown(got)}: are the arguments in the wrong order?")]
    return []


def index_cause(kind, message):
    match = OUT_OF_BOUNDS.search(message)
    if match and int(match.group(1)) == int(match.group(3)):
        return [diagnosis("error_index", f"an index equal to the size of axis {match.group(2)} "
                                         f"({match.group(3)}), one past its last entry: an off-by-one in a range "
                                         "or a slice?")]
    if kind == "KeyError":
        layer = LAYER_KEY.match(message.strip())
        if layer:
            return [diagnosis("error_key", f"your code looked up {layer.group(1)}{layer.group(2)}, which does not "
                                           "exist: does a loop run past the last layer, or are the layers numbered "
                                           "from another start?")]
    match = RESHAPE.search(message)
    if match:
        size, shape = int(match.group(1)), shape_of(match.group(2))
        return [diagnosis("error_reshape", f"a reshape of an array of {size} entries asked for shape {shown(shape)}, "
                                           f"which holds {int(np.prod(shape))}: are its dimensions taken from the "
                                           "right array (and -1 used for the rest)?")]
    return []


def unpack_cause(message, code):
    match = UNPACK.search(message)
    if not match or "=" not in code:
        return []
    more = match.group(1) == "too many"
    return [diagnosis("error_unpack", f"the last line of the traceback unpacks into {match.group(2)} names a value "
                                      f"that has {'more' if more else 'fewer'}: does the function it calls return "
                                      "another number of results, or are its arguments in the wrong order?")]


def error_diagnoses(error, inputs):
    """The diagnoses of an exception (the worker's error report) raised on a test's ``inputs``."""
    if not error or error.get("not_implemented"):
        return []
    kind, message = str(error.get("type", "")), str(error.get("message", ""))
    frames = error.get("frames") or []
    code = str(frames[-1].get("code") or "") if frames else ""
    return (broadcast_cause(message, code) or product_cause(message)
            or argument_order_cause(message)
            or input_shape_cause(message, inputs) or index_cause(kind, message) or unpack_cause(message, code)
            or differing_axes_cause(message) or contract_cause(message) or value_cause(message))
