"""neural_net.TwoLayerNet.predict writes to address 8 through ctypes: a segmentation fault.

Must not happen: a core file, or a vague reason. The predict test scores 0 and names the crash exactly;
the train test, which measures its accuracy with predict, runs with the reference's predict in its place
(predict is graded first) and keeps its points; nothing else is affected.
"""

APPEND = {"classifiers/neural_net.py": '''
import ctypes as _ctypes


def _crash(self, *args, **kwargs):
    _mark("ran")
    _ctypes.memmove(8, b"x", 1)


TwoLayerNet.predict = _crash
'''}
ZERO = ("classifiers.neural_net.TwoLayerNet.predict",)
FEEDBACK = {"classifiers.neural_net.TwoLayerNet.predict": "it crashed with a segmentation fault (SIGSEGV)"}
