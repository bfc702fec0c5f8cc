"""Keeping student code away from the autograder: an unprivileged user, resource limits, private files.

The grading process (``autograder.sandbox``, ``autograder.harness``) uses the
first half: it decides who workers run as (``sandbox_identity``), makes the
autograder's folders private (``protect``), hands each job folder to the
workers' user, sets the limits of each worker (and, where the kernel allows
it, an IPC namespace of its own with capped shared memory), and runs workers
one at a time per user; ``autograder.leftovers`` ends what a worker left
running and removes what it left behind, and ``autograder.namespaces`` adds
private namespaces where bubblewrap works.

The second half is the worker's first code: the sandbox starts ``python -I -S
-B isolation.py launch JOB NUMPY_HOME [UID GID]`` as root (inside namespaces
this file is read through an inherited descriptor), which drops to the
workers' user for good, then execs a fresh interpreter on ``JOB/worker.py``,
so nothing of this file stays in the process that runs student code. Only
when that user cannot reach the Python installation (e.g. under ``/root``,
outside namespaces) does the worker run inside this interpreter, its import
folders reopened through directory descriptors taken before the drop, which
grant nothing beyond reading that installation.

Full isolation needs root, which Gradescope gives: workers run as the user
``grader-student`` (created by setup.sh, or here on first use), which can
read its job folder and the Python installation, and nothing of the
autograder. Without root, or with ``GRADER_ISOLATION=reduced``, workers run as
the grading user with the same limits; they could read the autograder's
files, and the log says so.
"""
import os
import re
import stat
import sys
from collections import namedtuple
from contextlib import contextmanager

SANDBOX_USER = "grader-student"
USER_VARIABLE = "GRADER_USER"  # another name for the workers' user
MODE_VARIABLE = "GRADER_ISOLATION"  # "reduced": no user switch even as root (to test the fallback)
PRIVATE = 0o700
LOCK_FOLDER = "/run"  # holds one lock per workers' user: gradings with different users run side by side
USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38


class IsolationError(RuntimeError):
    """The workers' user cannot be set up; the message says what to fix."""


Identity = namedtuple("Identity", "name uid gid")  # the unprivileged user workers run as


# The grading process ----------------------------------------------------------

_chosen = []


def log(message):
    """One line for the autograder log (run_autograder's output, seen by instructors only)."""
    print(f"[isolation] {message}", file=sys.stderr, flush=True)


def sandbox_identity():
    """The Identity workers run as, or None when isolation is reduced; decided once per process."""
    if not _chosen:
        _chosen.append(_choose_identity())
    return _chosen[0]


def _choose_identity():
    if os.environ.get(MODE_VARIABLE) == "reduced":
        reason = f"{MODE_VARIABLE}=reduced is set"
    elif os.geteuid() != 0:
        reason = "the autograder is not running as root"
    else:
        identity = ensure_user(os.environ.get(USER_VARIABLE) or SANDBOX_USER)
        log(f"student code runs as the unprivileged user {identity.name} (uid {identity.uid}); "
            "the autograder's files are out of its reach")
        return identity
    log(f"ISOLATION IS REDUCED: {reason}, so student code runs as the grading user (uid {os.getuid()}) "
        "with resource limits only; it can read the autograder's files. Run as root, as Gradescope does, "
        "for full isolation.")
    return None


def ensure_user(name):
    """The Identity of user ``name``, created (system user, no home, no login) when missing; needs root."""
    import pwd

    if not USER_NAME.fullmatch(name):
        raise IsolationError(f"{name!r} is not a valid user name for the workers (set by {USER_VARIABLE})")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        entry = None
    if entry is None:
        _create_user(name)
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise IsolationError(f"the workers' user {name} must be unprivileged, but it has uid {entry.pw_uid} "
                             f"and gid {entry.pw_gid}")
    if not _made_for_workers(entry):
        raise IsolationError(f"{USER_VARIABLE}={name} is an account the grader did not create (home "
                             f"{entry.pw_dir}, shell {entry.pw_shell}, uid {entry.pw_uid}); the grader ends every "
                             f"process of its workers' user and deletes that user's files in /tmp, so it needs "
                             f"a user of its own: set {USER_VARIABLE} to a new name")
    return Identity(name, entry.pw_uid, entry.pw_gid)


def _made_for_workers(entry):
    """Whether an account looks as _create_user makes it: a system user with no home and no login whose
    primary group is its own (``nobody``, ``_apt`` or a person's account share theirs or have a home)."""
    import grp

    try:
        group = grp.getgrgid(entry.pw_gid)
    except KeyError:
        return False
    return (entry.pw_dir == "/nonexistent" and os.path.basename(entry.pw_shell) in ("nologin", "false")
            and entry.pw_uid < 1000 and group.gr_name == entry.pw_name and not group.gr_mem)


def _create_user(name):
    import subprocess

    command = ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
               "--shell", "/usr/sbin/nologin", *_group_option(name), name]
    try:
        completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as error:
        raise IsolationError(f"cannot create the workers' user {name}: {error}") from None
    if completed.returncode != 0:
        raise IsolationError(f"cannot create the workers' user {name}: {completed.stdout.strip()}")
    log(f"created the workers' user {name}")


def _group_option(name):
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return ["--user-group"]
    return ["--gid", name]


_private = []


def private_paths():
    """The folders made private so far, longest first: never shown to students (see scrub)."""
    return sorted(_private, key=len, reverse=True)


def protect(*paths):
    """Make folders (and files) private to their owner: the autograder's source, results and uploads."""
    for path in paths:
        path = os.path.abspath(path)
        if path not in _private:
            _private.append(path)
        try:
            if os.path.lexists(path) and not os.path.islink(path):
                os.chmod(path, PRIVATE)
        except OSError as error:
            log(f"could not make {path} private: {error}")


def prepare_grading():
    """Start of a grading run: the workers' user is settled, and their orphaned processes come back to us.

    Raises IsolationError when that user cannot be used.
    """
    if sandbox_identity() is not None:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)


def _prctl(option, value):
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def hand_over(job, identity):
    """Give the worker's user its job folder (private to it); nothing to do when isolation is reduced."""
    if identity is None:
        return
    for folder, subfolders, names in os.walk(job):
        for name in subfolders + names:
            os.lchown(os.path.join(folder, name), identity.uid, identity.gid)
    os.chown(job, identity.uid, identity.gid)
    os.chmod(job, PRIVATE)


def launch_command(python, job, numpy_home, identity):
    """The worker's command line: ``python`` without site-packages runs this file (which stays out of
    the worker's reach), then ``job``/worker.py."""
    command = [str(python), "-I", "-S", "-B", os.path.abspath(__file__), "launch", str(job), numpy_home]
    return command + ([str(identity.uid), str(identity.gid)] if identity is not None else [])


def child_limits(identity, cpu_seconds, memory_bytes, file_bytes, processes, shared_bytes=None):
    """A preexec function setting a worker's resource limits (computed here, applied in the child).

    The process limit counts every process of the user: with a dedicated user
    it bounds the worker alone; otherwise the grading user's current processes
    are added so that the worker can still start (and root ignores it). The
    CPU limit's hard value is a second above the soft one, so that running out
    of CPU time ends the worker with SIGXCPU (which names the cause), not SIGKILL.
    shared_bytes: when given, the child first moves into an IPC namespace of its
    own whose System V shared memory and message queues are capped to it.
    """
    import resource

    if identity is None and os.getuid() != 0:
        processes += len(processes_of(os.getuid()))
    wanted = ((resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1), (resource.RLIMIT_AS, memory_bytes, memory_bytes),
              (resource.RLIMIT_FSIZE, file_bytes, file_bytes), (resource.RLIMIT_NPROC, processes, processes),
              (resource.RLIMIT_CORE, 0, 0))
    settings = []
    for kind, soft, hard in wanted:
        _, ceiling = resource.getrlimit(kind)
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        settings.append((kind, int(soft), int(hard)))

    def apply():
        if shared_bytes is not None:
            enter_private_ipc(shared_bytes)
        for kind, soft, hard in settings:
            resource.setrlimit(kind, (soft, hard))
    return apply


CLONE_NEWIPC = 0x08000000
QUEUES = 16  # System V message queues and shared memory segments a worker may create


def enter_private_ipc(shared_bytes):
    """Move this process into a new IPC namespace whose System V objects fit in ``shared_bytes``.

    The caps are the namespace's own sysctls, so they must be written from
    inside it, before the worker starts; the namespace and everything in it
    disappear with its last process. Raises OSError where namespaces are refused.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWIPC) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    page = os.sysconf("SC_PAGE_SIZE")
    caps = {"shmmax": shared_bytes, "shmall": max(1, shared_bytes // page), "shmmni": QUEUES,
            "msgmni": QUEUES, "msgmnb": max(1, shared_bytes // QUEUES), "msgmax": max(1, shared_bytes // QUEUES)}
    for name, value in caps.items():
        with open(f"/proc/sys/kernel/{name}", "w") as setting:
            setting.write(str(value))


_private_ipc = []


def private_ipc_possible():
    """True when a worker can get a capped IPC namespace of its own here (probed once, in a child process)."""
    if not _private_ipc:
        possible = False
        if os.geteuid() == 0:
            pid = os.fork()
            if pid == 0:
                try:
                    enter_private_ipc(1 << 20)
                except OSError:
                    os._exit(1)
                os._exit(0)
            possible = os.waitpid(pid, 0)[1] == 0
        _private_ipc.append(possible)
    return _private_ipc[0]


def readable_by(identity, paths):
    """The paths among ``paths`` that ``identity`` could read, tried by a child process running as that user."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child only switches user and tries
        try:
            os.close(reader)
            os.setgroups([])
            os.setgid(identity.gid)
            os.setuid(identity.uid)
            found = [str(index) for index, path in enumerate(paths) if os.access(path, os.R_OK)]
            os.write(writer, ",".join(found).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as answer:
        found = answer.read().decode()
    os.waitpid(pid, 0)
    return [paths[int(index)] for index in found.split(",") if index]


@contextmanager
def serialized(identity):
    """The workers' user is ours alone meanwhile, across grading processes (nothing to do when reduced).

    The lock is per user: gradings whose workers run as different users
    (``GRADER_USER``) never wait for each other.
    """
    if identity is None:
        yield
        return
    import fcntl

    path = os.path.join(LOCK_FOLDER, f"grader-sandbox-{identity.name}.lock")
    try:
        lock = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        log(f"workers are not serialized ({path}: {error}); run one grading at a time")
        yield
        return
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)  # which releases the lock


def processes_of(uid):
    """{pid: (state, parent pid)} of every process whose real user is ``uid``."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:  # the process ended meanwhile
            continue
        if int(fields["Uid"].split()[0]) == uid:
            found[int(name)] = (fields["State"].split()[0], int(fields["PPid"]))
    return found


def scrub(value, replacements):
    """``value`` (str, or dicts/lists of them) with each path in ``replacements`` replaced by its label."""
    if isinstance(value, str):
        for path, label in replacements:
            value = value.replace(path, label)
        return value
    if isinstance(value, dict):
        return {scrub(key, replacements): scrub(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, replacements) for item in value]
    return value


# The worker side: runs as root for a moment, then as the worker's user -------------

_descriptors = {}


def reopened(path):
    """``path``, or the same folder through a descriptor when the worker's user could not walk to it.

    The descriptor is taken on the first folder below the last one that others
    cannot cross (e.g. ``/root/.pyenv`` for a Python under ``/root``), so the
    worker gains nothing but that folder's own (world-readable) contents.
    """
    if not os.path.isabs(path) or not os.path.isdir(path):
        return path
    depth = _closed_depth(path)
    if depth is None:
        return path
    parts = [part for part in path.split(os.sep) if part]
    anchor = os.sep + os.sep.join(parts[:depth + 1])
    if anchor not in _descriptors:
        _descriptors[anchor] = os.open(anchor, os.O_RDONLY | os.O_DIRECTORY)
    return os.path.join(f"/proc/self/fd/{_descriptors[anchor]}", *parts[depth + 1:])


def _closed_depth(path):
    """How deep the last folder above ``path`` that others cannot cross is (0: /), or None if there is none."""
    parts = [part for part in path.split(os.sep) if part]
    above = [os.sep + os.sep.join(parts[:depth]) for depth in range(len(parts))]
    closed = [depth for depth, folder in enumerate(above) if not os.stat(folder).st_mode & stat.S_IXOTH]
    return closed[-1] if closed else None


def reopen_import_paths():
    """Point sys.path and loaded packages' __path__ at folders the worker's user can still reach."""
    sys.path[:] = [reopened(entry) for entry in sys.path]
    for module in list(sys.modules.values()):
        search = getattr(module, "__path__", None)
        if isinstance(search, list):
            search[:] = [reopened(entry) for entry in search]
    sys.path_importer_cache.clear()


def drop_privileges(uid, gid):
    """Become ``uid``/``gid`` for good, with no supplementary groups and no way to gain privileges back."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise IsolationError("root privileges could be regained after dropping them")


def launch(job, numpy_home, uid=None, gid=None):
    """Run ``job``/worker.py as the worker, with numpy importable, after dropping to ``uid``/``gid`` when given.

    The worker gets a fresh interpreter (exec) whenever the workers' user can
    reach Python, so that nothing of this launcher (code, paths, descriptors)
    is left in the process that runs student code; only a Python out of that
    user's reach (outside namespaces) makes it run inside this interpreter.
    """
    _close_own_script()
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if entry != here]
    worker = os.path.join(job, "worker.py")
    python = os.path.realpath(sys.executable)
    fresh = uid is None or all(_closed_depth(path) is None for path in (python, os.path.dirname(os.__file__)))
    if uid is not None:
        numpy_home = reopened(numpy_home)
        if not fresh:
            reopen_import_paths()
        drop_privileges(int(uid), int(gid))
    os.umask(0o077)
    os.chdir(os.path.join(job, "submission"))  # only the workers' user may enter the job folder
    if fresh:
        for descriptor in _descriptors.values():
            os.set_inheritable(descriptor, True)
        environment = {key: value for key, value in os.environ.items() if key != "PWD"}  # set by bwrap
        os.execve(python, [python, "-I", "-S", "-B", worker, numpy_home], environment)
    import runpy

    sys.argv[:] = [worker, numpy_home]  # worker.py adds numpy's folder to its import path
    runpy.run_path(worker, run_name="__main__")


def _close_own_script():
    """Inside namespaces this file is read through an inherited descriptor: close it before student code runs."""
    folder, name = os.path.split(sys.argv[0])
    if folder == "/proc/self/fd" and name.isdigit():
        os.close(int(name))


def main(argv):
    """``launch JOB NUMPY_HOME [UID GID]`` (the worker) or ``setup SOURCE`` (setup.sh: the user, private files)."""
    if len(argv) in (3, 5) and argv[0] == "launch":
        launch(*argv[1:])
        return 0
    if len(argv) == 2 and argv[0] == "setup":
        sandbox_identity()
        protect(argv[1])
        return 0
    print("usage: isolation.py launch JOB NUMPY_HOME [UID GID] | setup SOURCE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
