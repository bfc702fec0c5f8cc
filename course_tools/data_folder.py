"""The data folder the instructor tools grade with: where the datasets are, and the stand-in's place.

The folder is ``course_lib.data_utils.data_dir()`` (``COURSE_DATA_DIR`` or
``~/.course_data``). It holds the real datasets (``cifar-10-batches-py/``,
``svhn/``), or the deterministic stand-in in the same formats, either in its
place or in ``standin/`` below it. ``course build``, ``course fidelity`` and
the mutation analysis all call ``ensure_grading_data`` before grading.
"""
import os
import sys

STANDIN_FOLDER = "standin"
# One file each loader reads first, per dataset: both present means the folder is usable.
DATASET_MARKERS = (("cifar-10-batches-py", "data_batch_1"), ("svhn", "test_32x32.mat"))
STANDIN_MARKER = ("cifar-10-batches-py", "STANDIN.txt")


def holds_both_datasets(root):
    return all((root / folder / name).exists() for folder, name in DATASET_MARKERS)


def ensure_grading_data():
    """Use the datasets in the data directory (real or stand-in), else write and use the stand-in.

    Returns a short description of the data used, for the build summary.
    """
    from course_lib.data_utils import data_dir

    root = data_dir()
    if holds_both_datasets(root):
        standin = root.joinpath(*STANDIN_MARKER).exists()
        return f"{'STAND-IN data' if standin else 'data'} in {root}"
    standin = root / STANDIN_FOLDER
    if not holds_both_datasets(standin):
        from course_lib.standin import write_standin

        print(f"real CIFAR-10/SVHN not found in {root}; writing the STAND-IN data to {standin}",
              file=sys.stderr, flush=True)
        write_standin(standin)
    os.environ["COURSE_DATA_DIR"] = str(standin)
    return (f"STAND-IN data in {standin} "
            "(fetch the real data with `course data fetch cifar10` and `course data fetch svhn`)")
