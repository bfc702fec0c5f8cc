"""The release's make_submission.py, run as a student would, on a throwaway course's release."""
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.harness.names import near_misses
from course_tools.release import build_release
from tests.test_release import REAL_ASSIGNMENTS, REPO_ROOT, make_fake_course

A1_ZIP = ["a1.ipynb", "checkpoints/a1_model.npz", "course_lib/models/linear.py", "course_lib/ops.py"]


@pytest.fixture(scope="session")
def helper_course(tmp_path_factory):
    """The fake course with a2 re-stubbing a1's functions, and both releases built."""
    root = make_fake_course(tmp_path_factory.mktemp("helper_course"))
    manifest = root / "course.toml"
    manifest.write_text(manifest.read_text().replace('earlier_functions = "given"', 'earlier_functions = "stub"'))
    out = tmp_path_factory.mktemp("helper_release")
    return root, {aid: build_release(aid, root, out) for aid in ("a1", "a2")}


@pytest.fixture
def release(helper_course, tmp_path):
    """A fresh copy of the a1 release, as a student downloads it."""
    _, releases = helper_course
    return shutil.copytree(releases["a1"], tmp_path / "a1")


def run_helper(folder, *args, cwd=None):
    return subprocess.run([sys.executable, str(folder / "make_submission.py"), *args], cwd=cwd or folder,
                          capture_output=True, text=True)


def answer_written_cells(notebook):
    notebook.write_text(notebook.read_text().replace("YOUR ANSWER HERE", "Forty-two, because."))


def complete(helper_course, folder):
    """Put the reference code, a checkpoint and the written answer in a release copy."""
    root, _ = helper_course
    for name in ("ops.py", "models/linear.py"):
        shutil.copyfile(root / "course_lib" / name, folder / "course_lib" / name)
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "a1_model.npz").write_bytes(b"model bytes")
    answer_written_cells(folder / "a1.ipynb")


def test_untouched_release_is_refused_with_the_full_list(release):
    result = run_helper(release)
    assert result.returncode == 1
    for line in [
        "missing checkpoints/a1_model.npz: run a1.ipynb to the end; it saves this checkpoint",
        "course_lib/ops.py: ops.scale is still the stub (not implemented yet)",
        "course_lib/models/linear.py: models.linear.Linear.__init__ is still the stub",
        "course_lib/models/linear.py: models.linear.Linear.forward is still the stub",
        "No zip written",
    ]:
        assert line in result.stderr
    # a later assignment's stub is expected in the student's file
    assert "ops.shift" not in result.stderr
    assert not (release / "a1_submission.zip").exists()


def test_complete_work_zips_exactly_the_expected_files(helper_course, release, tmp_path):
    complete(helper_course, release)
    result = run_helper(release, cwd=tmp_path)  # started from another folder
    assert result.returncode == 0, result.stderr
    archive = release / "a1_submission.zip"
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.namelist() == A1_ZIP
        assert all(zipped.read(name) == (release / name).read_bytes() for name in A1_ZIP)
    first = archive.read_bytes()
    assert run_helper(release).returncode == 0
    assert archive.read_bytes() == first


@pytest.mark.parametrize("broken, expected", [
    ("def scale(x, factor:\n", "course_lib/ops.py does not parse: line 1"),
    ("import not_a_module\n", "course_lib/ops.py does not import: ModuleNotFoundError"),
])
def test_code_that_does_not_load_is_refused(helper_course, release, broken, expected):
    complete(helper_course, release)
    (release / "course_lib" / "ops.py").write_text(broken)
    result = run_helper(release)
    assert result.returncode == 1
    assert expected in result.stderr


def test_a_missing_notebook_is_named(helper_course, release):
    complete(helper_course, release)
    (release / "a1.ipynb").unlink()
    result = run_helper(release)
    assert result.returncode == 1
    assert "missing a1.ipynb" in result.stderr


def test_check_only_reports(helper_course, release):
    assert run_helper(release, "--check").returncode == 1
    complete(helper_course, release)
    assert run_helper(release, "--check").returncode == 0
    assert not (release / "a1_submission.zip").exists()


def test_allow_incomplete_zips_what_exists(release, tmp_path):
    output = tmp_path / "partial.zip"
    result = run_helper(release, "--allow-incomplete", "--output", str(output))
    assert result.returncode == 0
    assert "ops.scale is still the stub" in result.stderr
    with zipfile.ZipFile(output) as zipped:
        assert zipped.namelist() == [name for name in A1_ZIP if not name.startswith("checkpoints/")]


def test_earlier_assignments_stubs_only_warn(helper_course, tmp_path):
    _, releases = helper_course
    folder = shutil.copytree(releases["a2"], tmp_path / "a2")
    ops, linear = folder / "course_lib" / "ops.py", folder / "course_lib" / "models" / "linear.py"
    ops.write_text(ops.read_text().replace(
        'raise NotImplementedError("ops.shift: not implemented yet")', "shifted_values = x + offset"))
    linear.write_text(linear.read_text().replace(
        'raise NotImplementedError("models.linear.Linear.forward[bias]: not implemented yet")',
        "result_vector = result_vector + 0.5"))
    (folder / "submission_logs").mkdir()
    (folder / "submission_logs" / "a2_history.npz").write_bytes(b"history")
    answer_written_cells(folder / "a2.ipynb")
    result = run_helper(folder)
    assert result.returncode == 0, result.stderr
    assert "earlier assignments" in result.stderr
    assert "course_lib/ops.py: ops.scale is still the stub" in result.stderr
    with zipfile.ZipFile(folder / "a2_submission.zip") as zipped:
        assert zipped.namelist() == ["a2.ipynb", "course_lib/models/linear.py", "course_lib/ops.py",
                                     "submission_logs/a2_history.npz"]


@pytest.mark.parametrize("original, renamed", [
    ("course_lib/ops.py", "course_lib/ops_final.py"),
    ("a1.ipynb", "a1 (1).ipynb"),
])
def test_a_renamed_file_is_recognised(helper_course, release, original, renamed):
    complete(helper_course, release)
    (release / original).rename(release / renamed)
    result = run_helper(release, "--check")
    assert result.returncode == 1
    assert f"missing {original}: did you mean {renamed}? rename it to {original}" in result.stderr


def test_a_missing_file_never_gets_advice_that_loses_work(helper_course, release):
    complete(helper_course, release)
    (release / "course_lib" / "ops.py").unlink()
    result = run_helper(release)
    assert "missing course_lib/ops.py: if you renamed or moved your copy, put it back" in result.stderr
    assert "restore" not in result.stderr


def test_a_copy_next_to_the_original_is_a_warning(helper_course, release):
    complete(helper_course, release)
    shutil.copyfile(release / "course_lib" / "ops.py", release / "course_lib" / "ops_old.py")
    result = run_helper(release, "--check")
    assert result.returncode == 0, result.stderr
    assert "course_lib/ops_old.py looks like a copy of course_lib/ops.py" in result.stderr


def test_check_flags_unanswered_written_cells(helper_course, release):
    complete(helper_course, release)
    notebook = release / "a1.ipynb"
    notebook.write_text(notebook.read_text().replace("Forty-two, because.", "YOUR ANSWER HERE"))
    result = run_helper(release, "--check")
    assert result.returncode == 1
    assert 'a1.ipynb: written answer a1_written still says "YOUR ANSWER HERE"' in result.stderr
    answer_written_cells(notebook)
    assert run_helper(release, "--check").returncode == 0


@pytest.mark.parametrize("aid", REAL_ASSIGNMENTS)
def test_no_file_of_a_real_release_is_taken_for_a_renamed_copy(aid):
    release = REPO_ROOT / "release" / aid
    plan = json.loads((release / "submission.json").read_text())
    files = [p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()]
    expected = ([f"course_lib/{name}" for name in plan["course_lib_files"]] + plan["notebooks"]
                + [c["file"] for c in plan["checkpoints"]] + plan["logs"])
    assert {path: near_misses(path, files) for path in expected} == {path: [] for path in expected}
    assert plan["answer_placeholder"] == "YOUR ANSWER HERE"


@pytest.mark.parametrize("wanted, candidate, expected", [
    ("layers.py", "layers_final.py", True),
    ("fc_nets.ipynb", "fc_nets (1).ipynb", True),
    ("layers.py", "layer.py", True),
    ("layers.py", "layers.ipynb", False),
    ("layers.py", "layers.py", False),
    ("layers.py", "fast_layers.py", False),
    ("layers.py", "layer_utils.py", False),
    ("fc_net.py", "cnn.py", False),
    ("cnn.ipynb", "cnn_batchnorm.ipynb", False),
    ("optim.py", "optim-old.py", True),
    ("cnn.ipynb", "cnn copy 2.ipynb", True),
])
def test_near_miss_names(wanted, candidate, expected):
    assert bool(near_misses(wanted, [candidate])) is expected
    assert bool(near_misses(f"course_lib/{wanted}", [str(Path("elsewhere") / candidate)])) is expected
