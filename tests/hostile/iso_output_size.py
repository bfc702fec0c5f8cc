"""neural_net.TwoLayerNet.train restores the default action of SIGXFSZ and writes 64 MB to its stdout descriptor.

Must not happen: the disk filled, or a vague reason. The file-size limit ends it with SIGXFSZ: the train test
scores 0 and names the output-size limit; nothing else is affected.
"""

APPEND = {"classifiers/neural_net.py": '''
import signal as _signal


def _flood(self, *args, **kwargs):
    _mark("ran")
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_DFL)
    for _ in range(64):
        _os.write(1, b"z" * (1 << 20))
    _mark("succeeded-writing-64MB")


TwoLayerNet.train = _flood
'''}
ZERO = ("classifiers.neural_net.TwoLayerNet.train",)
FEEDBACK = {"classifiers.neural_net.TwoLayerNet.train": "it wrote more output than allowed (the output-size limit is 16 MB per file)"}
