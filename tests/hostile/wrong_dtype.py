"""FullyConnectedNet.loss returns its (correct) test-mode scores as an object array of Python floats.

Must not happen: an object array pickled back to the grading process, or the
train-mode tests affected. Only the scores test scores 0.
"""

APPEND = {"classifiers/fc_net.py": '''
_loss = FullyConnectedNet.loss


def _object_scores(self, X, y=None):
    _mark("ran")
    result = _loss(self, X, y)
    return result.astype(object) if y is None else result


FullyConnectedNet.loss = _object_scores
'''}
ZERO_TESTS = ("classifiers.fc_net.FullyConnectedNet.loss: scores",)
# Its test-mode scores in the three-layer float32 test are objects too: 4 of its 6 checks stand.
PARTIAL_TESTS = {"classifiers.fc_net.FullyConnectedNet.loss: three hidden layers, a batch of one, float32": 4 / 6}
FEEDBACK = {"classifiers.fc_net.FullyConnectedNet.loss: scores": "expected a numeric array"}
