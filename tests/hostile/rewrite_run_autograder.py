"""At import, fc_net.py appends to run_autograder, setup.sh and the harness so the next run obeys it.

Must not happen: any autograder script or module modified. Importing the
module then fails, so every test of fc_net scores 0.
"""
from tests.hostile import FC_NET

APPEND = {"classifiers/fc_net.py": '''
_mark("ran")
for _root in _roots():
    for _relative in ("run_autograder", "source/run_autograder", "source/setup.sh",
                      "source/autograder/harness/pipeline.py", "source/autograder/worker.py"):
        try:
            with open(_os.path.join(_root, _relative), "a") as _script:
                _script.write("\\necho full marks\\n")
        except OSError as _error:
            print("blocked:", _error)
            continue
        _mark("succeeded-rewriting-" + _relative.replace("/", "-"))
raise ImportError("the autograder could not be rewritten")
'''}
ZERO = FC_NET
NEEDS_USER_SWITCH = True
