"""course grade-all: a Gradescope-style export graded in parallel equals single `course grade` runs;
resuming skips finished work; broken submissions are recorded; the class report opens in a browser."""
import csv
import json
import shutil
from pathlib import Path

import pytest

from autograder.local import grade_submission
from course_tools import cli
from course_tools.class_report import write_class_report
from course_tools.export import Submission, export_submissions
from course_tools.fidelity import apply_variant, load_corpus
from course_tools.grade_all import Run, grade_all, harness_broke, slot_users
from tests.autograder_support.artifacts import shared_artifacts
from tests.autograder_support.submissions import validate_results, zip_folder
from tests.browser import dump_dom
from tests.test_written import gradescope_export

# The tests of four cheap functions keep every grading to a few seconds.
ONLY = ("layers.affine_forward", "layers.affine_backward", "layers.relu_forward", "layers.relu_backward")
VARIANTS = ("affine_forward_forgets_bias", "relu_backward_passes_negative_side")


@pytest.fixture(scope="module")
def students(tmp_path_factory, standin_dir):
    """{student name: submission folder}: the reference, the untouched release and two wrong variants."""
    built = shared_artifacts(tmp_path_factory, standin_dir)["hw3"]
    root = tmp_path_factory.mktemp("class")
    folders = {"Reference Student": built.reference, "Stub Student": built.release}
    corpus = {variant.name: variant for variant in load_corpus(["hw3"])}
    for name in VARIANTS:
        folder = root / name
        shutil.copytree(built.reference, folder)
        apply_variant(corpus[name], folder / "course_lib")
        folders[name.replace("_", " ").title()] = folder
    return folders


@pytest.fixture(scope="module")
def class_run(students, tmp_path_factory, standin_dir):
    """grade-all with two jobs over a Gradescope-style export of the students."""
    built = shared_artifacts(tmp_path_factory, standin_dir)["hw3"]
    root = tmp_path_factory.mktemp("grade-all")
    export = gradescope_export(root / "export.zip", students)
    out = root / "out"
    summary = grade_all("hw3", export, out, built.zip, jobs=2, only=ONLY, progress=False)
    return {"export": export, "out": out, "summary": summary, "zip": built.zip}


def read_scores(out):
    with open(out / "scores.csv", newline="") as file:
        return {row["student"]: row for row in csv.DictReader(file)}


def comparable(results):
    return [(t["number"], t["score"], t["status"], t["output"]) for t in results["tests"]]


def test_scores_match_single_course_grade_runs_graded_one_at_a_time(class_run, students):
    assert class_run["summary"]["graded"] == len(students) and not class_run["summary"]["failed"]
    scores = read_scores(class_run["out"])
    assert set(scores) == set(students)
    submissions = {s.student: s for s in export_submissions(class_run["export"])}
    totals = set()
    for student, folder in students.items():
        single = grade_submission("hw3", folder, class_run["zip"], only=ONLY)
        key = submissions[student].key
        parallel = validate_results(json.loads((class_run["out"] / "results" / f"{key}.json").read_text()))
        assert comparable(parallel) == comparable(single), student
        row = scores[student]
        assert float(row["total"]) == single["score"] and row["status"] == "graded"
        for test in single["tests"]:
            if test["extra_data"]["kind"] != "written":
                assert float(row[f"{test['number']} {test['name']} (/{test['max_score']:g})"]) == test["score"]
        totals.add(single["score"])
    # The class really differs: the stub, the reference and each mistake score apart.
    assert len(totals) == len(students) and float(scores["Stub Student"]["total"]) == 0


def test_rerun_skips_finished_work_and_regrades_only_what_is_missing(class_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(class_run["out"], out)
    before = {path.name: path.stat().st_mtime_ns for path in (out / "results").glob("*.json")}
    again = grade_all("hw3", class_run["export"], out, class_run["zip"], jobs=2, only=ONLY, progress=False)
    assert again["graded"] == 0 and again["skipped"] == len(before)
    assert {path.name: path.stat().st_mtime_ns for path in (out / "results").glob("*.json")} == before
    lost = sorted(before)[0]
    (out / "results" / lost).unlink()
    resumed = grade_all("hw3", class_run["export"], out, class_run["zip"], jobs=2, only=ONLY, progress=False)
    assert resumed["graded"] == 1 and resumed["skipped"] == len(before) - 1
    assert (out / "results" / lost).is_file()


def test_a_folder_of_zips_with_a_broken_one_is_graded_and_the_failure_recorded(class_run, students, tmp_path):
    folder = tmp_path / "zips"
    folder.mkdir()
    zip_folder(students["Reference Student"], folder / "ada.zip", top="ada")
    (folder / "bob.zip").write_bytes(b"this is not a zip file")
    out = tmp_path / "out"
    code = cli.main(["grade-all", "hw3", str(folder), "--out", str(out), "--jobs", "2", "--only",
                     "layers.relu_forward", "--zip", str(class_run["zip"])])
    assert code == 1  # some submission had a problem
    state = json.loads((out / "grading.json").read_text())
    assert state["ada"]["status"] == "graded" and state["bob"]["status"] == "error"
    assert "bob.zip" in state["bob"]["message"]
    scores = read_scores(out)
    assert scores["bob"]["status"] == "error" and scores["bob"]["total"] == ""
    assert "bob.zip" in (out / "report.html").read_text()


@pytest.mark.parametrize("tests, broke", [
    ([], True),  # run_autograder's fallback when the harness could not even start
    ([{"extra_data": {"failure": "harness"}}, {"extra_data": {"failure": None}}], True),
    ([{"extra_data": {"failure": "timeout"}}, {"extra_data": {"failure": None}}], False),
])
def test_a_harness_failure_is_told_apart_from_a_student_failure(tests, broke):
    assert harness_broke({"tests": tests}) is broke


def test_slots_have_their_own_workers_user(monkeypatch):
    monkeypatch.setenv("GRADER_USER", "grader-x")
    assert slot_users(3) == ["grader-x1", "grader-x2", "grader-x3"]


def test_report_counts_diagnoses_and_limits_from_the_results_data(tmp_path):
    run = Run(tmp_path / "out")
    submissions = [Submission(f"s{i}", f"Student {i}") for i in range(4)]

    def test(number, score, diagnoses=(), failure=None):
        return {"number": number, "name": f"test {number}", "score": score, "max_score": 1.0,
                "status": "passed" if score == 1.0 else "failed",
                "extra_data": {"kind": "function", "failure": failure, "diagnoses": list(diagnoses)}}

    reshape = {"kind": "reshape", "message": "dx has the right values in the wrong order: <reshape>"}
    tests_of = [[test("1.1", 1.0), test("1.2", 1.0)],
                [test("1.1", 0.0, [reshape]), test("1.2", 0.0, failure="timeout")],
                [test("1.1", 0.0, [reshape]), test("1.2", 1.0)],
                [test("1.1", 0.0, failure="crashed"), test("1.2", 0.5)]]
    for submission, tests in zip(submissions, tests_of):
        run.results_path(submission.key).write_text(json.dumps({"score": sum(t["score"] for t in tests),
                                                                "tests": tests}))
        run.state[submission.key] = {"status": "graded", "seconds": 1.0 + int(submission.key[1:])}
    report = write_class_report(run, submissions, "hw3").read_text()
    assert "<td>reshape</td>" in report and "&lt;reshape&gt;" in report and "<td>2 (50%)</td>" in report
    assert "1.2 (timeout)" in report and "1.1 (crashed)" in report
    assert "25% (1/4)" in report and "50% (2/4)" in report  # tests 1.1 and 1.2
    assert report.index("Student 3") < report.index("Student 0", report.index("Slowest"))
    assert all((tmp_path / "out" / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
               for name in ("total.png", "test-1.1.png", "test-1.2.png"))


def test_class_report_opens_in_headless_chromium(class_run, tmp_path):
    out = class_run["out"]
    dom = dump_dom(out / "report.html", tmp_path / "profile")
    assert "Class report: hw3" in dom and "Reference Student" in dom
    images = [part.split('"', 1)[0] for part in dom.split('<img src="')[1:]]
    assert "plots/total.png" in images and len(images) > len(ONLY)
    assert all((out / image).read_bytes()[:4] == b"\x89PNG" for image in images)
    assert Path(out / "scores.csv").is_file()
