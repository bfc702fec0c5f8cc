"""fc_net.TwoLayerNet.loss returns zeros in an ndarray subclass that claims to equal anything.

The subclass answers True to ==, allclose and array_equal, lies about its length
and turns every ufunc into "equal". Must not happen: any of that
believed; only the stored numbers count. The scores test scores 0.
"""

APPEND = {"classifiers/fc_net.py": '''
class _Liar(np.ndarray):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.shape(inputs[0]), dtype=bool) if ufunc is np.not_equal else True

    def __array_function__(self, func, types, args, kwargs):
        return True

    def __len__(self):
        return 5


_loss = TwoLayerNet.loss


def _lying_scores(self, X, y=None):
    _mark("ran")
    if y is None:
        return np.zeros((X.shape[0], 4)).view(_Liar)
    return _loss(self, X, y)


TwoLayerNet.loss = _lying_scores
'''}
ZERO_TESTS = ("classifiers.fc_net.TwoLayerNet.loss: scores",)
