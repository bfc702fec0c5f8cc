"""course_lib.mlp.layers: values, numerical gradients, dropout semantics, dtypes and errors."""
import numpy as np
import pytest

from course_lib.mlp.layers import cross_entropy, dropout, fc, flatten, leaky_relu, sequential, softmax
from tests.helpers import assert_close, assert_gradients, numerical_gradient


def check_layer_gradients(layer, x, **forward_kwargs):
    """The layer's dx and parameter gradients match central differences of its forward (float64)."""
    out = layer.forward(x, **forward_kwargs)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    dx = layer.backward(dout)
    analytic = {"x": dx, **{name: layer.grads[name] for name in layer.params}}

    def forward(x, **params):
        layer.params.update(params)
        return layer.forward(x, **forward_kwargs)

    assert_gradients(forward, {"x": x, **layer.params}, analytic, dout)


def float64_fc(input_dim, output_dim, name="fc"):
    layer = fc(input_dim, output_dim, init_scale=0.5, name=name, dtype=np.float64)
    layer.params[layer.b_name] = np.random.default_rng(2).standard_normal(output_dim)
    return layer


RNG = np.random.default_rng(0)
GRADIENT_CASES = {
    "flatten": (lambda: flatten(), RNG.standard_normal((2, 3, 4)), {}),
    "fc": (lambda: float64_fc(5, 4), RNG.standard_normal((3, 5)), {}),
    "leaky_relu": (lambda: leaky_relu(0.1), RNG.standard_normal((4, 6)), {}),
    "dropout_train": (lambda: dropout(0.6), RNG.standard_normal((5, 7)), {"is_training": True, "seed": 3}),
    "dropout_off": (lambda: dropout(0), RNG.standard_normal((5, 7)), {"is_training": True}),
    "dropout_test": (lambda: dropout(0.6), RNG.standard_normal((5, 7)), {"is_training": False}),
}


@pytest.mark.parametrize("case", GRADIENT_CASES)
def test_layer_gradients(case):
    make_layer, x, forward_kwargs = GRADIENT_CASES[case]
    check_layer_gradients(make_layer(), x.copy(), **forward_kwargs)


def test_fc_computes_affine_map_and_stores_gradients_under_param_names():
    layer = float64_fc(6, 3, name="dense")
    assert (layer.w_name, layer.b_name) == ("dense_w", "dense_b")
    x = np.random.default_rng(4).standard_normal((2, 6))
    assert_close(layer.forward(x), x @ layer.params["dense_w"] + layer.params["dense_b"])
    layer.backward(np.ones((2, 3)))
    assert_close(layer.grads["dense_b"], [2.0, 2.0, 2.0])
    assert layer.grads["dense_w"].shape == (6, 3)


def test_fc_initialization_scale_and_zero_bias():
    np.random.seed(0)
    layer = fc(300, 200, init_scale=0.05)
    assert abs(layer.params[layer.w_name].std() - 0.05) < 0.05 * 0.02
    assert not layer.params[layer.b_name].any()


def test_flatten_forward_and_backward_shapes():
    layer = flatten(name="flat")
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    out = layer.forward(x)
    assert out.shape == (2, 60) and np.array_equal(out[1], x[1].ravel())
    assert layer.backward(out).shape == x.shape


def test_leaky_relu_values():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    assert_close(leaky_relu(0.2).forward(x), [[-0.4, -0.1, 0.0, 0.5, 2.0]])


@pytest.mark.parametrize("make_layer", [flatten, leaky_relu, lambda: dropout(0.5, seed=0)])
def test_layers_keep_float32(make_layer):
    x = np.random.default_rng(5).standard_normal((4, 3, 2)).astype(np.float32)
    layer = make_layer()
    out = layer.forward(x)
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32


def test_fc_with_float32_params_keeps_float32():
    layer = fc(3, 2)
    out = layer.forward(np.ones((4, 3), dtype=np.float32))
    assert layer.params[layer.w_name].dtype == np.float32 and out.dtype == np.float32


def test_softmax_rows_are_distributions_and_stable_for_huge_scores():
    x = np.random.default_rng(6).standard_normal((4, 5))
    probs = softmax(x)
    assert_close(probs, np.exp(x) / np.exp(x).sum(axis=1, keepdims=True))
    assert_close(softmax(x + 1000.0), probs)
    assert np.all(np.isfinite(softmax(np.array([[1e4, -1e4, 0.0]]))))


def test_cross_entropy_of_small_scores_is_log_num_classes():
    x = 0.001 * np.random.default_rng(7).standard_normal((50, 10))
    y = np.random.default_rng(8).integers(0, 10, 50)
    assert abs(cross_entropy().forward(x, y) - np.log(10)) < 0.01


@pytest.mark.parametrize("size_average", [True, False])
def test_cross_entropy_gradient(size_average):
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    loss = cross_entropy(size_average)
    loss.forward(x, y)
    numeric = numerical_gradient(lambda scores: loss.forward(scores, y), x.copy(), np.float64(1.0))
    assert_close(loss.backward(), numeric, tol=1e-6, name="dx")


def test_cross_entropy_sum_is_batch_size_times_mean():
    rng = np.random.default_rng(10)
    x, y = rng.standard_normal((8, 3)), rng.integers(0, 3, 8)
    assert_close(cross_entropy(False).forward(x, y), 8 * cross_entropy(True).forward(x, y))


def test_cross_entropy_is_finite_for_huge_wrong_scores():
    loss = cross_entropy().forward(np.array([[1e4, -1e4]]), np.array([1]))
    assert np.isfinite(loss) and loss > 1e3


def test_dropout_keep_prob_zero_is_identity():
    x = np.random.default_rng(11).standard_normal((20, 30))
    layer = dropout(keep_prob=0)
    assert np.array_equal(layer.forward(x, is_training=True), x)
    assert np.array_equal(layer.backward(x), x)


@pytest.mark.parametrize("keep_prob", [0.25, 0.5, 0.9])
def test_dropout_keeps_the_right_fraction_and_preserves_the_mean(keep_prob):
    x = np.random.default_rng(12).uniform(1.0, 2.0, (500, 500))
    out = dropout(keep_prob, seed=0).forward(x, is_training=True)
    kept = out != 0
    assert abs(kept.mean() - keep_prob) < 0.01
    assert_close(out[kept], x[kept] / keep_prob)
    assert abs(out.mean() - x.mean()) < 0.02 * x.mean()


def test_dropout_is_identity_at_test_time():
    x = np.random.default_rng(13).standard_normal((10, 10))
    assert np.array_equal(dropout(0.3, seed=0).forward(x, is_training=False), x)


def test_dropout_seed_fixes_the_mask_and_backward_uses_it():
    x = np.ones((40, 40))
    layer = dropout(0.5)
    first = layer.forward(x, seed=5)
    dx = layer.backward(np.ones_like(x))
    assert np.array_equal(layer.forward(x, seed=5), first)
    assert not np.array_equal(layer.forward(x, seed=6), first)
    assert np.array_equal(dx == 0, first == 0)


def test_dropout_layer_seed_makes_runs_reproducible():
    x = np.ones((30, 30))
    assert np.array_equal(dropout(0.5, seed=1).forward(x), dropout(0.5, seed=1).forward(x))


@pytest.mark.parametrize("keep_prob", [-0.1, 1.5])
def test_dropout_rejects_keep_prob_outside_unit_interval(keep_prob):
    with pytest.raises(ValueError, match="keep_prob"):
        dropout(keep_prob)


@pytest.mark.parametrize("make_layer", [flatten, lambda: fc(3, 2), leaky_relu, lambda: dropout(0.5)])
def test_backward_before_forward_is_a_clear_error(make_layer):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        make_layer().backward(np.ones((2, 2)))


def test_cross_entropy_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="backward called before forward"):
        cross_entropy().backward()


@pytest.mark.parametrize("shape", [(4, 5), (4,), (4, 3, 1)])
def test_fc_rejects_wrong_input_shape(shape):
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3\)"):
        fc(3, 2, name="fc1").forward(np.ones(shape))


def test_fc_backward_rejects_wrong_dout_shape():
    layer = fc(3, 2)
    layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match="dout has shape"):
        layer.backward(np.ones((4, 3)))


@pytest.mark.parametrize("labels, match", [
    (np.array([0, 3]), r"in \[0, 3\)"),
    (np.array([0, -1]), r"in \[0, 3\)"),
    (np.array([0, 1, 2]), r"labels y have shape \(3,\), expected \(2,\)"),
    (np.array([0.0, 1.0]), "integers"),
])
def test_cross_entropy_rejects_bad_labels(labels, match):
    with pytest.raises(ValueError, match=match):
        cross_entropy().forward(np.zeros((2, 3)), labels)


def make_sequential():
    return sequential(flatten(name="flat"), float64_fc(6, 4, "fc1"), leaky_relu(name="relu1"),
                      float64_fc(4, 3, "fc2"))


def test_sequential_forward_and_backward_compose_the_layers():
    net = make_sequential()
    x = np.random.default_rng(14).standard_normal((2, 3, 2))
    hidden = x.reshape(2, 6) @ net.get_params("fc1_w") + net.get_params("fc1_b")
    hidden = np.where(hidden > 0, hidden, 0.01 * hidden)
    assert_close(net.forward(x), hidden @ net.get_params("fc2_w") + net.get_params("fc2_b"))
    assert net.backward(np.ones((2, 3))).shape == x.shape
    assert net.get_grads("fc1_w").shape == (6, 4)
    assert sorted(net.params) == sorted(net.grads) == ["fc1_b", "fc1_w", "fc2_b", "fc2_w"]


def test_sequential_params_show_in_place_updates_and_assign_copies():
    net = make_sequential()
    net.get_params("fc1_w")[0, 0] = 42.0
    assert net.params["fc1_w"][0, 0] == 42.0
    value = np.zeros((4, 3))
    net.assign("fc2_w", value)
    value[0, 0] = 1.0
    assert net.get_params("fc2_w")[0, 0] == 0.0


def test_sequential_load_sets_every_param():
    net, other = make_sequential(), make_sequential()
    other.load({name: value + 1.0 for name, value in net.params.items()})
    for name, value in net.params.items():
        assert_close(other.get_params(name), value + 1.0)


def test_sequential_rejects_duplicate_layer_names():
    with pytest.raises(ValueError, match="duplicate layer name 'fc'"):
        sequential(fc(2, 2), fc(2, 2))


def test_sequential_rejects_non_layers():
    with pytest.raises(TypeError, match="not a layer"):
        sequential(flatten(), np.ones(3))


@pytest.mark.parametrize("call", [
    lambda net: net.assign("fc9_w", np.ones(1)),
    lambda net: net.get_params("fc9_w"),
    lambda net: net.get_grads("fc9_w"),
])
def test_unknown_param_names_are_clear_errors(call):
    with pytest.raises(KeyError, match="unknown parameter 'fc9_w'.*fc1_w"):
        call(make_sequential())


def test_assign_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match=r"fc1_w.*\(6, 4\)"):
        make_sequential().assign("fc1_w", np.ones((4, 6)))


@pytest.mark.parametrize("change, match", [
    (lambda params: params.pop("fc2_b"), "missing: fc2_b"),
    (lambda params: params.update(extra=np.ones(1)), "unknown: extra"),
])
def test_load_needs_exactly_the_network_params(change, match):
    net = make_sequential()
    params = dict(net.params)
    change(params)
    with pytest.raises(KeyError, match=match):
        net.load(params)
