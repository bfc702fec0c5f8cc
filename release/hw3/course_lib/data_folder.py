"""Where the datasets live: the data directory and the folders inside it.

The data directory is ``$COURSE_DATA_DIR`` (default ``~/.course_data``). It
holds the real datasets, CIFAR-10 in ``cifar-10-batches-py/`` and SVHN in
``svhn/``, and may hold the synthetic stand-in in the same layout in
``standin/``; a stand-in dataset folder carries the marker file
``STANDIN.txt``. The loaders (``course_lib.data_utils``), the downloader
(``course_lib.fetch``) and the stand-in writer (``course_lib.standin``) all
take the layout from here.
"""
import os
from pathlib import Path

DATA_DIR_VARIABLE = "COURSE_DATA_DIR"
DEFAULT_DATA_DIR = "~/.course_data"
CIFAR_FOLDER = "cifar-10-batches-py"
SVHN_FOLDER = "svhn"
# Where ``python -m course_lib.standin`` writes by default, inside the data directory;
# the loaders fall back to it when the real dataset is absent.
STANDIN_FOLDER = "standin"
MARKER_NAME = "STANDIN.txt"


def data_dir():
    """The data directory: $COURSE_DATA_DIR, or ~/.course_data when it is unset or empty."""
    return Path(os.environ.get(DATA_DIR_VARIABLE) or DEFAULT_DATA_DIR).expanduser()
