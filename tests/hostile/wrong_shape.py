"""FullyConnectedNet.loss returns its (correct) test-mode scores transposed.

Must not happen: broadcasting making a wrong shape pass. Only the scores test
scores 0, and its feedback names the shapes.
"""

APPEND = {"classifiers/fc_net.py": '''
_loss = FullyConnectedNet.loss


def _transposed_scores(self, X, y=None):
    _mark("ran")
    result = _loss(self, X, y)
    return result.T if y is None else result


FullyConnectedNet.loss = _transposed_scores
'''}
ZERO_TESTS = ("classifiers.fc_net.FullyConnectedNet.loss: scores",)
# Its test-mode scores in the three-layer float32 test are transposed too: 5 of its 6 checks stand.
PARTIAL_TESTS = {"classifiers.fc_net.FullyConnectedNet.loss: three hidden layers, a batch of one, float32": 5 / 6}
FEEDBACK = {"classifiers.fc_net.FullyConnectedNet.loss: scores": "shape"}
