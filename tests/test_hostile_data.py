"""Hostile data, and student text shown to people: checkpoints, experiment logs, feedback, the staff pages.

The checkpoint uploads are graded end to end like tests/test_hostile_uploads.py (its check); the rest are
the readers and page writers on their own.
"""
import csv
import json
import re
import zipfile

import numpy as np
import pytest

from autograder.archives import Budget
from autograder.harness.accuracy import CheckpointError, read_checkpoint
from autograder.harness.collect import walk_regular_files
from autograder.harness.judge import Verdict
from autograder.harness.logs import (LogError, configuration_problems, grade_experiment, read_log,
                                     replay_program)
from autograder.harness.report import plain_feedback
from autograder.harness.written import escape_markdown
from autograder.suites.logs import DEEP_FILES, EXPERIMENTS, REPLAYED_ITERATIONS
from course_tools.class_report import spreadsheet_cell, write_class_report
from course_tools.export import Submission
from course_tools.grade_all import Run
from course_tools.written import markdown_renderer
from tests.test_hostile_uploads import (  # noqa: F401 (hw3 is a fixture)
    CHECKPOINT, TWO_LAYER_CHECKPOINT, TWO_LAYER_TEST, Upload, check_hostile_upload, hw3, npy_bytes,
    rewrite_checkpoint, stored)


def rewritten_arrays(submission, change):
    """The hw3 two-layer checkpoint with its arrays passed through ``change(name, array)``."""
    path = submission / TWO_LAYER_CHECKPOINT
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    np.savez(path, **{key: value if key == "meta" else change(key, value) for key, value in arrays.items()})


def big_endian_checkpoint(submission):
    """Written on a big-endian machine: the same numbers, so the same score."""
    rewritten_arrays(submission, lambda key, array: array.astype(array.dtype.newbyteorder(">")))


def with_meta(submission, meta):
    rewrite_checkpoint(submission / TWO_LAYER_CHECKPOINT,
                       lambda members: [stored("meta.npy", npy_bytes(np.array(json.dumps(meta))))
                                        if member[0] == "meta.npy" else member for member in members])


def huge_architecture_checkpoint(submission):
    """A standard class asked for a 3072 x 10**6 hidden layer: the evaluating child runs out of room."""
    with np.load(submission / TWO_LAYER_CHECKPOINT, allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"]))
    meta["kwargs"]["hidden_size"] = 10 ** 6
    with_meta(submission, meta)


def foreign_class_checkpoint(submission):
    """The meta names a class outside course_lib, with arguments that would run a command if called."""
    proof = submission.parent / "popen-ran"
    with_meta(submission, {"format": 1, "class": "subprocess.Popen",
                           "kwargs": {"args": ["touch", str(proof)]}})


DATA_UPLOADS = [
    Upload("big_endian_checkpoint", big_endian_checkpoint, also=(CHECKPOINT,)),
    Upload("huge_architecture_checkpoint", huge_architecture_checkpoint, zero_tests=(TWO_LAYER_TEST,),
           also=(CHECKPOINT,), feedback={TWO_LAYER_TEST: "too large to evaluate"}),
    Upload("foreign_class_checkpoint", foreign_class_checkpoint, zero_tests=(TWO_LAYER_TEST,), also=(CHECKPOINT,),
           feedback={TWO_LAYER_TEST: "only classes defined inside course_lib"}),
]


@pytest.mark.parametrize("upload", DATA_UPLOADS, ids=lambda upload: upload.name)
def test_hostile_checkpoint_gets_exactly_its_score_and_runs_nothing(upload, hw3, tmp_path):  # noqa: F811
    check_hostile_upload(upload, hw3, tmp_path)
    assert not (tmp_path / "popen-ran").exists()


# Checkpoint members on their own ------------------------------------------------------------


def test_links_in_the_upload_are_named_and_never_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "heldout.npz").write_bytes(b"hidden")
    upload = tmp_path / "upload"
    (upload / "checkpoints").mkdir(parents=True)
    (upload / "checkpoints" / "net.npz").symlink_to(outside / "heldout.npz")
    (upload / "data").symlink_to(outside, target_is_directory=True)
    (upload / "notes.txt").write_text("mine")
    problems = []
    found = walk_regular_files(upload, Budget(max_bytes=1 << 20, max_files=10), problems)
    assert [shown for _, shown in found] == ["notes.txt"]
    assert sorted(problems) == [f"{name} skipped: it is a symbolic link, which is never followed; upload the file "
                                "itself" for name in ("checkpoints/net.npz", "data")]


def npz_with(path, **members):
    meta = json.dumps({"format": 1, "class": "course_lib.classifiers.fc_net.TwoLayerNet", "kwargs": {}})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("meta.npy", npy_bytes(np.array(meta)))
        for name, data in members.items():
            archive.writestr(f"param/{name}.npy", data)
    return path


def test_big_endian_and_fortran_arrays_are_read_as_their_numbers(tmp_path):
    numbers = np.arange(6, dtype=np.float32).reshape(2, 3)
    _, arrays = read_checkpoint(npz_with(tmp_path / "c.npz", big=npy_bytes(numbers.astype(">f4")),
                                         fortran=npy_bytes(np.asfortranarray(numbers))))
    assert arrays["param/big"].dtype == np.float32 and arrays["param/big"].dtype.isnative
    assert np.array_equal(arrays["param/big"], numbers) and np.array_equal(arrays["param/fortran"], numbers)


@pytest.mark.parametrize("data, message", [
    (npy_bytes(np.zeros(4, np.float32)).replace(b"(4,)", b"(-4,)"), "declares a negative size (-4,)"),
    (npy_bytes(np.zeros(4, np.float32)).replace(b"(4,)", b"(5,)"), "does not match its declared shape (5,)"),
    (npy_bytes(np.zeros(3, dtype=[("a", "f4"), ("b", "f8")])), "is not a plain numeric array"),
    (npy_bytes(np.array([0.5, np.inf])), "param/W holds NaN or inf, as when training diverges"),
])
def test_lying_or_diverged_arrays_are_named(tmp_path, data, message):
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_checkpoint(npz_with(tmp_path / "c.npz", W=data))


# Experiment logs: values no run produces, and a claim invented after the replayed iterations ---------


def saved_log(path, **changes):
    run = EXPERIMENTS["batchnorm_deep_networks"].runs[0]
    config = {"model": {"class": "course_lib.classifiers.fc_net.FullyConnectedNet", "kwargs": dict(run.model)},
              "solver": {**run.solver, "num_train_samples": None, "num_val_samples": None},
              "num_train": run.num_train, "num_val": 500, "seed": 7}
    iterations = run.solver["num_epochs"] * (run.num_train // run.solver["batch_size"])
    arrays = {"train_losses": np.linspace(2.3, 1.0, iterations), "train_accs": np.linspace(0.1, 0.6, 11),
              "val_accs": np.linspace(0.1, 0.5, 11), "config": np.array(json.dumps(config)), **changes}
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("changes, message", [
    ({"val_accs": np.full(11, 1.5)}, "val_accs holds values outside \\[0, 1\\]"),
    ({"train_losses": np.full(200, -1.0)}, "train_losses holds negative values"),
])
def test_log_values_no_run_gives_are_named(tmp_path, changes, message):
    with pytest.raises(LogError, match=message):
        read_log(saved_log(tmp_path / "log.npz", **changes))


@pytest.mark.parametrize("kwargs", [["hidden_dims"], "hidden_dims", 3])
def test_a_config_whose_model_arguments_are_not_an_object_is_named(kwargs):
    experiment = EXPERIMENTS["batchnorm_deep_networks"]
    config = config_of(experiment, False)
    config["model"]["kwargs"] = kwargs
    with pytest.raises(LogError, match="model.kwargs is not the object"):
        configuration_problems(config, experiment.runs[0])


def test_the_rerun_covers_the_epochs_the_claim_reads():
    experiment = EXPERIMENTS["batchnorm_deep_networks"]
    logs = [{"config": config_of(experiment, use_bn)} for use_bn in (False, True)]
    body = replay_program(experiment.runs, logs, experiment.rerun_epochs, experiment.rerun_accuracy)
    steps = [c for c in body["calls"] if c.get("method") == "step"]
    checks = [c for c in body["calls"] if c.get("method") == "check_accuracy"]
    per_epoch = experiment.runs[0].num_train // experiment.runs[0].solver["batch_size"]
    assert experiment.rerun_epochs == 3 and len(steps) == 2 * 3 * per_epoch and len(checks) == 2 * 4
    assert sorted(body["outputs"])[:5] == ["run0", "run0/acc0", "run0/acc1", "run0/acc2", "run0/acc3"]
    assert EXPERIMENTS["batchnorm_weight_scale"].rerun_epochs == 0  # 40 runs: too long to rerun


def test_a_claim_made_up_after_the_replayed_iterations_loses_the_claim(tmp_path):
    """The first REPLAYED_ITERATIONS losses of each log are the grader's replay; the accuracies are invented
    so that batchnorm looks faster, while the grader's own run of the first epochs says otherwise."""
    experiment = EXPERIMENTS["batchnorm_deep_networks"]
    real = np.array([2.30, 2.29])
    found = {}
    for use_bn, accuracies in ((False, np.full(11, 0.2)), (True, np.full(11, 0.9))):
        losses = np.linspace(2.3, 1.0, 200)
        losses[:REPLAYED_ITERATIONS] = real
        found[DEEP_FILES[use_bn]] = saved_log(tmp_path / f"{use_bn}.npz", train_losses=losses,
                                              train_accs=accuracies, **{"config": np.array(json.dumps(
                                                  config_of(experiment, use_bn)))})
    rerun = {"run0": real, "run1": real}
    for index, accuracy in ((0, 0.5), (1, 0.3)):  # the submitted code: batchnorm is no faster
        rerun.update({f"run{index}/acc{epoch}": np.array(accuracy) for epoch in range(4)})
    verdict = grade_experiment(experiment, found, replay_data(), lambda request, inputs: (rerun, None))
    checks = {check.name: check for check in verdict.checks}
    assert [name for name, check in checks.items() if not check.passed] == ["claim"]
    assert "the grader's own training of the first 3 epochs" in checks["claim"].message
    assert verdict.fraction == pytest.approx(4 / 6)
    honest = dict(rerun, **{f"run1/acc{epoch}": np.array(0.8) for epoch in range(4)})
    verdict = grade_experiment(experiment, found, replay_data(), lambda request, inputs: (honest, None))
    assert verdict.fraction == 1.0 and isinstance(verdict, Verdict)


def config_of(experiment, use_bn):
    run = experiment.runs[int(use_bn)]
    return {"model": {"class": "course_lib.classifiers.fc_net.FullyConnectedNet", "kwargs": dict(run.model)},
            "solver": {**run.solver, "num_train_samples": None, "num_val_samples": None},
            "num_train": run.num_train, "num_val": 500, "seed": 7}


def replay_data():
    return {"X": np.zeros((1000, 4), np.float32), "y": np.zeros(1000, np.int64), "mean": np.zeros(4, np.float32)}


# Student text in feedback and on the staff's pages ---------------------------------------------


def test_feedback_shows_control_characters_instead_of_obeying_them():
    text = plain_feedback("ValueError: \x1b]0;owned\x07\x1b[2J done\x00\r\nnext\rline\tand tab\x9b")
    assert text == "ValueError: \\x1b]0;owned\\x07\\x1b[2J done\\x00\nnext\nline\tand tab\\x9b"


@pytest.mark.parametrize("markdown", [
    "[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))", "<javascript:alert(1)>", "![a](javascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)", "[x]: javascript:alert(1)\n\n[y][x]",
    '<img src=x onerror=alert(1)>', "<iframe src=http://example.com></iframe>", "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">a</a>', "```\n<script>alert(1)</script>\n```",
])
def test_written_answers_render_no_markup_that_runs(markdown):
    rendered = markdown_renderer()(markdown).lower()
    links = [part.split('"', 1)[0] for part in rendered.split('href="')[1:]]
    assert not any(link.startswith(("javascript:", "data:")) for link in links), rendered
    assert not any(tag in rendered for tag in ("<img", "<iframe", "<svg", "<script", "<a href=\"java")), rendered


def test_class_report_survives_crafted_results_and_disarms_spreadsheet_formulas(tmp_path):
    run = Run(tmp_path / "out")
    submissions = [Submission("s0", "=HYPERLINK(\"http://x\",\"click\")"), Submission("s1", "<script>x</script>"),
                   Submission("s2", "Broken"), Submission("s3", "Not JSON"), Submission("s4", "Bad diagnoses"),
                   Submission("s5", "Traversal")]
    good = {"number": "1.1", "name": "<b>test</b>", "score": 1.0, "max_score": 1.0, "status": "passed",
            "extra_data": {"kind": "forward", "failure": None, "diagnoses": []}}
    contents = [{"score": 1.0, "tests": [good]}, {"score": 1.0, "tests": [good]},
                {"score": "lots", "tests": [good]}, None,
                {"score": 0.0, "tests": [dict(good, extra_data={"kind": "forward", "diagnoses": ["not a dict"]})]},
                {"score": 1.0, "tests": [dict(good, number="../../escape")]}]
    for submission, content in zip(submissions, contents):
        text = "{not json" if content is None else json.dumps(content)
        run.results_path(submission.key).write_text(text)
        run.state[submission.key] = {"status": "graded", "seconds": 1.0}
    report = write_class_report(run, submissions, "hw3").read_text()
    assert "<script>x" not in report and "&lt;script&gt;x" in report and "<b>test" not in report
    assert "Content-Security-Policy" in report
    assert "s2.json: it has no numeric score" in report and "s3.json: it is not valid JSON" in report
    assert "s4.json: the diagnoses of test &#x27;1.1&#x27; are not a list of objects" in report
    assert all(path.parent == tmp_path / "out" / "plots" for path in tmp_path.rglob("*.png"))
    assert (tmp_path / "out" / "plots" / "test-.._.._escape.png").is_file()
    with open(tmp_path / "out" / "scores.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows[0]["student"] == "'=HYPERLINK(\"http://x\",\"click\")" and rows[1]["student"] == "<script>x</script>"
    assert [row["status"] for row in rows[2:5]] == ["unreadable results"] * 3


@pytest.mark.parametrize("text, cell", [("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
                                        ("Ada", "Ada"), (3.5, 3.5)])
def test_spreadsheet_cells_starting_a_formula_stay_text(text, cell):
    assert spreadsheet_cell(text) == cell


@pytest.mark.parametrize("markdown", ["[x](javascript:alert(1))", "[x]( JaVaScRiPt:alert(1))",
                                      "[x]: vbscript:msgbox\n\n[y][x]", "[x](data:text/html,<script>)"])
def test_written_entries_on_gradescope_link_to_no_script(markdown):
    """Gradescope renders the written entries' markdown: a link's scheme is broken before it gets there."""
    escaped = escape_markdown(markdown)
    assert not re.search(r"(?i)(javascript|vbscript|data):", escaped) and "<" not in escaped
    assert escape_markdown("the training data: a [link](https://example.com)") == (
        "the training data: a [link](https://example.com)")
