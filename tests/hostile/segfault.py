"""neural_net.TwoLayerNet.train reads address 0 through ctypes: a segmentation fault.

Must not happen: a core file; any other test affected. The train test scores 0 and names the crash.
"""

APPEND = {"classifiers/neural_net.py": '''
import ctypes as _ctypes


def _crash(self, *args, **kwargs):
    _mark("ran")
    _ctypes.string_at(0)


TwoLayerNet.train = _crash
'''}
ZERO = ("classifiers.neural_net.TwoLayerNet.train",)
FEEDBACK = {"classifiers.neural_net.TwoLayerNet.train": "segmentation fault"}
