"""classifiers.neural_net.TwoLayerNet: forward against fc_net, gradients, training and prediction."""
import numpy as np
import pytest

from course_lib.classifiers import fc_net
from course_lib.classifiers.neural_net import TwoLayerNet
from tests.helpers import assert_close, assert_model_gradients


def _toy_net_and_data(seed=0, num_examples=5):
    """The shapes of the homework's toy problem: 4 inputs, 10 hidden units, 3 classes."""
    rng = np.random.default_rng(seed)
    np.random.seed(seed)
    net = TwoLayerNet(4, 10, 3, std=1e-1)
    net.params["b1"] = 0.1 * rng.standard_normal(10)
    net.params["b2"] = 0.1 * rng.standard_normal(3)
    X = 10 * rng.standard_normal((num_examples, 4))
    y = rng.integers(0, 3, size=num_examples)
    return net, X, y


def _blobs(rng, centers, num_examples):
    """Unit Gaussian clusters around centers (one per class)."""
    y = rng.integers(0, len(centers), size=num_examples)
    return centers[y] + rng.standard_normal((num_examples, centers.shape[1])), y


def test_parameter_layout_is_outputs_by_inputs():
    net = TwoLayerNet(6, 5, 3)
    shapes = {name: value.shape for name, value in net.params.items()}
    assert shapes == {"W1": (5, 6), "b1": (5,), "W2": (3, 5), "b2": (3,)}
    assert not net.params["b1"].any() and not net.params["b2"].any()


@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_scores_and_loss_equal_the_layer_built_net_with_transposed_weights(reg):
    net, X, y = _toy_net_and_data()
    reference = fc_net.TwoLayerNet(input_dim=4, hidden_dims=10, num_classes=3, reg=reg)
    reference.params = {
        "W1": net.params["W1"].T, "b1": net.params["b1"], "W2": net.params["W2"].T, "b2": net.params["b2"],
    }
    assert_close(net.loss(X), reference.loss(X), tol=1e-12, name="scores")
    loss, grads = net.loss(X, y, reg=reg)
    reference_loss, reference_grads = reference.loss(X, y)
    assert abs(loss - reference_loss) < 1e-12
    for name in ("W1", "W2"):
        assert_close(grads[name], reference_grads[name].T, tol=1e-10, name=name)


@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_gradients_match_numerical_gradients(reg):
    net, X, y = _toy_net_and_data()
    assert_model_gradients(net, X, y, reg=reg)


def test_regularization_adds_half_reg_times_squared_weights():
    net, X, y = _toy_net_and_data()
    penalty = 0.5 * 0.3 * (np.sum(net.params["W1"] ** 2) + np.sum(net.params["W2"] ** 2))
    assert abs(net.loss(X, y, reg=0.3)[0] - net.loss(X, y)[0] - penalty) < 1e-12


def test_training_fits_toy_data_and_records_one_accuracy_per_epoch():
    rng = np.random.default_rng(1)
    centers = 3 * np.eye(3, 4)
    X, y = _blobs(rng, centers, 53)
    X_val, y_val = _blobs(rng, centers, 200)
    np.random.seed(1)
    net = TwoLayerNet(4, 10, 3, std=1e-1)
    stats = net.train(X, y, X_val, y_val, learning_rate=1e-1, learning_rate_decay=0.9,
                      reg=5e-6, num_iters=100, batch_size=10)
    # 53 // 10 = 5 iterations per epoch: 100 iterations are 20 epochs.
    assert len(stats["loss_history"]) == 100
    assert len(stats["train_acc_history"]) == len(stats["val_acc_history"]) == 20
    assert np.mean(stats["loss_history"][-10:]) < 0.5 * stats["loss_history"][0]
    assert stats["val_acc_history"][-1] >= 0.9


def test_training_with_a_batch_larger_than_the_data_still_counts_epochs():
    net, X, y = _toy_net_and_data(num_examples=5)
    stats = net.train(X, y, X, y, num_iters=7, batch_size=200)
    assert len(stats["val_acc_history"]) == 7


def test_predict_is_the_argmax_of_the_scores():
    net, X, _ = _toy_net_and_data(num_examples=20)
    predictions = net.predict(X)
    assert predictions.shape == (20,)
    np.testing.assert_array_equal(predictions, np.argmax(net.loss(X), axis=1))
