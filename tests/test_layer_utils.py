"""course_lib.layer_utils: every sandwich's backward against numerical gradients, and its composition."""

import numpy as np
import pytest

from course_lib.layer_utils import (
    affine_batchnorm_relu_backward,
    affine_batchnorm_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
)
from course_lib.layers import affine_forward, batchnorm_forward
from tests.helpers import assert_close, assert_layer_gradients


def _affine_inputs(rng):
    return {
        "x": rng.standard_normal((4, 3, 2)),
        "w": rng.standard_normal((6, 5)),
        "b": rng.standard_normal(5),
    }


def _affine_relu(rng):
    return affine_relu_forward, affine_relu_backward, _affine_inputs(rng), ()


def _affine_batchnorm_relu(rng):
    bn_param = {"mode": "train"}

    def forward(x, w, b, gamma, beta):
        return affine_batchnorm_relu_forward(x, w, b, gamma, beta, bn_param)

    inputs = {
        **_affine_inputs(rng),
        "gamma": rng.standard_normal(5),
        "beta": rng.standard_normal(5),
    }
    # Batchnorm subtracts the batch mean, so the affine bias cannot change the output.
    return forward, affine_batchnorm_relu_backward, inputs, ("b",)


SANDWICHES = {"affine_relu": _affine_relu, "affine_batchnorm_relu": _affine_batchnorm_relu}


@pytest.mark.parametrize("name", SANDWICHES)
def test_sandwich_backward_matches_numerical_gradient(name):
    forward, backward, inputs, no_effect = SANDWICHES[name](np.random.default_rng(0))
    assert_layer_gradients(forward, backward, inputs, h=1e-5, no_effect=no_effect)


def test_affine_batchnorm_relu_is_the_composition_and_updates_running_stats():
    rng = np.random.default_rng(1)
    inputs = _affine_inputs(rng)
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    sandwich_param, reference_param = {"mode": "train"}, {"mode": "train"}
    out, _ = affine_batchnorm_relu_forward(
        **inputs, gamma=gamma, beta=beta, bn_param=sandwich_param
    )
    scores, _ = affine_forward(**inputs)
    normalized, _ = batchnorm_forward(scores, gamma, beta, reference_param)
    assert_close(out, np.maximum(normalized, 0))
    assert_close(sandwich_param["running_mean"], reference_param["running_mean"])
    assert_close(sandwich_param["running_var"], reference_param["running_var"])
