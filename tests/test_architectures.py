"""Fixed architectures of checkpoints (USC's TinyNet): the rule, its use in grading, and the manifest field."""
import pytest

from autograder.harness.accuracy import grade_checkpoint
from autograder.harness.architectures import architecture_problem
from course_lib.checkpoint import save_model
from course_lib.mlp.nets import SmallFullyConnectedNetwork, TinyNet
from course_tools.manifest import ManifestError, load_manifest
from tests.test_manifest import VALID, write

RULE = "tinynet-one-hidden-layer"
TINYNET = "course_lib.mlp.nets.TinyNet"


@pytest.mark.parametrize("meta, problem", [
    ({"class": TINYNET, "kwargs": {"hidden_dims": [512], "keep_prob": 0}}, None),
    ({"class": TINYNET, "kwargs": {"hidden_dims": [512, 256], "keep_prob": 0}}, "exactly one hidden layer"),
    ({"class": TINYNET, "kwargs": {"hidden_dims": [512], "keep_prob": 0.9}}, "has no dropout"),
    ({"class": "course_lib.mlp.nets.DropoutNet", "kwargs": {}}, "not a TinyNet"),
])
def test_the_original_tinynet_has_one_hidden_layer_and_no_dropout(meta, problem):
    found = architecture_problem(RULE, meta)
    assert (found is None) if problem is None else (problem in found)


def checkpoint_entry():
    return {"name": "tinynet", "file": "checkpoints/tinynet.npz", "notebook": "svhn_mlp.ipynb", "dataset": "svhn",
            "lo": 10, "hi": 75, "points": 10, "architecture": RULE}


@pytest.mark.parametrize("model", [TinyNet(hidden_dims=(64, 32)), SmallFullyConnectedNetwork(input_dim=3072)])
def test_another_architecture_scores_zero_before_it_is_evaluated(model, tmp_path):
    path = save_model(model, tmp_path / "tinynet.npz")
    # Nothing to evaluate with: the rule must decide before any evaluation starts.
    verdict = grade_checkpoint(checkpoint_entry(), path, heldout=None, reference=None, run_custom=None)
    assert verdict.fraction == 0 and verdict.failure == "error"
    assert verdict.lines[0].startswith("checkpoints/tinynet.npz: ")


def test_the_manifest_names_only_known_architectures(tmp_path):
    text = VALID.replace('points = 5\n', 'points = 5\narchitecture = "tinynet-two-layers"\n', 1)
    with pytest.raises(ManifestError, match="architecture 'tinynet-two-layers': known architectures are "
                                            "tinynet-one-hidden-layer"):
        load_manifest(write(tmp_path, text))
    fixed = load_manifest(write(tmp_path, text.replace("tinynet-two-layers", RULE)))
    assert fixed.assignment("a1").checkpoints[0].architecture == RULE
