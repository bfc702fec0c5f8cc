"""course_lib.data_utils: the loaders on the stand-in and on hand-made official-format files."""
import pickle
import warnings

import numpy as np
import pytest
from scipy.io import savemat

from course_lib import data_utils
from course_lib.data_utils import (
    DatasetNotFoundError,
    StandInDataWarning,
    SVHN_data,
    get_CIFAR10_data,
    load_CIFAR10,
)
from tests.conftest import STANDIN_SIZES
from tests.helpers import load_standin


@pytest.fixture
def standin_env(standin_dir, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(standin_dir))
    return standin_dir


def test_data_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_utils.data_dir() == tmp_path / ".course_data"
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "elsewhere"))
    assert data_utils.data_dir() == tmp_path / "elsewhere"


@pytest.mark.parametrize("value, quick", [
    (None, False), ("", False), ("0", False), ("false", False), ("no", False),
    ("1", True), ("yes", True), ("TRUE", True),
])
def test_quick_mode(monkeypatch, value, quick):
    if value is None:
        monkeypatch.delenv("COURSE_QUICK", raising=False)
    else:
        monkeypatch.setenv("COURSE_QUICK", value)
    assert data_utils.quick_mode() is quick


def test_cifar10_splits_shapes_and_dtypes(standin_dir):
    data = load_standin(standin_dir, get_CIFAR10_data, num_training=1200, num_validation=300, num_test=200)
    for split, size in (("train", 1200), ("val", 300), ("test", 200)):
        assert data[f"X_{split}"].shape == (size, 3, 32, 32) and data[f"X_{split}"].dtype == np.float32
        assert data[f"y_{split}"].shape == (size,) and data[f"y_{split}"].dtype == np.int64
        assert data[f"y_{split}"].min() >= 0 and data[f"y_{split}"].max() <= 9
    assert set(np.unique(data["y_train"])) == set(range(10))


def test_cifar10_validation_follows_training_and_mean_is_subtracted(standin_dir):
    X_train, y_train, X_test, y_test = load_standin(standin_dir, load_CIFAR10)
    data = load_standin(standin_dir, get_CIFAR10_data, num_training=1200, num_validation=300, num_test=200)
    raw = X_train.transpose(0, 3, 1, 2)
    assert_close_images(data["X_train"] + data["mean_image"], raw[:1200])
    assert_close_images(data["X_val"] + data["mean_image"], raw[1200:1500])
    assert_close_images(data["X_test"] + data["mean_image"], X_test.transpose(0, 3, 1, 2)[:200])
    assert np.array_equal(data["y_val"], y_train[1200:1500])
    assert np.abs(data["X_train"].mean(axis=0)).max() < 1e-3
    assert_close_images(data["mean_image"], raw[:1200].mean(axis=0))


def assert_close_images(actual, expected):
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() < 1e-3


def test_cifar10_without_mean_subtraction_keeps_pixel_values(standin_dir):
    data = load_standin(standin_dir, get_CIFAR10_data, num_training=100, num_validation=10, num_test=10,
                        subtract_mean=False)
    assert not data["mean_image"].any()
    assert data["X_train"].min() >= 0 and data["X_train"].max() <= 255
    assert np.array_equal(data["X_train"], np.round(data["X_train"]))


def test_load_cifar10_reads_the_whole_standin(standin_dir):
    X_train, y_train, X_test, y_test = load_standin(standin_dir, load_CIFAR10)
    assert X_train.shape == (STANDIN_SIZES["cifar_train"], 32, 32, 3) and X_train.dtype == np.float32
    assert X_test.shape == (STANDIN_SIZES["cifar_test"], 32, 32, 3)
    assert y_train.shape == (STANDIN_SIZES["cifar_train"],) and y_test.shape == (STANDIN_SIZES["cifar_test"],)


def asymmetric_images(n):
    """(n, 32, 32, 3) uint8 images whose value tells row, column and channel apart."""
    h, w, c = np.meshgrid(np.arange(32), np.arange(32), np.arange(3), indexing="ij")
    base = (h * 5 + w * 2 + c * 70) % 256
    return np.stack([(base + k) % 256 for k in range(n)]).astype(np.uint8)


def write_official_cifar(folder, images, labels):
    """CIFAR-10 batches as the official site describes them: rows of 1024 R, then G, then B values."""
    folder.mkdir(parents=True)
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    for name in data_utils.CIFAR_BATCH_FILES:
        batch = {b"batch_label": name.encode(), b"labels": list(labels), b"data": rows, b"filenames": []}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def test_load_cifar10_maps_the_official_row_layout_to_height_width_channel(tmp_path):
    images = asymmetric_images(4)
    write_official_cifar(tmp_path / "cifar", images, [3, 1, 4, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", StandInDataWarning)  # no marker: no warning
        X_train, y_train, X_test, y_test = load_CIFAR10(tmp_path / "cifar")
    assert np.array_equal(X_test, images.astype(np.float32))
    assert X_train.shape == (20, 32, 32, 3) and np.array_equal(y_train[:4], [3, 1, 4, 1])


def test_cifar_batches_may_reference_only_numpy_arrays(tmp_path):
    images = asymmetric_images(1)
    write_official_cifar(tmp_path / "cifar", images, [0])

    class Payload:
        def __reduce__(self):
            import os
            return os.getcwd, ()

    (tmp_path / "cifar" / "test_batch").write_bytes(pickle.dumps({b"data": Payload(), b"labels": [0]}))
    with pytest.raises(pickle.UnpicklingError, match="may not reference"):
        load_CIFAR10(tmp_path / "cifar")


def write_svhn_file(path, images, digits):
    stored = np.where(np.asarray(digits) == 0, 10, digits).astype(np.uint8).reshape(-1, 1)
    savemat(path, {"X": images.transpose(1, 2, 3, 0), "y": stored})


def test_svhn_keeps_height_and_width_and_maps_label_ten_to_zero(tmp_path, monkeypatch):
    images = asymmetric_images(5)
    (tmp_path / "svhn").mkdir()
    write_svhn_file(tmp_path / "svhn" / "train_32x32.mat", images, [0, 1, 2, 9, 0])
    write_svhn_file(tmp_path / "svhn" / "test_32x32.mat", images[:2], [5, 0])
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    data = SVHN_data(num_training=3, num_validation=2, subtract_mean=False)
    assert np.allclose(data["data_train"] * 255, images[:3], atol=1e-3)
    assert np.allclose(data["data_val"] * 255, images[3:], atol=1e-3)
    assert np.array_equal(data["labels_train"], [0, 1, 2]) and np.array_equal(data["labels_val"], [9, 0])
    assert np.array_equal(data["labels_test"], [5, 0])


def test_svhn_standin_splits(standin_dir):
    data = load_standin(standin_dir, SVHN_data, num_training=1500, num_validation=400)
    sizes = {"train": 1500, "val": 400, "test": STANDIN_SIZES["svhn_test"]}
    for split, size in sizes.items():
        assert data[f"data_{split}"].shape == (size, 32, 32, 3) and data[f"data_{split}"].dtype == np.float32
        assert data[f"labels_{split}"].shape == (size,) and data[f"labels_{split}"].dtype == np.int64
    assert set(np.unique(data["labels_train"])) == set(range(10))
    assert data["mean_image"].shape == (32, 32, 3)
    assert 0 < data["mean_image"].min() and data["mean_image"].max() < 1
    assert np.abs(data["data_train"].mean(axis=0)).max() < 1e-4


@pytest.mark.parametrize("load, sizes", [
    (get_CIFAR10_data, {"num_training": 1900, "num_validation": 200}),
    (get_CIFAR10_data, {"num_test": 501}),
    (SVHN_data, {"num_training": 2000, "num_validation": 1}),
    (SVHN_data, {"num_training": 10, "num_validation": 10, "num_test": 501}),
])
def test_asking_for_more_images_than_the_files_hold(standin_dir, load, sizes):
    with pytest.raises(ValueError, match="holds? only"):
        load_standin(standin_dir, load, **sizes)


@pytest.mark.parametrize("load, command", [
    (get_CIFAR10_data, "python -m course_lib.fetch cifar10"),
    (load_CIFAR10, "python -m course_lib.fetch cifar10"),
    (SVHN_data, "python -m course_lib.fetch svhn"),
])
def test_missing_dataset_names_the_path_and_the_fetch_command(tmp_path, monkeypatch, load, command):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as error:
        load()
    assert isinstance(error.value, FileNotFoundError)
    assert command in str(error.value) and str(tmp_path) in str(error.value)


@pytest.mark.parametrize("load, dataset", [
    (lambda: get_CIFAR10_data(100, 10, 10), "CIFAR-10"),
    (lambda: SVHN_data(100, 10), "SVHN"),
])
def test_reading_the_standin_warns_once(standin_env, load, dataset):
    with pytest.warns(StandInDataWarning) as record:
        load()
    assert len(record) == 1
    assert f"STAND-IN {dataset}" in str(record[0].message) and f"not the real {dataset}" in str(record[0].message)


def test_malformed_svhn_file_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "svhn").mkdir()
    for name in data_utils.SVHN_FILES:
        savemat(tmp_path / "svhn" / name, {"X": np.zeros((3, 32, 32, 2), np.uint8), "y": np.ones((2, 1))})
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match=r"expected X \(32, 32, 3, N\)"):
        SVHN_data(1, 1)


@pytest.mark.parametrize("load, dataset", [
    (lambda: get_CIFAR10_data(100, 10, 10), "CIFAR-10"),
    (lambda: SVHN_data(100, 10), "SVHN"),
])
def test_loaders_fall_back_to_the_standin_where_the_standin_command_writes_it(standin_dir, tmp_path, monkeypatch,
                                                                               load, dataset):
    (tmp_path / "standin").symlink_to(standin_dir, target_is_directory=True)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.warns(StandInDataWarning, match=f"STAND-IN {dataset} in {tmp_path / 'standin'}"):
        load()


def test_missing_data_message_says_where_the_standin_goes(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as error:
        get_CIFAR10_data(10, 1, 1)
    message = str(error.value)
    assert "python -m course_lib.fetch cifar10" in message
    assert "python -m course_lib.standin" in message and str(tmp_path / "standin") in message
