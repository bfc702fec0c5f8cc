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


# A batchnorm whose forward ignores bn_param's eps and whose cache is a dict of its own: the reference's
# forward cannot stand in (the student's backward cannot read its cache), so the backward is judged against
# the student's own forward, which shows a right backward right and a wrong one wrong.
OWN_CACHE_BATCHNORM = '''
_reference_backward, _reference_backward_alt = batchnorm_backward, batchnorm_backward_alt


def batchnorm_forward(x, gamma, beta, bn_param):
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1], dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(x.shape[1], dtype=x.dtype))
    if bn_param["mode"] == "test":
        return gamma * (x - running_mean) / np.sqrt(running_var + 1e-5) + beta, None
    mean, var = x.mean(axis=0), x.var(axis=0)
    std = np.sqrt(var + 1e-5)
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    x_hat = (x - mean) / std
    return gamma * x_hat + beta, {"centered": x - mean, "std": std, "x_hat": x_hat, "gamma": gamma}


def _as_tuple(cache):
    return cache["centered"], cache["std"], cache["x_hat"], cache["gamma"]


def batchnorm_backward(dout, cache):
    return _reference_backward(dout, _as_tuple(cache))


def batchnorm_backward_alt(dout, cache):
    dx, dgamma, dbeta = _reference_backward_alt(dout, _as_tuple(cache))
    return dx, DGAMMA_FACTOR * dgamma, dbeta
'''
BATCHNORM = ["layers.batchnorm_forward", "layers.batchnorm_backward", "layers.batchnorm_backward_alt"]


@pytest.mark.parametrize("dgamma_factor, failing", [
    (1, {"layers.batchnorm_forward"}),
    (2, {"layers.batchnorm_forward", "layers.batchnorm_backward_alt"}),
])
def test_a_backward_reading_its_own_cache_is_judged_against_the_students_forward(artifacts, tmp_path,
                                                                                 dgamma_factor, failing):
    built = artifacts["hw4"]
    submission = tmp_path / "submission"
    shutil.copytree(built.reference / "course_lib", submission / "course_lib")
    with open(submission / "course_lib" / "layers.py", "a") as file:
        file.write(OWN_CACHE_BATCHNORM.replace("DGAMMA_FACTOR", str(dgamma_factor)))
    results = grade("hw4", submission, built.zip, only=BATCHNORM)
    graded = [test for test in results["tests"] if test["extra_data"]["function"] in BATCHNORM]
    failed = {test["extra_data"]["function"] for test in graded if test["status"] != "passed"}
    assert failed == failing, [test["output"] for test in graded if test["status"] != "passed"]
    checked_against_own_forward = [test for test in graded if test["extra_data"]["function"] in BATCHNORM[1:]
                                   and "against the numerical gradient of your own forward pass" in test["output"]]
    assert checked_against_own_forward
