"""End-to-end tests of every assignment's autograder zip, graded exactly as Gradescope would.

Each assignment's zip, stub release and reference submission are built once
per session (tests/autograder_support/artifacts.py); every results.json is
validated against the schema as it is produced.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

from autograder import format_table, layout
from autograder.local import BuildCheckError, check_build, unpack_autograder
from autograder.suites import plan_tests
from autograder.suites.spec import CHECKPOINT
from course_tools.manifest import module_file, split_function_key
from tests.autograder_support.artifacts import ASSIGNMENTS, SEED, data_dir, shared_artifacts
from tests.autograder_support.releases import REPO_ROOT
from tests.autograder_support.submissions import (
    accuracy,
    baked_manifest,
    copy_without,
    grade,
    validate_results,
    with_output_layer,
)

# A file per assignment whose absence must cost only the tests that use it (an assignment not listed:
# the last of its student files).
MISSING_FILE = {"hw3": "classifiers/neural_net.py", "hw4": "optim.py", "hw5": "classifiers/cnn.py",
                "svhn": "mlp/optim.py"}


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory, standin_dir):
    return shared_artifacts(tmp_path_factory, standin_dir)


def reference_results(built):
    return built.graded("reference", built.reference_zip)


def planned_by_number(built):
    return {planned.number: planned for planned in plan_tests(baked_manifest(built.zip))}


def total_points(results):
    return round(sum(test["max_score"] for test in results["tests"]), 4)


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_reference_zipped_in_a_folder_scores_full_marks(artifacts, assignment_id):
    built = artifacts[assignment_id]
    results = reference_results(built)
    failing = [f"{t['number']} {t['name']}:\n{t['output']}" for t in results["tests"] if t["status"] != "passed"]
    assert not failing, "\n".join(failing)
    manifest = baked_manifest(built.zip)
    expected = (sum(manifest["functions"].values()) + sum(c["points"] for c in manifest["checkpoints"])
                + sum(manifest["experiments"].values()))
    assert results["score"] == total_points(results) == round(expected, 4)
    # Every function of the manifest is graded, and the files were found inside the zipped folder.
    assert set(manifest["functions"]) <= {t["extra_data"]["function"] for t in results["tests"]}
    for name in manifest["student_files"]:
        assert f"course_lib/{name} (from my_submission/course_lib/{name})" in results["output"]
    assert len(results["leaderboard"]) == len(manifest["checkpoints"])


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_untouched_release_scores_zero_and_says_not_implemented(artifacts, assignment_id):
    built = artifacts[assignment_id]
    results = built.graded("release", built.release)
    assert results["score"] == 0
    for test in results["tests"]:
        if test["extra_data"]["kind"] == "written":  # worth nothing: it shows the (missing) notebooks
            continue
        assert test["status"] == "failed"
        if test["extra_data"]["kind"] in ("accuracy", "log"):
            assert "was not found in your upload" in test["output"]
        else:
            assert test["extra_data"]["not_implemented"], test["output"]
            assert "not implemented yet" in test["output"]


def depends_on(test, relative):
    keys = test.requires if test.scores_upload else (test.function, *test.requires)
    return any(module_file(REPO_ROOT / "course_lib", split_function_key(key)[0]) == relative for key in keys)


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_missing_file_loses_only_the_tests_that_use_it(artifacts, assignment_id, tmp_path):
    built = artifacts[assignment_id]
    missing = MISSING_FILE.get(assignment_id) or baked_manifest(built.zip)["student_files"][-1]
    submission = copy_without(built.reference, tmp_path / "submission", f"course_lib/{missing}")
    results = grade(assignment_id, submission, built.zip)
    planned = planned_by_number(built)
    lost = {t["number"] for t in results["tests"] if t["status"] == "failed"}
    expected = {number for number, p in planned.items()
                if p.test.kind != CHECKPOINT and depends_on(p.test, missing)}
    assert expected and lost == expected
    assert results["score"] == round(total_points(results) - sum(p.max_score for n, p in planned.items()
                                                                 if n in expected), 4)
    assert f"course_lib/{missing} was not found in your upload" in results["output"]


def held_out_set(dataset):
    """The held-out images (the first test images) as the notebooks' loaders give them, and labels."""
    from course_lib import data_utils

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data_utils.StandInDataWarning)
        if dataset == "cifar10":
            data = data_utils.get_CIFAR10_data(num_training=1800, num_validation=200, num_test=500)
            return data["X_test"], data["y_test"]
        data = data_utils.SVHN_data(num_training=1800, num_validation=200, num_test=500)
        return data["data_test"], data["labels_test"]


def scored_checkpoint(path, shift, images, labels, negate=False):
    """Accuracy (percent) of the checkpoint with its output layer changed (see with_output_layer), and that model."""
    from course_lib.checkpoint import class_scores, load_model

    model = with_output_layer(load_model(path), shift, negate)
    inputs = images.reshape(len(images), -1) if type(model).__module__.endswith("neural_net") else images
    return accuracy(class_scores(model, inputs), labels), model


def shift_for_accuracy(path, images, labels, lo, hi):
    """A bias shift that puts the accuracy strictly between lo and hi (bisection on a log scale)."""
    small, large = -3.0, 4.0
    for _ in range(30):
        middle = (small + large) / 2
        value, _ = scored_checkpoint(path, 10.0 ** middle, images, labels)
        if lo + 2 < value < hi - 2:
            return 10.0 ** middle
        small, large = (middle, large) if value >= hi - 2 else (small, middle)
    raise AssertionError("no bias shift gives an accuracy between lo and hi")


def formula(accuracy_percent, lo, hi):
    return min(max(math.floor(accuracy_percent - lo) / (hi - lo), 0.0), 1.0)


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_checkpoint_accuracy_is_scored_with_the_formula(artifacts, assignment_id, tmp_path):
    from course_lib.checkpoint import save_model

    built = artifacts[assignment_id]
    checkpoint = baked_manifest(built.zip)["checkpoints"][0]
    number = next(n for n, p in planned_by_number(built).items() if p.test.checkpoint == checkpoint)
    source = built.reference / checkpoint["file"]
    with data_dir(built.data):
        images, labels = held_out_set(checkpoint["dataset"])
    lo, hi = checkpoint["lo"], checkpoint["hi"]
    # As trained (above hi), degraded to between lo and hi, and with every score negated (below lo).
    variants = [(0.0, False), (shift_for_accuracy(source, images, labels, lo, hi), False), (0.0, True)]
    fractions = []
    for index, (shift, negate) in enumerate(variants):
        known, model = scored_checkpoint(source, shift, images, labels, negate)
        submission = tmp_path / f"submission{index}"
        save_model(model, submission / checkpoint["file"])
        results = grade(assignment_id, submission, built.zip, only=[number])
        test = next(t for t in results["tests"] if t["number"] == number)
        assert test["score"] == round(checkpoint["points"] * formula(known, lo, hi), 4)
        assert f"{known:.2f}%" in test["output"] and "stand-in" in test["output"]
        assert results["leaderboard"][0]["value"] == round(known / 100, 4)
        fractions.append(test["extra_data"]["fraction"])
    assert fractions[0] == 1.0 and 0.0 < fractions[1] < 1.0 and fractions[2] == 0.0


MUTATIONS = '''

import warnings as _warnings

_reference_affine_backward = affine_backward
_reference_relu_forward = relu_forward
_reference_relu_backward = relu_backward


def affine_backward(dout, cache):
    dx, dw, db = _reference_affine_backward(dout, cache)
    return dx, 2 * dw, db


def relu_forward(x):
    out, cache = _reference_relu_forward(x)
    _warnings.warn("a warning from the student's code")
    print("debugging output " * 10000)
    return out.astype(np.float32), cache


def relu_backward(dout, cache):
    dx = _reference_relu_backward(dout, cache)
    dx[0, 0] = np.nan
    return dx
'''

BROKEN_PREDICT = '''

def _helper_with_a_bug(X):
    raise ValueError("my own bug")


def _broken_predict(self, X):
    return _helper_with_a_bug(X)


TwoLayerNet.predict = _broken_predict
'''


def test_feedback_names_wrong_outputs_and_gives_partial_credit(artifacts, tmp_path):
    built = artifacts["hw3"]
    submission = tmp_path / "submission"
    shutil.copytree(built.reference / "course_lib", submission / "course_lib")
    with open(submission / "course_lib" / "layers.py", "a") as file:
        file.write(MUTATIONS)
    with open(submission / "course_lib" / "classifiers" / "neural_net.py", "a") as file:
        file.write(BROKEN_PREDICT)
    only = ["layers.affine_backward", "layers.relu_forward", "layers.relu_backward",
            "classifiers.neural_net.TwoLayerNet.predict"]
    results = grade("hw3", submission, built.zip, only=only)
    tests = {}
    for test in results["tests"]:  # each function's first test (the plain forward or gradient check)
        tests.setdefault(test["extra_data"]["function"], test)

    backward = tests["layers.affine_backward"]
    assert backward["extra_data"]["fraction"] == pytest.approx(2 / 3)
    assert backward["score"] == round(backward["max_score"] * 2 / 3, 4) > 0
    assert "dx: ok" in backward["output"] and "db: ok" in backward["output"]
    assert "dw: relative error" in backward["output"] and "> tolerance 1e-07" in backward["output"]
    checks = {check["name"]: check for check in backward["extra_data"]["checks"]}
    assert [checks[name]["passed"] for name in ("dx", "dw", "db")] == [True, False, True]
    assert checks["dw"]["problem"] == "mismatch" and checks["dw"]["tolerance"] == 1e-7
    assert checks["dw"]["error"] > 1e-7 and checks["dx"]["error"] <= 1e-7
    assert backward["extra_data"]["failure"] == ""

    forward = tests["layers.relu_forward"]
    assert forward["status"] == "passed", "warnings and a float32 result must not cost points"
    assert "Warnings (not penalized)" in forward["output"] and "a warning from the student's code" in forward["output"]
    assert "dtype float32, expected float64" in forward["output"]

    assert "dx: contains NaN or inf" in tests["layers.relu_backward"]["output"]
    assert tests["layers.relu_backward"]["extra_data"]["checks"][0]["problem"] == "nonfinite"

    predict = tests["classifiers.neural_net.TwoLayerNet.predict"]["output"]
    assert "classifiers.neural_net.TwoLayerNet.predict raised ValueError: my own bug" in predict
    assert 'File "course_lib/classifiers/neural_net.py"' in predict and "_helper_with_a_bug" in predict
    for harness_detail in ("worker.py", "autograder", "/tmp", "sandbox"):
        assert harness_detail not in predict
    assert tests["classifiers.neural_net.TwoLayerNet.predict"]["extra_data"]["failure"] == "error"
    assert all(t["output"].startswith("not run: not among the tests selected")
               for t in results["tests"] if t["extra_data"]["function"] not in only
               and t["extra_data"]["kind"] != "written")


def test_harness_failure_still_writes_results_with_every_test_failed(artifacts, tmp_path):
    built = artifacts["hw3"]
    root = layout.Root(tmp_path)
    unpack_autograder(built.zip, root.source)
    shutil.copytree(built.reference, root.submission)
    (root.source / layout.FIXTURES).write_bytes(b"not a fixture archive")
    env = {"AUTOGRADER_ROOT": str(root.root), "AUTOGRADER_PYTHON": sys.executable, "PATH": os.environ["PATH"]}
    completed = subprocess.run(["bash", str(root.source / "run_autograder")], env=env, capture_output=True,
                               text=True)
    assert completed.returncode == 0
    results = validate_results(json.loads(root.results.read_text()))
    assert results["score"] == 0 and results["tests"]
    assert all(t["status"] == "failed" and t["output"].startswith("Not run") for t in results["tests"])
    assert "The autograder itself failed" in results["output"]
    assert "Traceback" in completed.stdout + completed.stderr  # the details go to the instructors' log


def test_zip_layout_and_no_importable_solution(artifacts):
    built = artifacts["hw3"]
    with zipfile.ZipFile(built.zip) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", layout.MANIFEST, layout.FIXTURES, "heldout/cifar10.npz"} <= set(names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "autograder/worker.py" in names and "autograder/harness/pipeline.py" in names
    # Library code lives only under stubs/ (released) and reference/ (grading process); the builder stays home.
    assert all(n.startswith(("stubs/course_lib/", "reference/course_lib/")) for n in names if "course_lib/" in n)
    assert not {"autograder/build.py", "autograder/local.py", "autograder/reference_models.py"} & set(names)
    assert not any("nbgrader" in n for n in names)
    with zipfile.ZipFile(built.zip) as archive:
        for script in layout.SCRIPTS:
            syntax = subprocess.run(["bash", "-n"], input=archive.read(script), capture_output=True)
            assert syntax.returncode == 0, syntax.stderr


def test_check_build_accepts_the_reference_and_refuses_a_leaky_release(artifacts, tmp_path):
    built = artifacts["hw3"]
    report = check_build("hw3", REPO_ROOT, built.zip, built.release, checkpoint_dir=built.reference)
    assert report["reference"]["score"] == report["max_score"] == 40 and report["release"]["score"] == 0
    table = format_table(report["reference"], title="hw3: reference")
    assert table.startswith("hw3: reference") and "Total: 40 / 40" in table
    with pytest.raises(BuildCheckError, match="untouched release scores"):
        check_build("hw3", REPO_ROOT, built.zip, built.reference, checkpoint_dir=built.reference)


CUSTOM_NET = '''from course_lib.checkpoint import records_init_args
from course_lib.classifiers.fc_net import FullyConnectedNet


@records_init_args
class WiderNet(FullyConnectedNet):
    """A "custom architecture": any class of course_lib that is not a standard one."""
'''


def test_custom_architecture_is_evaluated_by_the_students_code(artifacts, tmp_path):
    """The same weights, saved as a class of the student's own module, score what the standard class scores."""
    built = artifacts["hw4"]
    checkpoint = baked_manifest(built.zip)["checkpoints"][0]
    number = next(n for n, p in planned_by_number(built).items() if p.test.checkpoint == checkpoint)
    submission = tmp_path / "submission"
    shutil.copytree(built.reference, submission)
    (submission / "course_lib" / "classifiers" / "wider_net.py").write_text(CUSTOM_NET)
    path = submission / checkpoint["file"]
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta["class"] = "course_lib.classifiers.wider_net.WiderNet"
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    results = grade("hw4", submission, built.zip, only=[number])
    custom = next(t for t in results["tests"] if t["number"] == number)
    standard = next(t for t in reference_results(built)["tests"] if t["number"] == number)
    assert "WiderNet, evaluated by your own code (custom architecture)" in custom["output"]
    assert custom["score"] == standard["score"] == checkpoint["points"]
    assert results["leaderboard"] == reference_results(built)["leaderboard"]


def test_builds_are_reproducible_and_fixtures_follow_the_seed(artifacts, tmp_path):
    from course_tools.autograder_zip import build_autograder_zip

    built = artifacts["hw3"]
    with data_dir(built.data):
        again = build_autograder_zip("hw3", REPO_ROOT, tmp_path / "again.zip", seed=SEED, release_dir=built.release)
        reseeded = build_autograder_zip("hw3", REPO_ROOT, tmp_path / "reseeded.zip", seed=SEED + 1,
                                        release_dir=built.release)
    assert again.read_bytes() == built.zip.read_bytes()
    with zipfile.ZipFile(built.zip) as first, zipfile.ZipFile(reseeded) as second:
        assert first.read(layout.FIXTURES) != second.read(layout.FIXTURES)
        assert json.loads(second.read(layout.MANIFEST))["seed"] == SEED + 1


def test_a_broken_checkpoint_scores_zero_with_a_reason(artifacts, tmp_path):
    built = artifacts["hw3"]
    checkpoint = baked_manifest(built.zip)["checkpoints"][0]
    number = next(n for n, p in planned_by_number(built).items() if p.test.checkpoint == checkpoint)
    path = tmp_path / "submission" / checkpoint["file"]
    path.parent.mkdir(parents=True)
    with np.load(built.reference / checkpoint["file"], allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta["kwargs"]["hidden_size"] += 1  # the stored weights no longer fit the recorded arguments
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    results = grade("hw3", tmp_path / "submission", built.zip, only=[number])
    test = next(t for t in results["tests"] if t["number"] == number)
    assert test["score"] == 0 and "could not be loaded or evaluated" in test["output"]
    assert "W1" in test["output"] and "/tmp" not in test["output"] and "grading-" not in test["output"]
