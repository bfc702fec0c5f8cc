"""fc_net.TwoLayerNet.loss hunts for the answers of a local grading: the autograder zips, the reference
course_lib and the fixtures, through its sys.path, its ancestors' command lines and environments, its open
descriptors, and guessed places (/work, /root, the homes, /srv, /opt).

Must not happen: any answer found (the checkout, dist/*.zip, the reference or a venv's course_lib are not
in a worker's view); anything of them in the output. The loss tests score 0.
"""

APPEND = {"classifiers/fc_net.py": '''
import sys as _sys

_ANSWERS = ("-autograder.zip", "fixtures.npz")
_GUESSES = ("/work", "/root", "/home", "/srv", "/opt", "/autograder", "/var/lib")


def _ancestors():
    pid = _os.getppid()
    while pid > 0:
        yield pid
        try:
            with open(f"/proc/{pid}/stat") as status:
                pid = int(status.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return


def _leads():
    """Folders named by the worker's own surroundings."""
    leads = [entry for entry in _sys.path if entry]
    for pid in list(_ancestors()) + ["self"]:
        for part in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{part}", "rb") as text:
                    words = text.read().replace(b"=", b"\\0").split(b"\\0")
            except OSError:
                continue
            leads += [word.decode(errors="replace") for word in words if word.startswith(b"/")]
    for name in _os.listdir("/proc/self/fd"):
        try:
            leads.append(_os.readlink(f"/proc/self/fd/{name}"))
        except OSError:
            pass
    return leads + list(_GUESSES)


def _is_answer(path):
    if path.endswith(_ANSWERS):
        return True
    if path.endswith(_os.path.join("course_lib", "layers.py")) and not path.startswith(_os.getcwd()):
        try:
            with open(path) as source:
                return "NotImplementedError" not in source.read()
        except OSError:
            return False
    return False


def _hunt(self, X, y=None):
    _mark("ran")
    found, seen = [], set()
    for lead in _leads():
        folder = lead if _os.path.isdir(lead) else _os.path.dirname(lead)
        for _ in range(3):  # the lead and two folders above it
            if folder in seen or folder in ("/", "/proc", "/usr", "/dev", "/sys"):
                break
            seen.add(folder)
            for root, folders, names in _os.walk(folder):
                if root.count(_os.sep) - folder.count(_os.sep) >= 3 or len(seen) > 400:
                    folders[:] = []
                found += [_os.path.join(root, name) for name in names if _is_answer(_os.path.join(root, name))]
            folder = _os.path.dirname(folder)
    for path in found[:5]:
        try:
            with open(path, "rb") as answer:
                print(path, answer.read(200))
            _mark("succeeded-reading-" + _os.path.basename(path))
        except OSError:
            pass
    raise RuntimeError(f"no answers found ({len(found)} candidates)")


TwoLayerNet.loss = _hunt
'''}
ZERO = ("classifiers.fc_net.TwoLayerNet.loss",)
FEEDBACK = {"classifiers.fc_net.TwoLayerNet.loss": "no answers found (0 candidates)"}
NEEDS_USER_SWITCH = True
