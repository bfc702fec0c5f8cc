"""fc_net.TwoLayerNet.loss imports the autograder (its judge, suites and sandbox) to cheat with it.

Must not happen: any autograder module importable in the worker, from the
installed packages or from the grading folders. The loss tests score 0.
"""

APPEND = {"classifiers/fc_net.py": '''
import importlib as _importlib
import sys as _sys


def _use_the_judge(self, X, y=None):
    _mark("ran")
    candidates = [None] + [_os.path.join(root, "source") for root in _roots()]
    for folder in candidates:
        if folder is not None:
            _sys.path.insert(0, folder)
        for name in ("autograder", "autograder.harness.judge", "autograder.suites", "autograder.sandbox"):
            try:
                _importlib.import_module(name)
            except Exception as error:
                print("blocked:", type(error).__name__)
                continue
            _mark("succeeded-importing-" + name)
    raise RuntimeError("the autograder is not importable")


TwoLayerNet.loss = _use_the_judge
'''}
ZERO = ("classifiers.fc_net.TwoLayerNet.loss",)
FEEDBACK = {"classifiers.fc_net.TwoLayerNet.loss": "the autograder is not importable"}
NEEDS_USER_SWITCH = True
