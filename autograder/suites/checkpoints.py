"""What the course's checkpoints are: the standard model classes and the reference's quick recipes.

The manifest names each checkpoint an assignment collects (file, dataset,
scoring); this module says which model classes the grading process evaluates
itself (``STANDARD_CLASSES``) and how ``course build`` trains the reference's
own checkpoint of each manifest entry for the build check (``RECIPES``, used
by ``autograder.reference_models``). Adding a checkpoint to an assignment
means a manifest entry and a recipe here; a new model class students may
submit without running their own code in a worker means an entry in
``STANDARD_CLASSES``.
"""
from dataclasses import dataclass, field

# Evaluated in the grading process by the reference forward; the value says
# what input layout the class takes: "images" as the data loaders give them,
# "rows" flattened to (N, D) as the two_layer_nn notebook feeds neural_net.TwoLayerNet.
# Any other class under course_lib is a custom architecture, run by the student's code in a worker.
STANDARD_CLASSES = {
    "course_lib.classifiers.neural_net.TwoLayerNet": "rows",
    "course_lib.classifiers.fc_net.TwoLayerNet": "images",
    "course_lib.classifiers.fc_net.FullyConnectedNet": "images",
    "course_lib.classifiers.cnn.ThreeLayerConvNet": "images",
    "course_lib.mlp.nets.TestFCReLU": "images",
    "course_lib.mlp.nets.SmallFullyConnectedNetwork": "images",
    "course_lib.mlp.nets.DropoutNet": "images",
    "course_lib.mlp.nets.TinyNet": "images",
}


@dataclass(frozen=True)
class Recipe:
    """A standard model (a key of STANDARD_CLASSES), its constructor arguments and how to train it briefly."""

    model: str
    kwargs: dict
    trainer: str  # "own_train" (the model's train method), "solver" (course_lib.solver) or "train_net" (mlp)
    settings: dict = field(default_factory=dict)


# One per checkpoint name of the manifest. On the stand-in data each passes its checkpoint's ``hi`` in
# seconds; on the real datasets none does, and the instructor passes checkpoints of their own.
RECIPES = {
    "two_layer_best_net": Recipe("course_lib.classifiers.neural_net.TwoLayerNet",
                                 {"input_size": 3072, "hidden_size": 50, "output_size": 10, "std": 1e-4},
                                 "own_train", {"learning_rate": 3e-3, "reg": 0.25, "num_iters": 150,
                                               "batch_size": 100}),
    "fc_two_layer_net": Recipe("course_lib.classifiers.fc_net.TwoLayerNet",
                               {"hidden_dims": 50, "weight_scale": 1e-3},
                               "solver", {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3},
                                          "num_epochs": 3, "batch_size": 100}),
    "fc_net_custom": Recipe("course_lib.classifiers.fc_net.FullyConnectedNet",
                            {"hidden_dims": [100, 50], "use_batchnorm": True, "dropout": 0.1,
                             "weight_scale": 1e-2},
                            "solver", {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3},
                                       "num_epochs": 3, "batch_size": 100}),
    "cnn_custom": Recipe("course_lib.classifiers.cnn.ThreeLayerConvNet",
                         {"num_filters": 8, "filter_size": 3, "hidden_dim": 50, "weight_scale": 1e-2},
                         "solver", {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3},
                                    "num_epochs": 2, "batch_size": 50}),
    "tinynet": Recipe("course_lib.mlp.nets.TinyNet", {"hidden_dims": [64]}, "train_net",
                      {"learning_rate": 3e-3, "batch_size": 100, "max_epochs": 5}),
}
