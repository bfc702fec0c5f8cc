"""Berkeley's experiment logs: what the Solver records, and how the "log" tests grade them."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from autograder.harness.logs import LogError, configuration_problems, read_log
from autograder.suites.logs import DEEP_FILES, DROPOUT_FILES, EXPERIMENTS, SCALE_FILES, WEIGHT_SCALES
from course_lib.classifiers.fc_net import FullyConnectedNet
from course_lib.solver import Solver
from course_tools.fidelity.corpus import CorpusError
from course_tools.fidelity.log_variants import apply_log_variant, load_log_corpus
from tests.autograder_support.artifacts import shared_artifacts

LOG_VARIANTS = load_log_corpus(["hw4"])


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


@pytest.mark.parametrize("variant", LOG_VARIANTS, ids=[variant.name for variant in LOG_VARIANTS])
def test_each_wrong_log_loses_its_experiment_on_its_check(artifacts, tmp_path, variant):
    """The log corpus (fidelity/logs/hw4.toml): all of the experiment's points lost, on the named check,
    and every other experiment's test untouched."""
    built = artifacts["hw4"]
    reference = built.graded("reference", built.reference_zip)
    results = graded_with(built, tmp_path, lambda submission: apply_log_variant(variant, submission))
    test = lost_only(results, reference, f"experiment {variant.experiment}")
    assert test["score"] == 0
    assert [c["name"] for c in test["extra_data"]["checks"] if not c["passed"]] == [variant.fails], test["output"]
    assert Path(variant.file).name in test["output"]


def test_the_log_corpus_is_checked(tmp_path):
    assert {variant.fails for variant in LOG_VARIANTS} == {"files", "configuration", "replay"}
    (tmp_path / "fidelity" / "logs").mkdir(parents=True)
    (tmp_path / "fidelity" / "logs" / "hw4.toml").write_text('''
[[variant]]
name = "wrong_file"
mistake = "m"
experiment = "dropout_regularization"
file = "submission_logs/compare_bn_deep_networks_no_bn.npz"
edit = { delete = true }
fails = "claims"
hint = "h"
''')
    with pytest.raises(CorpusError) as refused:
        load_log_corpus(["hw4"], repo_root=tmp_path)
    assert [problem.split(": ", 1)[1] for problem in refused.value.problems] == [
        "submission_logs/compare_bn_deep_networks_no_bn.npz is not a log of dropout_regularization",
        "fails must be one of files, configuration, replay"]
