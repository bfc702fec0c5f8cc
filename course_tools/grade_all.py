"""Regrading a whole class: ``course grade-all ASSIGNMENT EXPORT --out DIR [--jobs N] [--force]``.

EXPORT is a Gradescope "Export Submissions" zip (or its unzipped folder), or
a plain folder of submission zips or folders (course_tools/export.py). Every
submission is graded exactly as ``course grade`` grades it
(``autograder.local.grade_submission``: the zip's own setup.sh and
run_autograder in a fresh root), in its own process, N at a time. Grading
slot k runs its workers as the user ``<GRADER_USER>k`` (default
``grader-student1``, ``grader-student2``, ...): the worker lock, the ending of
a worker's leftover processes and the cleaning of its temp files are all per
user (autograder/isolation.py), so concurrent gradings never wait for or
touch each other's workers.

DIR receives ``results/<submission>.json`` (each student's results.json),
``logs/<submission>.log`` (the autograder log, as Gradescope shows
instructors), ``grading.json`` (the state: status and seconds per submission,
so a rerun skips what is done unless ``--force``), and ``scores.csv`` and
``report.html`` (course_tools/class_report.py). A submission that breaks the
harness or the grading itself is recorded there and the run goes on; a rerun
retries it.
"""
import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

from course_tools.export import ExportError, export_submissions, materialize

STATE = "grading.json"
DONE = "graded"  # the only status a rerun skips; "harness" and "error" are retried
SANDBOX_USER = "grader-student"  # autograder.isolation's default workers' user
USER_VARIABLE = "GRADER_USER"


@dataclass
class Outcome:
    """What grading one submission gave: ``status`` graded, harness (it broke the harness) or error."""

    key: str
    student: str
    sid: str
    email: str
    status: str
    seconds: float
    message: str = ""


def slot_users(jobs, base=None):
    """The workers' user of each grading slot: ``<base>1`` ... ``<base>N``."""
    base = base or os.environ.get(USER_VARIABLE) or SANDBOX_USER
    return [f"{base}{slot}" for slot in range(1, jobs + 1)]


def harness_broke(results):
    """Whether the grading process failed (results.json says so, or holds no test at all)."""
    tests = results.get("tests") or []
    return not tests or any((t.get("extra_data") or {}).get("failure") == "harness" for t in tests)


def write_json_atomically(path, body):
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(body, indent=2))
    os.replace(temporary, path)


class Run:
    """One grade-all run over DIR: which submissions are done, and recording each outcome."""

    def __init__(self, out_dir):
        self.out = Path(out_dir)
        for folder in ("results", "logs"):
            (self.out / folder).mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        state_path = self.out / STATE
        self.state = json.loads(state_path.read_text()) if state_path.is_file() else {}

    def results_path(self, key):
        return self.out / "results" / f"{key}.json"

    def log_path(self, key):
        return self.out / "logs" / f"{key}.log"

    def done(self, submission):
        entry = self.state.get(submission.key)
        return bool(entry and entry["status"] == DONE and self.results_path(submission.key).is_file())

    def record(self, outcome):
        with self.lock:
            self.state[outcome.key] = asdict(outcome)
            write_json_atomically(self.out / STATE, self.state)


def grading_command(assignment_id, submission_dir, zip_path, json_path, log_path, only):
    command = [sys.executable, "-m", "course_tools.grade_all", "--one", assignment_id, str(submission_dir),
               "--zip", str(zip_path), "--json", str(json_path), "--log", str(log_path)]
    return command + (["--only", ",".join(only)] if only else [])


def grade_one(submission, run, assignment_id, zip_path, user, scratch, only=()):
    """Grade one submission in a child process whose workers run as ``user``; record and return the Outcome."""
    started = time.monotonic()
    person = {"key": submission.key, "student": submission.student, "sid": submission.sid,
              "email": submission.email}
    json_path = run.results_path(submission.key)
    partial = json_path.with_name(f".{json_path.name}.partial")
    partial.unlink(missing_ok=True)
    folder = None
    try:
        folder = materialize(submission, Path(scratch) / user)
        env = dict(os.environ, **{USER_VARIABLE: user})
        completed = subprocess.run(grading_command(assignment_id, folder, zip_path, partial,
                                                   run.log_path(submission.key), only),
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if completed.returncode != 0 or not partial.is_file():
            problem = completed.stdout.strip().splitlines()[-1:] or [f"exit code {completed.returncode}"]
            outcome = Outcome(**person, status="error", seconds=0.0, message=problem[0][:500])
        else:
            results = json.loads(partial.read_text())
            os.replace(partial, json_path)
            broke = harness_broke(results)
            outcome = Outcome(**person, status="harness" if broke else DONE, seconds=0.0,
                              message=f"the harness failed: see logs/{submission.key}.log" if broke else "")
    except (ExportError, OSError, ValueError) as error:
        outcome = Outcome(**person, status="error", seconds=0.0, message=str(error)[:500])
    finally:
        if folder is not None and Path(folder).is_relative_to(scratch):
            shutil.rmtree(folder, ignore_errors=True)
    outcome.seconds = round(time.monotonic() - started, 2)
    run.record(outcome)
    return outcome


def grade_all(assignment_id, export, out_dir, zip_path, jobs=1, force=False, only=(), progress=True):
    """Grade every submission of ``export`` not yet graded in ``out_dir``; write scores.csv and report.html.

    Returns {"graded": n, "skipped": n, "failed": [Outcome...], "report": path}.
    """
    from tqdm import tqdm

    from course_tools.class_report import write_class_report

    submissions = export_submissions(export)
    run = Run(out_dir)
    todo = [s for s in submissions if force or not run.done(s)]
    users = queue.Queue()
    for user in slot_users(max(1, jobs)):
        users.put(user)

    def graded_in_a_slot(submission):
        user = users.get()
        try:
            return grade_one(submission, run, assignment_id, zip_path, user, scratch, only)
        finally:
            users.put(user)

    failed = []
    with tempfile.TemporaryDirectory(prefix=f"grade-all-{assignment_id}-") as scratch, \
            ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, \
            tqdm(total=len(todo), desc=f"grading {assignment_id}", unit="submission", file=sys.stderr,
                 disable=not progress or not todo) as bar:
        futures = [pool.submit(graded_in_a_slot, submission) for submission in todo]
        for future in as_completed(futures):
            outcome = future.result()
            if outcome.status != DONE:
                failed.append(outcome)
                bar.write(f"{outcome.key}: {outcome.status}: {outcome.message}", file=sys.stderr)
            bar.set_postfix(problems=len(failed))
            bar.update()
    report = write_class_report(run, submissions, assignment_id)
    return {"graded": len(todo) - len(failed), "skipped": len(submissions) - len(todo), "failed": failed,
            "report": report}


def grade_one_main(argv):
    """The child process of grade_one: ``--one ASSIGNMENT SUBMISSION --zip Z --json J --log L [--only ...]``."""
    from autograder.local import grade_submission

    parser = argparse.ArgumentParser(prog="python -m course_tools.grade_all --one")
    parser.add_argument("assignment")
    parser.add_argument("submission")
    parser.add_argument("--zip", required=True)
    parser.add_argument("--json", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)
    only = [item for item in args.only.split(",") if item]
    try:
        grade_submission(args.assignment, args.submission, args.zip, args.json, only=only, log_path=args.log)
    except (RuntimeError, OSError, ValueError) as error:
        print(f"grading failed: {error}".replace("\n", " ")[:2000], flush=True)
        return 1
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--one"]:
    sys.exit(grade_one_main(sys.argv[2:]))
