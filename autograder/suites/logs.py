"""Hidden "log" tests: Berkeley's bn_drop experiments, graded from the histories students save.

Each experiment is a set of runs. A run's log (``submission_logs/<file>``) is
written by ``Solver.record_histories_as_npz(path, seed=seed)``: the histories
``train_losses``, ``train_accs``, ``val_accs`` and the run's ``config``. A log
test scores, per experiment:

- files: every log present, keys as written by the Solver, history lengths
  those of the recorded configuration, values finite;
- configuration: each log's recorded configuration is the experiment's;
- replay: the grader reruns the first iterations of every run, in a worker,
  with the submitted code, the recorded configuration and seed, and compares
  the losses with the log's first entries (a made-up or edited log fails).
  The replay builds the model and the Solver from the seed and calls
  ``Solver.step``: the accuracy checks that train() makes first draw no random
  numbers in the experiments' settings (every training image is scored), so
  they are skipped;
- claim: the experiment's qualitative result holds in the logged histories and, for an experiment
  with ``rerun_epochs``, in the histories of the grader's own training of the runs (from the recorded
  seed, with the submitted code): only two iterations can be compared exactly (float32 histories of
  the same code differ by 1e-2 relative after 20 iterations between BLAS builds), so without a rerun
  a log's later entries are taken on trust. The weight-scale sweep (40 runs) is too long to rerun.

A log that fails files, configuration or replay earns nothing on its test.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from autograder.suites.spec import EXPERIMENT, Test

FC_NET = "course_lib.classifiers.fc_net.FullyConnectedNet"
SEED = 7  # Berkeley's global seed (any recorded seed replays; this one is the notebooks')
WEIGHT_SCALES = tuple(float(scale) for scale in np.logspace(-4, 0, num=20))
# The nets train in float32: the first two losses of a run differ by up to 3e-7 (relative) between BLAS
# builds and thread counts, the third by up to 8e-6 (Adam on a batchnorm net with tiny weights amplifies
# rounding), measured on the 44 runs. Two iterations at 1e-4 leave a wide margin for honest machines, while
# a made-up loss or another seed misses by 1e-3 or more.
REPLAYED_ITERATIONS = 2
REPLAY_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Run:
    """One logged training run: its file and the settings its recorded configuration must have.

    ``model``: constructor arguments of FullyConnectedNet that must match;
    ``solver``: Solver settings that must match; ``num_train``: the first
    ``num_train`` training images of the assignment's data.
    """

    file: str
    model: dict
    solver: dict
    num_train: int


@dataclass(frozen=True)
class Experiment:
    """A named set of runs, the claim their histories must support, and the student functions the runs
    call (a failing one is named when a replay fails)."""

    name: str
    notebook: str
    runs: tuple
    claim: Callable  # claim(histories: {file: {key: array}}) -> (ok, message)
    claim_text: str
    requires: tuple = ()
    # The grader trains every run this many epochs itself (the student's code, the recorded seed) and the
    # claim must hold there too, so later entries of a log cannot be made up (0: judged on the logs alone).
    # rerun_accuracy: the claim reads train_accs, measured on the rerun at the start and each epoch's end.
    rerun_epochs: int = 0
    rerun_accuracy: bool = False

    @property
    def files(self):
        return [run.file for run in self.runs]


def adam(learning_rate, num_epochs, batch_size):
    return {"update_rule": "adam", "optim_config": {"learning_rate": learning_rate}, "lr_decay": 1.0,
            "num_epochs": num_epochs, "batch_size": batch_size}


def log_path(name):
    return f"submission_logs/{name}.npz"


def mean_training_accuracy(history, epochs):
    return float(np.mean(history["train_accs"][1:1 + epochs]))


def batchnorm_trains_faster(histories):
    baseline = mean_training_accuracy(histories[DEEP_FILES[False]], 3)
    normalized = mean_training_accuracy(histories[DEEP_FILES[True]], 3)
    if normalized > baseline:
        return True, ""
    return False, (f"over the first three epochs the net with batchnorm reached a mean training accuracy of "
                   f"{normalized:.3f}, the baseline {baseline:.3f}: batchnorm should train faster")


def batchnorm_is_robust_to_scale(histories):
    best = {use_bn: np.mean([np.max(histories[SCALE_FILES[use_bn][i]]["val_accs"])
                             for i in range(len(WEIGHT_SCALES))]) for use_bn in (False, True)}
    if best[True] > best[False]:
        return True, ""
    return False, (f"averaged over the weight scales, the best validation accuracy is {best[True]:.3f} with "
                   f"batchnorm and {best[False]:.3f} without: batchnorm should make training far less "
                   "sensitive to the initial scale")


def last_epoch_loss(history, iterations_per_epoch):
    return float(np.mean(history["train_losses"][-iterations_per_epoch:]))


def dropout_keeps_loss_higher(histories):
    iterations_per_epoch = DROPOUT_TRAIN // DROPOUT_BATCH
    plain = last_epoch_loss(histories[DROPOUT_FILES[0.0]], iterations_per_epoch)
    dropped = last_epoch_loss(histories[DROPOUT_FILES[DROPOUT_P]], iterations_per_epoch)
    if dropped > plain:
        return True, ""
    return False, (f"the training loss of the last epoch is {dropped:.3g} with dropout and {plain:.3g} "
                   "without: dropout should keep the net from fitting the training set as tightly")


FC_NET_KEY = "classifiers.fc_net.FullyConnectedNet"
TRAINING = ("layers.affine_forward", "layers.affine_backward", "layers.relu_forward", "layers.relu_backward",
            "optim.adam", f"{FC_NET_KEY}.__init__", f"{FC_NET_KEY}.loss")
WITH_BATCHNORM = TRAINING + ("layers.batchnorm_forward", "layers.batchnorm_backward_alt",
                             f"{FC_NET_KEY}.__init__[batchnorm]", f"{FC_NET_KEY}.loss[batchnorm]")
WITH_DROPOUT = TRAINING + ("layers.dropout_forward", "layers.dropout_backward", f"{FC_NET_KEY}.loss[dropout]")

DEEP_FILES = {use_bn: log_path(f"compare_bn_deep_networks_{'with' if use_bn else 'no'}_bn")
              for use_bn in (False, True)}
SCALE_FILES = {use_bn: [log_path(f"bn_and_weight_scale_experiments_scale{i}_{'with' if use_bn else 'no'}_bn")
                        for i in range(len(WEIGHT_SCALES))] for use_bn in (False, True)}
DROPOUT_P = 0.5  # Berkeley's p is the drop probability
DROPOUT_TRAIN, DROPOUT_BATCH = 500, 100
DROPOUT_FILES = {p: log_path(f"dropout_regularization_experiment_p{p:g}") for p in (0.0, DROPOUT_P)}

EXPERIMENTS = {
    experiment.name: experiment for experiment in (
        Experiment(
            "batchnorm_deep_networks", "batchnorm.ipynb",
            tuple(Run(DEEP_FILES[use_bn], {"hidden_dims": [100] * 5, "weight_scale": 2e-2,
                                           "use_batchnorm": use_bn, "dropout": 0.0, "reg": 0.0},
                      adam(1e-3, 10, 50), 1000) for use_bn in (False, True)),
            batchnorm_trains_faster, "the deep net trains faster with batchnorm", WITH_BATCHNORM,
            rerun_epochs=3, rerun_accuracy=True),
        Experiment(
            "batchnorm_weight_scale", "batchnorm.ipynb",
            tuple(Run(SCALE_FILES[use_bn][i], {"hidden_dims": [50] * 7, "weight_scale": scale,
                                               "use_batchnorm": use_bn, "dropout": 0.0, "reg": 0.0},
                      adam(1e-3, 10, 50), 1000)
                  for i, scale in enumerate(WEIGHT_SCALES) for use_bn in (False, True)),
            batchnorm_is_robust_to_scale, "batchnorm makes training robust to the weight scale", WITH_BATCHNORM),
        Experiment(
            "dropout_regularization", "dropout.ipynb",
            tuple(Run(DROPOUT_FILES[p], {"hidden_dims": [500], "dropout": p, "use_batchnorm": False,
                                         "reg": 0.0},
                      adam(5e-4, 15, DROPOUT_BATCH), DROPOUT_TRAIN) for p in (0.0, DROPOUT_P)),
            dropout_keeps_loss_higher, "dropout keeps the training loss higher", WITH_DROPOUT,
            rerun_epochs=15),
    )
}


def log_files(names):
    """Every log file of the named experiments, in order."""
    return [file for name in names for file in experiment(name).files]


def experiment(name):
    if name not in EXPERIMENTS:
        raise KeyError(f"no experiment {name!r}; add it to autograder/suites/logs.py")
    return EXPERIMENTS[name]


def log_test(name):
    """The hidden test of one experiment (scored by autograder.harness.logs)."""
    # A rerun trains for seconds (the dropout runs about 5 s with the reference): room for slower correct code.
    timeout = 120.0 if experiment(name).rerun_epochs else 60.0
    return Test(f"experiment {name}", "logged runs", EXPERIMENT, timeout=timeout, experiment=name,
                requires=experiment(name).requires)
