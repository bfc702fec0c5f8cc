"""Fixtures shared by the whole suite."""
import glob
import os
import shutil
import subprocess

import pytest

from course_lib.standin import write_standin

STANDIN_SIZES = {"cifar_train": 2000, "cifar_test": 500, "svhn_train": 2000, "svhn_test": 500}


@pytest.fixture(scope="session")
def standin_dir(tmp_path_factory):
    """A small synthetic stand-in data directory, written once per session.

    Use it with ``monkeypatch.setenv("COURSE_DATA_DIR", str(standin_dir))``;
    sizes are STANDIN_SIZES. Tests must not write into it.
    """
    return write_standin(tmp_path_factory.mktemp("standin"), **STANDIN_SIZES)


class CorpusGrading:
    """The fidelity corpus graded once per session, one assignment at a time when a test first asks for one
    of its variants: each variant on the tests that can see its patch (those of the functions it patches and
    of the functions whose tests execute them), with the zips built as `course build` builds them (the
    corpus' known mistakes baked in, which adds diagnoses and changes no score). test_fidelity judges the
    points, test_diagnoses the diagnoses, of the same gradings."""

    def __init__(self, work_dir, data_dir):
        self.work_dir = work_dir
        self.data_dir = data_dir
        self.graded = {}
        self.graders = {}
        self.references = {}

    def grade(self, assignment):
        from course_tools import fidelity
        from course_tools.fidelity import grading

        if assignment not in self.graders:
            batch = fidelity.load_corpus([assignment])
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("COURSE_DATA_DIR", str(self.data_dir))
                graded, graders = grading.grade_corpus(batch, self.work_dir, jobs=2, restrict=True)
                self.references[assignment] = self.grade_reference(graders[assignment])
            self.graded.update(graded)
            self.graders.update(graders)
        return self.graders[assignment]

    @staticmethod
    def grade_reference(grader):
        """The results.json tests of the unpatched reference on every test of a function."""
        from autograder import grade_submission

        functions = [item.number for item in grader.planned if not item.test.scores_upload]
        results = grade_submission(grader.assignment, grader.reference, grader.zip_path, only=functions)
        return [test for test in results["tests"] if test["number"] in functions]

    def __getitem__(self, name):
        from course_tools import fidelity

        if name not in self.graded:
            self.grade(next(v.assignment for v in fidelity.load_corpus() if v.name == name))
        return self.graded[name]


@pytest.fixture(scope="session")
def graded_corpus(tmp_path_factory, standin_dir):
    """{variant name: Graded} (see CorpusGrading); each variant graded once per session, two at a time."""
    return CorpusGrading(tmp_path_factory.mktemp("fidelity"), standin_dir)


@pytest.fixture
def notebook_env(monkeypatch, standin_dir):
    """Environment a notebook kernel inherits: quick mode, stand-in data, no display."""
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(standin_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # Two BLAS threads fighting over two shared cores make the CNN notebook 3x slower.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, "1")


def find_python310():
    """A working Python 3.10 interpreter ($COURSE_PYTHON310, python3.10, pyenv's), or None."""
    candidates = [os.environ.get("COURSE_PYTHON310"), shutil.which("python3.10"),
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10")))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 10)":
            return candidate
    return None


@pytest.fixture(scope="session")
def python310(tmp_path_factory):
    """Python of a fresh 3.10 venv holding numpy only, as Gradescope's setup.sh leaves it."""
    interpreter = find_python310()
    if interpreter is None:
        pytest.skip("no Python 3.10 interpreter here (set COURSE_PYTHON310); ruff's py310 check still runs")
    venv = tmp_path_factory.mktemp("python310") / "venv"
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "numpy>=1.26,<3"],
                               capture_output=True, text=True)
    if installed.returncode != 0:
        pytest.skip(f"numpy could not be installed into a Python 3.10 venv: {installed.stderr[-500:]}")
    return python
