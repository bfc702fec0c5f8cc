"""Scoring an experiment's logs (see autograder.suites.logs): files, configuration, replay, claim.

Everything but the replay happens in the grading process on plain arrays and
JSON; the replay reruns the first iterations of every logged run in a worker,
with the student's code.
"""
import json
import math
from pathlib import Path

import numpy as np

from autograder.archives import Budget, BudgetExceeded, MemberProblem, read_npz
from autograder.harness.judge import CheckResult, Verdict, relative_error
from autograder.suites.logs import FC_NET, REPLAY_TOLERANCE, REPLAYED_ITERATIONS
from autograder.suites.spec import call, method, program, res, shared

HISTORY_KEYS = ("train_losses", "train_accs", "val_accs")
MAX_LOG_BYTES = 1 << 20
MAX_CONFIG_CHARS = 20000
CHECK_WEIGHTS = {"files": 1.0, "configuration": 1.0, "replay": 2.0, "claim": 2.0}


class LogError(ValueError):
    """A log cannot be used; the message says why in terms a student can act on."""


def history_or_config(name, dtype, shape):
    """Why a member of a log is refused, or None: histories are short vectors, the config one string."""
    if name == "config":
        return None if dtype.kind == "U" and shape == () else "config is not the JSON text the Solver writes"
    if dtype.kind not in "fiu" or len(shape) != 1:
        return "not a list of numbers"
    return None


def read_log(path):
    """{key: array} of a log written by Solver.record_histories_as_npz, with ``config`` parsed.

    Read like every file of the upload: bounded, numeric arrays only, never a pickle.
    """
    if Path(path).stat().st_size > MAX_LOG_BYTES:
        raise LogError(f"larger than {MAX_LOG_BYTES >> 10} kB: save the histories only")
    try:
        arrays, problems = read_npz(Path(path), Budget(max_bytes=4 * MAX_LOG_BYTES, max_files=8), history_or_config,
                                    max_arrays=8)
    except (MemberProblem, BudgetExceeded):
        raise LogError("not a readable .npz file written by Solver.record_histories_as_npz") from None
    if problems:
        raise LogError("; ".join(problems[:2]))
    expected = set(HISTORY_KEYS) | {"config"}
    if set(arrays) != expected:
        missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
        raise LogError("keys " + "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                                           extra and f"unexpected {', '.join(extra)}"]))
                       + " (save it with solver.record_histories_as_npz(path, seed=seed))")
    for key in HISTORY_KEYS:
        if not np.all(np.isfinite(arrays[key])):
            raise LogError(f"{key} holds NaN or inf")
    if np.any(arrays["train_losses"] < 0):
        raise LogError("train_losses holds negative values, which a softmax loss never takes")
    for key in ("train_accs", "val_accs"):
        if np.any((arrays[key] < 0) | (arrays[key] > 1)):
            raise LogError(f"{key} holds values outside [0, 1], which accuracies never take")
    config = arrays.pop("config")
    if len(str(config)) > MAX_CONFIG_CHARS:
        raise LogError("config is longer than the JSON text the Solver writes")
    try:
        arrays["config"] = json.loads(str(config))
    except ValueError:
        raise LogError("config is not valid JSON") from None
    if not isinstance(arrays["config"], dict):
        raise LogError("config is not the JSON object the Solver writes")
    return arrays


def config_value(config, *path):
    for step in path:
        if not isinstance(config, dict) or step not in config:
            raise LogError(f"its config lacks {'.'.join(path)}")
        config = config[step]
    return config


def same_value(recorded, required):
    if isinstance(required, bool) or isinstance(recorded, bool):
        return recorded is required
    if isinstance(required, (int, float)):
        return isinstance(recorded, (int, float)) and math.isclose(recorded, required, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(required, (list, tuple)):
        return (isinstance(recorded, list) and len(recorded) == len(required)
                and all(same_value(a, b) for a, b in zip(recorded, required)))
    if isinstance(required, dict):
        return isinstance(recorded, dict) and all(key in recorded and same_value(recorded[key], value)
                                                  for key, value in required.items())
    return recorded == required


def configuration_problems(config, run):
    """What differs between a log's recorded configuration and the run the experiment asks for."""
    problems = []
    if config_value(config, "model", "class") != FC_NET:
        problems.append(f"the model is {config_value(config, 'model', 'class')}, not FullyConnectedNet")
    kwargs = config_value(config, "model", "kwargs")
    if not isinstance(kwargs, dict):
        raise LogError("its config's model.kwargs is not the object of arguments the Solver writes")
    for name, value in run.model.items():
        if name not in kwargs or not same_value(kwargs[name], value):
            problems.append(f"{name}={kwargs.get(name)!r}, the experiment uses {value!r}")
    for name, value in run.solver.items():
        recorded = config_value(config, "solver", name)
        if not same_value(recorded, value):
            problems.append(f"solver {name}={recorded!r}, the experiment uses {value!r}")
    if config_value(config, "num_train") != run.num_train:
        problems.append(f"{config_value(config, 'num_train')} training images, the experiment uses {run.num_train}")
    if config_value(config, "solver", "num_val_samples") is not None:
        problems.append("num_val_samples is set; the experiment measures validation accuracy on all images")
    train_samples = config_value(config, "solver", "num_train_samples")
    if train_samples is not None and (not isinstance(train_samples, int) or train_samples < run.num_train):
        problems.append(f"num_train_samples={train_samples!r}; the experiment measures training accuracy on all "
                        f"{run.num_train} images")
    if not isinstance(config_value(config, "seed"), int):
        problems.append("no seed recorded: pass seed=seed to record_histories_as_npz")
    return problems


def length_problems(log, run):
    epochs, batch = run.solver["num_epochs"], run.solver["batch_size"]
    iterations = epochs * max(run.num_train // batch, 1)
    problems = []
    if len(log["train_losses"]) != iterations:
        problems.append(f"{len(log['train_losses'])} losses, the run makes {iterations} iterations")
    for key in ("train_accs", "val_accs"):
        if len(log[key]) != epochs + 1:
            problems.append(f"{len(log[key])} entries in {key}, the run has {epochs + 1} (one per epoch, "
                            "plus the start)")
    return problems


def plain_argument(value):
    """A recorded constructor argument as a worker-program value; only JSON scalars, lists and dtypes."""
    if isinstance(value, dict) and set(value) == {"__dtype__"} and isinstance(value["__dtype__"], str):
        return {"$dtype": value["__dtype__"]}
    if isinstance(value, list):
        return [plain_argument(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise LogError("its config holds a model argument that is not a plain value")


def iterations_per_epoch(run):
    return max(run.num_train // run.solver["batch_size"], 1)


def replay_program(runs, logs, rerun_epochs=0, rerun_accuracy=False):
    """One worker program replaying every run from its recorded seed: its first iterations, or its first
    ``rerun_epochs`` epochs (with the training accuracy at the start and each epoch's end when
    ``rerun_accuracy``), as Solver.train makes them (the experiments keep lr_decay at 1)."""
    calls, outputs = [], {}
    for index, (run, log) in enumerate(zip(runs, logs)):
        config = log["config"]
        kwargs = {name: plain_argument(value) for name, value in config_value(config, "model", "kwargs").items()}
        data = {"X_train": shared(f"X_{run.num_train}"), "y_train": shared(f"y_{run.num_train}"),
                "X_val": shared("X_val"), "y_val": shared("y_val")}
        solver = {name: plain_argument(config_value(config, "solver", name))
                  for name in ("update_rule", "lr_decay", "batch_size", "num_epochs", "num_train_samples")}
        solver["optim_config"] = {str(k): plain_argument(v)
                                  for k, v in dict(config_value(config, "solver", "optim_config")).items()}
        first = len(calls)
        calls += [{"seed": config_value(config, "seed")},
                  call(FC_NET.removeprefix("course_lib."), **kwargs),
                  call("solver.Solver", res(first + 1), data, verbose=False, **solver)]
        steps = max(REPLAYED_ITERATIONS, rerun_epochs * iterations_per_epoch(run))
        for step in range(steps):
            if rerun_accuracy and step % iterations_per_epoch(run) == 0:
                outputs[f"run{index}/acc{step // iterations_per_epoch(run)}"] = res(len(calls))
                calls.append(method(res(first + 2), "check_accuracy", data["X_train"], data["y_train"]))
            calls.append(method(res(first + 2), "step"))
        if rerun_accuracy:
            outputs[f"run{index}/acc{rerun_epochs}"] = res(len(calls))
            calls.append(method(res(first + 2), "check_accuracy", data["X_train"], data["y_train"]))
        outputs[f"run{index}"] = res(first + 2, "loss_history")
    return program(calls, outputs)


def rerun_histories(experiment, arrays):
    """{file: histories} of the grader's own rerun of the experiment's runs, as the claim reads them."""
    histories = {}
    for index, run in enumerate(experiment.runs):
        history = {"train_losses": np.asarray(arrays[f"run{index}"], dtype=np.float64)}
        if experiment.rerun_accuracy:
            try:
                history["train_accs"] = np.array([float(arrays[f"run{index}/acc{epoch}"])
                                                  for epoch in range(experiment.rerun_epochs + 1)])
            except (KeyError, TypeError, ValueError):
                raise LogError(f"{Path(run.file).name}: Solver.check_accuracy gave no number") from None
        histories[run.file] = history
    return histories


def claim_problems(experiment, logs, arrays):
    """[] when the claim holds in the logs and, for an experiment the grader reruns, in its rerun."""
    ok, message = experiment.claim({run.file: log for run, log in zip(experiment.runs, logs)})
    if not ok:
        return [message]
    if not experiment.rerun_epochs:
        return []
    rerun = (f"the grader's own training of the first {experiment.rerun_epochs} epochs of your runs (your code, "
             "your recorded seeds and configurations)")
    try:
        ok, message = experiment.claim(rerun_histories(experiment, arrays))
    except LogError as error:
        return [f"{rerun} failed: {error}"]
    return [] if ok else [f"your logs support it, but {rerun} does not: {message}; submit the logs your "
                          "final code writes"]


def replay_inputs(runs, experiment_data):
    """Training images of every size the runs use (as the loaders return them) and a tiny validation set."""
    inputs = {}
    for run in runs:
        images = experiment_data["X"][:run.num_train].astype(np.float32) - experiment_data["mean"]
        inputs[f"X_{run.num_train}"] = images
        inputs[f"y_{run.num_train}"] = experiment_data["y"][:run.num_train]
    inputs["X_val"], inputs["y_val"] = inputs[f"X_{runs[0].num_train}"][:10], inputs[f"y_{runs[0].num_train}"][:10]
    return inputs


def replay_problems(runs, logs, arrays):
    problems = []
    for index, (run, log) in enumerate(zip(runs, logs)):
        replayed = arrays.get(f"run{index}")
        logged = log["train_losses"][:REPLAYED_ITERATIONS]
        name = Path(run.file).name
        if replayed is not None:
            replayed = replayed[:REPLAYED_ITERATIONS]
        if replayed is None or replayed.shape != logged.shape:
            problems.append(f"{name}: the replay of its first iterations produced no losses")
        elif not relative_error(replayed, logged) <= REPLAY_TOLERANCE:
            problems.append(f"{name}: its first {len(logged)} losses are not what your submitted code gives "
                            "from the recorded configuration and seed")
    return problems


def grade_experiment(experiment, found_logs, experiment_data, run_replay):
    """The Verdict of one experiment.

    found_logs: {manifest path: disk path} of the uploaded logs; run_replay(request
    program, inputs) returns (arrays, None) or (None, Verdict) from a worker.
    """
    checks = []

    def record(name, problems, hint=""):
        passed = not problems
        message = f"{name}: ok" if passed else f"{name}: " + "; ".join(problems[:3]) + (
            f" (and {len(problems) - 3} more)" if len(problems) > 3 else "") + hint
        checks.append(CheckResult(name, "log", passed, message, CHECK_WEIGHTS[name], problem="" if passed else "rule"))
        return passed

    logs, problems = [], []
    for run in experiment.runs:
        path = found_logs.get(run.file)
        if path is None:
            problems.append(f"{run.file} was not found in your upload")
            continue
        try:
            log = read_log(path)
            problems += [f"{Path(run.file).name}: {p}" for p in length_problems(log, run)]
            logs.append(log)
        except LogError as error:
            problems.append(f"{Path(run.file).name}: {error}")
    files_ok = record("files", problems, f"; run {experiment.notebook} to the end, it saves every log")
    config_problems = []
    if files_ok:
        for run, log in zip(experiment.runs, logs):
            try:
                config_problems += [f"{Path(run.file).name}: {p}" for p in configuration_problems(log["config"], run)]
            except LogError as error:
                config_problems.append(f"{Path(run.file).name}: {error}")
    config_ok = files_ok and record("configuration", config_problems)
    replayed_ok = False
    if config_ok:
        try:
            request = replay_program(experiment.runs, logs, experiment.rerun_epochs, experiment.rerun_accuracy)
        except LogError as error:
            return Verdict(0.0, [f"configuration: {error}"], checks=checks)
        arrays, failed = run_replay(request, replay_inputs(experiment.runs, experiment_data))
        if failed is not None:
            failed.lines.insert(0, "replaying the first iterations of your logged runs failed:")
            failed.checks = checks
            return failed
        replayed_ok = record("replay", replay_problems(experiment.runs, logs, arrays),
                             "; re-run the experiment with your final code")
    if replayed_ok:
        record("claim", claim_problems(experiment, logs, arrays))
    lines = [check.message for check in checks]
    if not replayed_ok:
        return Verdict(0.0, lines + ["(a log earns points only when it is complete, from the experiment's "
                                     "configuration and reproduced by your code)"], checks=checks)
    total = sum(CHECK_WEIGHTS.values())
    return Verdict(sum(c.weight for c in checks if c.passed) / total, lines, checks=checks)
