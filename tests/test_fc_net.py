"""classifiers.fc_net: initialization, gradients, train/test modes of batchnorm and dropout."""
import numpy as np
import pytest

from course_lib.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from tests.helpers import assert_close, assert_model_gradients

N, D, C = 5, 6, 4
HIDDEN = [7, 5]


def _data(seed=0, num_examples=N):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_examples, D)), rng.integers(0, C, size=num_examples)


def _fc_net(init_seed=0, **kwargs):
    np.random.seed(init_seed)
    options = {"input_dim": D, "num_classes": C, "weight_scale": 0.5, "dtype": np.float64, **kwargs}
    return FullyConnectedNet(HIDDEN, **options)


def test_two_layer_net_initialization():
    np.random.seed(0)
    model = TwoLayerNet(input_dim=300, hidden_dims=200, num_classes=10, weight_scale=1e-2)
    shapes = {name: value.shape for name, value in model.params.items()}
    assert shapes == {"W1": (300, 200), "b1": (200,), "W2": (200, 10), "b2": (10,)}
    for name in ("W1", "W2"):
        assert abs(model.params[name].std() - 1e-2) < 1e-3, name
    assert not model.params["b1"].any() and not model.params["b2"].any()


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_two_layer_net_gradients(reg):
    np.random.seed(1)
    model = TwoLayerNet(input_dim=D, hidden_dims=8, num_classes=C, weight_scale=0.5, reg=reg)
    assert_model_gradients(model, *_data(1))


def test_two_layer_net_refuses_dropout():
    with pytest.raises(ValueError, match="no dropout layer"):
        TwoLayerNet(dropout=0.5)


def test_fully_connected_net_parameters():
    model = FullyConnectedNet(HIDDEN, input_dim=D, num_classes=C, use_batchnorm=True)
    shapes = {name: value.shape for name, value in model.params.items()}
    assert shapes == {
        "W1": (D, 7), "b1": (7,), "W2": (7, 5), "b2": (5,), "W3": (5, C), "b3": (C,),
        "gamma1": (7,), "beta1": (7,), "gamma2": (5,), "beta2": (5,),
    }
    assert all(value.dtype == np.float32 for value in model.params.values())
    assert np.all(model.params["gamma1"] == 1) and not model.params["beta2"].any()
    assert len(model.bn_params) == 2


@pytest.mark.parametrize(
    "reg, options",
    [
        (0.0, {}),
        (3.14, {}),
        (0.0, {"use_batchnorm": True}),
        (3.14, {"use_batchnorm": True}),
        (0.0, {"dropout": 0.25, "seed": 123}),
        (3.14, {"use_batchnorm": True, "dropout": 0.25, "seed": 123}),
    ],
    ids=["plain", "reg", "batchnorm", "batchnorm-reg", "dropout", "batchnorm-dropout-reg"],
)
def test_fully_connected_net_gradients(reg, options):
    model = _fc_net(reg=reg, **options)
    # Batchnorm subtracts the batch mean, so a bias just before it has no effect.
    no_effect = [f"b{layer}" for layer in range(1, model.num_layers)] if model.use_batchnorm else []
    assert_model_gradients(model, *_data(2), no_effect=no_effect)


def test_loss_adds_half_reg_times_every_squared_weight():
    X, y = _data(3)
    plain, regularized = _fc_net(reg=0.0), _fc_net(reg=3.14)
    penalty = 0.5 * 3.14 * sum(np.sum(plain.params[f"W{i}"] ** 2) for i in (1, 2, 3))
    assert abs(regularized.loss(X, y)[0] - plain.loss(X, y)[0] - penalty) < 1e-10


def test_fully_connected_net_outputs_its_dtype():
    model = FullyConnectedNet(HIDDEN, input_dim=D, num_classes=C)
    X, y = _data(4)
    assert model.loss(X).dtype == np.float32
    loss, grads = model.loss(X, y)
    assert all(grad.dtype == np.float32 for grad in grads.values())


def _manual_test_mode_scores(model, X):
    """Scores computed by hand with the running statistics (what test mode must do)."""
    hidden = X
    for layer, bn_param in enumerate(model.bn_params, start=1):
        affine = hidden @ model.params[f"W{layer}"] + model.params[f"b{layer}"]
        normalized = (affine - bn_param["running_mean"]) / np.sqrt(bn_param["running_var"] + 1e-5)
        hidden = np.maximum(0, model.params[f"gamma{layer}"] * normalized + model.params[f"beta{layer}"])
    last = model.num_layers
    return hidden @ model.params[f"W{last}"] + model.params[f"b{last}"]


def test_batchnorm_test_mode_uses_running_statistics():
    model = _fc_net(use_batchnorm=True)
    for seed in range(5):
        model.loss(*_data(seed, num_examples=20))
    assert all(bn_param["running_var"].any() for bn_param in model.bn_params)
    X, _ = _data(9)
    assert_close(model.loss(X), _manual_test_mode_scores(model, X), tol=1e-10, name="test-mode scores")
    assert [bn_param["mode"] for bn_param in model.bn_params] == ["test", "test"]


def test_test_mode_score_of_an_example_does_not_depend_on_its_batch():
    model = _fc_net(use_batchnorm=True, dropout=0.5)
    model.loss(*_data(0, num_examples=20))
    X, _ = _data(5)
    assert_close(model.loss(X[:1]), model.loss(X)[:1], tol=1e-12, name="scores")


def test_train_mode_is_set_again_after_test_mode():
    model = _fc_net(use_batchnorm=True, dropout=0.5, seed=3)
    X, y = _data(6)
    model.loss(X)
    before = [bn_param["running_mean"].copy() for bn_param in model.bn_params]
    model.loss(X, y)
    assert model.dropout_param["mode"] == "train"
    assert [bn_param["mode"] for bn_param in model.bn_params] == ["train", "train"]
    assert all(np.any(old != bn_param["running_mean"]) for old, bn_param in zip(before, model.bn_params))


def test_dropout_is_off_in_test_mode_and_on_in_train_mode():
    with_dropout = _fc_net(dropout=0.5)
    without_dropout = _fc_net()
    X, y = _data(7)
    assert_close(with_dropout.loss(X), without_dropout.loss(X), tol=1e-12, name="test-mode scores")
    assert with_dropout.loss(X, y)[0] != without_dropout.loss(X, y)[0]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"hidden_dims": 100}, TypeError, "list of layer sizes"),
        ({"hidden_dims": [10], "dropout": 1.0}, ValueError, "probability of dropping"),
        ({"hidden_dims": [10], "dropout": -0.1}, ValueError, "probability of dropping"),
    ],
)
def test_fully_connected_net_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        FullyConnectedNet(**kwargs)
