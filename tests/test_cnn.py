"""classifiers.cnn.ThreeLayerConvNet: shapes, padding, gradients and test mode."""
import numpy as np
import pytest

from course_lib.classifiers.cnn import ThreeLayerConvNet
from tests.helpers import assert_close, assert_model_gradients

INPUT_DIM = (2, 6, 6)
NUM_CLASSES = 3


def _data(seed=0, num_examples=3, input_dim=INPUT_DIM):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_examples, *input_dim)), rng.integers(0, NUM_CLASSES, size=num_examples)


def _tiny_net(**kwargs):
    np.random.seed(0)
    options = {"input_dim": INPUT_DIM, "num_filters": 3, "filter_size": 3, "hidden_dim": 4,
               "num_classes": NUM_CLASSES, "weight_scale": 0.3, "dtype": np.float64, **kwargs}
    return ThreeLayerConvNet(**options)


@pytest.mark.parametrize("filter_size, pooled", [(7, 16), (5, 16), (4, 15), (1, 16)])
def test_parameter_shapes_follow_same_padding(filter_size, pooled):
    model = ThreeLayerConvNet(num_filters=8, filter_size=filter_size, hidden_dim=20, use_batchnorm=True)
    shapes = {name: value.shape for name, value in model.params.items()}
    assert shapes == {
        "W1": (8, 3, filter_size, filter_size), "b1": (8,), "W2": (8 * pooled * pooled, 20), "b2": (20,),
        "W3": (20, 10), "b3": (10,), "gamma1": (8,), "beta1": (8,), "gamma2": (20,), "beta2": (20,),
    }
    assert all(value.dtype == np.float32 for value in model.params.values())
    X = np.zeros((2, 3, 32, 32))
    assert model.loss(X).shape == (2, 10)


@pytest.mark.parametrize("use_batchnorm", [False, True])
@pytest.mark.parametrize("reg", [0.0, 0.5])
def test_gradients_match_numerical_gradients(use_batchnorm, reg):
    model = _tiny_net(use_batchnorm=use_batchnorm, reg=reg)
    # Data on which no gradient entry is nearly 0: on other draws a channel can be active at every
    # pixel, the second batchnorm then cancels its beta1 exactly, and a relative error is noise.
    X, y = _data(2)
    # A bias just before batchnorm has no effect. h = 1e-5 keeps the rounding of the fast
    # convolution (1e-6 relative on small entries at h = 1e-6) well below the tolerance.
    assert_model_gradients(model, X, y, h=1e-5, no_effect=("b1", "b2") if use_batchnorm else ())


def test_loss_adds_half_reg_times_every_squared_weight():
    X, y = _data(2)
    plain, regularized = _tiny_net(), _tiny_net(reg=0.5)
    penalty = 0.5 * 0.5 * sum(np.sum(plain.params[name] ** 2) for name in ("W1", "W2", "W3"))
    assert abs(regularized.loss(X, y)[0] - plain.loss(X, y)[0] - penalty) < 1e-10


def test_initial_loss_is_about_log_of_the_number_of_classes():
    np.random.seed(3)
    model = ThreeLayerConvNet(input_dim=(3, 16, 16), num_filters=4, hidden_dim=10)
    X, y = _data(3, num_examples=50, input_dim=(3, 16, 16))
    loss, _ = model.loss(X, y)
    assert abs(loss - np.log(10)) < 0.05


def test_batchnorm_test_mode_uses_running_statistics():
    model = _tiny_net(use_batchnorm=True)
    for seed in range(4):
        model.loss(*_data(seed, num_examples=8))
    X, _ = _data(9, num_examples=4)
    assert_close(model.loss(X[:1]), model.loss(X)[:1], tol=1e-12, name="scores")
    assert [bn_param["mode"] for bn_param in model.bn_params] == ["test", "test"]
    model.loss(*_data(0))
    assert [bn_param["mode"] for bn_param in model.bn_params] == ["train", "train"]


def test_rejects_an_input_dim_that_is_not_an_image_shape():
    with pytest.raises(ValueError, match=r"input_dim must be \(C, H, W\)"):
        ThreeLayerConvNet(input_dim=(32, 32))
