"""Experiment logs written by a variant's own code, as a student's notebook would write them.

A student's logs come from their own library: a variant that changes what an
experiment's runs compute (its optimizer, its dropout, its Solver) must be
graded with logs of its runs, or the log test's replay would compare the
variant's losses with the reference's and fail for a reason no student meets.
The runs take about a minute per variant, so their logs are cached in the
data directory, keyed by the variant's library sources, beside the
reference's (autograder.reference_logs).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from course_tools.fidelity.corpus import REPO_ROOT

def experiments_using(functions, experiments):
    """Those of ``experiments`` ({name: points}) whose runs call one of ``functions`` (manifest keys)."""
    from autograder.suites.logs import experiment
    from course_tools.manifest import split_function_key

    patched = {split_function_key(key)[0] for key in functions}
    return [name for name in experiments
            if patched & {split_function_key(key)[0] for key in experiment(name).requires}]


def write_variant_logs(names, submission, repo_root=REPO_ROOT, timeout=1800):
    """The logs of experiments ``names`` as the library in ``submission/course_lib`` (the reference's
    files with the submission's laid over them) writes them, under ``submission``."""
    if not names:
        return
    with tempfile.TemporaryDirectory(prefix="variant-lib-") as temporary:
        root = Path(temporary)
        shutil.copytree(Path(repo_root) / "course_lib", root / "course_lib",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(Path(submission) / "course_lib", root / "course_lib", dirs_exist_ok=True)
        code = "import sys, json; from course_tools.fidelity.variant_logs import run; run(json.loads(sys.argv[1]), sys.argv[2])"
        environment = {**os.environ, "PYTHONPATH": str(root)}
        completed = subprocess.run([sys.executable, "-c", code, json.dumps(list(names)), str(Path(submission).resolve())],
                                   cwd=root, env=environment, capture_output=True, text=True, timeout=timeout)
        if completed.returncode != 0:
            raise RuntimeError(f"the variant's experiment runs failed:\n{completed.stderr[-2000:]}")


def run(names, destination):
    """The body of write_variant_logs, in a process whose course_lib is the variant's."""
    import course_lib
    from course_lib import data_utils

    from autograder.reference_logs import write_logs
    from autograder.suites.logs import SEED

    lib_root = Path(course_lib.__file__).resolve().parent
    if lib_root.parent != Path.cwd().resolve():
        raise ImportError(f"course_lib is imported from {lib_root}, not the variant's library")
    write_logs(names, destination, data_utils, SEED)
