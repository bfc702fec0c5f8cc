"""Private namespaces for workers (bubblewrap): a worker sees its job folder, Python and numpy, and nothing else.

``autograder.sandbox`` starts each worker through ``bwrap`` when ``available()``
says the platform allows it (decided once per grading by a tiny probe). The
worker then has its own mount, PID, network, UTS and IPC namespaces:

- its filesystem is a fresh root holding, read-only, ``/usr`` (and the
  ``/bin``, ``/lib`` links), the Python installation and numpy (at ``/numpy``),
  with every site-packages folder hidden; read-write only its job folder (at
  ``/job``) and a small private ``/tmp`` and ``/dev/shm``; a minimal ``/dev``
  and the ``/proc`` of its own PID namespace. The checkout, ``/root``,
  ``/work``, the homes and the autograder are simply not there;
- it has no network (only its own loopback) and sees no other process;
- System V IPC lives in a namespace of its own, capped to
  ``Limits.shared_bytes`` (the grading process sets the caps before ``bwrap``
  starts, see ``autograder.isolation.child_limits``), and disappears with it.

As root, bwrap keeps only the capabilities the launcher needs to switch to the
workers' user (which then drops them all); without root it maps the calling
user in a user namespace. Where bwrap is missing or refused (e.g. in a
container that forbids namespaces), workers run with the user switch and
resource limits only, and the log says so. ``GRADER_NAMESPACES=off`` forces
that fallback (to test it).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SWITCH_VARIABLE = "GRADER_NAMESPACES"  # "off": no namespaces (tests the fallback)
# A world-writable folder shown read-write to workers at its own path: only the hostile
# corpus's tests set it, so that attacks can leave their proof marks; the log names it.
SHARED_VARIABLE = "GRADER_SHARED_FOLDER"
JOB = "/job"  # where the job folder appears inside the namespace
NUMPY = "/numpy"  # the folder holding numpy inside the namespace
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
SITE_FOLDERS = ("site-packages", "dist-packages")
PROBE_SECONDS = 20

_decided = []


def available(log, numpy_home):
    """(True, "") when workers can run in namespaces here, else (False, why not); probed once per process."""
    if not _decided:
        _decided.append(_probe(numpy_home))
        if _decided[0][0]:
            log("student code runs in private namespaces (bubblewrap: mount, PID, IPC, network, UTS): it sees "
                "only its job folder, Python and numpy, and has no network")
            if shared_folder():
                log(f"{shared_folder()} is shared with every worker ({SHARED_VARIABLE} is set)")
        else:
            log(f"NAMESPACES ARE OFF: {_decided[0][1]}; student code can read world-readable files and open "
                "network connections. Install bubblewrap (apt-get install bubblewrap) where namespaces are "
                "allowed for full isolation.")
    return _decided[0]


def _probe(numpy_home):
    if os.environ.get(SWITCH_VARIABLE) == "off":
        return False, f"{SWITCH_VARIABLE}=off is set"
    if bwrap() is None:
        return False, "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory(prefix="namespace-probe-") as job:
        command = command_line(sys.executable, job, numpy_home, shared_bytes=1 << 20, launcher=None,
                               ipc_ready=False)
        probe = f"import sys; sys.path.append({NUMPY!r}); import numpy"
        command, options = hide_options(command + ["-c", probe])
        try:
            completed = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, timeout=PROBE_SECONDS, pass_fds=(options,))
        except (OSError, subprocess.TimeoutExpired) as error:
            return False, f"bubblewrap could not run ({error})"
        finally:
            os.close(options)
    if completed.returncode != 0:
        said = completed.stdout.decode(errors="replace").strip().splitlines()
        return False, f"bubblewrap was refused ({said[-1] if said else f'exit code {completed.returncode}'})"
    return True, ""


def shared_folder():
    """The folder named by SHARED_VARIABLE, when it is a world-writable sticky folder (like /tmp), else None."""
    folder = os.environ.get(SHARED_VARIABLE)
    if folder and os.path.isdir(folder) and os.stat(folder).st_mode & 0o1777 == 0o1777:
        return os.path.realpath(folder)
    return None


def bwrap():
    return shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")


def numpy_folders(numpy_home):
    """The folders of a numpy installation to show the worker: the package and its bundled libraries."""
    return [name for name in ("numpy", "numpy.libs") if os.path.isdir(os.path.join(numpy_home, name))]


def python_inside(python):
    """The interpreter a namespaced worker runs: the real binary behind a virtual environment's link."""
    return os.path.realpath(python)


def command_line(python, job, numpy_home, shared_bytes, launcher, ipc_ready, info=None):
    """The bwrap command (up to the interpreter's options) that runs ``python`` inside a worker's namespaces.

    job: the job folder, seen as JOB; numpy_home: the folder holding numpy, seen as NUMPY;
    launcher: the descriptor of the launcher script, kept open across exec;
    ipc_ready: the caller already moved into a capped IPC namespace of its own;
    info: a descriptor on which bwrap writes its child's pid (see child_pid).
    """
    python = python_inside(python)
    command = [bwrap(), "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-uts",
               "--unshare-cgroup-try", "--hostname", "worker"]
    if info is not None:
        command += ["--info-fd", str(info)]
    if not ipc_ready:
        command.append("--unshare-ipc")
    if os.geteuid() == 0:  # keep only what switching to the workers' user needs; the launcher drops those too
        command += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        command.append("--unshare-user")
    command += ["--ro-bind", "/usr", "/usr"]
    for path in SYSTEM_LINKS:
        if os.path.islink(path):
            command += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            command += ["--ro-bind", path, path]
    for path in SYSTEM_FILES:
        command += ["--ro-bind-try", path, path]
    prefix = Path(sys.base_prefix).resolve()
    if not _inside(prefix, "/usr"):
        for parent in reversed(prefix.parents[:-1]):  # made crossable: the real ones may be closed (/root)
            command += ["--perms", "0755", "--dir", str(parent)]
        command += ["--ro-bind", str(prefix), str(prefix)]
    for folder in _site_folders(prefix):  # installed packages stay hidden: a course_lib may be among them
        command += ["--tmpfs", folder, "--remount-ro", folder]
    command += ["--perms", "0755", "--dir", NUMPY]
    for name in numpy_folders(numpy_home):
        command += ["--ro-bind", os.path.join(numpy_home, name), f"{NUMPY}/{name}"]
    command += ["--proc", "/proc", "--dev", "/dev"]
    for scratch in ("/tmp", "/dev/shm"):  # private, small, and like the real ones writable by anyone
        command += ["--size", str(shared_bytes), "--perms", "1777", "--tmpfs", scratch]
    shared = shared_folder()
    if shared:
        for parent in reversed(Path(shared).parents[:-1]):
            if str(parent) not in ("/tmp", "/dev/shm"):
                command += ["--perms", "0755", "--dir", str(parent)]
        command += ["--bind", shared, shared]
    command += ["--bind", str(job), JOB, "--chdir", "/"]
    command += ["--", python, "-I", "-S", "-B"]
    if launcher is not None:
        command.append(f"/proc/self/fd/{launcher}")
    return command


def hide_options(command):
    """(command, descriptor): bwrap reads its options from the descriptor (a pipe), so that they, which
    name the host's paths, do not show in the command line of the sandbox's first process (/proc/1/cmdline)."""
    end = command.index("--")
    reader, writer = os.pipe()
    with os.fdopen(writer, "wb") as options:
        options.write(b"".join(option.encode() + b"\0" for option in command[1:end]))
    return [command[0], "--args", str(reader)] + command[end:], reader


def child_pid(info):
    """The pid (here, outside its PID namespace) of the process bwrap started, read from its info descriptor;
    -1 when bwrap ended before saying (then there is nothing to measure)."""
    with os.fdopen(info, "rb") as told:
        said = told.read(4096)
    try:
        return int(json.loads(said.decode())["child-pid"])
    except (ValueError, KeyError, TypeError):
        return -1


def _inside(path, folder):
    return path == Path(folder) or Path(folder) in path.parents


def _site_folders(prefix):
    """Every site-packages or dist-packages folder under /usr and the Python prefix (bound into the view)."""
    found = set()
    for root in {Path("/usr"), prefix}:
        for pattern in ("lib/python3*/", "local/lib/python3*/", "lib/python3/"):
            for folder in root.glob(pattern):
                found.update(str(folder / name) for name in SITE_FOLDERS if (folder / name).is_dir())
    return sorted(found)
