"""The nbgrader source notebooks: well-formed, and runnable top to bottom.

Every notebook under ``source/*/`` is executed with nbclient on the reference
library, in quick mode (COURSE_QUICK=1) on the stand-in data, in a temporary
copy of its folder, and must leave behind the checkpoints and logs that
``course.toml`` expects from it. Wall times are not asserted: they are collected
and printed as a table in the terminal summary. The per-cell timeout only makes
a hanging cell fail.
"""
import copy
import os
import shutil
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.suites.logs import experiment
from course_lib.checkpoint import get_model_arrays, load_model
from course_tools.manifest import load_manifest

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE = REPO_ROOT / "source"
MANIFEST = load_manifest(REPO_ROOT / "course.toml")
NOTEBOOKS = sorted(SOURCE.glob("*/*.ipynb"))
CELL_TIMEOUT = 900  # seconds; generous, so that only a hang fails
HISTORY_KEYS = ["config", "train_accs", "train_losses", "val_accs"]


def _notebook_id(path):
    return f"{path.parent.name}/{path.name}"


def _read(path):
    return nbformat.read(path, as_version=4)


def _expected_outputs(path):
    """Files the manifest expects this notebook to write: its checkpoints and its experiments' logs."""
    assignment = MANIFEST.assignment(path.parent.name)
    checkpoints = [c.file for c in assignment.checkpoints if c.notebook == path.name]
    logs = [file for name in assignment.experiments if experiment(name).notebook == path.name
            for file in experiment(name).files]
    return checkpoints, logs


class _WallTimeReport:
    """pytest plugin printing the notebooks' wall times at the end of the run."""

    def __init__(self):
        self.rows = {}

    def pytest_terminal_summary(self, terminalreporter):
        if not self.rows:
            return
        terminalreporter.section("source notebooks: wall time (quick mode, stand-in data)")
        for name, (seconds, outcome) in sorted(self.rows.items()):
            terminalreporter.write_line(f"{name:<32} {seconds:8.1f} s   {outcome}")
        total = sum(seconds for seconds, _ in self.rows.values())
        terminalreporter.write_line(f"{'total':<32} {total:8.1f} s")


@pytest.fixture(scope="session")
def wall_times(request):
    report = _WallTimeReport()
    request.config.pluginmanager.register(report, "source-notebook-wall-times")
    return report.rows


@pytest.fixture
def reference_notebook_env(notebook_env, monkeypatch):
    """Kernels import the repository's reference course_lib."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))


def test_source_folders_hold_the_manifest_notebooks():
    expected = {f"{aid}/{name}" for aid in MANIFEST.assignment_ids
                for name in MANIFEST.assignment(aid).notebooks}
    found = {_notebook_id(path) for path in NOTEBOOKS}
    assert not expected - found, f"notebooks named in course.toml but missing: {sorted(expected - found)}"
    assert not found - expected, f"notebooks not named in course.toml: {sorted(found - expected)}"


@pytest.mark.parametrize("assignment_id", MANIFEST.assignment_ids)
def test_each_experiment_is_run_by_a_notebook_of_its_assignment(assignment_id):
    assignment = MANIFEST.assignment(assignment_id)
    for name in assignment.experiments:
        notebook = experiment(name).notebook
        assert notebook in assignment.notebooks, f"{assignment_id}: experiment {name} names {notebook}"
        assert "record_histories_as_npz" in (SOURCE / assignment_id / notebook).read_text(encoding="utf-8")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_notebook_id)
def test_notebook_names_its_checkpoints(path):
    checkpoints, _ = _expected_outputs(path)
    source = path.read_text(encoding="utf-8")
    for checkpoint in checkpoints:
        assert checkpoint in source, f"{_notebook_id(path)} never writes {checkpoint}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_notebook_id)
def test_notebook_is_committed_clean(path):
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", "kernelspec must be python3"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has outputs"
            assert cell.execution_count is None, f"cell {index} has an execution count"
    text = path.read_text(encoding="utf-8")
    canonical = nbformat.writes(nb)
    assert text.rstrip("\n") == canonical.rstrip("\n"), "not in nbformat's canonical JSON layout"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_notebook_id)
def test_nbgrader_accepts_the_metadata(path):
    """nbgrader's own validator and its solution/hidden-test clearing, with metadata enforced."""
    pytest.importorskip("nbgrader", reason="nbgrader (the instructor extra) is not installed")
    from nbgrader.nbgraderformat import MetadataValidator
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb = _read(path)
    MetadataValidator().validate_nb(nb)
    resources = {"language": "python"}
    cleared, _ = ClearSolutions(enforce_metadata=True).preprocess(copy.deepcopy(nb), resources)
    ClearHiddenTests(enforce_metadata=True).preprocess(cleared, resources)
    cells = [cell.metadata.get("nbgrader", {}) for cell in nb.cells]
    assert any(meta.get("grade") for meta in cells), "a source notebook needs graded cells"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_notebook_id)
def test_notebook_runs_in_quick_mode(path, tmp_path, reference_notebook_env, wall_times):
    from nbclient import NotebookClient

    workdir = tmp_path / path.parent.name
    shutil.copytree(path.parent, workdir)
    nb = _read(workdir / path.name)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    start, outcome = time.perf_counter(), "failed"
    try:
        client.execute()
        outcome = "ok"
    finally:
        seconds = time.perf_counter() - start
        wall_times[_notebook_id(path)] = (seconds, outcome)
        print(f"{_notebook_id(path)}: {outcome} in {seconds:.1f} s")

    checkpoints, logs = _expected_outputs(path)
    for checkpoint in checkpoints:
        assert (workdir / checkpoint).is_file(), f"the notebook did not write {checkpoint}"
        arrays = get_model_arrays(load_model(workdir / checkpoint))
        assert arrays and all(np.all(np.isfinite(a)) for a in arrays.values()), \
            f"{checkpoint} holds no parameters or non-finite ones"
    for log in logs:
        assert (workdir / log).is_file(), f"the notebook did not write {log}"
        with np.load(workdir / log, allow_pickle=False) as saved:
            assert sorted(saved.files) == HISTORY_KEYS, f"{log} holds {sorted(saved.files)}"
            assert len(saved["val_accs"]) == len(saved["train_accs"]) >= 2
            assert len(saved["train_losses"]) >= 1
