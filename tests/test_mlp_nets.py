"""course_lib.mlp.nets: structure, initialization, gradients and checkpoints of the four nets."""
import numpy as np
import pytest

from course_lib.checkpoint import class_scores, load_model, save_model
from course_lib.mlp import nets
from course_lib.mlp.layers import cross_entropy, leaky_relu
from tests.helpers import assert_close, assert_loss_gradients

# name: (constructor, float64 constructor kwargs, input shape per example, number of classes)
NETS = {
    "TestFCReLU": (nets.TestFCReLU, {}, (15,), 5),
    "SmallFullyConnectedNetwork": (nets.SmallFullyConnectedNetwork, {}, (4,), 7),
    "DropoutNet": (nets.DropoutNet, {"keep_prob": 0.7}, (3, 5), 10),
    "TinyNet": (nets.TinyNet, {"hidden_dims": (6, 5), "input_dim": 12, "num_classes": 4}, (2, 2, 3), 4),
}
EXPECTED_PARAM_SHAPES = {
    "TestFCReLU": {"fc1_w": (15, 5), "fc1_b": (5,)},
    "SmallFullyConnectedNetwork": {"fc1_w": (4, 30), "fc1_b": (30,), "fc2_w": (30, 7), "fc2_b": (7,)},
    "DropoutNet": {"fc1_w": (15, 20), "fc1_b": (20,), "fc2_w": (20, 30), "fc2_b": (30,),
                   "fc3_w": (30, 10), "fc3_b": (10,)},
    "TinyNet": {"fc1_w": (3072, 512), "fc1_b": (512,), "fc2_w": (512, 256), "fc2_b": (256,),
                "fc3_w": (256, 10), "fc3_b": (10,)},
}


@pytest.mark.parametrize("name", NETS)
def test_default_structure_and_float32_params(name):
    model = NETS[name][0]()
    shapes = {param: value.shape for param, value in model.net.params.items()}
    assert shapes == EXPECTED_PARAM_SHAPES[name]
    assert all(value.dtype == np.float32 for value in model.net.params.values())


def test_layer_order_of_the_nets():
    def kinds(model):
        return [type(layer).__name__ for layer in model.net.layers]

    assert kinds(nets.TestFCReLU()) == ["fc", "leaky_relu"]
    assert kinds(nets.SmallFullyConnectedNetwork()) == ["fc", "leaky_relu", "fc"]
    hidden = ["fc", "leaky_relu", "dropout"]
    assert kinds(nets.DropoutNet()) == ["flatten", *hidden, *hidden, "fc"]
    assert kinds(nets.TinyNet(hidden_dims=(8, 8, 8))) == ["flatten", *hidden * 3, "fc"]


GRADIENT_SEED = 0


@pytest.mark.parametrize("name", NETS)
def test_net_gradients(name):
    """Every parameter's gradient from backward matches central differences of the loss (float64).

    The leaky ReLUs get slope 0.3 and the weights scale 1/sqrt(fan-in), so that
    few gradient entries are too small for central differences to resolve (a
    real bug gives errors near 1, far above the tolerance); the slope itself is
    checked in the layer tests.
    """
    make, kwargs, example_shape, num_classes = NETS[name]
    model = make(dtype=np.float64, **kwargs)
    for layer in model.net.layers:
        if isinstance(layer, leaky_relu):
            layer.negative_slope = 0.3
    rng = np.random.default_rng(GRADIENT_SEED)
    for param, value in model.net.params.items():
        scale = 1 / np.sqrt(value.shape[0]) if value.ndim == 2 else 0.5
        model.net.assign(param, rng.normal(0, scale, value.shape))
    x = rng.standard_normal((3, *example_shape))
    y = rng.integers(0, num_classes, 3)
    loss_func = cross_entropy(size_average=False)

    def loss():
        return loss_func.forward(model.forward(x, is_training=True, seed=2), y)

    loss()
    model.backward(loss_func.backward())
    grads = {param: model.net.get_grads(param) for param in model.net.params}
    assert_loss_gradients(loss, model.net.params, grads, tol=1e-5, h=1e-5)


def test_small_network_initial_weights_have_the_init_scale():
    np.random.seed(0)
    model = nets.SmallFullyConnectedNetwork(input_dim=200, hidden_dim=300, init_scale=0.02)
    for param in ("fc1_w", "fc2_w"):
        assert abs(model.net.get_params(param).std() - 0.02) < 0.02 * 0.05
        assert abs(model.net.get_params(param).mean()) < 1e-3
    assert not model.net.get_params("fc1_b").any() and not model.net.get_params("fc2_b").any()


def test_test_fc_relu_computes_leaky_relu_of_affine():
    model = nets.TestFCReLU(dtype=np.float64)
    rng = np.random.default_rng(3)
    w, b, x = rng.standard_normal((15, 5)), rng.standard_normal(5), rng.standard_normal((4, 15))
    model.net.assign("fc1_w", w)
    model.net.assign("fc1_b", b)
    affine = x @ w + b
    assert_close(model.forward(x), np.where(affine > 0, affine, 0.01 * affine))


def test_dropout_net_is_deterministic_at_test_time_and_random_in_training():
    model = nets.DropoutNet(keep_prob=0.5, seed=0, dtype=np.float64)
    x = np.random.default_rng(4).standard_normal((8, 15))
    assert np.array_equal(model.forward(x, is_training=False), model.forward(x, is_training=False))
    assert not np.array_equal(model.forward(x), model.forward(x))


def test_tiny_net_he_initialization():
    np.random.seed(0)
    model = nets.TinyNet(hidden_dims=(256,))
    assert abs(model.net.get_params("fc1_w").std() - np.sqrt(2 / 3072)) < 0.02 * np.sqrt(2 / 3072)
    assert abs(model.net.get_params("fc2_w").std() - np.sqrt(2 / 256)) < 0.1 * np.sqrt(2 / 256)


@pytest.mark.parametrize("name", NETS)
def test_checkpoint_round_trip(name, tmp_path):
    make, kwargs, example_shape, _ = NETS[name]
    kwargs = {key: value for key, value in kwargs.items() if key != "keep_prob"}
    model = make(**kwargs)
    x = np.random.default_rng(5).standard_normal((7, *example_shape))
    path = save_model(model, tmp_path / f"{name}.npz")
    restored = load_model(path)
    assert type(restored) is type(model)
    assert_close(class_scores(restored, x, batch_size=3), model.forward(x, is_training=False))
