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


TWO_LAYER_NET = ["classifiers.neural_net.TwoLayerNet.loss", "classifiers.neural_net.TwoLayerNet.train",
                 "classifiers.neural_net.TwoLayerNet.predict"]
WRONG_METHODS = {
    "classifiers.neural_net.TwoLayerNet.loss": '''
_right_loss = TwoLayerNet.loss


def _loss_with_doubled_gradients(self, X, y=None, reg=0.0):
    outcome = _right_loss(self, X, y, reg)
    if y is None:
        return outcome
    loss, grads = outcome
    return loss, {name: 2 * grad for name, grad in grads.items()}


TwoLayerNet.loss = _loss_with_doubled_gradients
''',
    "classifiers.neural_net.TwoLayerNet.predict": '''
def _predict_over_the_batch_axis(self, X):
    return np.argmax(self.loss(X), axis=0)


TwoLayerNet.predict = _predict_over_the_batch_axis
''',
}


@pytest.mark.parametrize("wrong", sorted(WRONG_METHODS))
def test_a_wrong_method_costs_only_its_own_tests(artifacts, tmp_path, wrong):
    """train relies on loss and predict, predict on loss: the reference's methods stand in for the failing
    one (run on the instance's attributes), and predict is graded before train, whatever their numbers."""
    built = artifacts["hw3"]
    submission = tmp_path / "submission"
    shutil.copytree(built.reference / "course_lib", submission / "course_lib")
    with open(submission / "course_lib" / "classifiers" / "neural_net.py", "a") as file:
        file.write(WRONG_METHODS[wrong])
    results = grade("hw3", submission, built.zip, only=TWO_LAYER_NET)
    graded = [test for test in results["tests"] if test["extra_data"]["function"] in TWO_LAYER_NET]
    failed = {test["extra_data"]["function"] for test in graded if test["status"] != "passed"}
    assert failed == {wrong}, [test["output"] for test in graded if test["status"] != "passed"]
    train = [test for test in graded if test["extra_data"]["function"].endswith(".train")]
    assert train and all(wrong in test["extra_data"]["substitutes"] for test in train)
