"""The experiments' data and the reference's own experiment logs (instructor side).

``course build`` grades a reference submission, which needs every log an
assignment's experiments ask for (autograder.suites.logs), written by the
reference library exactly as a student's notebook writes them. The runs take
about a minute, so the logs are cached in the data directory, keyed by the
reference sources, the experiments and the data.

The autograder zip carries the training images the runs use (as uint8, with
the preprocessing mean) so that the grader can replay a logged run.
"""
import hashlib
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from autograder.reference_models import library
from autograder.suites.logs import experiment

FULL_SPLIT = (49000, 1000)  # the notebooks' full-mode training and validation sizes
CACHE_FOLDER = ".reference_logs"


def cifar_split(data_utils):
    """The notebooks' full-mode CIFAR-10 data, or the same proportions of a smaller data set."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data_utils.StandInDataWarning)
        X_train, _, _, _ = data_utils.load_CIFAR10()
        training, validation = FULL_SPLIT
        if len(X_train) < training + validation:
            validation = min(validation, len(X_train) // 10)
            training = len(X_train) - validation
        return data_utils.get_CIFAR10_data(num_training=training, num_validation=validation, num_test=0)


def largest_run():
    from autograder.suites.logs import EXPERIMENTS

    return max(run.num_train for entry in EXPERIMENTS.values() for run in entry.runs)


def experiment_data():
    """{"X": uint8 images, "y": labels, "mean": float32 mean image, "standin": 0 or 1} for the zip."""
    _, data_utils = library()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = cifar_split(data_utils)
    count = largest_run()
    images = data["X_train"][:count] + data["mean_image"]
    rounded = np.rint(images)
    if rounded.min() < 0 or rounded.max() > 255:
        raise ValueError("the experiment images are not 0..255 pixel values")
    uint8 = rounded.astype(np.uint8)
    if not np.array_equal(uint8.astype(np.float32) - data["mean_image"], data["X_train"][:count]):
        raise ValueError("the experiment images cannot be rebuilt exactly from uint8 pixels and the mean")
    standin = any(issubclass(w.category, data_utils.StandInDataWarning) for w in caught)
    return {"X": uint8, "y": data["y_train"][:count].astype(np.int64), "mean": data["mean_image"],
            "standin": np.int64(standin)}


def cache_key(names, data_utils):
    """Hash of the reference library's sources, the experiments' definitions and the data files."""
    digest = hashlib.sha256()
    lib_root = Path(data_utils.__file__).resolve().parent
    for path in sorted(lib_root.rglob("*.py")):
        digest.update(str(path.relative_to(lib_root)).encode() + path.read_bytes())
    for name in names:
        digest.update(repr(experiment(name)).encode())
    folder = data_utils.data_dir()
    for path in sorted(folder.rglob("*_batch*")):
        info = path.stat()
        digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def run_experiment(name, data, out_dir, seed):
    """Every run of experiment ``name`` as a notebook does it, logged under ``out_dir``."""
    from course_lib.classifiers.fc_net import FullyConnectedNet
    from course_lib.solver import Solver

    for run in experiment(name).runs:
        small = {"X_train": data["X_train"][:run.num_train], "y_train": data["y_train"][:run.num_train],
                 "X_val": data["X_val"], "y_val": data["y_val"]}
        np.random.seed(seed)
        model = FullyConnectedNet(**run.model)
        solver = Solver(model, small, verbose=False, **run.solver)
        solver.train()
        path = out_dir / run.file
        path.parent.mkdir(parents=True, exist_ok=True)
        solver.record_histories_as_npz(path, seed=seed)


def write_reference_logs(names, destination, seed=7):
    """The logs of the named experiments, as the reference writes them, under ``destination``."""
    if names:
        _, data_utils = library()
        write_logs(names, destination, data_utils, seed)


def write_logs(names, destination, data_utils, seed):
    """The logs of the named experiments, as the loaded course_lib writes them (cached under the data
    directory, keyed by its sources), under ``destination``."""
    cache = data_utils.data_dir() / CACHE_FOLDER / cache_key(names, data_utils)
    if not cache.is_dir():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", data_utils.StandInDataWarning)
            data = cifar_split(data_utils)
        cache.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="logs-", dir=cache.parent))
        for name in names:
            run_experiment(name, data, staging, seed)
        try:
            staging.replace(cache)
        except OSError:  # another build wrote the same logs meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(cache, destination, dirs_exist_ok=True)
