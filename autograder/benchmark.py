"""Grading time and peak memory of whole assignments, against the budget for Gradescope.

    python -m autograder.benchmark [ASSIGNMENT ...]

For each assignment: the zip ``dist/<id>-autograder.zip`` (run ``course build`` first), a reference submission (reference files and
checkpoints trained by autograder.reference_models) and the untouched release
``release/<id>`` (the slowest upload to grade: every test fails, so a test
that relies on other functions runs twice, with the reference in their place
and as it is), each graded as ``course grade`` does with every process pinned
to one CPU core. Prints the wall time and the
peak memory (grading process plus the largest worker: they run together) and
their ratios to the budget. Reads the data from course_lib's data directory.
"""
import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from autograder.local import REPO_ROOT, default_zip, grade_submission, write_reference_submission

BUDGET_SECONDS = 120.0
BUDGET_MB = 500.0
PEAK_LINE = re.compile(r"peak memory: grading process (\d+) MB, largest worker (\d+) MB")


def measure(assignment_id, scratch, upload="reference"):
    """(seconds, grading process MB, largest worker MB, score, possible) of grading the reference
    (``upload`` "reference") or the untouched release ("release")."""
    zip_path = default_zip(assignment_id)
    if not zip_path.is_file():
        raise SystemExit(f"{zip_path} does not exist: run `course build {assignment_id}` first")
    if upload == "reference":
        submission = write_reference_submission(zip_path, scratch / f"{assignment_id}-reference")
    else:
        submission = REPO_ROOT / "release" / assignment_id
    log = scratch / f"{assignment_id}-{upload}.log"
    started = time.perf_counter()
    results = grade_submission(assignment_id, submission, zip_path, log_path=log)
    seconds = time.perf_counter() - started
    peak = PEAK_LINE.search(log.read_text())
    if peak is None:
        raise RuntimeError(f"the grading log {log} has no peak-memory line")
    possible = sum(test["max_score"] for test in results["tests"])
    return seconds, int(peak.group(1)), int(peak.group(2)), results["score"], possible


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*", help="default: every assignment with a zip in dist/")
    args = parser.parse_args(argv)
    assignments = args.assignments or sorted(path.name.removesuffix("-autograder.zip")
                                             for path in (REPO_ROOT / "dist").glob("*-autograder.zip"))
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})  # inherited by the scripts, the harness and every worker
    print(f"grading each reference submission and untouched release on CPU core {core}; "
          f"budget {BUDGET_SECONDS:g} s, {BUDGET_MB:g} MB")
    with tempfile.TemporaryDirectory(prefix="autograder-benchmark-") as scratch:
        for assignment_id, upload in [(a, u) for a in assignments for u in ("reference", "release")]:
            seconds, grading_mb, worker_mb, score, possible = measure(assignment_id, Path(scratch), upload)
            peak = grading_mb + worker_mb
            print(f"{assignment_id} {upload:9}: {seconds:6.1f} s = {seconds / BUDGET_SECONDS:.2f} x budget; "
                  f"peak {peak} MB (grading {grading_mb} + worker {worker_mb}) = {peak / BUDGET_MB:.2f} x budget; "
                  f"score {score:g}/{possible:g}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
