"""The `course` command line, driven as a user would: help, short errors, atomic builds, grading output, data.

Commands that change the course run as ``python -m course_tools.cli`` inside a
temporary copy of the repository (the copy's own packages are imported, so
``REPO_ROOT`` is the copy); commands that only read use the installed ``course``.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_tools.manifest import load_manifest
from tests.autograder_support.artifacts import shared_artifacts

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = load_manifest(REPO_ROOT / "course.toml").assignment_ids
COURSE = Path(sys.executable).with_name("course")
COPIED = ("course_lib", "course_tools", "autograder", "source", "release", "course.toml", "nbgrader_config.py",
          "setup.py")
SUBCOMMANDS = ("build", "grade", "reference", "fidelity", "data")


@pytest.fixture
def course_copy(tmp_path):
    """A copy of the repository's course (library, tools, sources, committed release) to edit and build."""
    root = tmp_path / "repo"
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            root.mkdir(exist_ok=True)
            shutil.copyfile(source, root / name)
    return root


@pytest.fixture
def hw3(tmp_path_factory, standin_dir):
    return shared_artifacts(tmp_path_factory, standin_dir)["hw3"]


def run(command, *args, cwd=None, data=None, **options):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    if data is not None:
        env["COURSE_DATA_DIR"] = str(data)
    return subprocess.run([*command, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, **options)


def course_in(root, *args, **options):
    return run([sys.executable, "-m", "course_tools.cli"], *args, cwd=root, **options)


def course(*args, **options):
    return run([str(COURSE)], *args, **options)


def edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path, needle):
    return next(n for n, line in enumerate(path.read_text().split("\n"), start=1) if needle in line)


def tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}


# ---- help -------------------------------------------------------------------------------------------


def test_help_lists_every_subcommand_and_the_readme_documents_them():
    top = course("--help")
    assert top.returncode == 0
    for name in SUBCOMMANDS:
        assert re.search(rf"^\s+{name}\b", top.stdout, re.MULTILINE), name
    assert "GRADER_USER" in top.stdout
    readme = (REPO_ROOT / "README.md").read_text()
    for needle in [*(f"course {name}" for name in SUBCOMMANDS), "--verbose", "--zip", "GRADER_USER",
                   "--base-url", "--seed", "COURSE_QUICK", ".venv/bin/activate"]:
        assert needle in readme, needle


@pytest.mark.parametrize("args, expected", [
    (["build", "--help"], "--checkpoints"),
    (["grade", "--help"], "--zip"),
    (["reference", "--help"], "--zip"),
    (["data", "fetch", "--help"], "--base-url"),
    (["data", "standin", "--help"], "--seed"),
    (["fidelity", "--help"], "usage: course fidelity"),
    (["fidelity", "hw3", "--help"], "usage: course fidelity"),
])
def test_every_subcommand_has_complete_help(args, expected):
    result = course(*args)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert "python -m" not in result.stdout.split("\n")[0]


# ---- user mistakes: short errors, file and line, exit 1 -----------------------------------------------

NEW_FUNCTION = '''

def untested_helper(x):
    """A function no hidden test covers."""
    ### BEGIN SOLUTION
    return x
    ### END SOLUTION
'''


def misspell_marker(root):
    layers = root / "course_lib" / "layers.py"
    line = line_of(layers, "### END SOLUTION")
    edit(layers, "### END SOLUTION", "### END SOLUTON")
    return f"course_lib/layers.py:{line}: '### END SOLUTON' looks like a misspelled marker; write `### END SOLUTION`"


def unclose_region(root):
    layers = root / "course_lib" / "layers.py"
    lines = layers.read_text().split("\n")
    last_begin = max(n for n, line in enumerate(lines) if "### BEGIN SOLUTION" in line)
    last_end = max(n for n, line in enumerate(lines) if "### END SOLUTION" in line)
    layers.write_text("\n".join(lines[:last_end] + lines[last_end + 1:]))
    return f"course_lib/layers.py:{last_begin + 1}: region is never closed; add `### END SOLUTION`"


def key_without_region(root):
    manifest = root / "course.toml"
    edit(manifest, '"layers.relu_forward" = { points = 1 }',
         '"layers.relu_forward" = { points = 1 }\n"layers.no_such_function" = { points = 1 }')
    line = line_of(manifest, "layers.no_such_function")
    return f'course.toml:{line}: key "layers.no_such_function" (hw3) claims no region'


def region_without_key(root):
    edit(root / "course.toml", '"layers.relu_forward" = { points = 1 }\n', "")
    return "region in layers.relu_forward (untagged) is claimed by no key of course.toml; add"


def key_without_hidden_test(root):
    (root / "course_lib" / "layers.py").write_text((root / "course_lib" / "layers.py").read_text() + NEW_FUNCTION)
    manifest = root / "course.toml"
    edit(manifest, '"layers.relu_forward" = { points = 1 }',
         '"layers.relu_forward" = { points = 1 }\n"layers.untested_helper" = { points = 1 }')
    line = line_of(manifest, "layers.untested_helper")
    return f'course.toml:{line}: "layers.untested_helper" (hw3) has no hidden tests; add them to autograder/suites'


def malformed_points(root):
    manifest = root / "course.toml"
    edit(manifest, '"layers.relu_forward" = { points = 1 }', '"layers.relu_forward" = { points = "one" }')
    line = line_of(manifest, '"layers.relu_forward"')
    return f"course.toml:{line}: [assignments.hw3.functions] \"layers.relu_forward\" points must be a number"


@pytest.mark.parametrize("mistake", [misspell_marker, unclose_region, key_without_region, region_without_key,
                                     key_without_hidden_test, malformed_points])
def test_course_mistakes_get_a_short_error_naming_file_and_line(course_copy, mistake):
    expected = mistake(course_copy)
    result = course_in(course_copy, "build", "hw3")
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 8, result.stderr
    assert not (course_copy / "dist").exists()
    verbose = course_in(course_copy, "build", "hw3", "--verbose")
    assert verbose.returncode == 1 and "Traceback (most recent call last)" in verbose.stderr


def test_unknown_names_and_missing_files_are_short_errors(tmp_path):
    for args, expected in [
        (["build", "hw9"], f"unknown assignment(s) hw9; known: {', '.join(ASSIGNMENTS)}"),
        (["grade", "hw3", tmp_path / "nothing.zip"], "does not exist"),
        (["grade", "hw3", Path(__file__)], "is neither a folder nor a zip file"),
        (["grade", "hw3", tmp_path, "--zip", tmp_path / "no.zip"], f"no autograder zip at {tmp_path / 'no.zip'}"),
    ]:
        result = course(*args)
        assert result.returncode == 1 and expected in result.stderr and "Traceback" not in result.stderr


# ---- a failed build changes nothing -----------------------------------------------------------------


def test_a_build_that_fails_at_the_autograder_stage_changes_nothing(course_copy, standin_dir):
    # The reference itself fails the hidden tests: the release builds and checks, the autograder zip cannot.
    edit(course_copy / "course_lib" / "layers.py", "    out = np.maximum(x, 0)\n",
         '    raise RuntimeError("a broken reference")\n')
    (course_copy / "dist").mkdir()
    (course_copy / "dist" / "hw3-autograder.zip").write_bytes(b"last term's zip")
    release_before, dist_before = tree(course_copy / "release"), tree(course_copy / "dist")
    result = course_in(course_copy, "build", "hw3", data=standin_dir)
    assert result.returncode == 1, result.stderr
    assert "the reference fails hidden test" in result.stderr and "Traceback" not in result.stderr
    assert "[hw3] release built and checked" in result.stderr  # it failed after the release stage
    assert tree(course_copy / "release") == release_before
    assert tree(course_copy / "dist") == dist_before
    assignments = load_manifest(course_copy / "course.toml").assignment_ids
    assert sorted(p.name for p in (course_copy / "release").iterdir()) == sorted(assignments)


# ---- grading in the terminal ------------------------------------------------------------------------


@pytest.fixture
def syntax_error_submission(hw3, tmp_path):
    folder = shutil.copytree(hw3.reference, tmp_path / "submission")
    layers = folder / "course_lib" / "layers.py"
    line = line_of(layers, "def affine_forward(")
    edit(layers, "def affine_forward(x, w, b):", "def affine_forward(x, w b):")
    # and a second download of a file, saved under the browser's name
    classifiers = folder / "course_lib" / "classifiers"
    (classifiers / "neural_net.py").rename(classifiers / "neural_net (1).py")
    return folder, line


def test_grade_prints_feedback_and_names_a_syntax_error_by_file_and_line(hw3, syntax_error_submission, tmp_path):
    folder, line = syntax_error_submission
    result = course("grade", "hw3", folder, "--zip", hw3.zip, "--json", tmp_path / "results.json")
    assert result.returncode == 0, result.stderr
    table, _, feedback = result.stdout.partition("Feedback on the")
    assert not re.search(r"\d\.\d{3}", table), "scores print with at most two decimals"
    status_columns = {re.search(r"passed|failed", row).start() for row in table.splitlines()
                      if re.match(r"\d+\.\d+ ", row)}
    assert len(status_columns) == 1, "the table's columns align"
    tests = json.loads((tmp_path / "results.json").read_text())["tests"]
    layers_tests = [t for t in tests if t["name"].startswith(("layers.", "classifiers.fc_net"))]
    assert layers_tests and all(t["score"] == 0 for t in layers_tests)
    for test in layers_tests:
        output = test["output"]
        assert output.startswith("importing course_lib/layers.py raised SyntaxError"), output
        assert output.count(f'File "course_lib/layers.py", line {line}') == 1, output
        assert "importlib" not in output and "<frozen" not in output
        assert f"{test['name'].split(':')[0]} raised" not in output  # not blamed on the function called
        assert output.splitlines()[0] in feedback  # shown in the terminal, not only in the JSON
    assert ("course_lib/classifiers/neural_net.py was not found in your upload; its tests ran on the released "
            "stub (did you mean course_lib/classifiers/neural_net (1).py? rename it to neural_net.py)") in result.stdout
    assert ("Extra file(s) in your upload, not files of the assignment (your code may import them; nothing grades "
            "them): course_lib/classifiers/neural_net (1).py (a copy of course_lib/classifiers/neural_net.py?")\
        in result.stdout
    assert "replaced the released copies" not in result.stdout


def test_grade_piped_into_head_prints_no_broken_pipe_error(hw3, syntax_error_submission):
    folder, _ = syntax_error_submission
    process = subprocess.Popen([str(COURSE), "grade", "hw3", str(folder), "--zip", str(hw3.zip)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.readline()
    process.stdout.close()  # what `| head -1` does after one line
    error = process.stderr.read()
    process.wait()
    assert "BrokenPipeError" not in error and "Traceback" not in error


# ---- data -------------------------------------------------------------------------------------------


def test_reference_finds_the_standin_where_the_standin_command_puts_it(hw3, standin_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "standin").symlink_to(standin_dir, target_is_directory=True)
    result = course("reference", "hw3", tmp_path / "reference", "--zip", hw3.zip, data=data)
    assert result.returncode == 0, result.stderr
    assert f"WARNING: the checkpoints are trained on the STAND-IN data in {data / 'standin'}" in result.stderr
    assert sorted(p.name for p in (tmp_path / "reference" / "checkpoints").iterdir())
    assert sorted(p.name for p in data.iterdir()) == ["standin"]  # found, not written again


# ---- progress of the install ------------------------------------------------------------------------


def test_make_install_says_what_it_does_and_how_far_along():
    if shutil.which("make") is None:
        pytest.skip("needs make")
    plan = run(["make", "-n", "-W", "pyproject.toml", "install"], cwd=REPO_ROOT)
    assert plan.returncode == 0, plan.stderr
    assert "[install 2/3] installing the project" in plan.stdout
    assert "packages found so far" in plan.stdout and "install.log" in plan.stdout
