"""neural_net.TwoLayerNet.train forks forever, each child leaving the process group in a new session.

Must not happen: more processes than the workers' process limit, any of them
alive after grading, or any other test affected. The train test scores 0.
Only contained with the dedicated workers' user (its process limit and
kill-everything-of-that-user cleanup), so it is skipped without it.
"""

APPEND = {"classifiers/neural_net.py": '''
def _bomb(self, *args, **kwargs):
    _mark("ran")
    if _as_root():
        return None
    while True:
        try:
            if _os.fork() == 0:
                _os.setsid()
        except OSError:
            pass


TwoLayerNet.train = _bomb
'''}
ZERO = ("classifiers.neural_net.TwoLayerNet.train",)
FEEDBACK = {"classifiers.neural_net.TwoLayerNet.train": "did not finish within"}
NEEDS_USER_SWITCH = True
