"""Written answers: md entries of results.json, `course written` pages, and their math in a real browser."""
import csv
import html
import json
import shutil
import zipfile
from pathlib import Path

import jsonschema
import pytest

from autograder.harness import written
from autograder.harness.written import ANSWER_CHARS, collect_answers, written_entries
from course_tools import cli
from course_tools.written import WrittenError, katex_dir, page_name, written_questions
from tests.autograder_support.artifacts import shared_artifacts
from tests.autograder_support.releases import REPO_ROOT
from tests.autograder_support.submissions import SCHEMA, baked_manifest, grade, zip_folder
from tests.browser import dump_dom

QUESTIONS = written_questions("hw3")


def unique_answer(student, grade_id):
    """Text only this student's answer to this question holds, with LaTeX and an attempt at raw HTML."""
    return (f"Token-{student}-{grade_id}: $\\nabla_W L = 2\\,W x x^\\top$ when $a < b$.\n\n"
            f"$$\\sum_{{i=1}}^n x_i^2$$\n\n<script>alert('{student}')</script>")


def write_notebooks(folder, answers, skip_notebooks=()):
    """The hw3 release notebooks in ``folder``, answer cells set from ``answers`` ({grade id: text or None
    to leave the placeholder, or "DELETE" to remove the cell})."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for notebook in {q["notebook"] for q in QUESTIONS} - set(skip_notebooks):
        data = json.loads((REPO_ROOT / "release" / "hw3" / notebook).read_text())
        cells = []
        for cell in data["cells"]:
            grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
            text = answers.get(grade_id)
            if text == "DELETE":
                continue
            if text is not None:
                cell["source"] = text.splitlines(keepends=True)
            cells.append(cell)
        data["cells"] = cells
        (folder / notebook).write_text(json.dumps(data))
    return folder


def test_entries_escape_cap_and_report_blank_missing_and_unreadable(tmp_path):
    by_id = {q["grade_id"]: q for q in QUESTIONS}
    answers = {"written-autoencoder-gradient-answer": unique_answer("ada", "autoencoder") + "\ud800\x07",
               "written-gaussian-k-answer": "long " * 3000,
               "written-gaussian-x-answer": "DELETE"}
    folder = write_notebooks(tmp_path / "upload", answers, skip_notebooks=["two_layer_nn.ipynb"])
    entries = written_entries(collect_answers(folder, QUESTIONS, tmp_path / "scratch"))
    jsonschema.validate({"score": 0, "execution_time": 0, "output": "", "output_format": "md",
                         "visibility": "visible", "stdout_visibility": "hidden", "extra_data": {},
                         "tests": entries}, SCHEMA)
    json.dumps(entries, ensure_ascii=False).encode("utf-8")  # valid UTF-8: no lone surrogates left
    assert all(e["score"] == e["max_score"] == 0 and e["output_format"] == "md" for e in entries)
    assert [e["number"] for e in entries] == [f"W.{i}" for i in range(1, len(entries) + 1)]
    state = {e["extra_data"].get("grade_id"): e for e in entries}
    missing = [e for e in entries if e["extra_data"]["state"] == "no_notebook"]
    assert len(missing) == 1 and "two_layer_nn.ipynb" in missing[0]["name"]
    assert all(by_id[g]["title"] in missing[0]["output"] for g in missing[0]["extra_data"]["grade_ids"])
    answered = state["written-autoencoder-gradient-answer"]["output"]
    assert "Token-ada-autoencoder: $\\nabla_W L = 2\\,W x x^\\top$ when $a &lt; b$." in answered
    assert "<script>" not in answered and "&lt;script&gt;" in answered and "\x07" not in answered
    assert "Not answered" in state["written-swish-derivative-answer"]["output"]
    long_output = state["written-gaussian-k-answer"]["output"]
    assert len(long_output) < ANSWER_CHARS + 500 and "more characters not shown" in long_output
    assert "Answer cell not found" in state["written-gaussian-x-answer"]["output"]
    (folder / "written.ipynb").write_text('{"cells": [')
    broken = written_entries(collect_answers(folder, QUESTIONS, tmp_path / "scratch2"))
    assert {e["extra_data"]["state"] for e in broken if e["extra_data"].get("notebook") == "written.ipynb"} \
        == {"unreadable"}


@pytest.mark.parametrize("content, problem", [
    ("[" * 100_000 + "]" * 100_000, "not a notebook file"),  # nested too deep for the parser
    ("[" + '"ab",' * 3_000_000 + "0]", "reading it failed"),  # millions of strings: over the reader's memory
    (" " * (1 << 20) + "{}", "larger than"),  # over the size read (1 MB here)
])
def test_hostile_notebooks_cost_only_their_reader(monkeypatch, tmp_path, content, problem):
    monkeypatch.setattr(written, "READER_MEMORY_BYTES", 128 << 20)
    monkeypatch.setattr(written, "MAX_NOTEBOOK_BYTES", 1 << 20 if problem == "larger than" else 32 << 20)
    (tmp_path / "upload").mkdir()
    (tmp_path / "upload" / "written.ipynb").write_text(content)
    answers = collect_answers(tmp_path / "upload", QUESTIONS, tmp_path / "scratch")
    read = [a for a in answers if a.question["notebook"] == "written.ipynb"]
    assert {a.state for a in read} == {"unreadable"} and all(problem in a.problem for a in read), read[0].problem


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, standin_dir):
    return shared_artifacts(tmp_path_factory, standin_dir)


def test_graded_submission_shows_each_answer_in_its_own_entry_and_keeps_the_total(artifacts, tmp_path):
    built = artifacts["hw3"]
    assert [q["grade_id"] for q in baked_manifest(built.zip)["written"]] == [q["grade_id"] for q in QUESTIONS]
    submission = tmp_path / "submission"
    shutil.copytree(built.reference, submission)
    write_notebooks(submission, {q["grade_id"]: unique_answer("bea", q["grade_id"]) for q in QUESTIONS})
    results = grade("hw3", zip_folder(submission, tmp_path / "upload.zip", top="hw3"), built.zip)
    reference = built.graded("reference", built.reference_zip)
    written = [t for t in results["tests"] if t["extra_data"]["kind"] == "written"]
    graded = [t for t in results["tests"] if t["extra_data"]["kind"] != "written"]
    assert results["score"] == reference["score"]
    assert [(t["number"], t["score"]) for t in graded] == [(t["number"], t["score"]) for t in reference["tests"]
                                                            if t["extra_data"]["kind"] != "written"]
    assert len(written) == len(QUESTIONS)
    for question, test in zip(QUESTIONS, written):
        own = f"Token-bea-{question['grade_id']}:"
        assert own in test["output"] and question["title"] in test["name"]
        assert sum(own in t["output"] for t in results["tests"]) == 1
        assert test["visibility"] == "visible" and test["score"] == test["max_score"] == 0


def gradescope_export(path, students):
    """A zip laid out like Gradescope's Export Submissions: metadata YAML plus a folder per submission."""
    lines = []
    with zipfile.ZipFile(path, "w") as archive:
        for number, (name, folder) in enumerate(students.items(), start=1):
            key = f"submission_{1000 + number}"
            lines += [f"{key}:", "  :submitters:", f"  - :name: {name}", f"    :sid: '{number}'",
                      f"    :email: {name.lower()}@example.edu", "  :created_at: 2026-03-01 12:00:00.000000000 -08:00",
                      "  :score: 0.0", "  :status: processed"]
            for file in sorted(Path(folder).rglob("*")):
                if file.is_file():
                    archive.write(file, f"assignment_1_export/{key}/{file.relative_to(folder).as_posix()}")
        archive.writestr("assignment_1_export/submission_metadata.yml", "\n".join(lines) + "\n")
    return path


def katex_or_skip():
    try:
        return katex_dir()
    except WrittenError as error:
        pytest.skip(str(error))


def test_course_written_writes_a_page_per_question_with_every_answer(tmp_path):
    katex_or_skip()
    blank = "written-swish-answer"
    students = ["Ada", "Bea", "Cyd", "Dan"]
    folders = {s: write_notebooks(tmp_path / s, {q["grade_id"]: unique_answer(s, q["grade_id"])
                                                 for q in QUESTIONS if not (s == "Dan" and q["grade_id"] == blank)})
               for s in students}
    export = gradescope_export(tmp_path / "export.zip", {s: folders[s] for s in ("Cyd", "Dan")})
    single_zip = zip_folder(folders["Bea"], tmp_path / "Bea.zip", top="whatever")
    out = tmp_path / "pages"
    assert cli.main(["written", "hw3", str(folders["Ada"]), str(single_zip), str(export), "--out", str(out)]) == 0

    for question in QUESTIONS:
        text = (out / page_name(question)).read_text()
        for student in students:
            token = f"Token-{student}-{question['grade_id']}:"
            assert (token in text) == (not (student == "Dan" and question["grade_id"] == blank)), (student, question)
        assert "<script>alert" not in text and "&lt;script&gt;alert('Ada')" in text
    index = (out / "index.html").read_text()
    swish = next(q for q in QUESTIONS if q["grade_id"] == blank)
    assert f'{html.escape(swish["title"])}</a></td><td>written.ipynb</td><td>4</td><td>3</td>' in index
    rows = list(csv.DictReader((out / "answers.csv").open()))
    assert len(rows) == len(students) * len(QUESTIONS)
    assert {r["student"] for r in rows} == set(students)
    dan_blank = next(r for r in rows if r["student"] == "Dan" and r["question"] == blank)
    assert dan_blank["state"] == "unanswered" and dan_blank["answer_length"] == "0"
    ada = next(r for r in rows if r["student"] == "Ada" and r["question"] == blank)
    assert int(ada["answer_length"]) == len(unique_answer("Ada", blank))


def test_course_written_refuses_what_is_not_a_submission(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SystemExit, match="neither a submission folder, a submission zip nor a Gradescope export"):
        cli.main(["written", "hw3", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "out")])


def test_a_question_page_typesets_its_math_in_headless_chromium(tmp_path):
    katex_or_skip()
    folder = write_notebooks(tmp_path / "Ada", {q["grade_id"]: unique_answer("Ada", q["grade_id"]) for q in QUESTIONS})
    out = tmp_path / "pages"
    assert cli.main(["written", "hw3", str(folder), "--out", str(out)]) == 0
    dom = dump_dom(out / "written-autoencoder-gradient-answer.html", tmp_path / "profile")
    answer = dom[dom.index("Token-Ada-written-autoencoder-gradient-answer"):]
    # The answer's three formulas are typeset (each .katex span holds a MathML copy of the formula),
    # none failed, and the script tag stayed text.
    assert answer.count('<span class="katex">') + answer.count('<span class="katex-display">') >= 3
    assert "\\(\\nabla_W" not in answer and "$$" not in answer
    assert "katex-error" not in dom and "&lt;script&gt;alert" in answer
