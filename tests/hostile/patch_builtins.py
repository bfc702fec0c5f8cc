"""fc_net.TwoLayerNet.loss rebinds abs, max, min, sum, round, float, len, all and any to lie, then returns zeros.

Must not happen: anything outside the worker believing the lies; any other
test affected. The loss tests score 0.
"""

APPEND = {"classifiers/fc_net.py": '''
import builtins as _builtins


def _lying_builtins(self, X, y=None):
    _mark("ran")
    _builtins.abs = lambda value: 0
    _builtins.max = lambda *args, **kwargs: 0
    _builtins.min = lambda *args, **kwargs: 0
    _builtins.sum = lambda *args, **kwargs: 0
    _builtins.round = lambda *args, **kwargs: 0
    _builtins.float = lambda *args: 0.0
    _builtins.len = lambda value: 0
    _builtins.all = lambda value: True
    _builtins.any = lambda value: False
    if y is None:
        return np.zeros((X.shape[0], 4))
    return 0.0, {name: np.zeros_like(value) for name, value in self.params.items()}


TwoLayerNet.loss = _lying_builtins
'''}
ZERO = ("classifiers.fc_net.TwoLayerNet.loss",)
