"""neural_net.TwoLayerNet.train calls os._exit(0): the worker ends at once, with a success exit code.

Must not happen: the exit taken for success; any other test affected. The train test scores 0.
"""

APPEND = {"classifiers/neural_net.py": '''
def _vanish(self, *args, **kwargs):
    _mark("ran")
    _os._exit(0)


TwoLayerNet.train = _vanish
'''}
ZERO = ("classifiers.neural_net.TwoLayerNet.train",)
FEEDBACK = {"classifiers.neural_net.TwoLayerNet.train": "ended without answering"}
