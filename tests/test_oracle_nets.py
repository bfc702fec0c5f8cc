"""The courses' checks of the networks: published numbers (shared/spec/oracle.md) and learning checks.

The learning checks train on the synthetic STAND-IN CIFAR-10 (the real data is
not available offline); the loader's stand-in warning is asserted, and the
accuracies stated here are about the stand-in only.
"""
import numpy as np
import pytest

from course_lib.classifiers.cnn import ThreeLayerConvNet
from course_lib.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from course_lib.data_utils import get_CIFAR10_data
from course_lib.solver import Solver
from tests.helpers import load_standin

# fc_net.TwoLayerNet with N, D, H, C = 3, 5, 50, 7 and linspace weights.
EXPECTED_SCORES = np.array([
    [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
    [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
    [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319],
])
EXPECTED_LOSS = {0.0: 3.4702243556, 1.0: 26.5948426952}


def _oracle_two_layer_net(reg):
    N, D, H, C = 3, 5, 50, 7
    model = TwoLayerNet(input_dim=D, hidden_dims=H, num_classes=C, reg=reg)
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    return model, X


def test_fc_two_layer_net_scores():
    model, X = _oracle_two_layer_net(reg=0.0)
    scores = model.loss(X)
    assert scores.shape == EXPECTED_SCORES.shape
    assert np.abs(scores - EXPECTED_SCORES).sum() < 1e-6


@pytest.mark.parametrize("reg", sorted(EXPECTED_LOSS))
def test_fc_two_layer_net_loss(reg):
    model, X = _oracle_two_layer_net(reg)
    loss, _ = model.loss(X, np.array([0, 5, 1]))
    assert abs(loss - EXPECTED_LOSS[reg]) < 1e-10


@pytest.fixture(scope="module")
def standin_cifar(standin_dir):
    """1000 training and 200 validation images of the stand-in CIFAR-10, mean-subtracted."""
    return load_standin(standin_dir, get_CIFAR10_data, num_training=1000, num_validation=200, num_test=10)


def _first_training_images(data, count):
    return {**data, "X_train": data["X_train"][:count], "y_train": data["y_train"][:count]}


def _train(model, data, **solver_options):
    solver = Solver(model, data, verbose=False, **solver_options)
    solver.train()
    return solver


def test_fully_connected_net_overfits_50_images(standin_cifar):
    np.random.seed(0)
    model = FullyConnectedNet([100, 100], weight_scale=1e-2)
    solver = _train(model, _first_training_images(standin_cifar, 50), num_epochs=20, batch_size=25,
                    update_rule="sgd", optim_config={"learning_rate": 1e-2})
    assert solver.train_acc_history[-1] == 1.0


def test_three_layer_convnet_overfits_100_images(standin_cifar):
    # A narrower net than the notebook's (8 filters of 5x5, 50 hidden units) keeps this quick.
    np.random.seed(0)
    model = ThreeLayerConvNet(num_filters=8, filter_size=5, hidden_dim=50, weight_scale=1e-2)
    solver = _train(model, _first_training_images(standin_cifar, 100), num_epochs=10, batch_size=50,
                    update_rule="adam", optim_config={"learning_rate": 1e-3})
    assert solver.train_acc_history[-1] >= 0.95
    assert solver.val_acc_history[-1] < solver.train_acc_history[-1], "100 images should be overfit"


def test_two_layer_net_reaches_40_percent_on_the_standin(standin_cifar):
    # Observed 47-57% over seeds; chance is 10%.
    np.random.seed(0)
    model = TwoLayerNet(hidden_dims=50, weight_scale=1e-3)
    solver = _train(model, standin_cifar, num_epochs=5, batch_size=100,
                    optim_config={"learning_rate": 1e-3}, lr_decay=0.95)
    assert solver.best_val_acc >= 0.40
