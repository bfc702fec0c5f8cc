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
