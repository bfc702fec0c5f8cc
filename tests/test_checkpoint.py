"""course_lib.checkpoint: round trips for every model class and refusal of every bad file."""
import json
import pickle
import zipfile

import numpy as np
import pytest

from course_lib.checkpoint import (
    class_scores,
    get_model_arrays,
    load_model,
    records_init_args,
    save_model,
    set_model_arrays,
)
from course_lib.classifiers.cnn import ThreeLayerConvNet
from course_lib.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from course_lib.classifiers.neural_net import TwoLayerNet as NumpyTwoLayerNet
# Imported as a module: pytest would try to collect a class named Test* imported by name.
from course_lib.mlp import nets as mlp_nets

# Each case: a model with non-default constructor arguments and the shape of one input.
MODEL_CASES = {
    "neural_net.TwoLayerNet": (lambda: NumpyTwoLayerNet(6, 5, 3, std=0.1), (6,)),
    "fc_net.TwoLayerNet": (lambda: TwoLayerNet(input_dim=6, hidden_dims=5, num_classes=3, reg=0.1), (6,)),
    "FullyConnectedNet": (
        lambda: FullyConnectedNet([5, 4], input_dim=6, num_classes=3, dropout=0.3, use_batchnorm=True,
                                  dtype=np.float64, seed=2),
        (6,),
    ),
    "ThreeLayerConvNet": (
        lambda: ThreeLayerConvNet(input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=5,
                                  num_classes=3, weight_scale=0.1, use_batchnorm=True),
        (2, 6, 6),
    ),
    "mlp.TestFCReLU": (lambda: mlp_nets.TestFCReLU(input_dim=6, output_dim=3), (6,)),
    "mlp.SmallFullyConnectedNetwork": (lambda: mlp_nets.SmallFullyConnectedNetwork(input_dim=6, hidden_dim=5, num_classes=3), (6,)),
    "mlp.DropoutNet": (lambda: mlp_nets.DropoutNet(keep_prob=0.5, seed=1), (15,)),
    "mlp.TinyNet": (lambda: mlp_nets.TinyNet(hidden_dims=(5, 4), keep_prob=0.5, input_dim=6, num_classes=3), (6,)),
}


def _trained_a_little(model, input_shape, rng):
    """Run train-mode passes so batchnorm layers have running statistics."""
    if hasattr(model, "loss"):
        for _ in range(3):
            X = rng.standard_normal((8, *input_shape))
            model.loss(X, rng.integers(0, 3, size=8))
    return model


def _saved(tmp_path, model, name="model.npz"):
    path = tmp_path / name
    save_model(model, path)
    return path


def _rewrite(path, changes):
    """Copy the checkpoint at path with entries replaced (None removes one); returns the new path."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    new_path = path.with_name("changed.npz")
    np.savez(new_path, **arrays)
    return new_path


@pytest.mark.parametrize("case", MODEL_CASES)
def test_round_trip_gives_identical_scores_and_arrays(case, tmp_path):
    rng = np.random.default_rng(0)
    build, input_shape = MODEL_CASES[case]
    model = _trained_a_little(build(), input_shape, rng)
    loaded = load_model(_saved(tmp_path, model))

    assert type(loaded) is type(model)
    original_arrays, loaded_arrays = get_model_arrays(model), get_model_arrays(loaded)
    assert original_arrays.keys() == loaded_arrays.keys()
    for key, value in original_arrays.items():
        assert loaded_arrays[key].dtype == value.dtype, key
        np.testing.assert_array_equal(loaded_arrays[key], value, err_msg=key)
    X = rng.standard_normal((7, *input_shape))
    np.testing.assert_array_equal(class_scores(loaded, X, batch_size=3), class_scores(model, X, batch_size=3))


@pytest.mark.parametrize("case", ["FullyConnectedNet", "ThreeLayerConvNet"])
def test_round_trip_keeps_batchnorm_running_statistics(case, tmp_path):
    build, input_shape = MODEL_CASES[case]
    model = _trained_a_little(build(), input_shape, np.random.default_rng(1))
    loaded = load_model(_saved(tmp_path, model))
    assert len(loaded.bn_params) == len(model.bn_params) > 0
    for original, restored in zip(model.bn_params, loaded.bn_params):
        for stat in ("running_mean", "running_var"):
            assert np.any(original[stat] != 0), "training should have moved the running statistics"
            np.testing.assert_array_equal(restored[stat], original[stat])


def test_checkpoint_file_holds_no_pickled_data_and_documents_its_class(tmp_path):
    model = FullyConnectedNet([4], input_dim=3, num_classes=2, dtype=np.float64)
    path = _saved(tmp_path, model)
    with np.load(path, allow_pickle=False) as archive:
        assert set(archive.files) == {"meta", "param/W1", "param/b1", "param/W2", "param/b2"}
        meta = json.loads(str(archive["meta"]))
    assert meta["format"] == 1
    assert meta["class"] == "course_lib.classifiers.fc_net.FullyConnectedNet"
    assert meta["kwargs"]["hidden_dims"] == [4]
    assert meta["kwargs"]["dtype"] == {"__dtype__": "float64"}
    assert meta["kwargs"]["weight_scale"] == 1e-2, "defaults are recorded too"


def test_save_model_writes_exactly_the_given_path(tmp_path):
    path = tmp_path / "nested" / "no_suffix"
    save_model(TwoLayerNet(input_dim=3, hidden_dims=2, num_classes=2), path)
    assert path.is_file()
    assert isinstance(load_model(path), TwoLayerNet)


def test_class_scores_matches_one_full_forward_in_test_mode():
    rng = np.random.default_rng(3)
    model = _trained_a_little(MODEL_CASES["FullyConnectedNet"][0](), (6,), rng)
    X = rng.standard_normal((10, 6))
    np.testing.assert_allclose(class_scores(model, X, batch_size=4), model.loss(X), rtol=1e-12)
    assert all(bn_param["mode"] == "test" for bn_param in model.bn_params)


def test_class_scores_of_object_api_nets_switch_dropout_off():
    model = mlp_nets.DropoutNet(keep_prob=0.5)
    X = np.random.default_rng(4).standard_normal((6, 15))
    np.testing.assert_array_equal(class_scores(model, X), model.forward(X, is_training=False))
    np.testing.assert_array_equal(class_scores(model, X), class_scores(model, X))


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_class_scores_rejects_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        class_scores(TwoLayerNet(input_dim=3, hidden_dims=2, num_classes=2), np.ones((2, 3)), batch_size=batch_size)


def test_class_scores_rejects_empty_input():
    with pytest.raises(ValueError, match="empty"):
        class_scores(TwoLayerNet(input_dim=3, hidden_dims=2, num_classes=2), np.ones((0, 3)))


@records_init_args
class OutsideNet:
    """A decorated model that lives outside course_lib."""

    def __init__(self, size=2):
        self.params = {"W": np.ones((size, size))}


class UndecoratedSubclass(FullyConnectedNet):
    pass


def test_save_refuses_a_class_outside_course_lib(tmp_path):
    with pytest.raises(ValueError, match="only classes defined inside course_lib"):
        save_model(OutsideNet(), tmp_path / "outside.npz")


def test_save_refuses_a_subclass_that_does_not_record_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="records_init_args"):
        save_model(UndecoratedSubclass([3], input_dim=2, num_classes=2), tmp_path / "sub.npz")


def test_save_refuses_arguments_json_cannot_hold(tmp_path):
    model = FullyConnectedNet(np.array([3, 2]), input_dim=2, num_classes=2)
    with pytest.raises(ValueError, match="hidden_dims"):
        save_model(model, tmp_path / "array_argument.npz")


def _meta_file(tmp_path, meta):
    path = tmp_path / "crafted.npz"
    np.savez(path, meta=np.array(json.dumps(meta)), **{"param/W": np.ones((2, 2))})
    return path


@pytest.mark.parametrize("class_path", ["tests.test_checkpoint.OutsideNet", "os.system", "course_libx.Net"])
def test_load_refuses_a_class_outside_course_lib(tmp_path, class_path):
    path = _meta_file(tmp_path, {"format": 1, "class": class_path, "kwargs": {}})
    with pytest.raises(ValueError, match="only classes defined inside course_lib"):
        load_model(path)


@pytest.mark.parametrize(
    "meta, message",
    [
        ({"format": 2, "class": "course_lib.classifiers.fc_net.TwoLayerNet", "kwargs": {}}, "unknown checkpoint format 2"),
        ({"class": "course_lib.classifiers.fc_net.TwoLayerNet", "kwargs": {}}, "unknown checkpoint format None"),
        ({"format": 1, "class": "course_lib.classifiers.fc_net.NoSuchNet", "kwargs": {}}, "defines no class NoSuchNet"),
        ({"format": 1, "class": "course_lib.no_such_module.Net", "kwargs": {}}, "cannot import"),
        ({"format": 1, "class": "course_lib.classifiers.fc_net.TwoLayerNet", "kwargs": {"width": 3}}, "do not fit"),
        ({"format": 1, "class": "course_lib.classifiers.fc_net.FullyConnectedNet",
          "kwargs": {"hidden_dims": [2], "dtype": {"__dtype__": "float99"}}}, "unknown dtype"),
        ({"format": 1, "class": "course_lib.classifiers.fc_net.TwoLayerNet"}, "'kwargs'"),
    ],
)
def test_load_refuses_bad_meta(tmp_path, meta, message):
    with pytest.raises(ValueError, match=message):
        load_model(_meta_file(tmp_path, meta))


def test_load_names_a_missing_parameter(tmp_path):
    path = _rewrite(_saved(tmp_path, TwoLayerNet(input_dim=3, hidden_dims=2, num_classes=2)), {"param/W2": None})
    with pytest.raises(ValueError, match="missing parameter.*W2"):
        load_model(path)


def test_load_names_a_missing_meta_entry(tmp_path):
    path = _rewrite(_saved(tmp_path, TwoLayerNet(input_dim=3, hidden_dims=2, num_classes=2)), {"meta": None})
    with pytest.raises(ValueError, match="no 'meta' entry"):
        load_model(path)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"param/W1": np.ones((4, 2))}, r"W1 has shape \(4, 2\).*expects \(3, 2\)"),
        ({"param/extra": np.ones(2)}, "extra.*does not have"),
        ({"state/0/running_mean": np.ones(2)}, "0 batchnorm layer"),
        ({"state/0/running_std": np.ones(2)}, "malformed state entry"),
        ({"weights/W1": np.ones(2)}, "unknown entry"),
    ],
)
def test_load_refuses_arrays_that_do_not_fit_the_model(tmp_path, change, message):
    path = _rewrite(_saved(tmp_path, TwoLayerNet(input_dim=3, hidden_dims=2, num_classes=2)), change)
    with pytest.raises(ValueError, match=message):
        load_model(path)


def test_load_refuses_running_statistics_of_the_wrong_shape(tmp_path):
    build, input_shape = MODEL_CASES["FullyConnectedNet"]
    model = _trained_a_little(build(), input_shape, np.random.default_rng(5))
    path = _rewrite(_saved(tmp_path, model), {"state/1/running_var": np.ones(7)})
    # A freshly built model has no running statistics to compare with, so the
    # check is made against the model the checkpoint came from.
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files if key != "meta"}
    with pytest.raises(ValueError, match=r"bn_params\[1\]\['running_var'\] has shape \(7,\)"):
        set_model_arrays(model, arrays)


UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append("unpickled")


class Trap:
    """Unpickling a Trap records it, so the test can tell whether anything was unpickled."""

    def __reduce__(self):
        return _record_unpickling, ()


def test_load_refuses_pickled_object_arrays_without_unpickling(tmp_path):
    path = tmp_path / "pickled.npz"
    objects = np.empty(1, dtype=object)
    objects[0] = Trap()
    meta = {"format": 1, "class": "course_lib.classifiers.fc_net.TwoLayerNet", "kwargs": {}}
    np.savez(path, meta=np.array(json.dumps(meta)), **{"param/W1": objects})
    with pytest.raises(ValueError, match="not a readable course_lib checkpoint"):
        load_model(path)
    assert UNPICKLED == []


@pytest.mark.parametrize("content", ["random_bytes", "truncated", "single_array", "pickle"])
def test_load_refuses_files_that_are_not_checkpoints(tmp_path, content):
    path = tmp_path / "bad.npz"
    if content == "random_bytes":
        path.write_bytes(np.random.default_rng(6).bytes(300))
    elif content == "truncated":
        full = _saved(tmp_path, TwoLayerNet(input_dim=3, hidden_dims=2, num_classes=2), "full.npz").read_bytes()
        path.write_bytes(full[: len(full) // 2])
    elif content == "single_array":
        with open(path, "wb") as file:
            np.save(file, np.ones(3))
    else:
        path.write_bytes(pickle.dumps(Trap()))
    with pytest.raises(ValueError, match="not a readable course_lib checkpoint"):
        load_model(path)
    assert UNPICKLED == []


def test_load_of_a_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_model(tmp_path / "missing.npz")


def test_a_checkpoint_is_a_plain_zip_of_npy_files(tmp_path):
    path = _saved(tmp_path, TwoLayerNet(input_dim=3, hidden_dims=2, num_classes=2))
    with zipfile.ZipFile(path) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())


def test_records_init_args_binds_positional_and_default_arguments(tmp_path):
    with np.load(_saved(tmp_path, NumpyTwoLayerNet(4, 3, 2)), allow_pickle=False) as archive:
        kwargs = json.loads(str(archive["meta"]))["kwargs"]
    assert kwargs == {"input_size": 4, "hidden_size": 3, "output_size": 2, "std": 1e-4}


def test_records_init_args_refuses_star_args():
    with pytest.raises(TypeError, match=r"\*args"):
        @records_init_args
        class VariadicNet:
            def __init__(self, *sizes):
                self.params = {}
