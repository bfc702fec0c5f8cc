"""The Python side of the width-only Winograd convolution of course_lib._im2col
(see _im2col_width.pyx): float32, stride 1, 7-wide filters, few channels.

Each filter row of width 7 is split into parts of 4 and 3 taps; a part of r taps
gives a pair of neighbouring outputs from r + 1 inputs through Toom-Cook's F(2, r),
built here exactly (fractions) from its interpolation points: 9 multiplications per
pair and filter row instead of 14. Points 0, 1, -1 (and 1/2 for 4 taps) keep the
float32 error at the level of the direct sum (about 3e-7 of the largest output on
random data, against 9e-7 for a single F(2, 7), whose points reach 2 and 1/2).
"""
import functools
from fractions import Fraction

import numpy as np

# filter width: the parts of a filter row, (first tap, taps, interpolation points)
WIDTH_PARTS = {
    7: ((0, 4, (0, 1, -1, Fraction(1, 2))), (4, 3, (0, 1, -1))),
}


def _polynomial(roots):
    """Coefficients (constant first) of the product of (z - root)."""
    coefficients = [Fraction(1)]
    for root in roots:
        shifted = [Fraction(0)] + coefficients
        coefficients = [high - root * (coefficients[i] if i < len(coefficients) else 0)
                        for i, high in enumerate(shifted)]
    return coefficients


def toom_cook(taps, points):
    """A^T (2, taps + 1), G (taps + 1, taps) and B^T (taps + 1, taps + 1) of F(2, taps) with
    the given finite points and infinity: the two outputs sum(g[j] * d[i + j]), i = 0, 1,
    are A^T ((G g) * (B^T d))."""
    size = taps + 1
    points = [Fraction(p) for p in points]
    assert len(points) == size - 1
    a_t = [[Fraction(0)] * size for _ in range(2)]
    g, b_t = [], []
    for k, point in enumerate(points):
        others = [q for j, q in enumerate(points) if j != k]
        scale = np.prod([point - q for q in others], dtype=object)
        g.append([point ** j / scale for j in range(taps)])
        a_t[0][k], a_t[1][k] = Fraction(1), point
        row = _polynomial(others)
        b_t.append(row + [Fraction(0)] * (size - len(row)))
    g.append([Fraction(0)] * (taps - 1) + [Fraction(1)])
    a_t[1][size - 1] = Fraction(1)
    b_t.append(_polynomial(points))
    return tuple(np.array(m, dtype=np.float64) for m in (a_t, g, b_t))


def _transforms(filter_width):
    """(A (points, 2), G per part, B^T (points, filter_width + 1)): the input transform of
    each point over the filter_width + 1 input columns of an output pair's window."""
    coefficients, filter_transforms, input_rows = [], [], []
    for first, taps, points in WIDTH_PARTS[filter_width]:
        a_t, g, b_t = toom_cook(taps, points)
        coefficients.append(a_t.T)
        filter_transforms.append((first, taps, g))
        input_rows.append(np.pad(b_t, ((0, 0), (first, filter_width - first - taps))))
    return np.concatenate(coefficients), filter_transforms, np.concatenate(input_rows)


_TRANSFORMS = {width: _transforms(width) for width in WIDTH_PARTS}


@functools.lru_cache(maxsize=16)
def _tap_groups(filter_width, rows):
    """(tap points, tap rows, group ends, A per group): the points whose sums go to the two
    outputs with the same coefficients share one sum (5 sums instead of 9 for 4 + 3 taps),
    so that each sum runs over more taps before it is stored and combined."""
    coefficients = _TRANSFORMS[filter_width][0]
    keys = sorted({tuple(row) for row in coefficients.tolist()})
    points = [[p for p, row in enumerate(coefficients.tolist()) if tuple(row) == key] for key in keys]
    tap_points = np.repeat(np.concatenate(points), rows)
    tap_rows = np.tile(np.arange(rows), len(coefficients))
    group_ends = np.cumsum([rows * len(members) for members in points])
    return tap_points.astype(np.intp), tap_rows.astype(np.intp), group_ends.astype(np.intp), np.array(keys)


def width_winograd_forward(compiled, x, w, bias, geometry):
    """out of the stride-1 float32 convolution by the width Winograd kernel of `compiled`."""
    a, filter_transforms, b_t = _TRANSFORMS[geometry.filter_width]
    filters, channels, height = geometry.filters, geometry.channels, geometry.filter_height
    # The weights' transform in float64, rounded once: (points, C * HH, F).
    rows = filters * channels * height
    weights = np.concatenate([
        (w[:, :, :, first:first + taps].reshape(rows, taps).astype(np.float64) @ g.T).T
        for first, taps, g in filter_transforms]).reshape(-1, filters, channels * height).transpose(0, 2, 1)
    tap_points, tap_rows, group_ends, group_coefficients = _tap_groups(geometry.filter_width, channels * height)
    out = np.empty(geometry.out_shape, dtype=np.float32)
    compiled.width_winograd_forward_into(
        x, np.ascontiguousarray(b_t, dtype=np.float32),
        np.ascontiguousarray(weights[tap_points, tap_rows], dtype=np.float32), tap_points, tap_rows,
        group_ends, np.ascontiguousarray(group_coefficients, dtype=np.float32),
        np.ascontiguousarray(bias, dtype=np.float32), out, geometry.pad, height, geometry.filter_width)
    return out
