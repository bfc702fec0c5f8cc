"""course_lib.conv_layers: gradients, per-channel batchnorm statistics, dtypes and geometry errors."""

import numpy as np
import pytest

from course_lib.conv_layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from tests.helpers import assert_close, assert_layer_gradients


def _conv(x_shape, w_shape, stride, pad):
    def case(rng):
        def forward(x, w, b):
            return conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})

        inputs = {
            "x": rng.standard_normal(x_shape),
            "w": rng.standard_normal(w_shape),
            "b": rng.standard_normal(w_shape[0]),
        }
        return forward, conv_backward_naive, inputs

    return case


def _pool(x_shape, height, width, stride):
    def case(rng):
        def forward(x):
            return max_pool_forward_naive(
                x, {"pool_height": height, "pool_width": width, "stride": stride}
            )

        return forward, max_pool_backward_naive, {"x": rng.standard_normal(x_shape)}

    return case


def _spatial_batchnorm(rng):
    bn_param = {"mode": "train"}

    def forward(x, gamma, beta):
        return spatial_batchnorm_forward(x, gamma, beta, bn_param)

    inputs = {
        "x": 2 * rng.standard_normal((2, 3, 4, 5)) + 1,
        "gamma": rng.standard_normal(3),
        "beta": rng.standard_normal(3),
    }
    return forward, spatial_batchnorm_backward, inputs


LAYERS = {
    "conv_same_padding": _conv((2, 3, 5, 5), (4, 3, 3, 3), stride=1, pad=1),
    "conv_non_square_strided": _conv((2, 2, 6, 5), (3, 2, 2, 3), stride=2, pad=1),
    "pool_2x2_stride_2": _pool((2, 3, 4, 6), 2, 2, 2),
    "pool_overlapping_3x2_stride_1": _pool((2, 2, 5, 4), 3, 2, 1),
    "spatial_batchnorm": _spatial_batchnorm,
}


@pytest.mark.parametrize("name", LAYERS)
def test_backward_matches_numerical_gradient(name):
    forward, backward, inputs = LAYERS[name](np.random.default_rng(0))
    # The numerical gradient sums ~100 products, leaving ~1e-9 of rounding: up to ~1e-7 relative
    # on the smallest entries, so the tolerance is 1e-6 (a wrong gradient is off by far more).
    assert_layer_gradients(forward, backward, inputs, tol=1e-6, h=1e-5)


def test_conv_output_shape_and_one_hand_computed_entry():
    rng = np.random.default_rng(1)
    x, w, b = (
        rng.standard_normal((2, 3, 7, 6)),
        rng.standard_normal((4, 3, 3, 2)),
        rng.standard_normal(4),
    )
    out, _ = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    assert out.shape == (2, 4, 4, 4)
    # Output (1, 2, 1, 3) sees padded rows 2..4 and columns 6..7, i.e. x rows 1..3 and column 5 plus padding.
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.sum(padded[1, :, 2:5, 6:8] * w[2]) + b[2]
    assert out[1, 2, 1, 3] == pytest.approx(expected)


def test_max_pool_backward_sends_gradient_to_the_maximum_only():
    x = np.array([[[[1.0, 5.0], [3.0, 2.0]]]])
    _, cache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = max_pool_backward_naive(np.array([[[[7.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[0.0, 7.0], [0.0, 0.0]]]])


def test_spatial_batchnorm_normalizes_each_channel_over_batch_and_space():
    rng = np.random.default_rng(2)
    channel_scale = np.array([1.0, 4.0, 0.5])[None, :, None, None]
    channel_shift = np.array([10.0, -3.0, 0.0])[None, :, None, None]
    x = rng.standard_normal((8, 3, 5, 5)) * channel_scale + channel_shift
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 4.0])
    bn_param = {"mode": "train", "momentum": 0.5}
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), gamma, rtol=1e-4)
    np.testing.assert_allclose(bn_param["running_mean"], 0.5 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(bn_param["running_var"], 0.5 * x.var(axis=(0, 2, 3)))


def test_spatial_batchnorm_test_mode_uses_running_statistics():
    x = np.arange(16, dtype=np.float64).reshape(2, 2, 2, 2)
    bn_param = {
        "mode": "test",
        "eps": 0.0,
        "running_mean": np.array([1.0, 2.0]),
        "running_var": np.array([4.0, 1.0]),
    }
    out, _ = spatial_batchnorm_forward(x, np.ones(2), np.zeros(2), bn_param)
    expected = (x - np.array([1.0, 2.0])[:, None, None]) / np.array([2.0, 1.0])[:, None, None]
    assert_close(out, expected)


def test_float32_in_float32_out():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    w, b = rng.standard_normal((2, 3, 3, 3)).astype(np.float32), np.zeros(2, np.float32)
    conv_out, conv_cache = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    pool_out, pool_cache = max_pool_forward_naive(
        x, {"pool_height": 2, "pool_width": 2, "stride": 2}
    )
    bn_param = {"mode": "train"}
    bn_out, bn_cache = spatial_batchnorm_forward(
        x, np.ones(3, np.float32), np.zeros(3, np.float32), bn_param
    )
    arrays = [
        conv_out,
        *conv_backward_naive(np.ones_like(conv_out), conv_cache),
        pool_out,
        max_pool_backward_naive(np.ones_like(pool_out), pool_cache),
        bn_out,
        *spatial_batchnorm_backward(np.ones_like(bn_out), bn_cache),
        bn_param["running_var"],
    ]
    assert [a.dtype for a in arrays] == [np.float32] * len(arrays)


X = np.zeros((2, 3, 5, 5))
W = np.zeros((4, 3, 3, 3))
B = np.zeros(4)
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: conv_forward_naive(X, W, B, {"stride": 3, "pad": 0}),
            "height 5 + 2*pad 0 - window 3 = 2 is",
        ),
        (
            lambda: conv_forward_naive(X, W, B, {"stride": 3, "pad": 1}),
            "= 4 is not a multiple of stride 3",
        ),
        (
            lambda: conv_forward_naive(X, np.zeros((4, 3, 3, 7)), B, {"stride": 1, "pad": 0}),
            "does not fit",
        ),
        (
            lambda: conv_forward_naive(X, np.zeros((4, 2, 3, 3)), B, {"stride": 1, "pad": 1}),
            "x has 3 channels",
        ),
        (
            lambda: conv_forward_naive(X, W, np.zeros(3), {"stride": 1, "pad": 1}),
            "b has shape (3,)",
        ),
        (
            lambda: conv_forward_naive(X, W, B, {"stride": 1, "pad": 0.5}),
            "conv_param['pad'] must be an int",
        ),
        (
            lambda: conv_forward_naive(X, W, B, {"stride": 0, "pad": 1}),
            "conv_param['stride'] must be an int >= 1",
        ),
        (lambda: conv_forward_naive(X, W, B, {"pad": 1}), "no 'stride' key"),
        (lambda: conv_forward_naive(X[0], W, B, {"stride": 1, "pad": 1}), "(N, C, H, W)"),
        (
            lambda: max_pool_forward_naive(X, POOL),
            "height 5 + 2*pad 0 - window 2 = 3 is not a multiple of stride 2",
        ),
        (lambda: max_pool_forward_naive(X, {"pool_height": 2, "stride": 1}), "no 'pool_width' key"),
        (lambda: spatial_batchnorm_forward(X, np.ones(3), np.zeros(3), {}), "'mode'"),
        (
            lambda: spatial_batchnorm_forward(X, np.ones(4), np.zeros(3), {"mode": "train"}),
            "gamma has shape (4,)",
        ),
    ],
)
def test_bad_inputs_raise_errors_naming_the_problem(call, message):
    with pytest.raises(ValueError) as excinfo:
        call()
    assert message in str(excinfo.value)
