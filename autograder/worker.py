"""The worker: the only place where a student's code runs.

``autograder.sandbox`` copies this file into a private job directory (JOB_DIR)
and runs it in a fresh ``python -I -S`` with the working directory set to a
private copy of the overlaid submission (the folder holding ``course_lib/``).
It reads ``JOB_DIR/request.json`` and ``JOB_DIR/inputs_<i>.npz``, runs the
programs of the request in order, and after each writes
``JOB_DIR/outputs_<i>.npz`` (plain numeric arrays) and then
``JOB_DIR/reply_<i>.json``. It needs only the standard library and numpy and
imports nothing from the grading process.

A program is plain JSON that says what to call and what to send back:

- ``calls``: run in order; call ``k``'s result is ``{"$r": [k, ...]}`` later.
  ``{"fn": "layers.affine_forward", "args": [...], "kwargs": {...}}`` calls a
  function or class of ``course_lib`` by its qualified name;
  ``{"method": "loss", "on": REF, ...}`` calls a method of an earlier result;
  ``{"assign": REF, "path": [...], "value": VALUE}`` stores a value inside an
  earlier result (``model.params["W1"] = ...``); ``{"seed": N}`` calls
  ``np.random.seed(N)`` (a logged run is replayed from its own seed).
- values: JSON, where ``{"$in": name}`` is a fresh copy of an input array,
  ``{"$shared": name}`` the input array itself (for large read-only data),
  ``{"$r": [k, key, ...]}`` a part of call k's result, ``{"$a": [k, i, ...]}``
  a part of call k's i-th positional argument after the call (a parameter
  dict the call updated), ``{"$printed": k}`` the number of lines call k
  printed (its own prints and those of the code it ran), ``{"$dtype": "float64"}``
  a numpy scalar type and ``{"$file": name}`` the path of a file of the job.
- ``outputs``: ``{name: REF}``; arrays, numbers, and dicts/lists of them.
- ``numeric``: the student's own forward at nudged points, from which the
  grading process computes central differences (never this process):
  ``{"calls": [k1, k2], "output": [...], "dout": name or None, "wrt": {name: REF}, "h": h}``
  re-runs calls k1..k2 with each entry of every ``wrt`` array nudged in place
  by +h and -h and sends back the output (as float64) at every point, as
  ``numeric/<name>/plus`` and ``numeric/<name>/minus`` of shape (*wrt shape, *output shape).
- ``seed``: seeds ``np.random`` before the program runs.
"""
import errno
import importlib.util
import io
import json
import linecache
import os
import resource
import sys
import time
import traceback
import warnings
from pathlib import Path

if __name__ == "__main__" and len(sys.argv) == 2:  # started by autograder.isolation: numpy's folder
    sys.path.append(sys.argv[1])

import numpy as np  # noqa: E402  (importable only once its folder is on the path)


def load_proxy_module():
    """proxy.py, copied beside this file: loaded by path, so that the import path stays the submission's."""
    spec = importlib.util.spec_from_file_location("proxy", Path(__file__).with_name("proxy.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


proxy = load_proxy_module()

MAX_TEXT = 600
MAX_REPLY_BYTES = 1 << 20  # the sandbox reads 2 MB of a reply at most
MAX_PRINTED = 8000  # the sandbox shows 4000 after replacing paths; a path cut here must not escape that
OUT_OF_MEMORY_EXIT = 86  # the sandbox names memory as the cause
MAX_WARNINGS = 5
MAX_FRAMES = 8


class ProgramError(Exception):
    """A program failed; ``info`` says where and why, in terms a student can read."""

    def __init__(self, info):
        super().__init__(info.get("message", ""))
        self.info = info


class CountingWriter(io.TextIOBase):
    """Stands in for stdout/stderr: counts what the student's code prints (characters and lines) and keeps
    only its start. A line ends at "\n", "\r\n" or a lone "\r" (a progress line printed over the last)."""

    def __init__(self):
        self.reset()

    def reset(self):
        """Count a new program's printing in this same object (a logging handler may hold on to it)."""
        self.size, self.lines, self.head, self.last = 0, 0, "", ""

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        if len(self.head) < MAX_PRINTED:
            self.head += text[:MAX_PRINTED - len(self.head)]
        self.size += len(text)
        joined = self.last + text  # with the last character written: "\r\n" may be split between writes
        self.lines += text.count("\n") + text.count("\r") - joined.count("\r\n")
        self.last = joined[-1:]
        return len(text)


class Job:
    """One request: the submission root and the job folder with the inputs."""

    def __init__(self, job_dir, submission_dir):
        self.job_dir = Path(job_dir).resolve()
        self.submission_dir = Path(submission_dir).resolve()
        self.inputs = {}
        self.results = []
        self.call_args = []
        self.printed = CountingWriter()  # the running program's stdout
        self.printed_lines = []  # per call
        self.channel = None

    def substitute(self, names):
        """Proxies of the reference in place of the student's functions ``names`` (see proxy.py)."""
        if not names or self.channel is None:
            return proxy.Installed()
        return proxy.install(names, self.channel, lambda name: import_course_lib_name(name, self.submission_dir))

    # Resolving values -------------------------------------------------------

    def resolve(self, value, copy=True):
        if isinstance(value, dict):
            if len(value) == 1:
                (key, arg), = value.items()
                if key == "$in":
                    array = self.inputs[arg]
                    return array.copy() if copy else array
                if key == "$shared":
                    return self.inputs[arg]
                if key == "$r":
                    return self.lookup(self.results, arg)
                if key == "$a":
                    return self.lookup(self.call_args, arg)
                if key == "$printed":
                    return self.printed_lines[arg]
                if key == "$dtype":
                    return np.dtype(arg).type
                if key == "$file":
                    return str(self.job_dir / arg)
                if key == "$tuple":
                    return tuple(self.resolve(item, copy) for item in arg)
            return {key: self.resolve(item, copy) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, copy) for item in value]
        return value

    def lookup(self, table, ref):
        index, *path = ref
        target = table[index]
        for step in path:
            target = step_into(target, step)
        return target

    # Running calls ----------------------------------------------------------

    def run_call(self, call):
        if "seed" in call:
            np.random.seed(call["seed"])
            return None, []
        if "assign" in call:
            target = self.resolve(call["assign"])
            *path, last = call["path"]
            for step in path:
                target = step_into(target, step)
            value = self.resolve(call["value"])
            if isinstance(target, dict) or isinstance(last, int):
                target[last] = value
            else:
                setattr(target, last, value)
            return None, []
        function = self.callable_of(call)
        args = self.resolve(call.get("args", []))
        kwargs = self.resolve(call.get("kwargs", {}))
        return function(*args, **kwargs), args

    def callable_of(self, call):
        if "method" in call:
            owner = self.resolve(call["on"])
            return getattr(owner, call["method"])
        return import_course_lib_name(call["fn"], self.submission_dir)

    def run_calls(self, calls, first, last):
        for index in range(first, last + 1):
            call = calls[index]
            lines_before = self.printed.lines
            try:
                result, args = self.run_call(call)
            except (Exception, SystemExit) as error:  # the student's code may raise anything, even exit()
                raise ProgramError(describe_exception(error, self.call_label(call), self.submission_dir)) from None
            printed = self.printed.lines - lines_before
            if index < len(self.results):
                self.results[index], self.call_args[index] = result, args
                self.printed_lines[index] = printed
            else:
                self.results.append(result)
                self.call_args.append(args)
                self.printed_lines.append(printed)

    def call_label(self, call):
        """How a failing call is named to the student: "layers.affine_forward", "fc_net.TwoLayerNet.loss"."""
        if "seed" in call:
            return "np.random.seed"
        if "assign" in call:
            return "setting " + ".".join(str(step) for step in call["path"])
        if "method" not in call:
            return call["fn"]
        try:
            owner = type(self.resolve(call["on"], copy=False))
        except Exception:  # the object to call the method on was never made
            return call["method"]
        module = owner.__module__.replace("course_lib.", "", 1)
        return f"{module}.{owner.__qualname__}.{call['method']}"

    # Nudged forward passes -------------------------------------------------

    def nudged_outputs(self, calls, spec):
        """{name: (outputs at x + h e_i, outputs at x - h e_i)} for every entry i of every ``wrt`` array."""
        first, last = spec["calls"]
        h = spec.get("h", 1e-6)

        def forward():
            self.run_calls(calls, first, last)
            output = self.results[last]
            for step in spec.get("output", []):
                output = step_into(output, step)
            return np.array(output, dtype=np.float64)

        nudged = {}
        for name, ref in spec["wrt"].items():
            target = self.resolve(ref, copy=False)
            if not isinstance(target, np.ndarray) or not np.issubdtype(target.dtype, np.floating):
                raise ProgramError({"type": "TypeError", "message": f"{name}: not an array of floats"})
            nudged[name] = nudge_each_entry(forward, target, h)
        return nudged


def step_into(target, step):
    """target[step] for mappings and sequences, getattr(target, step) for other objects."""
    if isinstance(step, int) or isinstance(target, dict):
        return target[step]
    if isinstance(target, (list, tuple)):
        return target[int(step)]
    return getattr(target, step)


def nudge_each_entry(forward, x, h):
    """forward() with each entry of x moved by +h and by -h in turn, stacked: (plus, minus)."""
    plus, minus = [], []
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        plus.append(forward())
        x[index] = original - h
        minus.append(forward())
        x[index] = original
    if not plus:
        return np.zeros(x.shape), np.zeros(x.shape)
    return (np.stack(plus).reshape(x.shape + plus[0].shape),
            np.stack(minus).reshape(x.shape + minus[0].shape))


def import_course_lib_name(qualname, submission_dir):
    """The object named ``qualname`` inside course_lib, e.g. "classifiers.fc_net.TwoLayerNet"."""
    parts = qualname.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = "course_lib." + ".".join(parts[:split])
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name is not None and module_name.startswith(error.name):
                continue
            raise
        check_origin(module, submission_dir)
        target = module
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ImportError(f"course_lib has no module for {qualname}")


def check_origin(module, submission_dir):
    """Refuse to grade a course_lib that is not the submission's (e.g. an installed reference)."""
    origin = Path(getattr(module, "__file__", "") or "").resolve()
    if submission_dir not in origin.parents:
        raise ImportError(f"{module.__name__} was imported from outside the submission")


# Describing failures -------------------------------------------------------


def describe_exception(error, label, submission_dir):
    """What went wrong, with only the student's own frames (paths relative to the submission).

    An error raised while a module of the submission was being imported (a
    syntax error, or a failing module-level line) is that file's: it is named as
    "importing <file>", not after the function the test called, whichever test
    imports it.
    """
    frames = []
    for frame in traceback.extract_tb(error.__traceback__):
        shown = relative_to_submission(frame.filename, submission_dir)
        if shown is not None:
            line = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
            frames.append({"file": shown, "line": frame.lineno, "function": frame.name, "code": line[:200]})
    if isinstance(error, SyntaxError) and error.filename:
        shown = relative_to_submission(error.filename, submission_dir)
        if shown is not None:
            code = (error.text or "").strip()[:200]
            # The file and line of the mistake; the chain of imports that reached it adds nothing.
            frames = [{"file": shown, "line": error.lineno, "function": "<module>", "code": code}]
    if frames and frames[-1]["function"] == "<module>":
        label = f"importing {frames[-1]['file']}"
    if isinstance(error, SyntaxError):
        message = error.msg
    elif isinstance(error, SystemExit):
        message = f"your code called exit({error.code!r})"
    else:
        message = str(error)
    # Paths into the worker's private copy read as paths in the student's own upload.
    message = message.replace(f"{submission_dir}{os.sep}", "")
    note = limit_reached(error)
    message = message[:MAX_TEXT - len(note)] + note
    return {
        "where": label,
        "type": type(error).__name__,
        "message": message,
        "not_implemented": isinstance(error, NotImplementedError),
        "frames": frames[-MAX_FRAMES:],
    }


def limit_reached(error):
    """Which limit of the worker an error comes from, in words, or ""."""
    if isinstance(error, MemoryError):
        return f" (out of memory: the worker may use {megabytes(resource.RLIMIT_AS)} of memory)"
    if isinstance(error, OSError) and error.errno == errno.EFBIG:
        return f" (output size: the worker may write at most {megabytes(resource.RLIMIT_FSIZE)} per file)"
    return ""


def megabytes(kind):
    limit = resource.getrlimit(kind)[0]
    return "unlimited bytes" if limit == resource.RLIM_INFINITY else f"{limit >> 20} MB"


def relative_to_submission(filename, submission_dir):
    try:
        return Path(filename).resolve().relative_to(submission_dir).as_posix()
    except (ValueError, OSError):
        return None


def describe_warnings(caught, submission_dir):
    notes = []
    for item in caught[:MAX_WARNINGS]:
        where = relative_to_submission(item.filename, submission_dir)
        text = f"{item.category.__name__}: {str(item.message)[:200]}"
        notes.append(f"{text} ({where}, line {item.lineno})" if where else text)
    return notes


# Sending results back ------------------------------------------------------


def flatten_output(name, value, arrays, kinds, depth=0):
    """Store ``value`` as numeric arrays named ``name`` or ``name/key``; record what it was."""
    if isinstance(value, dict) and depth < 3:
        kinds[name] = {"type": "dict", "keys": [str(key) for key in value]}
        for key, item in value.items():
            flatten_output(f"{name}/{key}", item, arrays, kinds, depth + 1)
        return
    if value is None:
        kinds[name] = {"type": "None"}
        return
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged lists and exotic objects
        kinds[name] = {"type": type(value).__name__, "error": str(error)[:200]}
        return
    if array.dtype.kind not in "biuf":
        kinds[name] = {"type": type(value).__name__, "dtype": str(array.dtype)}
        return
    arrays[name] = array
    kinds[name] = {"type": type(value).__name__, "shape": list(array.shape), "dtype": str(array.dtype)}


def collect_outputs(job, outputs):
    arrays, kinds = {}, {}
    for name, ref in outputs.items():
        try:
            value = job.resolve(ref, copy=False)
        except (KeyError, IndexError, AttributeError, TypeError) as error:
            kinds[name] = {"type": "missing", "error": f"{type(error).__name__}: {str(error)[:200]}"}
            continue
        flatten_output(name, value, arrays, kinds)
    return arrays, kinds


def run_program(job, program):
    """Run one program; returns (arrays, reply)."""
    if "seed" in program:
        np.random.seed(program["seed"])
    calls = program.get("calls", [])
    job.results, job.call_args, job.printed_lines = [], [], []
    reply, arrays, problems = {"status": "ok"}, {}, []
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        substitutes = job.substitute(program.get("substitutes", []))
        try:
            job.run_calls(calls, 0, len(calls) - 1)
            arrays, reply["outputs"] = collect_outputs(job, program.get("outputs", {}))
        except ProgramError as failure:
            reply = {"status": "error", "error": failure.info}
        except Exception as error:  # e.g. a result whose attributes raise while being read
            reply = {"status": "error", "error": describe_exception(error, "reading the results", job.submission_dir)}
        if reply["status"] == "ok":
            arrays.update(numeric_arrays(job, calls, program.get("numeric", []), problems))
        substitutes.restore()
    reply["seconds"] = time.perf_counter() - started
    reply["warnings"] = problems + describe_warnings(caught, job.submission_dir)
    return arrays, reply


def numeric_arrays(job, calls, specs, problems):
    """The nudged forward outputs ``numeric/<name>/plus|minus``; a failure is noted in problems and leaves them out."""
    arrays = {}
    for spec in specs:
        try:
            for name, (plus, minus) in job.nudged_outputs(calls, spec).items():
                arrays.update({f"numeric/{name}/plus": plus, f"numeric/{name}/minus": minus})
        except ProgramError as failure:
            problems.append(f"the numerical gradient of your code could not be computed: "
                            f"{failure.info.get('type', 'Error')}: {failure.info.get('message', '')}")
        except Exception as error:  # an output that is not an array of numbers, or changes shape
            problems.append(f"the numerical gradient of your code could not be computed: {type(error).__name__}")
    return arrays


def write_atomically(path, write):
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        write(file)
    os.replace(temporary, path)


def load_inputs(path):
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def main(job_dir):
    try:
        run_request(job_dir)
    except MemoryError:  # outside the student's calls (e.g. storing huge outputs): the sandbox names the cause
        os._exit(OUT_OF_MEMORY_EXIT)


def run_request(job_dir):
    request = json.loads((job_dir / "request.json").read_text())
    submission_dir = Path.cwd()
    sys.path.insert(0, str(submission_dir))
    job = Job(job_dir, submission_dir)
    if isinstance(request.get("channel"), int):
        job.channel = proxy.Channel(request["channel"])
    for index, program in enumerate(request["programs"]):
        job.inputs = load_inputs(job_dir / f"inputs_{index}.npz")
        job.printed.reset()
        sys.stdout = sys.stderr = job.printed
        try:
            arrays, reply = run_program(job, program)
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        reply["printed"] = {"chars": job.printed.size, "head": job.printed.head}
        try:
            write_atomically(job_dir / f"outputs_{index}.npz", lambda file, arrays=arrays: np.savez(file, **arrays))
        except Exception as error:  # results no file can hold: beyond the output-size limit, names no zip takes
            reply.update(status="error", error=describe_exception(error, "storing your results", job.submission_dir))
            write_atomically(job_dir / f"outputs_{index}.npz", lambda file: np.savez(file))
        # The reply comes last: its presence tells the sandbox the program is complete.
        body = json.dumps(reply, default=str).encode()
        if len(body) > MAX_REPLY_BYTES:  # e.g. a dict of a million entries: said, not sent
            too_large = ValueError(f"your results take {len(body) >> 20} MB to describe (dicts of too many or too "
                                   "long keys?); return what the docstring says")
            reply.update(status="error", outputs={}, error=describe_exception(too_large, "storing your results", job.submission_dir))
            body = json.dumps(reply, default=str).encode()
        write_atomically(job_dir / f"reply_{index}.json", lambda file, body=body: file.write(body))


if __name__ == "__main__":
    main(Path(__file__).resolve().parent)
