"""Loading CIFAR-10 and SVHN from the data directory.

Where the data lives: ``data_dir()``, which is ``$COURSE_DATA_DIR`` or
``~/.course_data``. CIFAR-10 is read from ``<dir>/cifar-10-batches-py/`` (the
official python version), SVHN from ``<dir>/svhn/{train,test}_32x32.mat`` (the
official cropped digits). ``python -m course_lib.fetch cifar10`` (or ``svhn``)
downloads them; ``python -m course_lib.standin`` writes an offline synthetic
stand-in in the same formats into ``<dir>/standin/``. While a real dataset is
absent, the loaders read the stand-in from there, and announce it with a
warning every time.

Quick mode (``COURSE_QUICK=1``, read by ``quick_mode()``) is how notebooks
decide to use small data and few iterations.
"""
import os
import pickle
import warnings
from pathlib import Path

import numpy as np

from course_lib._checks import whole_number
from course_lib.data_folder import (
    CIFAR_FOLDER,
    DATA_DIR_VARIABLE,
    DEFAULT_DATA_DIR,
    MARKER_NAME,
    STANDIN_FOLDER,
    SVHN_FOLDER,
    data_dir,
)
from course_lib.standin import IMAGE_SIZE

QUICK_VARIABLE = "COURSE_QUICK"
CIFAR_BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
SVHN_FILES = ("train_32x32.mat", "test_32x32.mat")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not where the loader looked; the message says how to get it."""


class StandInDataWarning(UserWarning):
    """The data read is the synthetic stand-in, not the real dataset."""


def quick_mode():
    """True when $COURSE_QUICK asks for small data and few iterations (anything but '', 0, false, no, off)."""
    return os.environ.get(QUICK_VARIABLE, "").strip().lower() not in ("", "0", "false", "no", "off")


def _missing(folder, file_names):
    return [name for name in file_names if not (folder / name).is_file()]


def dataset_folder(dataset_folder_name, file_names):
    """The folder a loader reads: the real dataset in data_dir(), else the stand-in that
    ``python -m course_lib.standin`` wrote into data_dir()/standin, else the real folder
    (which then fails with the instructions)."""
    real = data_dir() / dataset_folder_name
    standin = data_dir() / STANDIN_FOLDER / dataset_folder_name
    if _missing(real, file_names) and not _missing(standin, file_names):
        return standin
    return real


def _require_files(folder, file_names, fetch_name):
    missing = _missing(folder, file_names)
    if missing:
        raise DatasetNotFoundError(
            f"{fetch_name} data not found: {folder} lacks {', '.join(missing)}.\n"
            f"Download it with `python -m course_lib.fetch {fetch_name}` (into ${DATA_DIR_VARIABLE}, "
            f"default {DEFAULT_DATA_DIR}), or point ${DATA_DIR_VARIABLE} at a folder that holds it.\n"
            "Offline, `python -m course_lib.standin` writes a synthetic STAND-IN into "
            f"{data_dir() / STANDIN_FOLDER}, which the loaders then use (accuracies on it mean nothing)."
        )


def _warn_if_standin(folder, dataset, fetch_name, stacklevel):
    """Warn once per call that folder holds the stand-in; stacklevel points the warning at the caller's code."""
    if (folder / MARKER_NAME).is_file():
        warnings.warn(
            f"using the STAND-IN {dataset} in {folder}, not the real {dataset}: synthetic images, "
            "so accuracies say nothing about the real dataset (get the real one with "
            f"`python -m course_lib.fetch {fetch_name}`)",
            StandInDataWarning,
            stacklevel=stacklevel,
        )


class _BatchUnpickler(pickle.Unpickler):
    """Rebuilds only what a CIFAR-10 batch holds (dicts, lists, strings, numpy arrays).

    The official CIFAR-10 python batches exist only as pickles, so reading
    them needs pickle; refusing every other global keeps a tampered file from
    running code. Nothing else in course_lib unpickles.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        # How Python 3 writes bytes at protocol 2 (batches re-saved in Python 3).
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"a CIFAR-10 batch file may not reference {module}.{name}")
        return super().find_class(module, name)


def _read_cifar_batch(path):
    """(images (n, 3, 32, 32) uint8, labels (n,) int64) of one official batch file."""
    with open(path, "rb") as file:
        # latin1 reads the Python 2 strings and numpy arrays of the official files.
        batch = _BatchUnpickler(file, encoding="latin1").load()
    if not isinstance(batch, dict):
        raise ValueError(f"{path} is not a CIFAR-10 batch: it holds a {type(batch).__name__}, not a dict")
    batch = {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise ValueError(f"{path} is not a CIFAR-10 batch: it has no 'data' and 'labels' entries")
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * IMAGE_SIZE * IMAGE_SIZE or len(labels) != len(data):
        raise ValueError(f"{path}: expected data (n, 3072) and n labels, got {data.shape} and {labels.shape}")
    return data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE), labels


def _cifar_folder(root):
    return Path(root) if root is not None else dataset_folder(CIFAR_FOLDER, CIFAR_BATCH_FILES)


def _read_cifar10(root):
    """uint8 images (N, 3, 32, 32) and labels of the training and test batches."""
    folder = _cifar_folder(root)
    _require_files(folder, CIFAR_BATCH_FILES, "cifar10")
    _warn_if_standin(folder, "CIFAR-10", "cifar10", stacklevel=4)
    train = [_read_cifar_batch(folder / name) for name in CIFAR_BATCH_FILES[:-1]]
    X_test, y_test = _read_cifar_batch(folder / "test_batch")
    X_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    return X_train, y_train, X_test, y_test


def load_CIFAR10(root=None):
    """All of CIFAR-10 as in the original courses: images (N, 32, 32, 3) float32, labels int64.

    root is the ``cifar-10-batches-py`` folder (default: the one in data_dir()).
    Returns X_train (50000, 32, 32, 3), y_train (50000,), X_test (10000, 32, 32, 3),
    y_test (10000,), pixel values 0..255 (fewer images for a smaller stand-in).
    """
    X_train, y_train, X_test, y_test = _read_cifar10(root)
    to_hwc = (0, 2, 3, 1)
    return X_train.transpose(to_hwc).astype(np.float32), y_train, X_test.transpose(to_hwc).astype(np.float32), y_test


def _splits(dataset, folder, train, test, sizes, subtract_mean, scale=1.0):
    """Training, validation and test splits of the uint8 (images, labels) pairs train and test.

    sizes: the requested numbers of training, validation and test images, in
    that order; validation images follow the training images in train. Images
    become float32, multiplied by scale, minus the mean training image when
    subtract_mean.

    Returns ({split: images}, {split: labels}, mean_image) with splits "train",
    "val" and "test"; mean_image has one image's shape (zeros when not subtracted).
    """
    num_training, num_validation, num_test = (
        whole_number(f"{dataset}: the number of {split} images", size)
        for split, size in zip(("training", "validation", "test"), sizes)
    )
    if num_training + num_validation > len(train[0]):
        raise ValueError(
            f"{dataset}: asked for {num_training} training + {num_validation} validation images, "
            f"but the training files in {folder} hold only {len(train[0])}; ask for fewer"
        )
    if num_test > len(test[0]):
        raise ValueError(
            f"{dataset}: asked for {num_test} test images, but the test file in {folder} "
            f"holds only {len(test[0])}; ask for fewer"
        )
    chosen = {
        "train": slice(0, num_training),
        "val": slice(num_training, num_training + num_validation),
        "test": slice(0, num_test),
    }
    sources = {"train": train, "val": train, "test": test}
    images = {split: sources[split][0][rows].astype(np.float32) for split, rows in chosen.items()}
    labels = {split: sources[split][1][rows] for split, rows in chosen.items()}
    if scale != 1:
        for split_images in images.values():
            split_images *= np.float32(scale)
    if subtract_mean and num_training:
        mean_image = images["train"].mean(axis=0)
    else:
        mean_image = np.zeros(train[0].shape[1:], np.float32)
    for split_images in images.values():
        split_images -= mean_image
    return images, labels, mean_image


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True):
    """CIFAR-10 split and preprocessed for the classifiers.

    Validation images are train[num_training:num_training + num_validation]
    (49000:50000 by default), test images the first num_test of the test batch.

    Returns a dict with X_train, X_val, X_test float32 of shape (N, 3, 32, 32)
    (pixel values 0..255 minus mean_image when subtract_mean), y_train, y_val,
    y_test int64 labels 0..9, and mean_image (3, 32, 32) float32: the mean
    training image that was subtracted (zeros when subtract_mean is False).
    """
    X_train, y_train, X_test, y_test = _read_cifar10(None)
    images, labels, mean_image = _splits(
        "CIFAR-10", _cifar_folder(None), (X_train, y_train), (X_test, y_test),
        (num_training, num_validation, num_test), subtract_mean,
    )
    data = {}
    for split in ("train", "val", "test"):
        data[f"X_{split}"], data[f"y_{split}"] = images[split], labels[split]
    return {**data, "mean_image": mean_image}


def _read_svhn_file(path):
    """(images (N, 32, 32, 3) uint8, labels (N,) int64 with 0..9 = the digit) of one SVHN .mat file."""
    from scipy.io import loadmat

    content = loadmat(path, variable_names=["X", "y"])
    if "X" not in content or "y" not in content:
        raise ValueError(f"{path} is not an SVHN cropped-digits file: it lacks X or y")
    X, y = content["X"], content["y"].reshape(-1)
    if X.shape[:3] != (IMAGE_SIZE, IMAGE_SIZE, 3) or X.ndim != 4 or X.shape[3] != len(y):
        raise ValueError(f"{path}: expected X (32, 32, 3, N) and y (N, 1), got {X.shape} and {content['y'].shape}")
    # The file stores images as (height, width, channel, index); only the index axis moves.
    images = X.transpose(3, 0, 1, 2)
    labels = y.astype(np.int64) % 10  # digit 0 is stored as 10
    return images, labels


def _svhn_folder():
    return dataset_folder(SVHN_FOLDER, SVHN_FILES)


def SVHN_data(num_training=70000, num_validation=3257, num_test=None, subtract_mean=True):
    """SVHN cropped digits split and preprocessed for the mlp nets.

    Validation images are train[num_training:num_training + num_validation]
    (70000:73257 by default, the whole training file); test images are the
    first num_test of the test file (all when None).

    Returns a dict with data_train, data_val, data_test float32 of shape
    (N, 32, 32, 3): pixel values scaled to [0, 1], minus mean_image when
    subtract_mean; labels_train, labels_val, labels_test int64, the digit 0..9;
    and mean_image (32, 32, 3) float32, the mean scaled training image that was
    subtracted (zeros when subtract_mean is False).
    """
    folder = _svhn_folder()
    _require_files(folder, SVHN_FILES, "svhn")
    _warn_if_standin(folder, "SVHN", "svhn", stacklevel=3)
    X_train, y_train = _read_svhn_file(folder / "train_32x32.mat")
    X_test, y_test = _read_svhn_file(folder / "test_32x32.mat")
    num_test = len(X_test) if num_test is None else num_test
    images, labels, mean_image = _splits(
        "SVHN", folder, (X_train, y_train), (X_test, y_test),
        (num_training, num_validation, num_test), subtract_mean, scale=1 / 255,
    )
    data = {}
    for split in ("train", "val", "test"):
        data[f"data_{split}"], data[f"labels_{split}"] = images[split], labels[split]
    return {**data, "mean_image": mean_image}
