"""course_lib.fast_layers against the naive layers, the NumPy fallback, dtypes and bad inputs."""
import subprocess
import sys
import textwrap
import tracemalloc
import warnings

import numpy as np
import pytest

from course_lib import fast_layers
from course_lib.conv_layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from tests.helpers import assert_close, assert_gradients

CONV_VARIANTS = [
    (fast_layers.conv_forward_fast, fast_layers.conv_backward_fast),
    (fast_layers.conv_forward_im2col, fast_layers.conv_backward_im2col),
    (fast_layers.conv_forward_strides, fast_layers.conv_backward_strides),
]
POOL_VARIANTS = [
    (fast_layers.max_pool_forward_fast, fast_layers.max_pool_backward_fast),
    (fast_layers.max_pool_forward_im2col, fast_layers.max_pool_backward_im2col),
]
TILING_POOL = (fast_layers.max_pool_forward_reshape, fast_layers.max_pool_backward_reshape)

# (x shape, w shape, stride, pad): sizes the naive layer accepts (windows tile exactly).
CONV_CASES = [
    ((2, 3, 8, 8), (4, 3, 3, 3), 1, 1),
    ((3, 2, 7, 9), (5, 2, 3, 5), 2, 1),  # non-square filter, odd sizes, stride 2
    ((2, 3, 11, 8), (3, 3, 2, 5), 3, 0),  # stride 3, filter wider than tall
    ((2, 2, 5, 5), (3, 2, 1, 1), 1, 0),  # 1x1 filter
    ((1, 1, 4, 6), (2, 1, 4, 6), 1, 0),  # filter as large as the image
    ((2, 3, 5, 7), (2, 3, 3, 3), 2, 2),  # padding larger than the reach of some taps
    ((4, 3, 31, 31), (6, 3, 3, 3), 2, 1),  # the benchmark's first case, fewer images
    ((2, 2, 9, 9), (3, 2, 7, 7), 1, 3),
    # Stride 2 splits each padded image into 4 phase planes of unequal sizes.
    ((2, 3, 9, 11), (2, 3, 7, 7), 2, 3),
    ((2, 2, 9, 11), (3, 2, 3, 3), 2, 0),
    # 3x3 at stride 1 takes the Winograd path of conv_forward_fast: odd output sizes
    # (a last row and column of half-empty 2x2 tiles), no padding and wide padding.
    ((2, 3, 7, 9), (4, 3, 3, 3), 1, 0),
    ((3, 2, 5, 6), (3, 2, 3, 3), 1, 2),
    # Stride 1 with padding as wide as the filter: dx cannot be a direct convolution of dout.
    ((2, 2, 4, 5), (3, 2, 2, 2), 1, 2),
]
# (x shape, pool_height, pool_width, stride)
POOL_CASES = [
    ((2, 3, 8, 8), 2, 2, 2),
    ((2, 2, 9, 9), 3, 3, 3),
    ((2, 3, 9, 7), 3, 1, 2),  # non-square window, stride smaller than its height
    ((2, 2, 7, 7), 3, 3, 1),  # overlapping windows
    ((2, 2, 7, 11), 1, 2, 3),  # stride larger than the window: some inputs get no gradient
    ((1, 1, 5, 5), 5, 5, 1),  # one window covering the image
]
TILING_CASES = [case for case in POOL_CASES if case[1] == case[2] == case[3]]
POOL_VARIANT_CASES = [(*variant, *case) for variant in POOL_VARIANTS for case in POOL_CASES] + [
    (*TILING_POOL, *case) for case in TILING_CASES]


def _conv_param(stride, pad):
    return {"stride": stride, "pad": pad}


def _pool_param(height, width, stride):
    return {"pool_height": height, "pool_width": width, "stride": stride}


def _conv_inputs(rng, x_shape, w_shape, dtype):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, w, b


def assert_close_to_float64(actual, expected, dtype, name):
    """A result computed in dtype matches the float64 reference to that dtype's rounding.

    Relative to the largest magnitude, since float32 sums of mixed signs lose
    relative accuracy on the entries that nearly cancel.
    """
    actual = np.asarray(actual)
    assert actual.dtype == dtype, f"{name}: dtype {actual.dtype}, expected {dtype}"
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    scale = max(np.abs(expected).max(), 1e-30)
    error = np.abs(actual.astype(np.float64) - expected).max() / scale
    tol = 1e-10 if dtype == np.float64 else 2e-6
    assert error < tol, f"{name}: error {error:.2e} relative to max |value| >= {tol:.0e}"


@pytest.mark.parametrize("forward, backward", CONV_VARIANTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_matches_naive(forward, backward, x_shape, w_shape, stride, pad, dtype):
    rng = np.random.default_rng(0)
    x, w, b = _conv_inputs(rng, x_shape, w_shape, dtype)
    conv_param = _conv_param(stride, pad)
    # The reference sees exactly the same values, in float64.
    expected_out, naive_cache = conv_forward_naive(
        x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), conv_param)
    dout = rng.standard_normal(expected_out.shape)
    expected_grads = conv_backward_naive(dout, naive_cache)

    out, cache = forward(x, w, b, conv_param)
    assert_close_to_float64(out, expected_out, dtype, "out")
    grads = backward(dout.astype(dtype), cache)
    for grad, expected, name in zip(grads, expected_grads, ("dx", "dw", "db")):
        assert_close_to_float64(grad, expected, dtype, name)


@pytest.mark.parametrize("forward, backward, x_shape, height, width, stride", POOL_VARIANT_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool_matches_naive(forward, backward, x_shape, height, width, stride, dtype):
    rng = np.random.default_rng(1)
    # Ties are likely among float16-rounded values: routing must follow np.argmax's first maximum.
    x = rng.standard_normal(x_shape).astype(np.float16).astype(dtype)
    pool_param = _pool_param(height, width, stride)
    expected_out, naive_cache = max_pool_forward_naive(x, pool_param)
    dout = rng.standard_normal(expected_out.shape).astype(dtype)
    expected_dx = max_pool_backward_naive(dout, naive_cache)

    out, cache = forward(x, pool_param)
    np.testing.assert_array_equal(out, expected_out)
    # Overlapping windows sum their gradients in another order than the naive loop.
    assert_close_to_float64(backward(dout, cache), expected_dx.astype(np.float64), dtype, "dx")


@pytest.mark.parametrize("forward, backward", CONV_VARIANTS[:2], ids=lambda f: f.__name__)
@pytest.mark.parametrize("w_shape", [(4, 3, 3, 3), (4, 3, 2, 3)])
@pytest.mark.parametrize("chunk_bytes", [1, 22000])
def test_image_groups_do_not_change_results(monkeypatch, forward, backward, w_shape, chunk_bytes):
    """One image per group, and groups of two or three with a shorter last one."""
    monkeypatch.setattr(fast_layers, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(9)
    x, w, b = _conv_inputs(rng, (5, 3, 6, 7), w_shape, np.float64)
    conv_param = _conv_param(1, 1)
    expected_out, naive_cache = conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(expected_out.shape)
    out, cache = forward(x, w, b, conv_param)
    assert_close(out, expected_out, tol=1e-10, name="out")
    for grad, expected, name in zip(backward(dout, cache), conv_backward_naive(dout, naive_cache),
                                    ("dx", "dw", "db")):
        assert_close(grad, expected, tol=1e-10, name=name)


needs_direct_kernel = pytest.mark.skipif(
    not fast_layers._DIRECT_CONV, reason="the direct kernel needs an x86-64 CPU with AVX2 and FMA")


@needs_direct_kernel
@pytest.mark.parametrize("x_shape, w_shape, stride, pad", [
    ((3, 3, 21, 37), (7, 3, 7, 7), 1, 3),  # full tiles, then edges on every side
    # Blocks of 4 filters (3 rows x 8 columns): a last row tile of 2 rows, then of 1 row,
    # a padded block of filters, and the benchmark's shape.
    ((2, 3, 20, 19), (8, 3, 7, 7), 1, 3),
    ((2, 3, 13, 16), (7, 3, 5, 5), 1, 2),
    ((2, 3, 32, 32), (32, 3, 7, 7), 1, 3),
    ((2, 3, 35, 40), (5, 3, 3, 3), 2, 1),
    ((2, fast_layers.DIRECT_MAX_CHANNELS, 12, 20), (4, fast_layers.DIRECT_MAX_CHANNELS, 3, 3), 1, 1),
])
def test_direct_kernel_matches_float64_im2col(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(10)
    x, w, b = _conv_inputs(rng, x_shape, w_shape, np.float32)
    conv_param = _conv_param(stride, pad)
    expected, _ = fast_layers.conv_forward_im2col(
        x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), conv_param)
    out = np.full(expected.shape, np.nan, dtype=np.float32)
    fast_layers._compiled.direct_conv_forward_into(x, w, b, out, pad, stride)
    assert_close_to_float64(out, expected, np.float32, "out")


@needs_direct_kernel
@pytest.mark.parametrize("dtype, channels, used", [
    (np.float32, 3, True), (np.float32, fast_layers.DIRECT_MAX_CHANNELS + 1, False), (np.float64, 3, False)])
def test_fast_conv_runs_the_direct_kernel_on_few_float32_channels(monkeypatch, dtype, channels, used):
    calls = []
    kernel = fast_layers._compiled.direct_conv_forward_into
    monkeypatch.setattr(fast_layers._compiled, "direct_conv_forward_into",
                        lambda *args: calls.append(args) or kernel(*args))
    rng = np.random.default_rng(11)
    x, w, b = _conv_inputs(rng, (2, channels, 6, 6), (3, channels, 5, 5), dtype)
    out, cache = fast_layers.conv_forward_fast(x, w, b, _conv_param(1, 2))
    assert len(calls) == used
    # Stride 1 and a square filter: dx is a direct convolution of dout too.
    fast_layers.conv_backward_fast(np.ones_like(out), cache)
    assert len(calls) == 2 * used


@needs_direct_kernel
def test_direct_kernel_refuses_disagreeing_shapes():
    x, w, b = _conv_inputs(np.random.default_rng(12), (2, 3, 6, 6), (4, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="disagree"):
        fast_layers._compiled.direct_conv_forward_into(x, w, b, np.empty((2, 4, 5, 6), np.float32), 1, 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pool_2x2_backward_on_odd_sizes_leaves_zeros_where_no_window_reaches(dtype):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 7, 9)).astype(dtype)
    out, cache = fast_layers.max_pool_forward_fast(x, _pool_param(2, 2, 2))
    dout = rng.standard_normal(out.shape).astype(dtype)
    # Stale values in freed memory must not leak into the row and column no window reaches.
    for _ in range(3):
        np.full_like(x, np.nan)
    dx = fast_layers.max_pool_backward_fast(dout, cache)
    _, naive_cache = max_pool_forward_naive(x[:, :, :6, :8], _pool_param(2, 2, 2))
    expected = np.zeros_like(x)
    expected[:, :, :6, :8] = max_pool_backward_naive(dout, naive_cache)
    np.testing.assert_array_equal(dx, expected)


def test_ties_route_to_the_first_maximum():
    x = np.ones((1, 1, 4, 4))
    out, cache = fast_layers.max_pool_forward_fast(x, _pool_param(2, 2, 2))
    dx = fast_layers.max_pool_backward_fast(np.arange(1.0, 5.0).reshape(1, 1, 2, 2), cache)
    expected = np.zeros((4, 4))
    expected[0, 0], expected[0, 2], expected[2, 0], expected[2, 2] = 1, 2, 3, 4
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize("pool_param", [_pool_param(2, 2, 2), _pool_param(3, 3, 2)])
@pytest.mark.parametrize("bad_position", [-1, 9])
def test_pool_backward_refuses_a_corrupt_winner(pool_param, bad_position):
    x = np.random.default_rng(13).standard_normal((2, 3, 9, 9))
    out, (x, pool_param, winner) = fast_layers.max_pool_forward_fast(x, pool_param)
    winner = winner.copy()
    winner[1, 2, 0, 1] = bad_position
    with pytest.raises(ValueError, match="corrupt"):
        fast_layers.max_pool_backward_fast(np.ones_like(out), (x, pool_param, winner))


def test_fast_conv_passes_a_numerical_gradient_check():
    rng = np.random.default_rng(2)
    x, w, b = _conv_inputs(rng, (2, 2, 5, 6), (3, 2, 3, 2), np.float64)
    conv_param = _conv_param(2, 1)

    def forward(x, w, b):
        return fast_layers.conv_forward_fast(x, w, b, conv_param)[0]
    out, cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = fast_layers.conv_backward_fast(dout, cache)
    # The output is linear in each input, so a large step has no truncation error.
    assert_gradients(forward, {"x": x, "w": w, "b": b}, {"x": dx, "w": dw, "b": db}, dout, h=1e-3)


def test_caches_work_across_variants():
    rng = np.random.default_rng(3)
    x, w, b = _conv_inputs(rng, (3, 2, 6, 6), (4, 2, 3, 3), np.float64)
    out, cache = fast_layers.conv_forward_strides(x, w, b, _conv_param(1, 1))
    dout = rng.standard_normal(out.shape)
    for mine, theirs in zip(fast_layers.conv_backward_fast(dout, cache),
                            fast_layers.conv_backward_strides(dout, cache)):
        assert_close(mine, theirs, tol=1e-12)

    x = rng.standard_normal((2, 3, 6, 6))
    out, cache = fast_layers.max_pool_forward_reshape(x, _pool_param(2, 2, 2))
    dout = rng.standard_normal(out.shape)
    expected = fast_layers.max_pool_backward_reshape(dout, cache)
    np.testing.assert_array_equal(fast_layers.max_pool_backward_fast(dout, cache), expected)
    np.testing.assert_array_equal(fast_layers.max_pool_backward_im2col(dout, cache), expected)


def test_float32_stays_float32():
    """Peak memory of a float32 pass is about half the float64 one: no float64 temporaries."""
    rng = np.random.default_rng(4)

    def peak_bytes(dtype):
        x, w, b = _conv_inputs(rng, (8, 4, 16, 16), (8, 4, 3, 3), dtype)
        dout = rng.standard_normal((8, 8, 16, 16)).astype(dtype)
        pool_dout = rng.standard_normal((8, 4, 8, 8)).astype(dtype)
        tracemalloc.start()
        try:
            out, cache = fast_layers.conv_forward_fast(x, w, b, _conv_param(1, 1))
            grads = fast_layers.conv_backward_fast(dout, cache)
            pooled, pool_cache = fast_layers.max_pool_forward_fast(x, _pool_param(2, 2, 2))
            dx = fast_layers.max_pool_backward_fast(pool_dout, pool_cache)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert {a.dtype for a in (out, *grads, pooled, dx)} == {np.dtype(dtype)}
        return peak

    assert peak_bytes(np.float32) < 0.6 * peak_bytes(np.float64)


@pytest.fixture
def numpy_kernels(monkeypatch):
    """Run fast_layers as if the extension were not built; yields the warnings it emits."""
    monkeypatch.setattr(fast_layers, "_compiled", None)
    monkeypatch.setattr(fast_layers, "_fallback_warned", False)
    with warnings.catch_warnings(record=True) as emitted:
        warnings.simplefilter("always")
        yield emitted


@pytest.fixture(params=["compiled", "numpy"])
def either_kernels(request):
    if request.param == "numpy":
        request.getfixturevalue("numpy_kernels")


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES[:4])
def test_numpy_fallback_conv_matches_compiled(numpy_kernels, x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(5)
    x, w, b = _conv_inputs(rng, x_shape, w_shape, np.float64)
    conv_param = _conv_param(stride, pad)
    expected_out, naive_cache = conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(expected_out.shape)
    out, cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    assert_close(out, expected_out, tol=1e-10, name="out")
    for grad, expected, name in zip(fast_layers.conv_backward_fast(dout, cache),
                                    conv_backward_naive(dout, naive_cache), ("dx", "dw", "db")):
        assert_close(grad, expected, tol=1e-10, name=name)


@pytest.mark.parametrize("x_shape, height, width, stride", POOL_CASES)
@pytest.mark.parametrize("forward, backward", POOL_VARIANTS, ids=lambda f: f.__name__)
def test_numpy_fallback_pool_matches_naive(numpy_kernels, forward, backward, x_shape, height, width, stride):
    rng = np.random.default_rng(6)
    x = rng.standard_normal(x_shape).astype(np.float16).astype(np.float32)
    pool_param = _pool_param(height, width, stride)
    expected_out, naive_cache = max_pool_forward_naive(x, pool_param)
    dout = rng.standard_normal(expected_out.shape).astype(np.float32)
    out, cache = forward(x, pool_param)
    np.testing.assert_array_equal(out, expected_out)
    expected_dx = max_pool_backward_naive(dout, naive_cache).astype(np.float64)
    assert_close_to_float64(backward(dout, cache), expected_dx, np.float32, "dx")


@pytest.mark.parametrize("x_shape, w_shape, stride, pad, dtype", [
    ((2, 3, 9, 9), (3, 3, 7, 7), 1, 3, np.float32),  # direct kernel (compiled)
    ((2, 3, 7, 9), (4, 3, 3, 3), 1, 0, np.float64),  # Winograd (compiled)
    ((3, 2, 7, 9), (5, 2, 3, 5), 2, 1, np.float64),  # im2col
])
def test_weight_gradients_alone_equal_those_of_the_full_backward(either_kernels, x_shape, w_shape, stride,
                                                                 pad, dtype):
    rng = np.random.default_rng(14)
    x, w, b = _conv_inputs(rng, x_shape, w_shape, dtype)
    out, cache = fast_layers.conv_forward_fast(x, w, b, _conv_param(stride, pad))
    dout = rng.standard_normal(out.shape).astype(dtype)
    _, dw, db = fast_layers.conv_backward_fast(dout, cache)
    dw_alone, db_alone = fast_layers._conv_weight_gradients_fast(dout, cache)
    np.testing.assert_array_equal(dw_alone, dw)
    np.testing.assert_array_equal(db_alone, db)


def test_max_pool_propagates_nan_like_np_max(either_kernels):
    x = np.arange(32.0).reshape(1, 2, 4, 4)
    x[0, 0, 1, 0] = x[0, 1, 3, 3] = np.nan
    out, cache = fast_layers.max_pool_forward_fast(x, _pool_param(2, 2, 2))
    np.testing.assert_array_equal(out, max_pool_forward_naive(x, _pool_param(2, 2, 2))[0])
    winner = cache[2]
    assert winner[0, 0, 0, 0] == 2 and winner[0, 1, 1, 1] == 3


def test_fallback_warns_once_with_build_instructions(numpy_kernels):
    rng = np.random.default_rng(7)
    x, w, b = _conv_inputs(rng, (2, 2, 5, 5), (2, 2, 3, 3), np.float32)
    for _ in range(3):
        out, cache = fast_layers.conv_forward_fast(x, w, b, _conv_param(1, 1))
        fast_layers.conv_backward_fast(out, cache)
        fast_layers.max_pool_forward_fast(x, _pool_param(2, 2, 1))
    assert len(numpy_kernels) == 1
    message = str(numpy_kernels[0].message)
    assert "not built" in message and "pip install -e ." in message


def test_fallback_when_the_extension_cannot_be_imported():
    """A fresh interpreter where importing the extension fails: one warning, then correct results."""
    script = textwrap.dedent("""
        import sys, warnings
        sys.modules["course_lib._im2col"] = None  # makes the import raise ImportError
        import numpy as np
        from course_lib import fast_layers
        x = np.arange(2 * 3 * 6 * 6, dtype=np.float64).reshape(2, 3, 6, 6) % 7
        w = np.ones((4, 3, 3, 3))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(2):
                out, _ = fast_layers.conv_forward_fast(x, w, np.zeros(4), {"stride": 1, "pad": 0})
        assert len(caught) == 1, [str(c.message) for c in caught]
        # Every output is the sum of a 3x3x3 block of x.
        expected = sum(x[:, :, i:i + 4, j:j + 4].sum(axis=1) for i in range(3) for j in range(3))
        assert np.allclose(out, expected[:, None]), "wrong fallback result"
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_extension_is_built():
    assert fast_layers._compiled is not None, (
        "course_lib._im2col is not built: run `pip install -e .` in the repository")


@pytest.mark.parametrize("call, message", [
    (lambda x, w, b: fast_layers.conv_forward_fast(x, w[:, :2], b, _conv_param(1, 1)), "channels"),
    (lambda x, w, b: fast_layers.conv_forward_fast(x, w, b[:2], _conv_param(1, 1)), "b has shape"),
    (lambda x, w, b: fast_layers.conv_forward_fast(x[0], w, b, _conv_param(1, 1)), r"\(N, C, H, W\)"),
    (lambda x, w, b: fast_layers.conv_forward_fast(x, w, b, {"stride": 1}), "no 'pad' key"),
    (lambda x, w, b: fast_layers.conv_forward_fast(x, w, b, _conv_param(1.0, 1)), "'stride'.*int"),
    (lambda x, w, b: fast_layers.conv_forward_fast(x, w, b, _conv_param(0, 1)), ">= 1"),
    (lambda x, w, b: fast_layers.conv_forward_strides(x, np.ones((2, 3, 9, 9)), b[:2], _conv_param(1, 0)),
     "does not fit"),
    (lambda x, w, b: fast_layers.conv_forward_fast(x.astype(int), w, b, _conv_param(1, 1)), "float32 or float64"),
    (lambda x, w, b: fast_layers.conv_backward_fast(np.ones((2, 4, 3, 3)),
                                                    fast_layers.conv_forward_fast(x, w, b, _conv_param(1, 1))[1]),
     "dout has shape"),
    (lambda x, w, b: fast_layers.max_pool_forward_fast(x, {"pool_height": 2, "stride": 2}), "pool_width"),
    (lambda x, w, b: fast_layers.max_pool_forward_im2col(x, _pool_param(9, 2, 1)), "does not fit"),
    (lambda x, w, b: fast_layers.max_pool_forward_reshape(x, _pool_param(3, 3, 1)), "tile"),
    (lambda x, w, b: fast_layers.max_pool_backward_fast(np.ones((2, 3, 2, 2)),
                                                        fast_layers.max_pool_forward_fast(x, _pool_param(2, 2, 2))[1]),
     "dout has shape"),
])
def test_bad_inputs_raise_clear_errors(call, message):
    rng = np.random.default_rng(8)
    x, w, b = _conv_inputs(rng, (2, 3, 6, 6), (4, 3, 3, 3), np.float64)
    with pytest.raises(ValueError, match=message):
        call(x, w, b)
