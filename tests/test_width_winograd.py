"""The width-only Winograd convolution (course_lib._width_winograd and _im2col_width.pyx):
its transforms are exact, and conv_forward_fast runs it on 7-wide float32 filters at
stride 1 with results as close to float64 as the direct sum's."""
from fractions import Fraction

import numpy as np
import pytest

from course_lib import fast_layers
from course_lib._width_winograd import WIDTH_PARTS, toom_cook, width_winograd_forward
from tests.test_fast_layers import assert_close_to_float64

needs_direct_kernel = pytest.mark.skipif(
    not fast_layers._DIRECT_CONV, reason="the width Winograd kernel needs an x86-64 CPU with AVX2 and FMA")


@pytest.mark.parametrize("taps, points", [(3, (0, 1, -1)), (4, (0, 1, -1, Fraction(1, 2))),
                                          (2, (0, 1)), (5, (0, 1, -1, 2, -2))])
def test_toom_cook_gives_the_two_outputs_of_a_correlation(taps, points):
    a_t, g, b_t = toom_cook(taps, points)
    rng = np.random.default_rng(20)
    for _ in range(5):
        weights, inputs = rng.standard_normal(taps), rng.standard_normal(taps + 1)
        expected = [weights @ inputs[i:i + taps] for i in range(2)]
        np.testing.assert_allclose(a_t @ ((g @ weights) * (b_t @ inputs)), expected, rtol=1e-12, atol=1e-12)


def _inputs(rng, x_shape, w_shape):
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    return x, w, rng.standard_normal(w_shape[0]).astype(np.float32)


@needs_direct_kernel
@pytest.mark.parametrize("x_shape, w_shape, pad", [
    ((2, 3, 32, 32), (32, 3, 7, 7), 3),  # the benchmark's shape, fewer images
    ((2, 3, 13, 21), (7, 3, 5, 7), 2),  # a padded block of filters, odd width, rows left over
    ((1, 2, 9, 8), (5, 2, 7, 7), 3),
    ((2, 1, 20, 19), (8, 1, 3, 7), 1),  # a last row tile of 2 rows, one channel
    ((2, 3, 5, 5), (3, 3, 7, 7), 1),  # a single output
    ((1, fast_layers.DIRECT_MAX_CHANNELS, 10, 30), (4, fast_layers.DIRECT_MAX_CHANNELS, 7, 7), 0),
])
def test_width_winograd_matches_float64(x_shape, w_shape, pad):
    rng = np.random.default_rng(21)
    x, w, b = _inputs(rng, x_shape, w_shape)
    conv_param = {"stride": 1, "pad": pad}
    expected, _ = fast_layers.conv_forward_im2col(
        x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), conv_param)
    geometry = fast_layers._ConvGeometry(x, w, b, conv_param, "test")
    assert geometry.width_winograd_suits(fast_layers._compiled, np.float32)
    assert_close_to_float64(width_winograd_forward(fast_layers._compiled, x, w, b, geometry), expected,
                            np.float32, "out")
    assert_close_to_float64(fast_layers.conv_forward_fast(x, w, b, conv_param)[0], expected, np.float32, "out")


@needs_direct_kernel
@pytest.mark.parametrize("dtype, w_shape, stride, used", [
    (np.float32, (3, 3, 7, 7), 1, True),
    (np.float64, (3, 3, 7, 7), 1, False),
    (np.float32, (3, 3, 7, 7), 2, False),
    (np.float32, (3, 3, 7, 5), 1, False),
])
def test_fast_conv_runs_the_width_kernel_on_7_wide_float32_filters_at_stride_1(monkeypatch, dtype, w_shape,
                                                                              stride, used):
    assert w_shape[3] in WIDTH_PARTS or not used
    calls = []
    kernel = fast_layers._compiled.width_winograd_forward_into
    monkeypatch.setattr(fast_layers._compiled, "width_winograd_forward_into",
                        lambda *args: calls.append(args) or kernel(*args))
    x, w, b = (a.astype(dtype) for a in _inputs(np.random.default_rng(22), (2, 3, 9, 9), w_shape))
    fast_layers.conv_forward_fast(x, w, b, {"stride": stride, "pad": 3})
    assert len(calls) == used


@needs_direct_kernel
def test_width_kernel_refuses_inconsistent_arguments():
    kernel = fast_layers._compiled.width_winograd_forward_into
    x = np.zeros((1, 2, 8, 8), np.float32)
    b_t, bias, out = np.zeros((3, 8), np.float32), np.zeros(4, np.float32), np.zeros((1, 4, 8, 8), np.float32)
    weights, coefficients = np.zeros((14, 4), np.float32), np.zeros((1, 2), np.float32)
    rows = np.arange(14, dtype=np.intp)
    points = np.zeros(14, dtype=np.intp)
    with pytest.raises(ValueError, match="disagree"):
        kernel(x, b_t, weights, points, rows, np.array([14], np.intp), coefficients, bias, out[:, :3].copy(), 3, 7, 7)
    with pytest.raises(ValueError, match="must end at 14 taps"):
        kernel(x, b_t, weights, points, rows, np.array([13], np.intp), coefficients, bias, out, 3, 7, 7)
    with pytest.raises(ValueError, match="reads point 3 of 3"):
        kernel(x, b_t, weights, points + 3, rows, np.array([14], np.intp), coefficients, bias, out, 3, 7, 7)
    kernel(x, b_t, weights, points, rows, np.array([14], np.intp), coefficients, bias, out, 3, 7, 7)
    np.testing.assert_array_equal(out, 0)
