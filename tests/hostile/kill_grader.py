"""neural_net.TwoLayerNet.train signals the grading process, every other process it can see, then kill(-1).

Must not happen: the grading process or anything not run by the workers'
user stopped. Only the worker itself dies: the train test scores 0, the rest are graded.
"""

APPEND = {"classifiers/neural_net.py": '''
import signal as _signal


def _kill_everyone(self, *args, **kwargs):
    _mark("ran")
    if _as_root():
        return None
    targets = [_os.getppid()] + [int(name) for name in _os.listdir("/proc") if name.isdigit()]
    for pid in targets:
        if pid in (_os.getpid(), 1):
            continue
        try:
            _os.kill(pid, _signal.SIGKILL)
        except OSError:
            continue
        if pid == _os.getppid():
            _mark("succeeded-killing-the-grader")
    _os.kill(-1, _signal.SIGKILL)


TwoLayerNet.train = _kill_everyone
'''}
ZERO = ("classifiers.neural_net.TwoLayerNet.train",)
NEEDS_USER_SWITCH = True
