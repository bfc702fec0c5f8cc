"""Building submissions for the autograder tests and checking what the autograder returns."""
import json
import shutil
import zipfile
from pathlib import Path

import jsonschema
import numpy as np

from autograder import layout
from autograder.local import grade_submission

SCHEMA = json.loads((Path(layout.__file__).with_name("results_schema.json")).read_text())


def validate_results(results):
    """results.json follows the schema, and its scores add up."""
    jsonschema.validate(results, SCHEMA)
    for test in results["tests"]:
        assert 0 <= test["score"] <= test["max_score"], test["name"]
        assert (test["status"] == "passed") == (test["extra_data"]["fraction"] >= 1.0), test["name"]
    assert results["score"] == round(sum(test["score"] for test in results["tests"]), 4)
    return results


def grade(assignment_id, submission, zip_path, **options):
    """grade_submission, with the result checked against the schema every time."""
    return validate_results(grade_submission(assignment_id, submission, zip_path, **options))


def baked_manifest(zip_path):
    with zipfile.ZipFile(zip_path) as archive:
        return json.loads(archive.read(layout.MANIFEST))


def zip_folder(folder, zip_path, top):
    """Zip ``folder``'s contents under a top-level folder ``top`` (how students often zip)."""
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                archive.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
    return zip_path


def copy_without(folder, destination, relative):
    shutil.copytree(folder, destination)
    (Path(destination) / relative).unlink()
    return Path(destination)


def output_layer_keys(arrays):
    """Checkpoint entries (weights, biases) of the output layer: W<L>, b<L> or fc<L>_w, fc<L>_b."""
    def layer(key):
        return int("".join(ch for ch in key if ch.isdigit()) or 0)
    params = [key for key in arrays if key.startswith("param/")]
    weights = max((k for k in params if k.endswith("_w") or k[6:7] == "W"), key=layer)
    biases = max((k for k in params if k.endswith("_b") or k[6:7] == "b"), key=layer)
    return weights, biases


def with_output_layer(model, shift=0.0, negate=False):
    """The model with class 0's output bias raised by ``shift`` and, with ``negate``, every score negated."""
    from course_lib.checkpoint import get_model_arrays, set_model_arrays

    arrays = get_model_arrays(model)
    weights, biases = output_layer_keys(arrays)
    if negate:
        arrays[weights], arrays[biases] = -arrays[weights], -arrays[biases]
    arrays[biases][0] += shift
    set_model_arrays(model, arrays)
    return model


def accuracy(scores, labels):
    return 100.0 * float(np.mean(np.argmax(scores, axis=1) == labels))
