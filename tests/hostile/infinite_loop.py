"""neural_net.TwoLayerNet.train never returns.

Must not happen: grading outlasting the test's wall-time limit; any other
test affected. The train test scores 0 and says it did not finish in time.
"""

APPEND = {"classifiers/neural_net.py": '''
def _spin(self, *args, **kwargs):
    _mark("ran")
    while True:
        pass


TwoLayerNet.train = _spin
'''}
ZERO = ("classifiers.neural_net.TwoLayerNet.train",)
FEEDBACK = {"classifiers.neural_net.TwoLayerNet.train": "did not finish within"}
