"""Checkpoints trained quickly by the reference, for the build check (instructor side).

``course build`` grades a reference submission: the reference ``course_lib``
files plus one checkpoint per manifest entry. On the stand-in data the recipes
below pass each checkpoint's ``hi`` in seconds; on the real datasets they do
not, and the instructor passes checkpoints of their own (``checkpoint_dir``).
"""
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TRAIN_IMAGES = 1500


@dataclass(frozen=True)
class Recipe:
    """A standard model, its constructor arguments and how to train it briefly."""

    model: str
    kwargs: dict
    trainer: str  # "own_train", "solver" or "train_net"
    settings: dict = field(default_factory=dict)


RECIPES = {
    "two_layer_best_net": Recipe("classifiers.neural_net.TwoLayerNet",
                                 {"input_size": 3072, "hidden_size": 50, "output_size": 10, "std": 1e-4},
                                 "own_train", {"learning_rate": 3e-3, "reg": 0.25, "num_iters": 150,
                                               "batch_size": 100}),
    "fc_two_layer_net": Recipe("classifiers.fc_net.TwoLayerNet", {"hidden_dims": 50, "weight_scale": 1e-3},
                               "solver", {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3},
                                          "num_epochs": 3, "batch_size": 100}),
    "fc_net_custom": Recipe("classifiers.fc_net.FullyConnectedNet",
                            {"hidden_dims": [100, 50], "use_batchnorm": True, "dropout": 0.1,
                             "weight_scale": 1e-2},
                            "solver", {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3},
                                       "num_epochs": 3, "batch_size": 100}),
    "cnn_custom": Recipe("classifiers.cnn.ThreeLayerConvNet",
                         {"num_filters": 8, "filter_size": 3, "hidden_dim": 50, "weight_scale": 1e-2},
                         "solver", {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3},
                                    "num_epochs": 2, "batch_size": 50}),
    "tinynet": Recipe("mlp.nets.TinyNet", {"hidden_dims": [64]}, "train_net",
                      {"learning_rate": 3e-3, "batch_size": 100, "max_epochs": 5}),
}


def library():
    """The reference modules, checked to come from this repository."""
    import course_lib
    from course_lib import checkpoint, data_utils

    expected = Path(__file__).resolve().parents[1] / "course_lib"
    if Path(course_lib.__file__).resolve().parent != expected:
        raise ImportError(f"course_lib is imported from {course_lib.__file__}, not the reference in {expected}")
    return checkpoint, data_utils


def training_data(dataset, data_utils, images):
    """A small training set and a validation set in the loaders' format."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data_utils.StandInDataWarning)
        if dataset == "cifar10":
            data = data_utils.get_CIFAR10_data(num_training=images, num_validation=images // 5, num_test=0)
            return {"X_train": data["X_train"], "y_train": data["y_train"],
                    "X_val": data["X_val"], "y_val": data["y_val"]}
        data = data_utils.SVHN_data(num_training=images, num_validation=images // 5, num_test=0)
        return {"X_train": data["data_train"], "y_train": data["labels_train"],
                "X_val": data["data_val"], "y_val": data["labels_val"]}


def build_model(qualname, kwargs):
    import importlib

    module_name, _, class_name = qualname.rpartition(".")
    return getattr(importlib.import_module(f"course_lib.{module_name}"), class_name)(**kwargs)


def train(recipe, data):
    model = build_model(recipe.model, recipe.kwargs)
    settings = dict(recipe.settings)
    if recipe.trainer == "own_train":
        rows = {key: value.reshape(len(value), -1) if key.startswith("X") else value for key, value in data.items()}
        model.train(rows["X_train"], rows["y_train"], rows["X_val"], rows["y_val"], **settings)
    elif recipe.trainer == "solver":
        from course_lib.solver import Solver

        Solver(model, data, verbose=False, **settings).train()
    else:
        from course_lib.mlp.layers import cross_entropy
        from course_lib.mlp.optim import Adam
        from course_lib.mlp.train import train_net

        optimizer = Adam(model.net, lr=settings.pop("learning_rate"))
        names = {"X_train": "data_train", "y_train": "labels_train", "X_val": "data_val", "y_val": "labels_val"}
        best, *_ = train_net({names[key]: value for key, value in data.items()}, model, cross_entropy(),
                             optimizer, **settings)
        model.net.load(best)
    return model


def write_reference_checkpoints(checkpoints, out_dir, seed=0, images=TRAIN_IMAGES):
    """Train and save one checkpoint per manifest entry (dicts with name, file, dataset) under out_dir."""
    checkpoint, data_utils = library()
    out_dir = Path(out_dir)
    for entry in checkpoints:
        if entry["name"] not in RECIPES:
            raise KeyError(f"no reference recipe for checkpoint {entry['name']!r}: add one to RECIPES in "
                           f"{__file__}, or pass checkpoints of your own")
        np.random.seed(seed)
        model = train(RECIPES[entry["name"]], training_data(entry["dataset"], data_utils, images))
        checkpoint.save_model(model, out_dir / entry["file"])
    return out_dir
