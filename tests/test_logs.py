"""Berkeley's experiment logs: what the Solver records, and how the "log" tests grade them."""
import json
import shutil

import numpy as np
import pytest

from autograder.harness.logs import LogError, configuration_problems, read_log
from autograder.suites.logs import DEEP_FILES, DROPOUT_FILES, EXPERIMENTS, SCALE_FILES, WEIGHT_SCALES
from course_lib.classifiers.fc_net import FullyConnectedNet
from course_lib.solver import Solver
from tests.autograder_support.artifacts import shared_artifacts


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory, standin_dir):
    return shared_artifacts(tmp_path_factory, standin_dir)


def tiny_solver(seed=3, **settings):
    rng = np.random.default_rng(0)
    data = {"X_train": rng.standard_normal((40, 6)), "y_train": rng.integers(3, size=40),
            "X_val": rng.standard_normal((10, 6)), "y_val": rng.integers(3, size=10)}
    np.random.seed(seed)
    model = FullyConnectedNet([8], input_dim=6, num_classes=3, weight_scale=0.1, dtype=np.float64)
    return Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2}, batch_size=10,
                  num_epochs=2, verbose=False, **settings)


def test_solver_records_histories_configuration_and_seed(tmp_path):
    solver = tiny_solver()
    solver.train()
    solver.record_histories_as_npz(tmp_path / "run.npz", seed=3)
    log = read_log(tmp_path / "run.npz")
    assert len(log["train_losses"]) == 8 and len(log["val_accs"]) == len(log["train_accs"]) == 3
    config = log["config"]
    assert config["seed"] == 3 and config["num_train"] == 40 and config["num_val"] == 10
    assert config["model"]["class"] == "course_lib.classifiers.fc_net.FullyConnectedNet"
    assert config["model"]["kwargs"]["hidden_dims"] == [8]
    assert config["solver"] == {"update_rule": "adam", "optim_config": {"learning_rate": 1e-2}, "lr_decay": 1.0,
                                "batch_size": 10, "num_epochs": 2, "num_train_samples": 1000,
                                "num_val_samples": None}


def test_steps_from_the_seed_repeat_the_start_of_training():
    whole = tiny_solver()
    whole.train()
    start = tiny_solver()
    losses = [start.step() for _ in range(3)]
    assert start.loss_history == losses == whole.loss_history[:3]


@pytest.mark.parametrize("damage, message", [
    (lambda arrays: arrays.pop("config"), "missing config"),
    (lambda arrays: arrays.update(train_losses=np.array([1.0, np.nan])), "NaN or inf"),
    (lambda arrays: arrays.update(config=np.array("not json")), "not valid JSON"),
    (lambda arrays: arrays.update(config=np.arange(3)), "not the JSON text"),
    (lambda arrays: arrays.update(extra=np.zeros(2)), "unexpected extra"),
])
def test_unusable_logs_are_named(tmp_path, damage, message):
    solver = tiny_solver()
    solver.train()
    solver.record_histories_as_npz(tmp_path / "good.npz", seed=3)
    with np.load(tmp_path / "good.npz") as saved:
        arrays = {key: saved[key] for key in saved.files}
    damage(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(LogError, match=message):
        read_log(tmp_path / "bad.npz")


def test_a_pickle_is_never_loaded(tmp_path):
    np.save(tmp_path / "payload.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(LogError, match="not a readable"):
        read_log(tmp_path / "payload.npy")


def test_configuration_must_be_the_experiments():
    run = EXPERIMENTS["batchnorm_deep_networks"].runs[0]
    config = {"model": {"class": "course_lib.classifiers.fc_net.FullyConnectedNet",
                        "kwargs": {**run.model, "hidden_dims": [100] * 4}},
              "solver": {**run.solver, "num_train_samples": 1000, "num_val_samples": None},
              "num_train": run.num_train, "seed": 7}
    assert configuration_problems(config, run) == ["hidden_dims=[100, 100, 100, 100], the experiment uses "
                                                   "[100, 100, 100, 100, 100]"]
    config["model"]["kwargs"]["hidden_dims"] = [100] * 5
    assert configuration_problems(config, run) == []
    config["seed"] = None
    assert configuration_problems(config, run) == ["no seed recorded: pass seed=seed to record_histories_as_npz"]


def history(train_losses=(2.3,), train_accs=(0.1, 0.2), val_accs=(0.1, 0.2)):
    return {"train_losses": np.array(train_losses), "train_accs": np.array(train_accs),
            "val_accs": np.array(val_accs)}


def test_claims_hold_only_for_the_expected_outcome():
    deep = EXPERIMENTS["batchnorm_deep_networks"].claim
    fast, slow = history(train_accs=(0.1, 0.5, 0.6, 0.7)), history(train_accs=(0.1, 0.3, 0.4, 0.5))
    assert deep({DEEP_FILES[True]: fast, DEEP_FILES[False]: slow})[0]
    assert not deep({DEEP_FILES[True]: slow, DEEP_FILES[False]: fast})[0]

    scale = EXPERIMENTS["batchnorm_weight_scale"].claim
    good, poor = history(val_accs=(0.1, 0.5)), history(val_accs=(0.1, 0.2))
    robust = {**{f: good for f in SCALE_FILES[True]}, **{f: poor for f in SCALE_FILES[False]}}
    fragile = {**{f: poor for f in SCALE_FILES[True]}, **{f: good for f in SCALE_FILES[False]}}
    assert len(SCALE_FILES[True]) == len(WEIGHT_SCALES) == 20
    assert scale(robust)[0] and not scale(fragile)[0]

    dropout = EXPERIMENTS["dropout_regularization"].claim
    low, high = history(train_losses=[0.01] * 75), history(train_losses=[0.3] * 75)
    assert dropout({DROPOUT_FILES[0.0]: low, DROPOUT_FILES[0.5]: high})[0]
    ok, message = dropout({DROPOUT_FILES[0.0]: high, DROPOUT_FILES[0.5]: high})
    assert not ok and "with dropout" in message


# Grading the logs of a whole submission -------------------------------------------


def experiment_tests(results):
    return {t["extra_data"]["function"]: t for t in results["tests"] if t["extra_data"]["kind"] == "log"}


EXPERIMENT_TESTS = [f"experiment {name}" for name in EXPERIMENTS]


def graded_with(built, tmp_path, change):
    """The experiment tests of the reference submission changed by ``change`` (only they are run)."""
    submission = tmp_path / "submission"
    shutil.copytree(built.reference, submission)
    change(submission)
    return built.graded(f"logs-{tmp_path.name}", submission, only=EXPERIMENT_TESTS)


def rewrite(path, **changes):
    with np.load(path) as saved:
        arrays = {key: saved[key] for key in saved.files}
    arrays.update(changes)
    np.savez(path, **arrays)


def lost_only(results, reference, function):
    """Every experiment test but ``function``'s scores as in the reference; returns ``function``'s test."""
    scores = {name: t["score"] for name, t in experiment_tests(reference).items()}
    changed = [name for name, t in experiment_tests(results).items() if t["score"] != scores[name]]
    assert changed == [function], changed
    return experiment_tests(results)[function]


def test_the_reference_logs_earn_every_point(artifacts):
    built = artifacts["hw4"]
    results = built.graded("reference", built.reference_zip)
    tests = experiment_tests(results)
    assert sorted(tests) == [f"experiment {name}" for name in sorted(EXPERIMENTS)]
    for test in tests.values():
        assert test["score"] == test["max_score"] > 0, test["output"]
        assert [c["name"] for c in test["extra_data"]["checks"]] == ["files", "configuration", "replay", "claim"]


def test_a_made_up_loss_curve_loses_the_experiment(artifacts, tmp_path):
    built = artifacts["hw4"]
    reference = built.graded("reference", built.reference_zip)

    def forge(submission):
        path = submission / DEEP_FILES[True]
        with np.load(path) as saved:
            length = len(saved["train_losses"])
        rewrite(path, train_losses=2.3 * np.exp(-np.arange(length) / 60.0) + 0.05)

    test = lost_only(graded_with(built, tmp_path, forge), reference, "experiment batchnorm_deep_networks")
    assert test["score"] == 0
    failing = [c["name"] for c in test["extra_data"]["checks"] if not c["passed"]]
    assert failing == ["replay"] and "compare_bn_deep_networks_with_bn.npz" in test["output"]


def test_a_log_from_another_configuration_loses_the_experiment(artifacts, tmp_path):
    built = artifacts["hw4"]
    reference = built.graded("reference", built.reference_zip)

    def swap(submission):
        # The log of another weight scale, renamed: genuine, but not this run's configuration.
        shutil.copyfile(submission / SCALE_FILES[True][4], submission / SCALE_FILES[True][3])

    test = lost_only(graded_with(built, tmp_path, swap), reference, "experiment batchnorm_weight_scale")
    assert test["score"] == 0
    assert [c["name"] for c in test["extra_data"]["checks"] if not c["passed"]] == ["configuration"]
    assert "weight_scale=" in test["output"]


def test_an_edited_configuration_fails_the_replay(artifacts, tmp_path):
    built = artifacts["hw4"]
    reference = built.graded("reference", built.reference_zip)

    def reseed(submission):
        path = submission / DROPOUT_FILES[0.5]
        with np.load(path) as saved:
            config = json.loads(str(saved["config"]))
        config["seed"] = 8
        rewrite(path, config=np.array(json.dumps(config)))

    test = lost_only(graded_with(built, tmp_path, reseed), reference, "experiment dropout_regularization")
    assert test["score"] == 0
    assert [c["name"] for c in test["extra_data"]["checks"] if not c["passed"]] == ["replay"]


def test_a_missing_log_is_named(artifacts, tmp_path):
    built = artifacts["hw4"]
    reference = built.graded("reference", built.reference_zip)
    test = lost_only(graded_with(built, tmp_path, lambda s: (s / DROPOUT_FILES[0.0]).unlink()), reference,
                     "experiment dropout_regularization")
    assert test["score"] == 0 and "dropout_regularization_experiment_p0.npz was not found in your upload" in test["output"]
