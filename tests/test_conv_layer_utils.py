"""course_lib.conv_layer_utils: every conv sandwich's backward against numerical gradients,
and its forward against the same layers composed from the naive versions."""

import numpy as np
import pytest

from course_lib.conv_layer_utils import (
    _conv_batchnorm_relu_pool_weight_gradients,
    _conv_relu_pool_weight_gradients,
    conv_batchnorm_relu_backward,
    conv_batchnorm_relu_forward,
    conv_batchnorm_relu_pool_backward,
    conv_batchnorm_relu_pool_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from course_lib.conv_layers import (
    conv_forward_naive,
    max_pool_forward_naive,
    spatial_batchnorm_forward,
)
from tests.helpers import assert_close, assert_layer_gradients

CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def _conv_inputs(rng):
    return {
        "x": rng.standard_normal((2, 3, 4, 4)),
        "w": rng.standard_normal((3, 3, 3, 3)),
        "b": rng.standard_normal(3),
    }


def _batchnorm_inputs(rng):
    return {**_conv_inputs(rng), "gamma": rng.standard_normal(3), "beta": rng.standard_normal(3)}


def _naive_conv(x, w, b):
    return conv_forward_naive(x, w, b, CONV)[0]


def _naive_batchnorm(x, w, b, gamma, beta):
    return spatial_batchnorm_forward(_naive_conv(x, w, b), gamma, beta, {"mode": "train"})[0]


def _naive_pool(x):
    return max_pool_forward_naive(x, POOL)[0]


# name: (forward over named inputs, backward, input factory, the same forward from naive layers)
SANDWICHES = {
    "conv_relu": (
        lambda x, w, b: conv_relu_forward(x, w, b, CONV),
        conv_relu_backward,
        _conv_inputs,
        lambda **kw: np.maximum(_naive_conv(**kw), 0),
    ),
    "conv_relu_pool": (
        lambda x, w, b: conv_relu_pool_forward(x, w, b, CONV, POOL),
        conv_relu_pool_backward,
        _conv_inputs,
        lambda **kw: _naive_pool(np.maximum(_naive_conv(**kw), 0)),
    ),
    "conv_batchnorm_relu": (
        lambda x, w, b, gamma, beta: conv_batchnorm_relu_forward(
            x, w, b, gamma, beta, CONV, {"mode": "train"}
        ),
        conv_batchnorm_relu_backward,
        _batchnorm_inputs,
        lambda **kw: np.maximum(_naive_batchnorm(**kw), 0),
    ),
    "conv_batchnorm_relu_pool": (
        lambda x, w, b, gamma, beta: conv_batchnorm_relu_pool_forward(
            x, w, b, gamma, beta, CONV, {"mode": "train"}, POOL
        ),
        conv_batchnorm_relu_pool_backward,
        _batchnorm_inputs,
        lambda **kw: _naive_pool(np.maximum(_naive_batchnorm(**kw), 0)),
    ),
}


@pytest.mark.parametrize("name", SANDWICHES)
def test_sandwich_backward_matches_numerical_gradient(name):
    forward, backward, make_inputs, _ = SANDWICHES[name]
    inputs = make_inputs(np.random.default_rng(0))
    # Spatial batchnorm subtracts each channel's mean, so a conv bias before it has no effect.
    no_effect = ("b",) if "gamma" in inputs else ()
    # Tolerance as for the naive conv layers: rounding in sums of ~100 products.
    assert_layer_gradients(forward, backward, inputs, tol=1e-6, h=1e-5, no_effect=no_effect)


@pytest.mark.parametrize("name", SANDWICHES)
def test_sandwich_forward_equals_naive_composition(name):
    forward, _, make_inputs, naive = SANDWICHES[name]
    inputs = make_inputs(np.random.default_rng(1))
    out, _ = forward(**inputs)
    assert_close(out, naive(**inputs), tol=1e-10)


@pytest.mark.parametrize("name, weight_gradients", [
    ("conv_relu_pool", _conv_relu_pool_weight_gradients),
    ("conv_batchnorm_relu_pool", _conv_batchnorm_relu_pool_weight_gradients),
])
def test_first_layer_backward_gives_the_gradients_of_the_full_one_but_dx(name, weight_gradients):
    forward, backward, make_inputs, _ = SANDWICHES[name]
    rng = np.random.default_rng(2)
    out, cache = forward(**make_inputs(rng))
    dout = rng.standard_normal(out.shape)
    expected = backward(dout, cache)[1:]
    got = weight_gradients(dout, cache)
    assert len(got) == len(expected)
    for actual, wanted in zip(got, expected):
        np.testing.assert_array_equal(actual, wanted)
