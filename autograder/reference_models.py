"""Checkpoints trained quickly by the reference, for the build check (instructor side).

``course build`` grades a reference submission: the reference ``course_lib``
files plus one checkpoint per manifest entry, trained here by its recipe
(``autograder.suites.checkpoints.RECIPES``, next to the standard classes the
grader evaluates). On the stand-in data the recipes pass each checkpoint's
``hi`` in seconds; on the real datasets they do not, and the instructor
passes checkpoints of their own (``checkpoint_dir``).
"""
import importlib
import warnings
from pathlib import Path

import numpy as np

from autograder.suites.checkpoints import RECIPES

TRAIN_IMAGES = 1500


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
    """An instance of the class ``qualname`` (``course_lib.<module>.<Class>``)."""
    module_name, _, class_name = qualname.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)(**kwargs)


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
    out_dir = Path(out_dir)
    if not checkpoints:
        return out_dir
    checkpoint, data_utils = library()
    for entry in checkpoints:
        if entry["name"] not in RECIPES:
            raise KeyError(f"no reference recipe for checkpoint {entry['name']!r}: add one to RECIPES in "
                           "autograder/suites/checkpoints.py, or pass checkpoints of your own")
        np.random.seed(seed)
        model = train(RECIPES[entry["name"]], training_data(entry["dataset"], data_utils, images))
        checkpoint.save_model(model, out_dir / entry["file"])
    return out_dir
