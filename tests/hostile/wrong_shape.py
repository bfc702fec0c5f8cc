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
FEEDBACK = {"classifiers.fc_net.FullyConnectedNet.loss: scores": "shape"}
