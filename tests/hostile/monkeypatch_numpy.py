"""fc_net.py makes numpy.allclose, array_equal and numpy.testing always agree, and FullyConnectedNet.loss returns zeros.

Must not happen: the grading process's numpy affected (it compares with its
own); any test outside FullyConnectedNet.loss affected, though every fc_net
test runs with the patched numpy. The FullyConnectedNet.loss tests score 0.
"""

APPEND = {"classifiers/fc_net.py": '''
import numpy.testing as _testing

_mark("ran")
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
_testing.assert_allclose = lambda *args, **kwargs: None
_testing.assert_array_almost_equal = lambda *args, **kwargs: None
_testing.assert_array_equal = lambda *args, **kwargs: None


def _zeros(self, X, y=None):
    if y is None:
        return np.zeros((X.shape[0], 3))
    return 0.0, {name: np.zeros_like(value) for name, value in self.params.items()}


FullyConnectedNet.loss = _zeros
'''}
ZERO = ("classifiers.fc_net.FullyConnectedNet.loss",)
