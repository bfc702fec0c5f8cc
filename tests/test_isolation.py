"""Isolation of student code, in both modes: private namespaces (bubblewrap) and the fallback (user switch
and resource limits only, forced with GRADER_NAMESPACES=off).

Probe functions run through the sandbox check what a worker can reach (the checkout, the network), what it
leaves behind (files, System V IPC objects, processes) and the exact reason named when a limit ends it.
Local grading refuses, outside namespaces, while the answers are readable by the workers' user. A full hw3
grading inside a 768 MB memory cgroup gets the exact scores. Most of this needs root (the user switch,
namespaces as root, cgroups), as Gradescope and CI have.
"""
import ctypes
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder import isolation, leftovers, namespaces
from autograder.local import ExposedAnswersError, guard_answers
from autograder.sandbox import NUMPY_HOME, Limits, run_worker
from autograder.suites.spec import call, inp, program, res
from tests.autograder_support.artifacts import shared_artifacts
from tests.autograder_support.releases import REPO_ROOT
from tests.hostile import load_cases, write_submission

AS_ROOT = os.geteuid() == 0
NEEDS_ROOT = pytest.mark.skipif(not AS_ROOT, reason="the workers' user, namespaces as root and cgroups need root")
IPC_CREATE = 0o1000 | 0o600  # IPC_CREAT, read and write for the owner
LEFT_IN = ("/run/lock", "/dev/shm", "/var/tmp", "/tmp")
CGROUP_BYTES = 768 << 20  # Gradescope's default container

PROBE = '''
import ctypes
import os
import signal
import socket
import sys

import numpy as np


def crash(x):
    ctypes.memmove(8, b"x", 1)


def spin(x):
    while True:
        pass


def stubborn(x):
    """Ignores SIGXCPU: the hard CPU limit, a second later, ends it with SIGKILL."""
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    while True:
        pass


def suicide(x):
    os.kill(os.getpid(), signal.SIGKILL)


def hoard(x):
    grown = bytearray()
    while True:
        grown += bytes(1 << 20)


def flood(x):
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    for _ in range(8):
        os.write(1, b"z" * (1 << 20))
    return x


def litter(x, name):
    """Leave System V objects and files behind; [small shm made, 1 GB shm made, semaphores, queue, files]."""
    libc = ctypes.CDLL(None, use_errno=True)
    made = [libc.shmget(0, 1 << 20, 0o1600) >= 0, libc.shmget(0, 1 << 30, 0o1600) >= 0,
            libc.semget(0, 4, 0o1600) >= 0, libc.msgget(0, 0o1600) >= 0]
    files = 0
    for folder in ("/run/lock", "/dev/shm", "/var/tmp", "/tmp"):
        try:
            with open(os.path.join(folder, name), "w") as left:
                left.write("left behind")
            files += 1
        except OSError:
            pass
    return np.array(made + [files])


def connect(x, port):
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=2):
            return np.array(1)
    except OSError:
        return np.array(0)


def ancestors():
    pid = os.getppid()
    while pid > 0:
        yield pid
        with open(f"/proc/{pid}/stat") as status:
            pid = int(status.read().rsplit(")", 1)[1].split()[1])


def hunt(x, secret_folder, *secret_files):
    """[secret files readable, the secret folder named by sys.path / an ancestor / environ / a descriptor]."""
    readable = 0
    for path in secret_files:
        try:
            with open(path, "rb") as secret:
                secret.read(1)
            readable += 1
        except OSError:
            pass
    texts = list(sys.path)
    for pid in list(ancestors()) + ["self"]:
        for part in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{part}", "rb") as text:
                    texts.append(text.read().decode(errors="replace"))
            except OSError:
                pass
    for name in os.listdir("/proc/self/fd"):
        try:
            texts.append(os.readlink(f"/proc/self/fd/{name}"))
        except OSError:
            pass
    return np.array([readable, sum(secret_folder in text for text in texts)])


def long_line(x, count):
    print("y" * int(count) + os.getcwd() + "/course_lib/probe.py")
    return x
'''


@pytest.fixture
def library(tmp_path):
    folder = tmp_path / "submission"
    (folder / "course_lib").mkdir(parents=True)
    (folder / "course_lib" / "__init__.py").write_text("")
    (folder / "course_lib" / "probe.py").write_text(PROBE)
    return folder


def choose_mode(mode, monkeypatch):
    """Workers in namespaces or in the fallback from now on (the choice is cached per process)."""
    monkeypatch.setattr(namespaces, "_decided", [])
    if mode == "fallback":
        monkeypatch.setenv(namespaces.SWITCH_VARIABLE, "off")
    else:
        monkeypatch.delenv(namespaces.SWITCH_VARIABLE, raising=False)
        if not namespaces.available(isolation.log, NUMPY_HOME)[0]:
            pytest.skip(f"namespaces are unavailable here: {namespaces.available(isolation.log, NUMPY_HOME)[1]}")


@pytest.fixture(params=["namespaces", "fallback"])
def mode(request, monkeypatch):
    choose_mode(request.param, monkeypatch)
    return request.param


def run(library, function, *args, limits=Limits(wall_seconds=20)):
    body = program([call(f"probe.{function}", inp("x"), *args)], {"out": res(0)})
    return run_worker({"programs": [body]}, [{"x": np.arange(3.0)}], library, limits)


def output(result):
    assert result.status == "ok", (result.problem, result.log)
    arrays, reply = result.programs[0]
    assert reply["status"] == "ok", reply["error"]
    return arrays["out"].tolist()


# Kill reasons -------------------------------------------------------------------------------------

@pytest.mark.parametrize("function, limits, reason", [
    ("crash", Limits(wall_seconds=20),
     "the process ended without answering: it crashed with a segmentation fault (SIGSEGV)"),
    ("spin", Limits(wall_seconds=30, cpu_seconds=1),
     "the process ended without answering: it used up its CPU-time limit (1 s of CPU)"),
    ("stubborn", Limits(wall_seconds=30, cpu_seconds=1),
     "the process ended without answering: it used up its CPU-time limit (1 s of CPU)"),
    ("suicide", Limits(wall_seconds=20),
     "the process ended without answering: it was killed by signal SIGKILL (not by a limit of the autograder)"),
    ("spin", Limits(wall_seconds=1),
     "it did not finish within 1 s (the wall-time limit of each test)"),
    ("flood", Limits(wall_seconds=20, file_bytes=1 << 20),
     "the process ended without answering: it wrote more output than allowed (the output-size limit is 1 MB "
     "per file)"),
])
def test_the_limit_that_ended_a_worker_is_named(mode, library, function, limits, reason):
    result = run(library, function, limits=limits)
    assert not result.programs and result.problem == reason


def test_running_out_of_memory_names_the_memory_limit(mode, library):
    result = run(library, "hoard", limits=Limits(wall_seconds=20, memory_bytes=384 << 20))
    error = result.programs[0][1]["error"]
    assert error["type"] == "MemoryError"
    assert error["message"].endswith("(out of memory: the worker may use 384 MB of memory)")


def test_paths_are_replaced_before_printed_text_is_cut(mode, library):
    """A path that straddles the 4000 characters shown must not show its start (the job's folder)."""
    for count in (3990, 3970):
        result = run(library, "long_line", count)
        head = result.programs[0][1]["printed"]["head"]
        assert len(head) == 4000 and "worker-job-" not in head and "/job" not in head
        assert head.startswith("y" * count + "<your submission>"[:4000 - count])


# What workers reach -------------------------------------------------------------------------------

@NEEDS_ROOT
def test_workers_find_no_answers_in_namespaces(monkeypatch, library, tmp_path):
    """Neither the checkout's reference and zips nor a zip in an open folder, by any lead."""
    choose_mode("namespaces", monkeypatch)
    folder = Path(tempfile.mkdtemp(prefix="answers-"))
    try:
        folder.chmod(0o755)
        answers = folder / "hw3-autograder.zip"
        with zipfile.ZipFile(answers, "w") as archive:
            archive.writestr("fixtures.npz", "the answers")
        answers.chmod(0o644)
        secrets = [str(answers), str(REPO_ROOT / "course_lib" / "layers.py"), str(REPO_ROOT / "README.md"),
                   str(Path(NUMPY_HOME) / "numpy" / "__init__.py")]
        assert output(run(library, "hunt", str(REPO_ROOT), *secrets)) == [0, 0]
        assert output(run(library, "hunt", str(folder), *secrets)) == [0, 0]
    finally:
        answers.unlink()
        folder.rmdir()


@NEEDS_ROOT
def test_workers_reach_no_listening_socket_in_namespaces(monkeypatch, library):
    choose_mode("namespaces", monkeypatch)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        assert output(run(library, "connect", listener.getsockname()[1])) == 0


@NEEDS_ROOT
def test_the_fallback_says_that_workers_keep_the_network(monkeypatch, library, capfd):
    choose_mode("fallback", monkeypatch)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        assert output(run(library, "connect", listener.getsockname()[1])) == 1
    said = capfd.readouterr().err
    assert "NAMESPACES ARE OFF: GRADER_NAMESPACES=off is set; student code can read world-readable files and " \
           "open network connections" in said


# Leftovers ----------------------------------------------------------------------------------------

def owned_leftovers(identity, name):
    files = [os.path.join(folder, name) for folder in LEFT_IN if os.path.lexists(os.path.join(folder, name))]
    objects = {kind: leftovers.ipc_objects(kind, identity.uid) for kind in ("shm", "sem", "msg")}
    processes = [pid for pid, (state, _) in isolation.processes_of(identity.uid).items() if state != "Z"]
    return files, {kind: found for kind, found in objects.items() if found}, processes


@NEEDS_ROOT
def test_nothing_of_the_workers_user_survives_a_job(mode, library):
    identity = isolation.sandbox_identity()
    name = f"iso-left-{os.getpid()}"
    small, big, semaphores, queue, files = output(run(library, "litter", name))
    assert small and semaphores and queue
    if isolation.private_ipc_possible():
        assert not big, "shared memory beyond the worker's cap"
    if mode == "fallback":
        assert files == len(LEFT_IN)  # they were there; removed afterwards
    with isolation.serialized(identity):
        assert owned_leftovers(identity, name) == ([], {}, [])


@NEEDS_ROOT
def test_cleanup_touches_only_its_own_users_things(tmp_path):
    """A grading whose workers run as another user (here: nobody) keeps its files and IPC objects."""
    identity = isolation.sandbox_identity()
    other = isolation.Identity("nobody", 65534, 65534)
    theirs = Path(tempfile.gettempdir()) / f"iso-theirs-{os.getpid()}"
    theirs.write_text("another grading's")
    os.chown(theirs, other.uid, other.gid)
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(other.gid)
            os.setuid(other.uid)
            ctypes.CDLL(None).shmget(0, 4096, IPC_CREATE)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    try:
        segments = leftovers.ipc_objects("shm", other.uid)
        assert segments
        leftovers.remove_leftovers(identity)
        assert theirs.exists() and leftovers.ipc_objects("shm", other.uid) == segments
    finally:
        theirs.unlink()
        leftovers.remove_ipc_objects(other)
    assert not leftovers.ipc_objects("shm", other.uid)


# Local grading outside namespaces ------------------------------------------------------------------

@pytest.fixture
def open_checkout():
    """A made-up checkout (reference, dist zip) in a folder anyone can cross, like most checkouts."""
    folder = Path(tempfile.mkdtemp(prefix="checkout-"))
    checkout = folder / "course"
    (checkout / "course_lib").mkdir(parents=True)
    (checkout / "course_lib" / "layers.py").write_text("the reference")
    (checkout / "dist").mkdir()
    (checkout / "dist" / "hw3-autograder.zip").write_text("fixtures")
    for path in (folder, checkout, checkout / "course_lib", checkout / "dist"):
        path.chmod(0o755)
    for path in (checkout / "dist" / "hw3-autograder.zip", checkout / "course_lib" / "layers.py"):
        path.chmod(0o644)
    yield checkout
    shutil.rmtree(folder)


@NEEDS_ROOT
def test_local_grading_refuses_while_the_checkout_is_readable(monkeypatch, open_checkout):
    choose_mode("fallback", monkeypatch)
    monkeypatch.delenv(isolation.MODE_VARIABLE, raising=False)
    answers = open_checkout / "dist" / "hw3-autograder.zip"
    with pytest.raises(ExposedAnswersError) as refusal:
        guard_answers(answers, sys.executable, open_checkout)
    message = str(refusal.value)
    assert "GRADER_NAMESPACES=off is set" in message and str(answers) in message
    assert f"Fix: `chmod o-rx {open_checkout}`" in message and "apt-get install bubblewrap" in message
    open_checkout.chmod(0o750)  # what the message says to do
    guard_answers(answers, sys.executable, open_checkout)


@NEEDS_ROOT
def test_local_grading_in_namespaces_needs_no_closed_checkout(monkeypatch):
    choose_mode("namespaces", monkeypatch)
    guard_answers(REPO_ROOT / "dist" / "hw3-autograder.zip", sys.executable, REPO_ROOT)


# A whole grading inside Gradescope's memory ---------------------------------------------------------

def own_cgroup(controller):
    """Our cgroup's folder for ``controller`` ("" for the v2 hierarchy), from /proc/self/cgroup."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or controller == controllers:
            return path.lstrip("/")
    return None


def memory_cgroup(name):
    """(folder, file with the peak usage) of a new child of our memory cgroup limited to CGROUP_BYTES;
    skips with the reason where none can be made."""
    if not AS_ROOT:
        pytest.skip("creating a cgroup needs root")
    controllers = Path("/sys/fs/cgroup/cgroup.controllers")
    if controllers.exists() and "memory" in controllers.read_text().split():
        parent, limit, peak = Path("/sys/fs/cgroup") / (own_cgroup("") or ""), "memory.max", "memory.peak"
    elif Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists():  # a v1 (hybrid) hierarchy
        parent = Path("/sys/fs/cgroup/memory") / (own_cgroup("memory") or "")
        limit, peak = "memory.limit_in_bytes", "memory.max_usage_in_bytes"
    else:
        pytest.skip("no memory controller in /sys/fs/cgroup (cgroup v2) or /sys/fs/cgroup/memory (v1)")
    folder = parent / name
    try:
        folder.mkdir()
        (folder / limit).write_text(str(CGROUP_BYTES))
    except OSError as error:
        if folder.exists():
            folder.rmdir()
        pytest.skip(f"cgroups are not writable here ({folder}: {error})")
    return folder, peak


GRADE = """
import json, sys
from autograder.local import grade_submission
results = grade_submission("hw3", sys.argv[1], sys.argv[2], log_path=sys.argv[3], trusted=True)
print(json.dumps(results["tests"]))
"""


@NEEDS_ROOT
@pytest.mark.parametrize("case_name", ["correct", "iso_memory"])
def test_grading_inside_a_768_mb_memory_cgroup_gives_exact_scores(case_name, tmp_path_factory, standin_dir,
                                                                   tmp_path):
    """The whole grading (harness and workers) in Gradescope's memory; the peak is printed (pytest -s)."""
    built = shared_artifacts(tmp_path_factory, standin_dir)["hw3"]
    case = next(case for case in load_cases() if case.name == case_name)
    proof = tmp_path / "proof"
    proof.mkdir()
    submission = write_submission(case, built.reference, tmp_path / "submission",
                                  {"@PROOF@": proof, "@CASE@": case.name, "@CANARY@": tmp_path / "canary"})
    folder, peak = memory_cgroup(f"grader-iso-test-{os.getpid()}")
    log = tmp_path / "log.txt"
    try:
        completed = subprocess.run(
            [sys.executable, "-c", GRADE, str(submission), str(built.zip), str(log)],
            capture_output=True, text=True, cwd=REPO_ROOT,
            preexec_fn=lambda: (folder / "cgroup.procs").write_text(str(os.getpid())))
        used = int((folder / peak).read_text())
    finally:
        folder.rmdir()
    assert completed.returncode == 0, completed.stderr[-2000:]
    tests = json.loads(completed.stdout.strip().splitlines()[-1])
    wrong = {test["name"]: test["score"] for test in tests
             if test["score"] != round(test["max_score"] * case.expected_fraction(test), 4)}
    assert tests and not wrong
    grading_peak = [line for line in log.read_text().splitlines() if line.startswith("peak memory:")]
    print(f"{case_name} in a {CGROUP_BYTES >> 20} MB cgroup: peak {used >> 20} MB; {grading_peak[-1]}")
    assert used < CGROUP_BYTES


@pytest.mark.parametrize("name", [entry.pw_name for entry in pwd.getpwall()
                                  if entry.pw_name in ("nobody", "_apt", "daemon", "www-data")])
def test_an_account_the_grader_did_not_create_is_refused_as_the_workers_user(name):
    """Its processes would be ended and its files in /tmp deleted after every job."""
    with pytest.raises(isolation.IsolationError, match="did not create"):
        isolation.ensure_user(name)


@NEEDS_ROOT
def test_the_workers_user_the_grader_creates_is_accepted_again():
    first = isolation.ensure_user("grader-acceptance")
    assert isolation.ensure_user("grader-acceptance") == first
