"""The data folder the instructor tools grade with: where the datasets are, and the stand-in's place.

The folder is ``course_lib.data_folder.data_dir()`` (``COURSE_DATA_DIR`` or
``~/.course_data``). It holds the real datasets (``cifar-10-batches-py/``,
``svhn/``), or the deterministic stand-in in the same formats, either in its
place or in ``standin/`` below it. ``course build``, ``course fidelity`` and
the mutation analysis all call ``ensure_grading_data`` before grading.
"""
import os
import sys

# One file each loader reads first, per dataset: both present means the folder is usable.
DATASET_MARKERS = (("cifar-10-batches-py", "data_batch_1"), ("svhn", "test_32x32.mat"))


def holds_both_datasets(root):
    return all((root / folder / name).exists() for folder, name in DATASET_MARKERS)


def ensure_grading_data():
    """Use the datasets in the data directory (real or stand-in), else write and use the stand-in.

    Returns a short description of the data used, for the summary lines.
    """
    from course_lib.data_folder import DATA_DIR_VARIABLE, MARKER_NAME, STANDIN_FOLDER, data_dir

    root = data_dir()
    if holds_both_datasets(root):
        if (root / "cifar-10-batches-py" / MARKER_NAME).exists():
            return f"STAND-IN data in {root} (synthetic: accuracies mean nothing)"
        return f"real data in {root}"
    standin = root / STANDIN_FOLDER
    if not holds_both_datasets(standin):
        from course_lib.standin import write_standin

        print(f"real CIFAR-10/SVHN not found in {root}; writing the STAND-IN data to {standin} (a minute, once)",
              file=sys.stderr, flush=True)
        write_standin(standin)
    os.environ[DATA_DIR_VARIABLE] = str(standin)
    return (f"STAND-IN data in {standin} (synthetic: accuracies mean nothing; fetch the real data "
            "with `course data fetch cifar10` and `course data fetch svhn`)")
