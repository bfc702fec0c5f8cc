"""neural_net.TwoLayerNet.train writes 50 MB straight to file descriptor 1 (past print()), then would train.

Must not happen: the grading process reading megabytes, or the disk filling:
the worker's stdout is a file under the file-size limit (16 MB), so the write
fails there. The train test scores 0 and says why; nothing else is affected.
"""

APPEND = {"classifiers/neural_net.py": '''
_train = TwoLayerNet.train


def _flood(self, *args, **kwargs):
    _mark("ran")
    block = b"y" * (1 << 20)
    for _ in range(50):
        _os.write(1, block)
    return _train(self, *args, **kwargs)


TwoLayerNet.train = _flood
'''}
ZERO = ("classifiers.neural_net.TwoLayerNet.train",)
FEEDBACK = {"classifiers.neural_net.TwoLayerNet.train": "File too large"}
