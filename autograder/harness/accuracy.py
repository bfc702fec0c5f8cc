"""Accuracy of a submitted checkpoint on the held-out data packed in the autograder.

A standard model class is rebuilt and evaluated by the reference library in
the grading process, so the student's code never sees the held-out labels; a
custom architecture is evaluated by the student's own code in a worker that
receives only the preprocessed images and returns class scores.
"""
import json
import math
import resource
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from autograder.harness.judge import CheckResult, Verdict

# Evaluated in the grading process by the reference forward; the value says
# what input layout the class takes: "images" as the data loaders give them,
# "rows" flattened to (N, D) as the two_layer_nn notebook feeds neural_net.TwoLayerNet.
STANDARD_CLASSES = {
    "course_lib.classifiers.neural_net.TwoLayerNet": "rows",
    "course_lib.classifiers.fc_net.TwoLayerNet": "images",
    "course_lib.classifiers.fc_net.FullyConnectedNet": "images",
    "course_lib.classifiers.cnn.ThreeLayerConvNet": "images",
    "course_lib.mlp.nets.TestFCReLU": "images",
    "course_lib.mlp.nets.SmallFullyConnectedNetwork": "images",
    "course_lib.mlp.nets.DropoutNet": "images",
    "course_lib.mlp.nets.TinyNet": "images",
}
BATCH_SIZE = 100
MAX_CHECKPOINT_BYTES = 400 << 20
# Room the grading process gets for building a submitted model: a checkpoint
# whose recorded arguments ask for absurd sizes fails cleanly instead of
# exhausting the machine.
MODEL_MEMORY_BYTES = 1536 << 20


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


def checkpoint_class(path):
    """The class name recorded in a checkpoint; a CheckpointError for anything unreadable or oversized."""
    try:
        with zipfile.ZipFile(path) as archive:
            if sum(member.file_size for member in archive.infolist()) > MAX_CHECKPOINT_BYTES:
                raise CheckpointError(f"the checkpoint holds more than {MAX_CHECKPOINT_BYTES >> 20} MB of arrays")
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
        return str(meta["class"])
    except CheckpointError:
        raise
    except Exception as error:  # any malformed file: zip, npy header, JSON or keys
        raise CheckpointError(f"not a checkpoint written by course_lib.checkpoint.save_model "
                              f"({type(error).__name__})") from None


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


def reference_scores(path, heldout, reference, layout):
    """Scores of a standard-class checkpoint from the reference forward, batch by batch."""
    load_model = reference.attribute("checkpoint.load_model")
    class_scores = reference.attribute("checkpoint.class_scores")
    try:
        with memory_budget(MODEL_MEMORY_BYTES):
            model = load_model(path)
            return np.concatenate([
                class_scores(model, preprocessed(heldout, start, start + BATCH_SIZE, layout), BATCH_SIZE)
                for start in range(0, len(heldout["y"]), BATCH_SIZE)
            ])
    except MemoryError:
        raise CheckpointError("the model the checkpoint describes is too large to evaluate") from None
    except (ValueError, TypeError, KeyError) as error:
        # The loader names the file by its path on this machine; the student knows it by its own name.
        message = str(error).replace(str(path), Path(path).name)
        raise CheckpointError(f"it could not be loaded or evaluated: {message}") from None


def grade_checkpoint(checkpoint, path, heldout, reference, run_custom):
    """Verdict and leaderboard entry of one checkpoint (manifest entry with file, lo, hi).

    run_custom(path, images) returns (scores, None) or (None, Verdict) for a
    custom architecture, evaluated by the student's code in a worker.
    """
    if path is None:
        return Verdict(0.0, [f"{checkpoint['file']} was not found in your upload; run "
                             f"{checkpoint['notebook']} to the end, it saves this checkpoint"], failure="missing_file")
    try:
        class_name = checkpoint_class(path)
        layout = STANDARD_CLASSES.get(class_name)
        if layout is not None:
            scores = reference_scores(path, heldout, reference, layout)
        else:
            scores, failed = run_custom(path, preprocessed(heldout, 0, len(heldout["y"]), "images"))
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
