"""neural_net.TwoLayerNet.train prints 50 MB with print() and 1 MB straight to file descriptor 1, then trains correctly.

Must not happen: megabytes in results.json or read into the grading process;
the job's paths in what is shown. Printing costs nothing: full marks, and the
train test shows the start of the output (where the job's folder is replaced) with its total size.
"""

APPEND = {"classifiers/neural_net.py": '''
_train = TwoLayerNet.train


def _chatty_train(self, *args, **kwargs):
    _mark("ran")
    print("working in", _os.getcwd())
    print("x" * (50 << 20))
    _os.write(1, b"y" * (1 << 20))
    return _train(self, *args, **kwargs)


TwoLayerNet.train = _chatty_train
'''}
FEEDBACK = {"classifiers.neural_net.TwoLayerNet.train": " are shown:\nworking in <your submission>\nxxxx"}
