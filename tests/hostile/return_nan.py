"""fc_net.TwoLayerNet.loss returns scores with a NaN in test mode; its loss and gradients stay correct.

Must not happen: NaN compared as equal, or the correct parts losing credit.
Only the scores test scores 0 (and says NaN); the loss-and-gradient tests keep full marks.
"""

APPEND = {"classifiers/fc_net.py": '''
_loss = TwoLayerNet.loss


def _nan_scores(self, X, y=None):
    _mark("ran")
    result = _loss(self, X, y)
    if y is None:
        result = np.array(result, dtype=float)
        result[0, 0] = np.nan
    return result


TwoLayerNet.loss = _nan_scores
'''}
ZERO_TESTS = ("classifiers.fc_net.TwoLayerNet.loss: scores",)
FEEDBACK = {"classifiers.fc_net.TwoLayerNet.loss: scores": "NaN"}
