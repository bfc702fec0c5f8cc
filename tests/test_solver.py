"""course_lib.solver.Solver: histories, learning-rate decay, best parameters, files and bad inputs."""
import json

import numpy as np
import pytest

from course_lib import optim
from course_lib.checkpoint import get_model_arrays, load_model
from course_lib.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from course_lib.solver import Solver, update_rule_names

NUM_CLASSES = 3


def _blob_data(num_train=60, num_val=30, dim=5, seed=0):
    """Gaussian clusters a small net separates well; one center per class."""
    rng = np.random.default_rng(seed)
    centers = 3 * np.eye(NUM_CLASSES, dim)

    def split(size):
        y = rng.integers(0, NUM_CLASSES, size=size)
        return centers[y] + rng.standard_normal((size, dim)), y

    (X_train, y_train), (X_val, y_val) = split(num_train), split(num_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def _small_net(dim=5, seed=0):
    np.random.seed(seed)
    return TwoLayerNet(input_dim=dim, hidden_dims=10, num_classes=NUM_CLASSES, weight_scale=0.1)


def _quiet_solver(model, data, **kwargs):
    return Solver(model, data, verbose=False, **kwargs)


@pytest.mark.parametrize("num_train, batch_size, expected_per_epoch", [(60, 10, 6), (23, 5, 4), (3, 5, 1)])
def test_histories_have_one_accuracy_per_epoch_plus_the_initial_one(num_train, batch_size, expected_per_epoch):
    solver = _quiet_solver(_small_net(), _blob_data(num_train=num_train), batch_size=batch_size, num_epochs=3)
    solver.train()
    assert solver.epoch == 3
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 4
    assert len(solver.loss_history) == 3 * expected_per_epoch


def test_learning_rate_decays_once_per_epoch():
    learning_rates = []

    def recording_sgd(w, dw, config):
        learning_rates.append(config["learning_rate"])
        return w - config["learning_rate"] * dw, config

    model = _small_net()
    solver = _quiet_solver(model, _blob_data(num_train=40), update_rule=recording_sgd,
                           optim_config={"learning_rate": 0.1}, lr_decay=0.5, batch_size=10, num_epochs=3)
    solver.train()
    # One call per parameter per step; 4 steps per epoch.
    per_step = np.array(learning_rates).reshape(-1, len(model.params))
    assert np.all(per_step == per_step[:, :1])
    expected = 0.1 * 0.5 ** (np.arange(12) // 4)
    np.testing.assert_allclose(per_step[:, 0], expected, rtol=1e-12)


def test_named_rules_keep_a_separate_config_per_parameter():
    model = _small_net()
    solver = _quiet_solver(model, _blob_data(), update_rule="sgd_momentum",
                           optim_config={"learning_rate": 0.05}, lr_decay=0.9, num_epochs=2)
    solver.train()
    assert solver.optim_configs.keys() == model.params.keys()
    for name, config in solver.optim_configs.items():
        assert config["velocity"].shape == model.params[name].shape
        assert config["learning_rate"] == pytest.approx(0.05 * 0.9**2)
    assert "velocity" not in solver.optim_config, "the caller's config is copied, not filled in"


@pytest.mark.parametrize("update_rule", ["sgd", "sgd_momentum", "rmsprop", "adam"])
def test_training_separates_the_clusters(update_rule):
    learning_rate = 1e-2 if update_rule in ("rmsprop", "adam") else 0.1
    solver = _quiet_solver(_small_net(), _blob_data(num_train=200, num_val=100), update_rule=update_rule,
                           optim_config={"learning_rate": learning_rate}, batch_size=20, num_epochs=5)
    solver.train()
    assert solver.best_val_acc >= 0.9
    assert np.mean(solver.loss_history[-10:]) < np.mean(solver.loss_history[:10])


@pytest.mark.parametrize("update_rule", ["sgd_momentum", "adam", "float64_rule"])
def test_float32_model_stays_float32_with_numpy_float64_settings(update_rule):
    # Settings from a random search are NumPy float64 scalars; a custom rule may compute in float64.
    def float64_rule(w, dw, config):
        return w.astype(np.float64) - config["learning_rate"] * dw, config

    np.random.seed(0)
    model = FullyConnectedNet([8], input_dim=5, num_classes=NUM_CLASSES, use_batchnorm=True)
    rule = float64_rule if update_rule == "float64_rule" else update_rule
    solver = _quiet_solver(model, _blob_data(), update_rule=rule, lr_decay=np.float64(0.9), num_epochs=2,
                           optim_config={"learning_rate": np.logspace(-3, -2, 3)[1]})
    solver.train()
    assert {value.dtype for value in model.params.values()} == {np.dtype(np.float32)}
    for config in solver.optim_configs.values():
        for state in ("velocity", "v", "a"):
            assert config.get(state, np.float32(0)).dtype == np.float32, state


def test_model_ends_with_copies_of_the_best_parameters():
    data = _blob_data()
    model = _small_net()
    solver = _quiet_solver(model, data, optim_config={"learning_rate": 0.1}, num_epochs=4, batch_size=10)
    solver.train()
    assert solver.best_val_acc == max(solver.val_acc_history)
    for name, value in solver.best_params.items():
        np.testing.assert_array_equal(model.params[name], value)
        assert not np.shares_memory(model.params[name], value)
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc


def test_best_batchnorm_statistics_come_back_with_the_best_parameters(tmp_path):
    data = _blob_data(num_train=100)
    np.random.seed(0)
    model = FullyConnectedNet([8], input_dim=5, num_classes=NUM_CLASSES, use_batchnorm=True, dtype=np.float64)
    solver = _quiet_solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2},
                           num_epochs=4, batch_size=10, checkpoint_name=str(tmp_path / "run"))
    solver.train()
    best_epoch = int(np.argmax(solver.val_acc_history))
    assert best_epoch > 0, "training should improve on the untrained model"
    best = get_model_arrays(load_model(tmp_path / f"run_epoch_{best_epoch}.npz"))
    final = get_model_arrays(model)
    assert best.keys() == final.keys()
    assert "state/0/running_mean" in final
    for key, value in best.items():
        np.testing.assert_array_equal(final[key], value, err_msg=key)


def test_checkpoints_are_written_every_epoch_without_pickles(tmp_path):
    solver = _quiet_solver(_small_net(), _blob_data(), num_epochs=2, checkpoint_name=str(tmp_path / "net"))
    solver.train()
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "net_epoch_1.json", "net_epoch_1.npz", "net_epoch_2.json", "net_epoch_2.npz",
    ]
    with np.load(tmp_path / "net_epoch_2.npz", allow_pickle=False) as archive:
        assert {"meta", "param/W1", "param/b1", "param/W2", "param/b2"} == set(archive.files)
    summary = json.loads((tmp_path / "net_epoch_2.json").read_text())
    assert summary["epoch"] == 2
    assert summary["update_rule"] == "sgd"
    assert summary["val_acc_history"] == solver.val_acc_history
    assert len(summary["loss_history"]) == len(solver.loss_history)


def test_record_histories_as_npz(tmp_path):
    solver = _quiet_solver(_small_net(), _blob_data(), num_epochs=2)
    solver.train()
    path = tmp_path / "histories.npz"
    solver.record_histories_as_npz(path)
    with np.load(path, allow_pickle=False) as archive:
        # Berkeley's three histories, and the run's configuration (without a seed here).
        assert set(archive.files) == {"train_losses", "train_accs", "val_accs", "config"}
        assert json.loads(str(archive["config"]))["seed"] is None
        np.testing.assert_array_equal(archive["train_losses"], solver.loss_history)
        np.testing.assert_array_equal(archive["train_accs"], solver.train_acc_history)
        np.testing.assert_array_equal(archive["val_accs"], solver.val_acc_history)


def test_check_accuracy_subsamples_without_float_index_arithmetic():
    data = _blob_data(num_train=37)
    solver = _quiet_solver(_small_net(), data)
    full = solver.check_accuracy(data["X_train"], data["y_train"], batch_size=8)
    predictions = np.argmax(solver.model.loss(data["X_train"]), axis=1)
    assert full == np.mean(predictions == data["y_train"])
    subsampled = solver.check_accuracy(data["X_train"], data["y_train"], num_samples=10, batch_size=3)
    assert subsampled * 10 == pytest.approx(round(subsampled * 10))


def test_verbose_output_and_progress_bar(capsys):
    pytest.importorskip("tqdm")
    solver = Solver(_small_net(), _blob_data(), num_epochs=2, print_every=1, progress=True)
    solver.train()
    output = capsys.readouterr()
    assert "(Epoch 2 / 2)" in output.out + output.err
    assert "(Iteration 1 / 2)" in output.out + output.err


def test_unknown_update_rule_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown update_rule 'adamw'") as error:
        Solver(_small_net(), _blob_data(), update_rule="adamw")
    for name in ("sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam"):
        assert name in str(error.value)


def test_update_rule_names_are_the_rules_of_optim():
    assert update_rule_names() == sorted(["sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam"])
    assert all(callable(getattr(optim, name)) for name in update_rule_names())


@pytest.mark.parametrize("missing", ["X_train", "y_train", "X_val", "y_val"])
def test_missing_data_key_is_named(missing):
    data = _blob_data()
    del data[missing]
    with pytest.raises(KeyError, match=missing):
        Solver(_small_net(), data)


def test_mismatched_data_lengths_are_refused():
    data = _blob_data()
    data["y_val"] = data["y_val"][:-1]
    with pytest.raises(ValueError, match="X_val has 30 examples but y_val has 29"):
        Solver(_small_net(), data)


def test_unknown_keyword_argument_is_refused():
    with pytest.raises(TypeError, match="learning_rate"):
        Solver(_small_net(), _blob_data(), learning_rate=0.1)


@pytest.mark.parametrize("batch_size", [0, 2.5])
def test_bad_batch_size_is_refused(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        Solver(_small_net(), _blob_data(), batch_size=batch_size)


def test_missing_gradient_is_named():
    model = _small_net()
    original_loss = model.loss

    def loss_without_b2(X, y=None):
        if y is None:
            return original_loss(X)
        loss, grads = original_loss(X, y)
        del grads["b2"]
        return loss, grads

    model.loss = loss_without_b2
    with pytest.raises(KeyError, match="no gradient for parameter 'b2'"):
        _quiet_solver(model, _blob_data(), num_epochs=1).train()
