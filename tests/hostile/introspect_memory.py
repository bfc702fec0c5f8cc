"""fc_net.TwoLayerNet.loss looks for the expected values in memory: every object the garbage collector
tracks and every frame's variables (fixture keys, arrays it was not given), the loaded modules, and the
memory of every process it can see (ptrace, /proc/<pid>/mem).

Must not happen: anything of the fixtures or the autograder found (the worker holds only the test's
inputs; the grading process is another user's, out of ptrace's and /proc's reach). The loss tests score 0.
"""

APPEND = {"classifiers/fc_net.py": '''
import ctypes as _ctypes
import gc as _gc
import inspect as _inspect
import sys as _sys

_SECRETS = ("::out::", "::in::", "expected", "fixtures", "reference")


def _look(value, where):
    texts = []
    if isinstance(value, (str, bytes)):
        texts = [value]
    elif isinstance(value, dict):
        texts = [key for key in value if isinstance(key, str)]
    for text in texts:
        text = text.decode(errors="replace") if isinstance(text, bytes) else text
        if "::out::" in text or "::in::" in text:
            _mark("succeeded-finding-a-fixture-key-in-" + where)
            return


def _search(self, X, y=None):
    _mark("ran")
    for value in _gc.get_objects():
        _look(value, "gc")
    for frame in _inspect.stack():
        for name, value in frame.frame.f_locals.items():
            _look(value, "frames")
            if name in ("expected", "fixtures", "reference", "judge"):
                _mark("succeeded-finding-" + name)
    if any(name.startswith("autograder") for name in _sys.modules):
        _mark("succeeded-finding-the-autograder-loaded")
    libc = _ctypes.CDLL(None, use_errno=True)
    for entry in _os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == _os.getpid():
            continue
        if libc.ptrace(16, int(entry), None, None) == 0:  # PTRACE_ATTACH
            _mark("succeeded-ptrace-" + entry)
        try:
            with open(f"/proc/{entry}/mem", "rb") as memory:
                memory.read(1)
            _mark("succeeded-reading-memory-of-" + entry)
        except OSError:
            pass
    raise RuntimeError("nothing to find")


TwoLayerNet.loss = _search
'''}
ZERO = ("classifiers.fc_net.TwoLayerNet.loss",)
FEEDBACK = {"classifiers.fc_net.TwoLayerNet.loss": "nothing to find"}
NEEDS_USER_SWITCH = True
