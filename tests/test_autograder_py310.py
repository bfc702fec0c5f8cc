"""The autograder under Python 3.10, the system Python of Gradescope's Ubuntu 22.04 image.

A fresh 3.10 virtual environment with only numpy (what setup.sh installs)
compiles every Python file of a zip and grades the reference submission to
the same scores as the development interpreter does.
"""
import json
import subprocess
import zipfile

import pytest

from tests.autograder_support.artifacts import shared_artifacts
from tests.autograder_support.releases import REPO_ROOT
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


# Run by the 3.10 interpreter: the grading process starts its workers with its own Python.
WORKER_UNDER_310 = """
import json, sys
import numpy as np
from autograder.harness.pipeline import verdict_from_error
from autograder.sandbox import Limits, run_worker
from autograder.suites.spec import call, inp, program, res
body = program([call("newer.double", inp("x"))], {"out": res(0)})
result = run_worker({"programs": [body]}, [{"x": np.ones(2)}], sys.argv[1], Limits(wall_seconds=20))
print(json.dumps(verdict_from_error(result.programs[0][1]["error"]).lines[0]))
"""


@pytest.mark.parametrize("line, named", [
    ("    except* ValueError:", "except* (exception groups) needs Python 3.11"),
    ("    type Pair = tuple", "the type statement needs Python 3.12"),
])
def test_syntax_of_a_later_python_is_named_with_its_fix(python310, tmp_path, line, named):
    library = tmp_path / "submission" / "course_lib"
    library.mkdir(parents=True)
    (library / "__init__.py").write_text("")
    (library / "newer.py").write_text(f"def double(x):\n    try:\n        return 2 * x\n{line}\n        raise\n")
    completed = subprocess.run([str(python310), "-c", WORKER_UNDER_310, str(library.parent)], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True)
    shown = json.loads(completed.stdout.splitlines()[-1])
    assert f"({named}; Gradescope runs Python 3.10: write it the 3.10 way)" in shown
