"""What a student meets first: every release notebook runs until it needs their code.

Each notebook of the committed ``release/<id>/`` runs in a copy of its release
folder (so ``import course_lib`` is the stubbed copy), on the stand-in data in
quick mode. The first error must be a ``NotImplementedError`` from a stub, never
an import, name or data error from the release itself.
"""
import re
import shutil
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO_ROOT / "release").glob("*/*.ipynb"))
CELL_TIMEOUT = 600
LIBRARY_STUB_TEXT = "not implemented yet"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _notebook_id(path):
    return f"{path.parent.name}/{path.name}"


def test_every_assignment_has_release_notebooks():
    from course_tools.manifest import load_manifest

    manifest = load_manifest(REPO_ROOT / "course.toml")
    expected = {f"{aid}/{name}" for aid in manifest.assignment_ids for name in manifest.assignment(aid).notebooks}
    assert expected == {_notebook_id(path) for path in NOTEBOOKS}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_notebook_id)
def test_first_error_is_a_stub(path, tmp_path, notebook_env):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    workdir = tmp_path / path.parent.name
    shutil.copytree(path.parent, workdir)
    nb = nbformat.read(workdir / path.name, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    except CellExecutionError as error:
        assert error.ename == "NotImplementedError", (
            f"{_notebook_id(path)}: the first error is {error.ename}: {error.evalue}")
        # The two stubs there are: the release builder's in course_lib names its function;
        # nbgrader's in a notebook solution cell is a bare NotImplementedError().
        from_library_stub = LIBRARY_STUB_TEXT in error.evalue
        assert from_library_stub or error.evalue == "", (
            f"{_notebook_id(path)}: a NotImplementedError that is no stub: {error.evalue}")
        if from_library_stub:
            assert str(workdir / "course_lib") in ANSI_ESCAPE.sub("", error.traceback), "the stub did not come from the release copy"
