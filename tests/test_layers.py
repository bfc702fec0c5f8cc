"""course_lib.layers: gradients of every backward pass, batchnorm state, dtypes and bad inputs."""

import numpy as np
import pytest

from course_lib.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)
from tests.helpers import assert_close, assert_gradients, assert_layer_gradients


def _affine(rng):
    inputs = {
        "x": rng.standard_normal((3, 2, 4)),
        "w": rng.standard_normal((8, 5)),
        "b": rng.standard_normal(5),
    }
    return affine_forward, affine_backward, inputs


def _relu(rng):
    return relu_forward, relu_backward, {"x": rng.standard_normal((4, 6))}


def _leaky_relu(rng):
    def forward(x):
        return leaky_relu_forward(x, negative_slope=0.1)

    return forward, leaky_relu_backward, {"x": rng.standard_normal((4, 6))}


def _batchnorm_with(backward):
    def case(rng):
        bn_param = {"mode": "train"}

        def forward(x, gamma, beta):
            return batchnorm_forward(x, gamma, beta, bn_param)

        inputs = {
            "x": 3 * rng.standard_normal((6, 4)) + 2,
            "gamma": rng.standard_normal(4),
            "beta": rng.standard_normal(4),
        }
        return forward, backward, inputs

    return case


def _dropout_in(mode):
    def case(rng):
        def forward(x):
            return dropout_forward(x, {"p": 0.4, "mode": mode, "seed": 3})

        return forward, dropout_backward, {"x": rng.standard_normal((5, 7))}

    return case


LAYERS = {
    "affine": _affine,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "batchnorm": _batchnorm_with(batchnorm_backward),
    "batchnorm_alt": _batchnorm_with(batchnorm_backward_alt),
    "dropout_train": _dropout_in("train"),
    "dropout_test": _dropout_in("test"),
}


@pytest.mark.parametrize("name", LAYERS)
def test_backward_matches_numerical_gradient(name):
    forward, backward, inputs = LAYERS[name](np.random.default_rng(0))
    assert_layer_gradients(forward, backward, inputs)


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss])
def test_loss_gradient_matches_numerical_gradient(loss_fn):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((6, 5)), rng.integers(5, size=6)
    _, dx = loss_fn(x, y)
    assert_gradients(lambda x: loss_fn(x, y)[0], {"x": x}, {"x": dx}, np.float64(1.0))


def test_losses_on_hand_computed_scores():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    y = np.array([0, 2])
    # Row 0 violates both margins by 2 and 3; row 1 violates both by 1.
    assert svm_loss(x, y)[0] == pytest.approx((5 + 2) / 2)
    expected = (-np.log(np.exp(1) / np.exp([1, 2, 3]).sum()) + np.log(3)) / 2
    assert softmax_loss(x, y)[0] == pytest.approx(expected)


def test_softmax_loss_is_stable_for_huge_scores():
    loss, dx = softmax_loss(np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([0, 0]))
    assert loss == pytest.approx(500.0)
    assert np.all(np.isfinite(dx))


def test_relu_and_leaky_relu_values():
    x = np.array([[-2.0, 0.5], [3.0, -0.1]])
    np.testing.assert_array_equal(relu_forward(x)[0], [[0.0, 0.5], [3.0, 0.0]])
    np.testing.assert_allclose(leaky_relu_forward(x, 0.2)[0], [[-0.4, 0.5], [3.0, -0.02]])


def test_batchnorm_backward_alt_equals_graph_version():
    rng = np.random.default_rng(2)
    x, gamma, beta = rng.standard_normal((50, 30)), rng.standard_normal(30), rng.standard_normal(30)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dout = rng.standard_normal(x.shape)
    for graph, closed_form in zip(
        batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache)
    ):
        assert_close(closed_form, graph, tol=1e-10)


def test_batchnorm_running_average_update():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((20, 3)) * [1.0, 2.0, 3.0] + [0.0, -1.0, 4.0]
    running_mean, running_var = rng.standard_normal(3), rng.random(3)
    bn_param = {
        "mode": "train",
        "momentum": 0.8,
        "running_mean": running_mean,
        "running_var": running_var,
    }
    batchnorm_forward(x, np.ones(3), np.zeros(3), bn_param)
    # Biased batch variance, as in the forward normalization.
    np.testing.assert_allclose(bn_param["running_mean"], 0.8 * running_mean + 0.2 * x.mean(axis=0))
    np.testing.assert_allclose(bn_param["running_var"], 0.8 * running_var + 0.2 * x.var(axis=0))


def test_batchnorm_running_stats_start_at_zero_with_default_momentum():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    bn_param = {"mode": "train"}
    batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), bn_param)
    np.testing.assert_allclose(bn_param["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(bn_param["running_var"], 0.1 * x.var(axis=0), rtol=1e-6)


def test_batchnorm_test_mode_after_warming_up_running_averages():
    rng = np.random.default_rng(4)
    features = 3
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    scale, shift = np.array([2.0, 0.5, 5.0]), np.array([1.0, -3.0, 10.0])
    bn_param = {"mode": "train"}
    for _ in range(100):
        batchnorm_forward(
            rng.standard_normal((50, features)) * scale + shift, gamma, beta, bn_param
        )
    bn_param["mode"] = "test"
    running = (bn_param["running_mean"].copy(), bn_param["running_var"].copy())
    out, _ = batchnorm_forward(
        rng.standard_normal((2000, features)) * scale + shift, gamma, beta, bn_param
    )
    # Fresh data from the warm-up distribution comes out near the target statistics.
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=0.15)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=0.1)
    np.testing.assert_array_equal(bn_param["running_mean"], running[0])
    np.testing.assert_array_equal(bn_param["running_var"], running[1])


def test_batchnorm_test_mode_uses_running_statistics_not_the_batch():
    x = np.array([[1.0], [3.0]])
    bn_param = {
        "mode": "test",
        "eps": 0.0,
        "running_mean": np.array([1.0]),
        "running_var": np.array([4.0]),
    }
    out, _ = batchnorm_forward(x, np.array([2.0]), np.array([1.0]), bn_param)
    np.testing.assert_allclose(out, [[1.0], [3.0]])


def test_dropout_seed_makes_mask_reproducible():
    x = np.ones((40, 40))
    first, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 1})
    again, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 1})
    other, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 2})
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert set(np.unique(first)) == {0.0, 2.0}


def test_dropout_with_zero_probability_is_identity():
    x = np.random.default_rng(5).standard_normal((4, 4))
    out, _ = dropout_forward(x, {"p": 0.0, "mode": "train"})
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("name", LAYERS)
def test_float32_in_float32_out(name):
    forward, backward, inputs = LAYERS[name](np.random.default_rng(6))
    out, cache = forward(**{key: value.astype(np.float32) for key, value in inputs.items()})
    assert out.dtype == np.float32
    grads = backward(np.ones_like(out), cache)
    for grad in grads if isinstance(grads, tuple) else (grads,):
        assert grad.dtype == np.float32


def test_float32_state_stays_float32():
    x = np.random.default_rng(7).standard_normal((4, 3)).astype(np.float32)
    bn_param = {"mode": "train"}
    batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), bn_param)
    assert bn_param["running_mean"].dtype == bn_param["running_var"].dtype == np.float32
    _, (_, mask) = dropout_forward(x, {"p": 0.3, "mode": "train", "seed": 0})
    assert mask.dtype == np.float32
    _, dx = softmax_loss(x, np.array([0, 1, 2, 0]))
    assert dx.dtype == np.float32


GAMMA3 = np.ones(3)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: affine_forward(np.ones((2, 3, 4)), np.ones((10, 5)), np.ones(5)), "12 features"),
        (lambda: affine_forward(np.ones((2, 4)), np.ones((4, 5)), np.ones(3)), "b has shape (3,)"),
        (lambda: affine_forward(np.ones((2, 4)), np.ones(4), np.ones(1)), "w (D, M)"),
        (lambda: batchnorm_forward(np.ones((2, 3)), GAMMA3, GAMMA3, {}), "'mode'"),
        (lambda: batchnorm_forward(np.ones((2, 3)), GAMMA3, GAMMA3, {"mode": "eval"}), "'eval'"),
        (
            lambda: batchnorm_forward(np.ones((2, 3)), np.ones(4), GAMMA3, {"mode": "train"}),
            "gamma has shape (4,)",
        ),
        (
            lambda: batchnorm_forward(np.ones((2, 3, 1)), GAMMA3, GAMMA3, {"mode": "train"}),
            "(N, D)",
        ),
        (lambda: dropout_forward(np.ones(3), {"p": 0.5}), "'mode'"),
        (lambda: dropout_forward(np.ones(3), {"p": 0.5, "mode": "Train"}), "'Train'"),
        (lambda: dropout_forward(np.ones(3), {"mode": "train"}), "'p'"),
        (lambda: dropout_forward(np.ones(3), {"p": 1.0, "mode": "train"}), "0 <= p < 1"),
        (lambda: softmax_loss(np.ones((2, 3)), np.array([0, 3])), "in [0, 3), got 0..3"),
        (lambda: softmax_loss(np.ones((2, 3)), np.array([0])), "labels y have shape (1,)"),
        (lambda: svm_loss(np.ones((2, 3)), np.array([0.0, 1.0])), "integers"),
    ],
)
def test_bad_inputs_raise_errors_naming_the_problem(call, message):
    with pytest.raises(ValueError) as excinfo:
        call()
    assert message in str(excinfo.value)


def test_mode_error_lists_the_allowed_values():
    with pytest.raises(ValueError) as excinfo:
        batchnorm_forward(np.ones((2, 3)), GAMMA3, GAMMA3, {"mode": "eval"})
    assert "'train'" in str(excinfo.value) and "'test'" in str(excinfo.value)
    assert "bn_param['mode']" in str(excinfo.value)


def test_param_that_is_not_a_dict_is_a_type_error():
    with pytest.raises(TypeError, match="bn_param must be a dict"):
        batchnorm_forward(np.ones((2, 3)), GAMMA3, GAMMA3, "train")
