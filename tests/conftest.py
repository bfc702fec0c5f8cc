"""Fixtures shared by the whole suite."""
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


@pytest.fixture
def notebook_env(monkeypatch, standin_dir):
    """Environment a notebook kernel inherits: quick mode, stand-in data, no display."""
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(standin_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # Two BLAS threads fighting over two shared cores make the CNN notebook 3x slower.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, "1")
