"""End to end: a wrong layer costs only its own tests; the nets that call it are graded with the reference's.

(The untouched release scoring 0 with substitution is tests/test_autograder.py's
test_untouched_release_scores_zero_and_says_not_implemented.)
"""
import shutil

import pytest

from tests.autograder_support.artifacts import shared_artifacts
from tests.autograder_support.submissions import grade

WRONG_LAYERS = {
    "layers.affine_backward": '''
_right_affine_backward = affine_backward


def affine_backward(dout, cache):
    dx, dw, db = _right_affine_backward(dout, cache)
    return dx, 2 * dw, db
''',
    "layers.relu_forward": '''
_right_relu_forward = relu_forward


def relu_forward(x):
    out, cache = _right_relu_forward(x)
    return out + 0.01 * np.minimum(x, 0), cache
''',
}
HW3_LAYERS_AND_NETS = ["layers.affine_forward", "layers.affine_backward", "layers.relu_forward",
                       "layers.relu_backward", "classifiers.fc_net.TwoLayerNet.__init__",
                       "classifiers.fc_net.TwoLayerNet.loss", "classifiers.fc_net.FullyConnectedNet.__init__",
                       "classifiers.fc_net.FullyConnectedNet.loss"]
NETS = ("classifiers.fc_net.TwoLayerNet.loss", "classifiers.fc_net.FullyConnectedNet.loss")


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory, standin_dir):
    return shared_artifacts(tmp_path_factory, standin_dir)


@pytest.mark.parametrize("wrong", sorted(WRONG_LAYERS))
def test_a_wrong_layer_costs_only_its_own_tests(artifacts, tmp_path, wrong):
    built = artifacts["hw3"]
    submission = tmp_path / "submission"
    shutil.copytree(built.reference / "course_lib", submission / "course_lib")
    with open(submission / "course_lib" / "layers.py", "a") as file:
        file.write(WRONG_LAYERS[wrong])
    results = grade("hw3", submission, built.zip, only=HW3_LAYERS_AND_NETS)
    graded = [test for test in results["tests"] if test["extra_data"]["function"] in HW3_LAYERS_AND_NETS]
    failed = {test["extra_data"]["function"] for test in graded if test["status"] != "passed"}
    assert failed == {wrong}, [test["output"] for test in graded if test["status"] != "passed"]
    for test in graded:
        function = test["extra_data"]["function"]
        if function in NETS:
            assert wrong in test["extra_data"]["substitutes"]
            assert f"Graded with the reference's {wrong} in place of yours, whose own tests failed" in test["output"]
            assert "relies on" not in test["output"]
        elif function.startswith("classifiers."):
            assert test["extra_data"]["substitutes"] == []
    lost = sum(test["max_score"] - test["score"] for test in graded)
    own = sum(test["max_score"] for test in graded if test["extra_data"]["function"] == wrong)
    assert 0 < lost <= own
