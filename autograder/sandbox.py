"""Starting worker processes: the one module that launches student code.

``run_worker`` gives every request a fresh private job folder holding a copy
of the worker runtime, the request, its input arrays and a copy of the
overlaid submission, and hands the folder to the workers' unprivileged user.
The worker starts there (``python -I -S isolation.py launch ...`` as root,
which drops to that user for good before running the job's ``worker.py``; see
``autograder.isolation``) in a new session, with a clean environment and
resource limits (CPU time, address space, file size, processes). When a program outlives its wall-time limit, or the worker ends,
every process of that user is killed. Only plain JSON and ``.npz`` arrays
(never pickles) are read back, size-capped, and what the student's code
printed comes back capped, with the job's and the autograder's paths replaced.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder import isolation
from autograder.harness import archives

WORKER_SOURCE = Path(__file__).with_name("worker.py")
# The worker runs without site-packages (-S: no .pth files, no editable installs
# of course_lib shadowing the submission's); it is told where numpy lives.
NUMPY_HOME = str(Path(np.__file__).resolve().parents[1])
MAX_REPLY_BYTES = 2 << 20
MAX_REPLY_TEXT = 2000  # characters of one string of a reply
MAX_REPLY_ITEMS = 200  # entries of one list or dict of a reply
MAX_OUTPUT_BYTES = 64 << 20
MAX_OUTPUT_ARRAYS = 5000
SHOWN_PRINTED_CHARS = 4000  # of what one program printed
LOG_BYTES = 4000  # the end of the worker's stderr, for the instructors' log
SIGNAL_MEANINGS = {
    signal.SIGKILL: "it was killed (time or memory limit)",
    signal.SIGXCPU: "it used up its CPU-time limit",
    signal.SIGXFSZ: "it wrote more output than allowed",
    signal.SIGSEGV: "it crashed with a segmentation fault",
    signal.SIGABRT: "it aborted (often: out of memory)",
}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process; the wall time applies to each of its programs.

    ``processes`` counts every process and thread of the workers' user, so it
    bounds what one worker (they run one at a time) can start.
    """

    wall_seconds: float = 60.0
    # Address space, not resident memory; leaves room for the grading process inside
    # Gradescope's default 768 MB container, so a memory hog fails in its worker.
    memory_bytes: int = 512 << 20
    file_bytes: int = 16 << 20
    processes: int = 32


@dataclass
class WorkerResult:
    """What came back: (arrays, reply) of each program that completed, in order, and why the rest did not."""

    status: str  # "ok" (every program completed), "timeout" or "crashed"
    programs: list = field(default_factory=list)
    problem: str = ""
    printed: dict = field(default_factory=dict)  # what the program that failed printed, as in a reply
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
    identity = isolation.sandbox_identity()
    with isolation.serialized(identity):
        # The job folder sits in a folder of ours, so that the worker cannot move it and leave a link in its place.
        box = Path(tempfile.mkdtemp(prefix="worker-job-"))
        try:
            box.chmod(0o711)
            job = box / "job"
            job.mkdir()
            _prepare_job(job, request, inputs, Path(submission_dir), files or {})
            isolation.hand_over(job, identity)
            return _run_job(job, len(programs), limits, python or sys.executable, identity)
        finally:
            shutil.rmtree(box, ignore_errors=True)
            isolation.remove_leftovers(identity)


def _prepare_job(job, request, inputs, submission_dir, files):
    shutil.copyfile(WORKER_SOURCE, job / "worker.py")
    (job / "request.json").write_text(json.dumps(request))
    for index, arrays in enumerate(inputs):
        np.savez(job / f"inputs_{index}.npz", **arrays)
    for name, source in files.items():
        shutil.copyfile(source, job / name)
    shutil.copytree(submission_dir, job / "submission", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _run_job(job, count, limits, python, identity):
    # stdout and stderr go to unnamed files the worker cannot reach by any path;
    # the file-size limit bounds them, and only their start (end) is read back.
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            isolation.launch_command(python, job, NUMPY_HOME, identity),
            cwd=job / "submission",
            env=_clean_environment(job),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=isolation.child_limits(identity, cpu_seconds=int(limits.wall_seconds * count) + 5,
                                              memory_bytes=limits.memory_bytes, file_bytes=limits.file_bytes,
                                              processes=limits.processes),
        )
        try:
            timed_out, offsets = _wait(process, job, count, limits.wall_seconds, stdout)
        finally:
            isolation.end_processes(process.pid, identity)
            process.wait()
        printed = _descriptor_output(stdout, offsets, count)
        log = _tail(stderr)
    replacements = _replacements(job)
    programs = []
    for index in range(count):
        reply = _read_reply(job / f"reply_{index}.json")
        if reply is None:
            break
        reply["printed"] = _merged_printed(reply["printed"], printed[index])
        programs.append((_read_arrays(job / f"outputs_{index}.npz"), isolation.scrub(reply, replacements)))
    result = WorkerResult("ok", programs, log=log)
    if len(programs) < count:
        result.status = "timeout" if timed_out else "crashed"
        result.problem = (f"it did not finish within {limits.wall_seconds:g} s" if timed_out
                          else _exit_problem(process.returncode))
        result.printed = isolation.scrub(_merged_printed({"chars": 0, "head": ""}, printed[len(programs)]),
                                         replacements)
    return result


def _replacements(job):
    """(path, label) for every harness path a student might see, as given and as resolved (links followed)."""
    labelled = [(job / "submission", "<your submission>"), (job, "<job>"), (job.parent, "<job>")]
    labelled += [(Path(path), "<hidden>") for path in isolation.private_paths()]
    pairs = {(str(form), label) for path, label in labelled for form in (path, path.resolve())}
    return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)


def _wait(process, job, count, seconds, stdout):
    """Wait for the worker; (True when one program ran longer than ``seconds``, stdout size after each program)."""
    completed, program_started, offsets = 0, time.monotonic(), []
    while True:
        try:
            process.wait(timeout=0.05)
            return False, offsets
        except subprocess.TimeoutExpired:
            pass
        while completed < count and (job / f"reply_{completed}.json").exists():
            completed, program_started = completed + 1, time.monotonic()
            offsets.append(os.fstat(stdout.fileno()).st_size)
        if time.monotonic() - program_started > seconds:
            return True, offsets


def _clean_environment(job):
    single_thread = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {"PATH": "/usr/bin:/bin", "HOME": str(job), "TMPDIR": str(job), "LANG": "C.UTF-8", **single_thread}


def _descriptor_output(file, offsets, count):
    """What reached file descriptor 1, split by program (by the file's size as each program completed):
    one (start of the text, number of bytes) per program, and one for the program that did not complete."""
    size = os.fstat(file.fileno()).st_size
    bounds = [min(offset, size) for offset in [0] + offsets[:count]] + [size] * (count + 1 - len(offsets[:count]))
    pieces = []
    for start, end in zip(bounds, bounds[1:]):
        length = max(0, end - start)  # the worker may have truncated its stdout
        file.seek(start)
        pieces.append((file.read(min(length, SHOWN_PRINTED_CHARS)).decode(errors="replace"), length))
    return pieces


def _merged_printed(printed, descriptor):
    """A reply's ``printed`` (what print() wrote) followed by what went straight to file descriptor 1."""
    text, size = descriptor
    return {"chars": printed["chars"] + size, "head": (printed["head"] + text)[:SHOWN_PRINTED_CHARS]}


def _tail(file, limit=LOG_BYTES):
    size = os.fstat(file.fileno()).st_size
    file.seek(max(0, size - limit))
    return file.read().decode(errors="replace")


def _exit_problem(returncode):
    if returncode is not None and returncode < 0:
        meaning = SIGNAL_MEANINGS.get(-returncode, f"it was stopped by signal {-returncode}")
        return f"the process ended without answering: {meaning}"
    return f"the process ended without answering (exit code {returncode}); does your code call os._exit?"


def _read_private_file(path, max_bytes):
    """The bytes of a regular file with a single link (never followed, at most max_bytes), or None.

    The worker owned the folder, but none of its processes is left to swap the file meanwhile.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if info.st_mode & 0o170000 != 0o100000 or info.st_nlink != 1 or info.st_size > max_bytes:
            return None
        return file.read(max_bytes)


def _read_reply(path):
    """A program's reply, reduced to the fields, types and sizes the harness reads (the worker is not trusted)."""
    data = _read_private_file(path, MAX_REPLY_BYTES)
    if data is None:
        return None
    try:
        reply = json.loads(data.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(reply, dict):
        return None
    error = _typed(reply.get("error"), dict)
    printed = _typed(reply.get("printed"), dict)
    chars = printed.get("chars")
    seconds = reply.get("seconds")
    return {
        "status": "ok" if reply.get("status") == "ok" else "error",
        "outputs": _kinds(reply.get("outputs")),
        "warnings": [_text(item) for item in _typed(reply.get("warnings"), list)[:MAX_REPLY_ITEMS]],
        "printed": {"chars": max(chars, 0) if isinstance(chars, int) and not isinstance(chars, bool) else 0,
                    "head": _text(printed.get("head", ""), SHOWN_PRINTED_CHARS)},
        "seconds": float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else 0.0,
        "error": {
            "where": _text(error.get("where", "")),
            "type": _text(error.get("type", "Error")),
            "message": _text(error.get("message", "")),
            "not_implemented": error.get("not_implemented") is True,
            "frames": [{key: _text(frame.get(key, "")) for key in ("file", "line", "function", "code")}
                       for frame in _typed(error.get("frames"), list)[:MAX_REPLY_ITEMS] if isinstance(frame, dict)],
        },
    }


def _typed(value, kind):
    return value if isinstance(value, kind) else kind()


def _text(value, limit=MAX_REPLY_TEXT):
    """A short, valid string of whatever JSON value the worker put there."""
    text = value if isinstance(value, str) else json.dumps(value)[:limit] if _flat(value) else type(value).__name__
    return text[:limit].encode("utf-8", errors="replace").decode("utf-8")


def _flat(value):
    return isinstance(value, (int, float, bool)) or value is None


def _kinds(outputs):
    """What each output was, as the worker describes it: {name: {field: short text or list of texts}}."""
    kinds = {}
    for name, kind in list(_typed(outputs, dict).items())[:MAX_REPLY_ITEMS]:
        if isinstance(kind, dict):
            kinds[_text(name)] = {_text(key): [_text(item) for item in value[:MAX_REPLY_ITEMS]]
                                  if isinstance(value, list) else _text(value)
                                  for key, value in list(kind.items())[:8]}
    return kinds


def _read_arrays(path):
    """The numeric arrays of a program's outputs archive, read within MAX_OUTPUT_BYTES whatever it claims;
    none at all when it holds anything the worker does not write."""
    data = _read_private_file(path, MAX_OUTPUT_BYTES)
    if data is None:
        return {}
    budget = archives.Budget(max_bytes=MAX_OUTPUT_BYTES, max_files=MAX_OUTPUT_ARRAYS, seconds=30.0)
    try:
        arrays, problems = archives.read_npz(data, budget, _numeric_only, max_arrays=MAX_OUTPUT_ARRAYS)
    except (archives.MemberProblem, archives.BudgetExceeded):
        return {}
    # The worker writes numeric arrays only: anything else means the archive was tampered with.
    return {} if problems else arrays


def _numeric_only(name, dtype, shape):
    return None if dtype.kind in "biuf" else f"dtype {dtype} is not numeric"
