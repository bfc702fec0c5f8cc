"""The autograder under Python 3.10, the system Python of Gradescope's Ubuntu 22.04 image.

A fresh 3.10 virtual environment with only numpy (what setup.sh installs)
compiles every Python file of a zip and grades the reference submission to
the same scores as the development interpreter does.
"""
import subprocess
import zipfile

import pytest

from tests.autograder_support.artifacts import shared_artifacts
from tests.autograder_support.submissions import grade

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
