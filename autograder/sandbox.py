"""Starting worker processes: the one module that launches student code.

``run_worker`` gives every request a fresh private job folder holding a copy
of the worker runtime, the request, its input arrays and a copy of the
overlaid submission, and hands the folder to the workers' unprivileged user.
The worker starts there (``python -I -S isolation.py launch ...`` as root,
which drops to that user for good and execs a fresh interpreter on the job's
``worker.py``; see ``autograder.isolation``), inside private namespaces where
the platform allows them (``autograder.namespaces``), in a new session, with a
clean environment and resource limits (CPU time, address space, file size,
processes, System V shared memory). When a program outlives its wall-time
limit, or the worker ends, every process of that user is killed and what it
left is removed (``autograder.leftovers``); a worker that ended early is named
by its cause (wall time, CPU time, memory, output size, or the signal). Only
plain JSON and ``.npz`` arrays (never pickles) are read back, size-capped, and
what the student's code printed comes back with the job's and the
autograder's paths replaced, then capped.
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

from autograder import archives, isolation, leftovers, namespaces

WORKER_SOURCE = Path(__file__).with_name("worker.py")
PROXY_SOURCE = Path(__file__).with_name("proxy.py")
# The worker runs without site-packages (-S: no .pth files, no editable installs
# of course_lib shadowing the submission's); it is told where numpy lives.
NUMPY_HOME = str(Path(np.__file__).resolve().parents[1])
MAX_REPLY_BYTES = 2 << 20
MAX_REPLY_TEXT = 2000  # characters of one string of a reply
MAX_REPLY_ITEMS = 200  # entries of one list or dict of a reply
MAX_OUTPUT_BYTES = 64 << 20
MAX_OUTPUT_ARRAYS = 5000
SHOWN_PRINTED_CHARS = 4000  # of what one program printed
# Read back (and the worker keeps) this much, so that a path cut at SHOWN_PRINTED_CHARS is still scrubbed whole.
KEPT_PRINTED_CHARS = 2 * SHOWN_PRINTED_CHARS
LOG_BYTES = 4000  # the end of the worker's stderr, for the instructors' log
SIGNAL_MEANINGS = {
    signal.SIGSEGV: "it crashed with a segmentation fault (SIGSEGV)",
    signal.SIGBUS: "it crashed with a bus error (SIGBUS)",
    signal.SIGFPE: "it crashed with an arithmetic fault (SIGFPE)",
    signal.SIGILL: "it crashed on an illegal instruction (SIGILL)",
    signal.SIGABRT: "it aborted (SIGABRT), often because memory ran out",
}
OUT_OF_MEMORY_EXIT = 86  # worker.py's exit code when memory ran out outside the student's calls
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
    cpu_seconds: float | None = None  # per process; default: the wall time of all the programs, plus 5 s
    # All the programs together (what the assignment's time budget leaves them): without it a worker of
    # n programs could take n times the wall time left, and the grading outlive Gradescope's timeout.
    total_seconds: float | None = None
    # System V shared memory and message queues (where the worker has its own IPC namespace),
    # and each of its private /tmp and /dev/shm (in namespaces): memory beyond the address space.
    shared_bytes: int = 16 << 20

    def cpu_limit(self, programs):
        return int(self.cpu_seconds if self.cpu_seconds is not None else self.wall_seconds * programs + 5)


@dataclass
class WorkerResult:
    """What came back: (arrays, reply) of each program that completed, in order, and why the rest did not."""

    status: str  # "ok" (every program completed), "timeout" or "crashed"
    programs: list = field(default_factory=list)
    problem: str = ""
    printed: dict = field(default_factory=dict)  # what the program that failed printed, as in a reply
    log: str = ""  # the worker's stderr tail: for instructors only


def run_worker(request, inputs, submission_dir, limits=Limits(), files=None, python=None, service=None):
    """Run the programs of ``request`` in order on the submission in ``submission_dir``.

    request: {"programs": [...]} (see autograder.worker); inputs: one dict of
    arrays per program; submission_dir: the folder holding ``course_lib/``;
    files: {name in the job folder: path to copy there} (e.g. a checkpoint).
    A program that runs longer than ``limits.wall_seconds`` ends the worker.
    service: what answers the worker's calls of reference functions while it runs (see
    autograder.harness.substitutes); the worker inherits its socket.
    """
    programs = request["programs"]
    if len(inputs) != len(programs):
        raise ValueError(f"{len(programs)} programs but {len(inputs)} input sets")
    identity = isolation.sandbox_identity()
    namespaced = _namespaced(identity)
    with isolation.serialized(identity):
        # The job folder sits in a folder of ours, so that the worker cannot move it and leave a link in its place.
        box = Path(tempfile.mkdtemp(prefix="worker-job-"))
        try:
            box.chmod(0o711)
            job = box / "job"
            job.mkdir()
            if service is not None:
                request = {**request, "channel": service.worker_descriptor}
            _prepare_job(job, request, inputs, Path(submission_dir), files or {})
            isolation.hand_over(job, identity)
            return _run_job(job, len(programs), limits, python or sys.executable, identity, namespaced, service)
        finally:
            if service is not None:
                service.finish()
            shutil.rmtree(box, ignore_errors=True)
            leftovers.remove_leftovers(identity)


def _namespaced(identity):
    """Whether workers run in private namespaces: wherever bwrap works, except as root with the user
    switch turned off (GRADER_ISOLATION=reduced), where nothing would drop root's privileges."""
    if identity is None and os.geteuid() == 0:
        return False
    return namespaces.available(isolation.log, NUMPY_HOME)[0]


def _prepare_job(job, request, inputs, submission_dir, files):
    shutil.copyfile(WORKER_SOURCE, job / "worker.py")
    shutil.copyfile(PROXY_SOURCE, job / "proxy.py")
    (job / "request.json").write_text(json.dumps(request))
    for index, arrays in enumerate(inputs):
        np.savez(job / f"inputs_{index}.npz", **arrays)
    for name, source in files.items():
        shutil.copyfile(source, job / name)
    shutil.copytree(submission_dir, job / "submission", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _run_job(job, count, limits, python, identity, namespaced, service):
    # stdout and stderr go to unnamed files the worker cannot reach by any path;
    # the file-size limit bounds them, and only their start (end) is read back.
    private_ipc = isolation.private_ipc_possible()
    cpu_seconds = limits.cpu_limit(count)
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        command, inherited, info = _command(job, python, identity, limits, namespaced, private_ipc)
        inherited += (service.worker_descriptor,) if service is not None else ()
        kills_before = _oom_kills()
        try:
            process = subprocess.Popen(
                command,
                cwd=job / "submission",
                env=_clean_environment(namespaces.JOB if namespaced else job),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                pass_fds=inherited,
                preexec_fn=isolation.child_limits(identity, cpu_seconds=cpu_seconds,
                                                  memory_bytes=limits.memory_bytes, file_bytes=limits.file_bytes,
                                                  processes=limits.processes,
                                                  shared_bytes=limits.shared_bytes if private_ipc else None),
            )
        finally:
            for descriptor in inherited:
                os.close(descriptor)
        try:
            worker = namespaces.child_pid(info) if info is not None else process.pid
            stopped, offsets, cpu_used = _wait(process, worker, job, count, limits, stdout, service)
        finally:
            leftovers.end_processes(process.pid, identity)
            process.wait()
        cause = _Ending(process.returncode, namespaced, stopped, cpu_used, _oom_kills() > kills_before)
        printed = _descriptor_output(stdout, offsets, count)
        log = _tail(stderr)
    replacements = _replacements(job, namespaced)
    programs = []
    for index in range(count):
        reply = _read_reply(job / f"reply_{index}.json")
        if reply is None:
            break
        reply["printed"] = _merged_printed(reply["printed"], printed[index], replacements)
        programs.append((_read_arrays(job / f"outputs_{index}.npz"), isolation.scrub(reply, replacements)))
    result = WorkerResult("ok", programs, log=log)
    if len(programs) < count:
        result.status = "timeout" if stopped in ("wall", "budget") else "crashed"
        result.problem = cause.problem(limits, cpu_seconds)
        result.printed = _merged_printed({"chars": 0, "head": ""}, printed[len(programs)], replacements)
    return result


def _command(job, python, identity, limits, namespaced, private_ipc):
    """(the worker's command line, the descriptors it inherits, the descriptor bwrap tells its child's pid on)."""
    if not namespaced:
        return isolation.launch_command(python, job, NUMPY_HOME, identity), (), None
    # The launcher is read through a descriptor: no path inside the namespaces leads to the autograder.
    launcher = os.open(isolation.__file__, os.O_RDONLY)
    info, told = os.pipe()
    command = namespaces.command_line(python, job, NUMPY_HOME, limits.shared_bytes, launcher, private_ipc,
                                      info=told)
    command += ["launch", namespaces.JOB, namespaces.NUMPY]
    command += [str(identity.uid), str(identity.gid)] if identity is not None else []
    command, options = namespaces.hide_options(command)
    return command, (launcher, options, told), info


def _most_cpu(pid, depth=4):
    """The most CPU time (all threads) any process of the tree under ``pid`` has used so far, 0.0 once gone;
    the tree under bwrap holds its init and the worker."""
    try:
        with open(f"/proc/{pid}/stat") as status:
            fields = status.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/task/{pid}/children") as listed:
            children = [int(child) for child in listed.read().split()]
    except (OSError, IndexError, ValueError):
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return max([own] + [_most_cpu(child, depth - 1) for child in children[:8] if depth > 0])


def _oom_kills():
    """How many processes the kernel's out-of-memory killer has ended so far (0 where it does not say)."""
    try:
        with open("/proc/vmstat") as counters:
            for line in counters:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class _Ending:
    """How a worker ended, as far as the grading process can tell."""

    returncode: int
    namespaced: bool
    stopped: str  # "wall" (one program's wall time), "budget" (the time left for all of them), "disk" or ""
    cpu_used: float  # by the worker's process, last seen 50 ms before it ended at most
    oom_killed: bool

    def signal(self):
        """The signal that ended the worker, or None; bwrap reports a signal as 128 + its number."""
        if self.returncode is not None and self.returncode < 0:
            return -self.returncode
        if self.namespaced and self.returncode is not None and 128 < self.returncode < 128 + 65:
            return self.returncode - 128
        return None

    def problem(self, limits, cpu_seconds):
        """Which limit ended the worker, in words for the student."""
        if self.stopped == "disk":
            return ("the process was stopped: its files took half the free disk space; write no files "
                    "(keep results in memory)")
        if self.stopped == "budget":
            return (f"it was still running when the time left for these tests ran out ({limits.total_seconds:.0f} s "
                    "of the whole assignment's time budget)")
        if self.stopped:
            return f"it did not finish within {limits.wall_seconds:g} s (the wall-time limit of each test)"
        number = self.signal()
        memory = f"{limits.memory_bytes >> 20} MB"
        # A SIGKILL at the hard CPU limit, a second after the soft one, means the worker ignored SIGXCPU.
        if number == signal.SIGXCPU or (number == signal.SIGKILL and self.cpu_used >= cpu_seconds):
            return f"the process ended without answering: it used up its CPU-time limit ({cpu_seconds} s of CPU)"
        if number == signal.SIGXFSZ:
            return (f"the process ended without answering: it wrote more output than allowed (the output-size "
                    f"limit is {limits.file_bytes >> 20} MB per file)")
        if number == signal.SIGKILL and self.oom_killed:
            return ("the process ended without answering: it ran out of memory (killed by the system's "
                    f"out-of-memory killer; the worker may use {memory})")
        if number == signal.SIGKILL:
            return "the process ended without answering: it was killed by signal SIGKILL (not by a limit of the autograder)"
        if number is not None:
            named = SIGNAL_MEANINGS.get(number, f"it was stopped by signal {_signal_name(number)}")
            return f"the process ended without answering: {named}"
        if self.returncode == OUT_OF_MEMORY_EXIT:
            return f"the process ended without answering: it ran out of memory (the worker may use {memory})"
        return (f"the process ended without answering (exit code {self.returncode}); "
                "does your code call os._exit?")


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _replacements(job, namespaced):
    """(path, label) for every harness path a student might see, as given and as resolved (links followed)."""
    labelled = [(job / "submission", "<your submission>"), (job, "<job>"), (job.parent, "<job>"),
                (Path(NUMPY_HOME), "<numpy>")]
    labelled += [(Path(path), "<hidden>") for path in isolation.private_paths()]
    pairs = {(str(form), label) for path, label in labelled for form in (path, path.resolve())}
    if namespaced:
        pairs |= {(f"{namespaces.JOB}/submission", "<your submission>"), (namespaces.JOB, "<job>")}
    return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)


def _wait(process, worker, job, count, limits, stdout, service=None):
    """Wait for the worker, answering its calls to the ``service`` meanwhile; (why it was stopped: "wall" when
    one program ran longer than its wall time, "budget" when all of them outlived ``limits.total_seconds``,
    "disk" when its files took half the free space of the job's file system, else ""; stdout size after each
    program; the CPU time of the worker's process when last seen: what names a SIGKILL at its CPU limit)."""
    seconds = limits.wall_seconds
    completed, program_started, offsets, cpu = 0, time.monotonic(), [], 0.0
    budget_end = program_started + limits.total_seconds if limits.total_seconds is not None else float("inf")
    disk_floor = _free_bytes(job) / 2  # a full disk would fail the grading process too
    while True:
        cpu = max(cpu, _most_cpu(worker))
        try:
            if service is not None:
                service.serve(min(program_started + seconds, budget_end), timeout=0.05)
            process.wait(timeout=0.05 if service is None else 0)
            return "", offsets, cpu
        except subprocess.TimeoutExpired:
            pass
        while completed < count and (job / f"reply_{completed}.json").exists():
            completed, program_started = completed + 1, time.monotonic()
            offsets.append(os.fstat(stdout.fileno()).st_size)
        if time.monotonic() - program_started > seconds:
            return "wall", offsets, cpu
        if time.monotonic() > budget_end:
            return "budget", offsets, cpu
        if _free_bytes(job) < disk_floor:
            return "disk", offsets, cpu


def _free_bytes(folder):
    """Bytes an unprivileged user may still write on the file system of ``folder`` (infinite where unknown)."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return float("inf")
    return info.f_bavail * info.f_frsize


def _clean_environment(job):
    """The worker's whole environment: nothing of the grading process's (paths, tokens) reaches it."""
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
        pieces.append((file.read(min(length, KEPT_PRINTED_CHARS)).decode(errors="replace"), length))
    return pieces


def _merged_printed(printed, descriptor, replacements):
    """A reply's ``printed`` (what print() wrote) followed by what went straight to file descriptor 1,
    with paths replaced before it is cut to what is shown (a cut path would escape the replacement)."""
    text, size = descriptor
    head = isolation.scrub(printed["head"][:KEPT_PRINTED_CHARS] + text, replacements)
    return {"chars": printed["chars"] + size, "head": head[:SHOWN_PRINTED_CHARS]}


def _tail(file, limit=LOG_BYTES):
    size = os.fstat(file.fileno()).st_size
    file.seek(max(0, size - limit))
    return file.read().decode(errors="replace")


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
                    "head": _text(printed.get("head", ""), KEPT_PRINTED_CHARS)},
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
