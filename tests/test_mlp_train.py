"""course_lib.mlp.train: train_net learns the SVHN stand-in; compute_acc; bookkeeping and errors."""
import numpy as np
import pytest

from course_lib.data_utils import SVHN_data
from course_lib.mlp.layers import cross_entropy
from course_lib.mlp.nets import SmallFullyConnectedNetwork, TinyNet
from course_lib.mlp.optim import SGD, Adam
from course_lib.mlp.train import compute_acc, train_net
from tests.helpers import load_standin

# TinyNet with one hidden layer of 100 units, 4 epochs of Adam on 1500 stand-in
# images: about 0.8 validation accuracy, above the grader's SVHN threshold.
SVHN_VAL_ACCURACY = 0.75


@pytest.fixture(scope="module")
def svhn(standin_dir):
    return load_standin(standin_dir, SVHN_data, num_training=1500, num_validation=500)


def test_train_net_learns_the_svhn_standin(svhn):
    np.random.seed(0)
    model = TinyNet(hidden_dims=(100,))
    optimizer = Adam(model.net, lr=1e-3)
    opt_params, loss_hist, train_acc_hist, val_acc_hist = train_net(
        svhn, model, cross_entropy(), optimizer, batch_size=100, max_epochs=4)
    assert len(loss_hist) == 4 * 15 and len(train_acc_hist) == len(val_acc_hist) == 4
    assert np.mean(loss_hist[-5:]) < 0.5 * np.mean(loss_hist[:5])
    assert max(val_acc_hist) >= SVHN_VAL_ACCURACY
    model.net.load(opt_params)
    assert compute_acc(model, svhn["data_val"], svhn["labels_val"]) == max(val_acc_hist)


def tiny_data(rng, n=60):
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def tiny_problem(seed=0):
    rng = np.random.default_rng(seed)
    x_train, y_train = tiny_data(rng)
    x_val, y_val = tiny_data(rng)
    return {"data_train": x_train, "labels_train": y_train, "data_val": x_val, "labels_val": y_val}


def test_opt_params_are_copies_of_the_best_epoch():
    data = tiny_problem()
    np.random.seed(1)
    model = SmallFullyConnectedNetwork(num_classes=2)
    opt_params, _, _, val_acc_hist = train_net(data, model, cross_entropy(), SGD(model.net, lr=0.5), 20, 6)
    assert all(value is not model.net.params[name] for name, value in opt_params.items())
    model.net.load(opt_params)
    assert compute_acc(model, data["data_val"], data["labels_val"]) == max(val_acc_hist)


def test_learning_rate_decays_every_lr_decay_every_epochs():
    data = tiny_problem()
    model = SmallFullyConnectedNetwork(num_classes=2)
    optimizer = SGD(model.net, lr=0.1)
    train_net(data, model, cross_entropy(), optimizer, 20, 5, lr_decay=0.5, lr_decay_every=2)
    assert optimizer.lr == pytest.approx(0.1 * 0.5**2)


def test_verbose_reports_iterations_and_epochs(capsys):
    data = tiny_problem()
    model = SmallFullyConnectedNetwork(num_classes=2)
    train_net(data, model, cross_entropy(), SGD(model.net, lr=0.1), 20, 2, show_every=2, verbose=True)
    printed = capsys.readouterr().out
    assert "(Iteration 1 / 6)" in printed and "(Iteration 3 / 6)" in printed
    assert "(Iteration 2 / 6)" not in printed and "(Epoch 2 / 2)" in printed


class FixedPredictions:
    """A stand-in model whose scores are one-hot rows of the given predictions."""

    def __init__(self, predictions, num_classes=3):
        self.scores = np.eye(num_classes)[predictions]

    def forward(self, x, is_training=True):
        assert not is_training
        return self.scores[x[:, 0].astype(int)]


@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_compute_acc_counts_correct_predictions(batch_size):
    model = FixedPredictions(np.array([0, 1, 2, 2, 1]))
    data = np.arange(5).reshape(5, 1)
    assert compute_acc(model, data, np.array([0, 1, 2, 0, 0]), batch_size=batch_size) == pytest.approx(0.6)


def test_compute_acc_on_a_subsample():
    model = FixedPredictions(np.zeros(1000, dtype=int))
    data = np.arange(1000).reshape(1000, 1)
    labels = np.zeros(1000, dtype=int)
    assert compute_acc(model, data, labels, num_samples=10) == 1.0


def test_missing_data_keys_are_named():
    data = tiny_problem()
    del data["labels_val"]
    model = SmallFullyConnectedNetwork(num_classes=2)
    with pytest.raises(KeyError, match="lacks labels_val"):
        train_net(data, model, cross_entropy(), SGD(model.net), 10, 1)


def test_mismatched_examples_and_labels_are_refused():
    data = tiny_problem()
    data["labels_train"] = data["labels_train"][:10]
    model = SmallFullyConnectedNetwork(num_classes=2)
    with pytest.raises(ValueError, match="data_train has 60 examples but labels_train has 10 labels"):
        train_net(data, model, cross_entropy(), SGD(model.net), 10, 1)


@pytest.mark.parametrize("argument", ["batch_size", "max_epochs"])
def test_non_positive_sizes_are_refused(argument):
    model = SmallFullyConnectedNetwork(num_classes=2)
    sizes = {"batch_size": 10, "max_epochs": 1, argument: 0}
    with pytest.raises(ValueError, match=f"{argument} must be a positive integer"):
        train_net(tiny_problem(), model, cross_entropy(), SGD(model.net), **sizes)


def run_from_seed(data):
    np.random.seed(4)
    model = SmallFullyConnectedNetwork(num_classes=2)
    return train_net(data, model, cross_entropy(), SGD(model.net, lr=0.5), 20, 3)


def test_the_original_courses_data_dict_of_pairs_trains_the_same():
    data = tiny_problem()
    pairs = {"data_train": (data["data_train"], data["labels_train"]),
             "data_val": (data["data_val"], data["labels_val"]),
             "data_test": (data["data_val"], data["labels_val"])}
    _, loss_hist, train_acc_hist, val_acc_hist = run_from_seed(pairs)
    assert (loss_hist, train_acc_hist, val_acc_hist) == run_from_seed(data)[1:]


def test_a_split_that_is_not_a_pair_is_named():
    data = tiny_problem()
    pairs = {"data_train": (data["data_train"], data["labels_train"]), "data_val": data["data_val"]}
    model = SmallFullyConnectedNetwork(num_classes=2)
    with pytest.raises(ValueError, match="data_val must be an \\(examples, labels\\) pair"):
        train_net(pairs, model, cross_entropy(), SGD(model.net), 10, 1)


def test_the_hidden_tests_sample_the_training_accuracy_as_train_net_does():
    """The sampled-accuracy hidden test needs more training examples than train_net scores, in batches that
    leave some over at the end of an epoch."""
    from autograder.suites import mlp_models
    from course_lib.mlp import train

    assert mlp_models.TRAIN_ACC_SAMPLES == train.TRAIN_ACC_SAMPLES
    examples = len(mlp_models.sampled_accuracy_inputs(np.random.default_rng(0))["data_train"])
    assert examples > train.TRAIN_ACC_SAMPLES
    assert examples % mlp_models.SAMPLED_TRAINING["batch_size"] != 0
