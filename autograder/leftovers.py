"""Ending a worker's processes and removing what it left behind (grading process side).

After every job the sandbox ends the worker's process group and, with a
dedicated workers' user, every process of that user; then it removes the
files that user owns in the folders anyone may write to (``/tmp``,
``/var/tmp``, ``/dev/shm``, ``/run/lock``, ... and the world-writable folders
inside them) and its System V shared memory, semaphores and message queues.
Workers in namespaces (``autograder.namespaces``) cannot leave anything
there, so for them this is a safety net; outside namespaces it is what keeps
one job from seeing the next. Only the given user's things are touched, so
gradings whose workers run as different users (``GRADER_USER``) never meet.
"""
import ctypes
import os
import shutil
import signal
import stat
import tempfile
import time

from autograder.isolation import log, processes_of
from autograder.namespaces import shared_folder

# Where any user may create files (a worker outside namespaces could leave some there).
TEMP_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue", "/run/shm")
LEFTOVER_DEPTH = 3  # levels of world-writable folders searched (e.g. /tmp/.X11-unix)


def end_processes(leader, identity, attempts=200):
    """Kill the worker's process group and, with a dedicated user, every process of that user
    (processes that left the group cannot be told apart from the grader's own when isolation is reduced)."""
    try:
        os.killpg(leader, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if identity is None:
        return
    for _ in range(attempts):
        found = processes_of(identity.uid)
        _reap_zombies(found)
        living = [pid for pid, (state, _) in found.items() if state != "Z"]
        if not living:
            return
        _kill_all_as(identity)
        time.sleep(0.01)
    log(f"processes of {identity.name} survived every attempt to end them: {sorted(living)}")


def _kill_all_as(identity):
    """kill(-1, SIGKILL) as the worker's user: every process of that user, however it detached itself."""
    pid = os.fork()
    if pid == 0:  # the child does nothing but switch user and signal
        try:
            os.setgroups([])
            os.setgid(identity.gid)
            os.setuid(identity.uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _reap_zombies(found):
    """Collect the exit status of dead processes (of ``processes_of``) handed to us as their subreaper."""
    me = os.getpid()
    for pid, (state, parent) in found.items():
        if state == "Z" and parent == me:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def remove_leftovers(identity):
    """Delete what the worker's user left in the shared temp folders and its System V IPC objects,
    so the next worker starts clean (a worker in namespaces leaves nothing there: this is a safety net)."""
    if identity is None:
        return
    for folder in sorted({os.path.realpath(path) for path in (tempfile.gettempdir(), *TEMP_FOLDERS)}):
        _remove_owned(folder, identity, LEFTOVER_DEPTH)
    remove_ipc_objects(identity)


def _remove_owned(folder, identity, depth):
    """Remove the entries of ``folder`` owned by the user; look inside others' world-writable folders too."""

    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            if info.st_uid == identity.uid:
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
            elif (stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IWOTH and depth > 1
                  and os.path.realpath(entry.path) != shared_folder()):  # the tests' proof marks stay
                _remove_owned(entry.path, identity, depth - 1)
        except OSError as error:
            log(f"could not remove {entry.path}, left by {identity.name}: {error}")


IPC_RMID = 0
IPC_KINDS = {"shm": ("shmid", "shmctl"), "sem": ("semid", "semctl"), "msg": ("msqid", "msgctl")}


def remove_ipc_objects(identity):
    """Remove the System V shared memory, semaphores and message queues the user owns or created."""

    libc = ctypes.CDLL(None, use_errno=True)
    for kind, (_, control) in IPC_KINDS.items():
        for number in ipc_objects(kind, identity.uid):
            arguments = (number, 0, IPC_RMID) if kind == "sem" else (number, IPC_RMID, None)
            if getattr(libc, control)(*arguments) != 0:
                log(f"could not remove System V {kind} {number} of {identity.name}: "
                    f"{os.strerror(ctypes.get_errno())}")


def ipc_objects(kind, uid):
    """Identifiers of the System V objects of ``kind`` ("shm", "sem", "msg") that ``uid`` owns or created."""
    try:
        with open(f"/proc/sysvipc/{kind}") as table:
            lines = table.read().splitlines()
    except OSError:
        return []
    if not lines:
        return []
    header = lines[0].split()
    number, owners = header.index(IPC_KINDS[kind][0]), (header.index("uid"), header.index("cuid"))
    rows = [line.split() for line in lines[1:] if line.strip()]
    return [int(row[number]) for row in rows if any(int(row[owner]) == uid for owner in owners)]
