"""The autograder under Python 3.10, the system Python of Gradescope's Ubuntu 22.04 image.

A fresh 3.10 virtual environment with only numpy (what setup.sh installs)
compiles every Python file of a zip and grades the reference submission to
the same scores as the development interpreter does.
"""
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.autograder_support.artifacts import shared_artifacts
from tests.autograder_support.submissions import grade

PYENV_PYTHON310 = Path("/root/.pyenv/versions/3.10.13/bin/python")


def find_python310():
    """A working Python 3.10 (pyenv's, else python3.10 on PATH), or None."""
    for candidate in (PYENV_PYTHON310, shutil.which("python3.10")):
        if not candidate or not Path(candidate).is_file():
            continue
        version = subprocess.run([str(candidate), "-c", "import sys; print(sys.version_info[:2])"],
                                 capture_output=True, text=True)
        if version.returncode == 0 and version.stdout.strip() == "(3, 10)":
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def python310(tmp_path_factory):
    interpreter = find_python310()
    if interpreter is None:
        pytest.skip(f"no Python 3.10 interpreter (looked for python3.10 on PATH and {PYENV_PYTHON310})")
    venv = tmp_path_factory.mktemp("python310") / "venv"
    subprocess.run([str(interpreter), "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "numpy>=1.26,<3"],
                               capture_output=True, text=True)
    if installed.returncode != 0:
        pytest.skip(f"numpy could not be installed into a Python 3.10 venv: {installed.stderr[-500:]}")
    return python


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory, standin_dir):
    return shared_artifacts(tmp_path_factory, standin_dir)


def test_every_python_file_of_the_zip_compiles_under_310(artifacts, python310, tmp_path):
    with zipfile.ZipFile(artifacts["hw5"].zip) as archive:
        archive.extractall(tmp_path)
    completed = subprocess.run([str(python310), "-m", "compileall", "-q", str(tmp_path)],
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_reference_grades_identically_under_310(artifacts, python310):
    built = artifacts["hw3"]
    under_310 = grade("hw3", built.reference_zip, built.zip, python=str(python310))
    development = built.graded("reference", built.reference_zip)
    assert under_310["score"] == development["score"] > 0
    assert [t["score"] for t in under_310["tests"]] == [t["score"] for t in development["tests"]]
