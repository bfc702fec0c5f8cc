"""Accuracy of a submitted checkpoint on the held-out data packed in the autograder.

A checkpoint is read within a budget (``archives``): only float32/float64
arrays and a short JSON ``meta`` are accepted, and a clean copy holding just
those is what gets evaluated. A standard model class is rebuilt and evaluated
by the reference library in a child of the grading process, under a time and
memory limit, so the student's code never sees the held-out labels and a
crafted checkpoint cannot hang or exhaust the grading process; a custom
architecture is evaluated by the student's own code in a worker that
receives only the preprocessed images and returns class scores.
"""
import json
import math
import multiprocessing
import resource
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from autograder.archives import Budget, BudgetExceeded, MemberProblem, read_npz
from autograder.harness.architectures import architecture_problem
from autograder.harness.judge import CheckResult, Verdict
from autograder.suites.checkpoints import STANDARD_CLASSES

BATCH_SIZE = 100
CHECKPOINT_LIMITS = {"max_bytes": 128 << 20, "max_files": 1000, "seconds": 60.0}
META_CHARACTERS = 16384
ACCEPTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# Room the evaluating child gets for building a submitted model: a checkpoint
# whose recorded arguments ask for absurd sizes fails cleanly instead of
# exhausting the machine (Gradescope's container has 768 MB in all).
MODEL_MEMORY_BYTES = 448 << 20
EVALUATION_SECONDS = 120.0


class CheckpointError(ValueError):
    """A checkpoint cannot be evaluated; the message is meant for the student."""


def score_fraction(accuracy_percent, lo, hi):
    """The courses' formula: clip(floor(X - lo) / (hi - lo), 0, 1), X in percent."""
    return float(min(max(math.floor(accuracy_percent - lo) / (hi - lo), 0.0), 1.0))


def load_heldout(path):
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def preprocessed(heldout, start, stop, layout):
    """Images start..stop as the data loaders return them (scaled, minus the training mean), float32."""
    images = heldout["X"][start:stop].astype(np.float32) * np.float32(heldout["scale"]) - heldout["mean"]
    return images.reshape(len(images), -1) if layout == "rows" else images


def accepted_array(name, dtype, shape):
    """Why a checkpoint member is refused, or None: ``meta`` is a short string, the rest float arrays."""
    if name == "meta":
        if dtype.kind != "U" or tuple(shape) != () or dtype.itemsize > 4 * META_CHARACTERS:
            return "must be a short JSON string, as save_model writes it"
        return None
    if dtype.newbyteorder("=") not in ACCEPTED_DTYPES:
        return f"dtype {dtype}: only float32 and float64 arrays are accepted"
    return None


def read_checkpoint(path):
    """(meta, {name: array}) of a checkpoint, every member checked; a CheckpointError naming what is wrong."""
    try:
        arrays, problems = read_npz(Path(path), Budget(**CHECKPOINT_LIMITS), accepted_array)
    except (MemberProblem, BudgetExceeded) as error:
        raise CheckpointError(f"it cannot be read: {error}") from None
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise CheckpointError("it holds members that are refused: " + "; ".join(problems[:3]) + more)
    if "meta" not in arrays:
        raise CheckpointError("not a checkpoint written by course_lib.checkpoint.save_model (no 'meta' entry)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (ValueError, RecursionError):
        meta = None
    if not isinstance(meta, dict) or not isinstance(meta.get("class"), str) or not isinstance(meta.get("kwargs"),
                                                                                                  dict):
        raise CheckpointError("its 'meta' entry is not what course_lib.checkpoint.save_model writes")
    nonfinite = [name for name, array in arrays.items() if not np.all(np.isfinite(array))]
    if nonfinite:
        verb = "holds" if len(nonfinite) == 1 else "hold"
        raise CheckpointError(f"{', '.join(sorted(nonfinite)[:3])} {verb} NaN or inf, as when training diverges: "
                              "save a model whose weights are finite (a lower learning rate often helps)")
    # Arrays written on a machine of the other byte order are read as the same numbers in this one's.
    return meta, {name: array.astype(array.dtype.newbyteorder("=")) for name, array in arrays.items()}


def clean_copy(path, folder):
    """(meta, path of a copy of the checkpoint holding only its checked arrays and meta)."""
    meta, arrays = read_checkpoint(path)
    copy = Path(folder) / Path(path).name
    with open(copy, "wb") as file:
        np.savez(file, meta=np.array(json.dumps(meta)), **arrays)
    return meta, copy


@contextmanager
def memory_budget(extra_bytes):
    """Lower the soft address-space limit to the current size plus ``extra_bytes`` for a while."""
    try:
        with open("/proc/self/status") as status:
            size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size_kb * 1024 + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def reference_scores(path, heldout, reference, layout, seconds=EVALUATION_SECONDS):
    """Scores of a standard-class checkpoint from the reference forward, batch by batch, computed in a
    child process within ``seconds`` and MODEL_MEMORY_BYTES."""
    def evaluate():
        load_model = reference.attribute("checkpoint.load_model")
        class_scores = reference.attribute("checkpoint.class_scores")
        model = load_model(path)
        return np.concatenate([
            class_scores(model, preprocessed(heldout, start, start + BATCH_SIZE, layout), BATCH_SIZE)
            for start in range(0, len(heldout["y"]), BATCH_SIZE)
        ])

    status, value = in_child(evaluate, seconds)
    if status == "ok":
        return value
    if status == "timeout":
        raise CheckpointError(f"evaluating the model it describes took more than {seconds:g} s")
    if status == "MemoryError":
        raise CheckpointError("the model the checkpoint describes is too large to evaluate")
    # The loader names the file by its path on this machine; the student knows it by its own name.
    raise CheckpointError(f"it could not be loaded or evaluated: {value.replace(str(path), Path(path).name)}")


def in_child(function, seconds):
    """("ok", function()) computed in a forked child with limited memory and CPU time, or
    ("timeout", "") or (exception type name, message)."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=child_main, args=(function, sender, seconds), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            return "timeout", ""
        return receiver.recv()
    except EOFError:  # the child died without answering (a limit killed it)
        return "MemoryError", ""
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()


def child_main(function, sender, seconds):
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (int(seconds) + 1, hard))
    try:
        with memory_budget(MODEL_MEMORY_BYTES):
            answer = ("ok", function())
    except MemoryError:  # numpy's own kind of it included
        answer = ("MemoryError", "")
    except Exception as error:  # reported to the parent, which turns it into feedback
        answer = (type(error).__name__, str(error)[:500])
    sender.send(answer)
    sender.close()


def grade_checkpoint(checkpoint, path, heldout, reference, run_custom, seconds=EVALUATION_SECONDS):
    """Verdict and leaderboard entry of one checkpoint (manifest entry with file, lo, hi).

    run_custom(path, images) returns (scores, None) or (None, Verdict) for a
    custom architecture, evaluated by the student's code in a worker;
    ``seconds`` bounds the evaluation of a standard class.
    """
    if path is None:
        return Verdict(0.0, [f"{checkpoint['file']} was not found in your upload; run "
                             f"{checkpoint['notebook']} to the end, it saves this checkpoint"], failure="missing_file")
    try:
        with tempfile.TemporaryDirectory(prefix="checkpoint-") as folder:
            meta, clean = clean_copy(path, folder)
            class_name = meta["class"]
            problem = checkpoint.get("architecture") and architecture_problem(checkpoint["architecture"], meta)
            if problem:
                return Verdict(0.0, [f"{checkpoint['file']}: {problem}"], failure="error")
            layout = STANDARD_CLASSES.get(class_name)
            if layout is not None:
                scores = reference_scores(clean, heldout, reference, layout, seconds)
            else:
                scores, failed = run_custom(clean, preprocessed(heldout, 0, len(heldout["y"]), "images"))
                if failed is not None:
                    return failed
    except CheckpointError as error:
        return Verdict(0.0, [f"{checkpoint['file']}: {error}"], failure="error")
    return accuracy_verdict(checkpoint, class_name, layout, scores, heldout)


def accuracy_verdict(checkpoint, class_name, layout, scores, heldout):
    labels = heldout["y"]
    if scores.ndim != 2 or len(scores) != len(labels) or not np.all(np.isfinite(scores)):
        return Verdict(0.0, [f"{checkpoint['file']}: the model's scores have shape {scores.shape} "
                             f"(or NaN/inf); expected ({len(labels)}, number of classes)"], failure="error")
    accuracy = 100.0 * float(np.mean(np.argmax(scores, axis=1) == labels))
    lo, hi = float(checkpoint["lo"]), float(checkpoint["hi"])
    fraction = score_fraction(accuracy, lo, hi)
    evaluated = "the reference forward pass" if layout else "your own code (custom architecture)"
    lines = [f"{Path(checkpoint['file']).name}: {class_name.rpartition('.')[2]}, evaluated by {evaluated}",
             f"accuracy on {len(labels)} held-out images: {accuracy:.2f}%",
             f"score: clip(floor({accuracy:.2f} - {lo:g}) / ({hi:g} - {lo:g}), 0, 1) = {fraction:.4f}"]
    if int(heldout["standin"]):
        lines.append("graded on the stand-in data, not the real dataset")
    check = CheckResult("accuracy", "accuracy", fraction >= 1.0, lines[1], error=accuracy, tolerance=hi)
    return Verdict(fraction, lines, leaderboard=(checkpoint["name"], round(accuracy / 100.0, 4)), checks=[check])
