"""Starting worker processes: the one module that launches student code.

``run_worker`` gives every request a fresh private job folder holding a copy
of the worker runtime, the request, its input arrays and a copy of the
overlaid submission, starts the worker there (``python -I -S``) in a new
session with a clean environment and resource limits (CPU time, address
space, file size, processes), kills the whole process group when a program
outlives its wall-time limit or the worker ends, and reads back only plain
JSON and ``.npz`` arrays (never pickles). Hardening the isolation (an
unprivileged user, files the worker cannot read) belongs here and nowhere else.
"""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WORKER_SOURCE = Path(__file__).with_name("worker.py")
# The worker runs without site-packages (-S: no .pth files, no editable installs
# of course_lib shadowing the submission's); it is told where numpy lives.
NUMPY_HOME = str(Path(np.__file__).resolve().parents[1])
BOOTSTRAP = "import runpy, sys; sys.path.append(sys.argv[2]); runpy.run_path(sys.argv[1], run_name='__main__')"
MAX_REPLY_BYTES = 2 << 20
MAX_OUTPUT_BYTES = 64 << 20
SIGNAL_MEANINGS = {
    signal.SIGKILL: "it was killed (time or memory limit)",
    signal.SIGXCPU: "it used up its CPU-time limit",
    signal.SIGXFSZ: "it wrote more output than allowed",
    signal.SIGSEGV: "it crashed with a segmentation fault",
    signal.SIGABRT: "it aborted (often: out of memory)",
}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process; the wall time applies to each of its programs."""

    wall_seconds: float = 60.0
    memory_bytes: int = 1 << 30
    file_bytes: int = 16 << 20
    processes: int = 256


@dataclass
class WorkerResult:
    """What came back: (arrays, reply) of each program that completed, in order, and why the rest did not."""

    status: str  # "ok" (every program completed), "timeout" or "crashed"
    programs: list = field(default_factory=list)
    problem: str = ""
    log: str = ""  # the worker's stderr tail: for instructors only


def run_worker(request, inputs, submission_dir, limits=Limits(), files=None, python=None):
    """Run the programs of ``request`` in order on the submission in ``submission_dir``.

    request: {"programs": [...]} (see autograder.worker); inputs: one dict of
    arrays per program; submission_dir: the folder holding ``course_lib/``;
    files: {name in the job folder: path to copy there} (e.g. a checkpoint).
    A program that runs longer than ``limits.wall_seconds`` ends the worker.
    """
    programs = request["programs"]
    if len(inputs) != len(programs):
        raise ValueError(f"{len(programs)} programs but {len(inputs)} input sets")
    job = Path(tempfile.mkdtemp(prefix="worker-job-"))
    try:
        _prepare_job(job, request, inputs, Path(submission_dir), files or {})
        return _run_job(job, len(programs), limits, python or sys.executable)
    finally:
        shutil.rmtree(job, ignore_errors=True)


def _prepare_job(job, request, inputs, submission_dir, files):
    shutil.copy2(WORKER_SOURCE, job / "worker.py")
    (job / "request.json").write_text(json.dumps(request))
    for index, arrays in enumerate(inputs):
        np.savez(job / f"inputs_{index}.npz", **arrays)
    for name, source in files.items():
        shutil.copy2(source, job / name)
    shutil.copytree(submission_dir, job / "submission",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _run_job(job, count, limits, python):
    with open(job / "stdout.txt", "wb") as stdout, open(job / "stderr.txt", "wb") as stderr:
        process = subprocess.Popen(
            [python, "-I", "-S", "-B", "-c", BOOTSTRAP, str(job / "worker.py"), NUMPY_HOME],
            cwd=job / "submission",
            env=_clean_environment(job),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=lambda: _apply_limits(limits, count),
        )
        try:
            timed_out = _wait(process, job, count, limits.wall_seconds)
        finally:
            _kill_group(process.pid)
            process.wait()
    programs = []
    for index in range(count):
        reply = _read_reply(job / f"reply_{index}.json")
        if reply is None:
            break
        programs.append((_read_arrays(job / f"outputs_{index}.npz"), reply))
    result = WorkerResult("ok", programs, log=_tail(job / "stderr.txt"))
    if len(programs) < count:
        result.status = "timeout" if timed_out else "crashed"
        result.problem = (f"it did not finish within {limits.wall_seconds:g} s" if timed_out
                          else _exit_problem(process.returncode))
    return result


def _wait(process, job, count, seconds):
    """Wait for the worker; True when one program ran longer than ``seconds`` (then stop waiting)."""
    completed, program_started = 0, time.monotonic()
    while True:
        try:
            process.wait(timeout=0.05)
            return False
        except subprocess.TimeoutExpired:
            pass
        while completed < count and (job / f"reply_{completed}.json").exists():
            completed, program_started = completed + 1, time.monotonic()
        if time.monotonic() - program_started > seconds:
            return True


def _clean_environment(job):
    single_thread = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {"PATH": "/usr/bin:/bin", "HOME": str(job), "LANG": "C.UTF-8", **single_thread}


def _apply_limits(limits, count):
    """Runs in the child between fork and exec."""
    for kind, value in (
        (resource.RLIMIT_CPU, int(limits.wall_seconds * count) + 5),
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_CORE, 0),
    ):
        _, hard = resource.getrlimit(kind)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, value if hard == resource.RLIM_INFINITY else hard))


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _exit_problem(returncode):
    if returncode is not None and returncode < 0:
        meaning = SIGNAL_MEANINGS.get(-returncode, f"it was stopped by signal {-returncode}")
        return f"the process ended without answering: {meaning}"
    return f"the process ended without answering (exit code {returncode}); does your code call os._exit?"


def _safe_regular_file(path, max_bytes):
    """True for a regular file (not a link) of at most max_bytes: the worker controls its folder."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return path.is_file() and not path.is_symlink() and info.st_size <= max_bytes


def _read_reply(path):
    """A program's reply, reduced to the fields and types the harness reads (the worker is not trusted)."""
    if not _safe_regular_file(path, MAX_REPLY_BYTES):
        return None
    try:
        reply = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(reply, dict):
        return None
    error = _typed(reply.get("error"), dict)
    printed = _typed(reply.get("printed"), dict)
    return {
        "status": "ok" if reply.get("status") == "ok" else "error",
        "outputs": _typed(reply.get("outputs"), dict),
        "warnings": [str(item) for item in _typed(reply.get("warnings"), list)],
        "printed": {"chars": printed.get("chars") if isinstance(printed.get("chars"), int) else 0},
        "seconds": reply.get("seconds") if isinstance(reply.get("seconds"), (int, float)) else 0.0,
        "error": {
            "where": str(error.get("where", "")),
            "type": str(error.get("type", "Error")),
            "message": str(error.get("message", "")),
            "not_implemented": error.get("not_implemented") is True,
            "frames": [frame for frame in _typed(error.get("frames"), list) if isinstance(frame, dict)],
        },
    }


def _typed(value, kind):
    return value if isinstance(value, kind) else kind()


def _read_arrays(path):
    if not _safe_regular_file(path, MAX_OUTPUT_BYTES):
        return {}
    try:
        with zipfile.ZipFile(path) as archive:
            if sum(member.file_size for member in archive.infolist()) > MAX_OUTPUT_BYTES:
                return {}
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except Exception:  # any malformed file the worker may have left: treated as no outputs
        return {}
    return {key: value for key, value in arrays.items() if value.dtype.kind in "biuf"}


def _tail(path, limit=4000):
    try:
        with open(path, "rb") as file:
            file.seek(max(0, os.path.getsize(path) - limit))
            return file.read().decode(errors="replace")
    except OSError:
        return ""
