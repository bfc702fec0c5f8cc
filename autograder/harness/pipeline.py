"""Grading one submission: collect -> overlay -> run each test in a worker -> score -> report.

This runs in the grading process, which never imports student code: every
student function is called by ``autograder.worker`` in a separate process
started through ``autograder.sandbox``.
"""
import json
import re
import resource
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from autograder import isolation, layout
from autograder.harness.accuracy import grade_checkpoint, load_heldout
from autograder.harness.diagnose_errors import error_diagnoses
from autograder.harness.collect import MAX_ADDED_MODULES, SHOWN_PROBLEMS, collect_submission
from autograder.harness.programs import with_probes
from autograder.harness.judge import Judge, Verdict
from autograder.harness.logs import grade_experiment
from autograder.harness.names import copy_of
from autograder.harness.reference import ReferenceLibrary
from autograder.harness.report import Report
from autograder.harness.substitutes import ReferenceService, substitutes_for
from autograder.harness.written import gradescope_entries
from autograder.sandbox import Limits, run_worker
from autograder.suites import plan_tests
from autograder.suites.logs import experiment
from autograder.suites.spec import CHECKPOINT, EXPERIMENT, call, inp, job_file, program, res

MIN_TEST_SECONDS = 2.0
CRASH_MESSAGE = ("The autograder itself failed ({error}). This is not a problem with your submission: "
                 "please tell the course staff; the details are in the autograder log.")
TEST_CRASH_MESSAGE = ("The autograder could not grade this test: it failed ({error}) on what {culprit} produced. "
                      "The other tests were graded. If the file looks fine to you, please tell the course staff.")
SHOWN_EXTRAS = 3
# What a syntax error in a careless file likely is: (a pattern of "<message>\n<line>", the Python from which the
# line is valid, or None, and the note). Gradescope's Python 3.10 calls later syntax just "invalid syntax".
ON_310 = "; Gradescope runs Python 3.10: write it the 3.10 way"
SYNTAX_NOTES = (
    (r".*\n\s*except\s*\*", (3, 11), "except* (exception groups) needs Python 3.11" + ON_310),
    (r".*\n\s*(async\s+)?(def|class)\s+\w+\s*\[", (3, 12), "a type parameter list (name[T]) needs Python 3.12" + ON_310),
    (r".*\n\s*type\s+\w+\s*(\[.*\])?\s*=", (3, 12), "the type statement needs Python 3.12" + ON_310),
    (r"f-string: .*\n.*[fF][rR]?(\"|').*\{[^}]*\1[^}]*\1[^}]*\}", (3, 12),
     "reusing an f-string's quotes inside its braces needs Python 3.12" + ON_310),
    (r".*codec can't decode|Non-UTF-8 code", None,
     "the file is not saved as UTF-8: save it as UTF-8 in your editor, or remove the accented letters"),
    (r"inconsistent use of tabs", None, "indent with spaces only: have your editor turn tabs into spaces"),
    (r".*\n\s*[%!][a-zA-Z]", None, "a notebook's % or ! command is no Python: upload the course_lib file you edited, "
                                "not a notebook saved as a script"),
)


@dataclass
class Context:
    """Everything a test needs, gathered once per grading run."""

    manifest: dict
    root: layout.Root
    collection: object
    fixtures: dict
    reference: ReferenceLibrary
    deadline: float
    known: dict  # {test id: [(variant name, hint, its outputs)]}, see load_known_mistakes
    failed: set = field(default_factory=set)  # functions with a test that failed so far
    substituted: dict = field(default_factory=dict)  # {test id: functions graded with the reference's}

    def limits(self, tests, tests_left):
        """Wall time per test: the manifest's, at least 10x the reference's time, within the total budget,
        which keeps MIN_TEST_SECONDS for each of ``tests`` after the first and of the ``tests_left`` tests
        still to come after them; and the time all of ``tests`` may take together (one worker runs them)."""
        seconds = max(self.test_seconds(test) for test in tests)
        remaining = self.deadline - time.monotonic() - MIN_TEST_SECONDS * tests_left
        return Limits(wall_seconds=min(seconds, remaining - MIN_TEST_SECONDS * (len(tests) - 1)),
                      total_seconds=remaining)

    def test_seconds(self, test):
        seconds = self.manifest["timeouts"].get(test.function, self.manifest["default_timeout"])
        seconds = max(seconds, 10.0 * self.manifest["reference_seconds"].get(test.id, 0.0))
        return max(seconds, test.timeout or 0.0)


def load_fixtures(path):
    """{test id: (inputs, expected outputs)} from the fixture archive."""
    fixtures = {}
    with np.load(path, allow_pickle=False) as archive:
        for key in archive.files:
            test_id, part, name = layout.split_fixture_key(key)
            inputs, expected = fixtures.setdefault(test_id, ({}, {}))
            (inputs if part == "in" else expected)[name] = archive[key]
    return fixtures


def load_known_mistakes(source):
    """{test id: [(variant name, hint, {output: array})]} of the known mistakes in the zip (none in older zips)."""
    hints_path, arrays_path = source / layout.KNOWN_HINTS, source / layout.KNOWN_MISTAKES
    if not hints_path.is_file() or not arrays_path.is_file():
        return {}
    hints = json.loads(hints_path.read_text())
    outputs = {}
    with np.load(arrays_path, allow_pickle=False) as archive:
        for key in archive.files:
            variant, test_id, name = layout.split_known_key(key)
            outputs.setdefault((test_id, variant), {})[name] = archive[key]
    known = {}
    for (test_id, variant), arrays in sorted(outputs.items()):
        known.setdefault(test_id, []).append((variant, hints[variant]["hint"], arrays))
    return known


def worker_failure(result, test):
    """The Verdict of the program a worker was running when it timed out or crashed."""
    if result.status == "timeout":
        return Verdict(0.0, [f"{test.function}: {result.problem}; look for an infinite loop or very slow code"],
                       failure="timeout")
    return Verdict(0.0, [f"{test.function}: {result.problem}"], failure="crashed")


def verdict_from_error(error):
    where = error.get("where") or "your code"
    if error.get("not_implemented"):
        return Verdict(0.0, [f"{where}: not implemented yet (it raises NotImplementedError)"],
                       failure="not_implemented")
    lines = [f"{where} raised {error.get('type', 'an error')}: {error.get('message', '')}{syntax_note(error)}"]
    frames = error.get("frames") or []
    if frames:
        lines.append("Traceback of your code (most recent call last):")
        for frame in frames:
            lines.append(f'  File "{frame.get("file")}", line {frame.get("line")}, in {frame.get("function")}')
            if frame.get("code"):
                lines.append(f"    {frame['code']}")
    return Verdict(0.0, lines, failure="error")


def judged(test, arrays, reply, context, own_forward=False):
    """The Verdict of one program the worker completed (``own_forward``: see Judge)."""
    inputs, expected = context.fixtures[test.id]
    if reply.get("status") != "ok":
        verdict = verdict_from_error(reply.get("error") or {})
        verdict.causes = guarded_error_diagnoses(reply.get("error") or {}, inputs)
        return with_printed(verdict, reply.get("printed") or {}, test)
    judge = Judge(arrays, reply.get("outputs"), expected, inputs, context.reference,
                  numerics=test.program.get("numeric", ()), program=test.program,
                  known=context.known.get(test.id, ()), own_forward=own_forward)
    verdict = judge.run(test.checks)
    verdict.notes += [str(note) for note in reply.get("warnings", [])]
    return with_printed(verdict, reply.get("printed") or {}, test)


def syntax_note(error):
    """" (the likely cause of a syntax error and its fix)", or ""; the workers run this process's Python."""
    if error.get("type") not in ("SyntaxError", "IndentationError", "TabError"):
        return ""
    seen = f"{error.get('message', '')}\n{((error.get('frames') or [{}])[-1]).get('code', '')}"
    notes = [note for pattern, version, note in SYNTAX_NOTES
             if (version is None or sys.version_info < version) and re.match(pattern, seen)]
    return f" ({notes[0]})" if notes else ""


def guarded_error_diagnoses(error, inputs):
    try:
        return error_diagnoses(error, inputs)
    except Exception:  # a diagnosis is a courtesy: its failure must not cost the grade
        traceback.print_exc()
        return []


def with_printed(verdict, printed, test):
    """What the student's code printed, after the feedback of a visible test (its start, paths replaced)."""
    chars, head = printed.get("chars", 0), printed.get("head", "")
    if not chars:
        return verdict
    if test.visibility != "visible" or not test.shows_printed:
        verdict.notes.append(f"your code printed {chars} characters (not shown)")
        return verdict
    cut = f"; the first {len(head)} are shown" if len(head) < chars else ""
    verdict.lines += ["", f"Your code printed {chars} characters{cut}:", head]
    return verdict


def run_function_tests(tests, context, tests_left):
    """Verdicts of the tests of one function, with the reference in place of the prerequisites that
    failed their own tests (autograder.harness.substitutes). A test that still fails so is run again as
    it is, and keeps the better verdict: the reference's cache format may not be the student's. When the
    student's code raised on what the reference handed over, its gradients are checked against the student's
    own forward (Judge's own_forward)."""
    substitutes = {test.id: substitutes_for(test, context.failed, context.reference) for test in tests}
    verdicts = run_batches(tests, context, tests_left, substitutes)
    again = [index for index, (test, verdict) in enumerate(zip(tests, verdicts))
             if substitutes[test.id] and not verdict.passed and verdict.failure != "budget"]
    unreadable = {tests[index].id for index in again if verdicts[index].failure == "error"}
    plain = run_batches([tests[index] for index in again], context, tests_left, {}, own_forward=unreadable)
    for index, verdict in zip(again, plain):
        if verdict.fraction >= verdicts[index].fraction:
            verdicts[index] = verdict
            substitutes[tests[index].id] = []
    for test in tests:
        context.substituted[test.id] = substitutes[test.id]
    return verdicts


def run_batches(tests, context, tests_left, substitutes, own_forward=()):
    """Verdicts of tests run in one worker; after a crash or timeout the rest run in a fresh worker, so
    one failing check costs only itself. ``substitutes``: {test id: functions the reference stands in for};
    ``own_forward``: ids of the tests judged against the student's own forward (see Judge)."""
    missing = [test.id for test in tests if test.id not in context.fixtures]
    if missing:
        raise KeyError(f"no fixture for test(s) {missing}: the autograder zip is incomplete")
    verdicts = []
    while len(verdicts) < len(tests):
        batch = tests[len(verdicts):]
        limits = context.limits(batch, tests_left)
        if limits.wall_seconds < MIN_TEST_SECONDS:
            verdicts += [Verdict(0.0, ["not run: the time budget of the whole assignment was used up"],
                                     failure="budget")] * len(batch)
            break
        replaced = [substitutes.get(test.id, []) for test in batch]
        request = {"programs": [dict(with_probes(test.program), substitutes=names)
                                for test, names in zip(batch, replaced)]}
        service = ReferenceService(context.reference, replaced) if any(replaced) else None
        result = run_worker(request, [context.fixtures[test.id][0] for test in batch], context.collection.overlay,
                            limits, service=service)
        verdicts += [guarded(judged, test, context, test, arrays, reply, context, test.id in own_forward)
                     for test, (arrays, reply) in zip(batch, result.programs)]
        if result.status != "ok":
            failed = batch[len(result.programs)]
            verdicts.append(with_printed(worker_failure(result, failed), result.printed, failed))
    return verdicts


def run_accuracy_test(test, context, tests_left):
    checkpoint = test.checkpoint
    heldout = load_heldout(context.root.source / layout.HELDOUT / f"{checkpoint['dataset']}.npz")

    def run_custom(path, images):
        body = program([call("checkpoint.load_model", job_file("checkpoint.npz")),
                        call("checkpoint.class_scores", res(0), inp("X"), 100)], {"scores": res(1)})
        arrays, failed = run_one_program(test, context, tests_left, body, {"X": images},
                                         files={"checkpoint.npz": path})
        if failed is not None:
            return None, failed
        scores = arrays.get("scores")
        if scores is None:
            return None, Verdict(0.0, ["your model's class_scores returned no numeric array"], failure="error")
        return scores, None

    path = context.collection.checkpoints.get(checkpoint["file"])
    return grade_checkpoint(checkpoint, path, heldout, context.reference, run_custom,
                            context.limits([test], tests_left).wall_seconds)


def culprit(test, context):
    """The student's file a test's results come from, as the student knows it."""
    if test.kind == CHECKPOINT:
        return f"your {test.checkpoint['file']}"
    parts = test.function.split("[")[0].split(".")
    for length in range(len(parts) - 1, 0, -1):
        target = "/".join(parts[:length]) + ".py"
        if target in context.collection.found:
            return f"your course_lib/{target} (from {context.collection.found[target]})"
    return f"the code of {test.function}"


def guarded(grade_test, test, context, *args):
    """grade_test(*args), or a Verdict naming the student's file when the harness fails on it."""
    try:
        return grade_test(*args)
    except isolation.IsolationError:
        raise
    except Exception as error:  # any failure of the harness on what this test produced costs only this test
        traceback.print_exc()
        return harness_verdict(error, test, context)


def harness_verdict(error, test, context):
    return Verdict(0.0, [TEST_CRASH_MESSAGE.format(error=type(error).__name__, culprit=culprit(test, context))],
                   failure="harness")


def shortened(names, limit=SHOWN_EXTRAS):
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def run_log_test(test, context, tests_left):
    """An experiment's logs, replayed in a worker with the student's code (autograder.harness.logs)."""

    def run_replay(body, inputs):
        return run_one_program(test, context, tests_left, body, inputs)

    data = load_heldout(context.root.source / layout.EXPERIMENT_DATA)
    return grade_experiment(experiment(test.experiment), context.collection.logs, data, run_replay)


# The grader of each kind of test scored from files of the upload (spec.Kind.scores_upload).
UPLOAD_GRADERS = {CHECKPOINT: run_accuracy_test, EXPERIMENT: run_log_test}


def run_one_program(test, context, tests_left, body, inputs, files=None):
    """(arrays, None) of one program run in a worker for ``test``, or (None, the Verdict of its failure)."""
    result = run_worker({"programs": [body]}, [inputs], context.collection.overlay,
                        context.limits([test], tests_left), files=files)
    if result.status != "ok":
        return None, with_printed(worker_failure(result, test), result.printed, test)
    arrays, reply = result.programs[0]
    if reply.get("status") != "ok":
        return None, with_printed(verdict_from_error(reply.get("error") or {}), reply.get("printed") or {}, test)
    return arrays, None


def describe_collection(collection, manifest):
    expected = set(manifest["student_files"])
    messages = [f"Graded course_lib/{target} (from {shown})"
                for target, shown in sorted(collection.found.items()) if target in expected]
    others = sorted(set(collection.found) - expected - set(collection.added))
    if collection.added:
        assignment_files = [f"course_lib/{name}" for name in manifest["student_files"]]
        messages.append("Extra file(s) in your upload, not files of the assignment (your code may import them; "
                        "nothing grades them): "
                        + shortened([f"course_lib/{path}" + copy_of(path, assignment_files) for path in collection.added]))
    if others:
        messages.append(f"{len(others)} more course_lib file(s) from your upload replaced the released copies: "
                        + shortened(others))
    if collection.extras:
        messages.append(f"{len(collection.extras)} more .py file(s) in course_lib folders of your upload were not "
                        f"used (only {MAX_ADDED_MODULES} modules of your own are): {shortened(sorted(collection.extras))}")
    problems = collection.problems
    if problems:
        messages.append(f"{len(problems)} file(s) of your upload could not be read: "
                        + "; ".join(problems[:SHOWN_PROBLEMS])
                        + (f"; and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > SHOWN_PROBLEMS else ""))
    messages += collection.notes
    if any(manifest["standin"].values()):
        messages.append("Checkpoints are graded on the stand-in data, not the real datasets.")
    return messages


def grade(root, only=()):
    """Grade ``<root>/submission`` with the autograder in ``<root>/source``; write and return results.json.

    ``only``: test numbers or function keys to run (all when empty).
    """
    root = layout.Root(root)
    isolation.protect(root.root, root.source, root.results.parent, root.submission)
    manifest = json.loads((root.source / layout.MANIFEST).read_text())
    planned = plan_tests(manifest)
    report = Report(root.results, planned, manifest["title"])
    report.extra = {"assignment": manifest["id"], "seed": manifest["seed"], "standin": manifest["standin"]}
    report.write()
    try:
        run_tests(root, manifest, planned, report, set(only))
    except Exception as error:  # the harness failed; still leave a valid results.json
        traceback.print_exc()
        report.messages.insert(0, CRASH_MESSAGE.format(error=type(error).__name__))
    report.write()
    print(peak_memory_line(), flush=True)
    return report.results()


def peak_memory_line():
    """Peak resident memory of the grading process and of the largest worker, and what the grading process
    wrote (for the instructor log)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return (f"peak memory: grading process {own:.0f} MB, largest worker {workers:.0f} MB; "
            f"written by the grading process: {written_bytes() / (1 << 20):.0f} MB")


def written_bytes():
    """Bytes the grading process passed to write calls (files, pipes), from /proc; 0 where there is none."""
    try:
        with open("/proc/self/io") as io_counters:
            return next(int(line.split()[1]) for line in io_counters if line.startswith("wchar:"))
    except (OSError, StopIteration, ValueError):
        return 0


def run_tests(root, manifest, planned, report, only):
    isolation.prepare_grading()
    deadline = time.monotonic() + manifest["time_budget"]
    with tempfile.TemporaryDirectory(prefix="grading-") as work:
        collection = collect_submission(root.submission, root.source / layout.STUBS, work,
                                        manifest["student_files"],
                                        [c["file"] for c in manifest["checkpoints"]], manifest["logs"])
        report.messages += describe_collection(collection, manifest)
        context = Context(manifest, root, collection, load_fixtures(root.source / layout.FIXTURES),
                          ReferenceLibrary(root.source / layout.REFERENCE), deadline,
                          load_known_mistakes(root.source))
        selected = [p for p in planned if not only or p.number in only or p.test.function in only]
        chosen = {p.number for p in selected}
        for number in (p.number for p in planned if p.number not in chosen):
            report.verdicts[number] = Verdict(0.0, ["not run: not among the tests selected with --only"],
                                                 failure="not_selected")
        done = 0
        for group in in_dependency_order(groups(selected)):
            started = time.monotonic()
            done += len(group)
            tests_left = len(selected) - done
            verdicts = run_group([p.test for p in group], context, tests_left)
            print(f"{group[0].test.function}: {[round(v.fraction, 3) for v in verdicts]} "
                  f"({time.monotonic() - started:.2f} s)", flush=True)
            for planned_test, verdict in zip(group, verdicts):
                report.record(planned_test, verdict, context.substituted.get(planned_test.id, []))
                if not verdict.passed:
                    context.failed.add(planned_test.test.function)
        report.appended = written_answers(root.submission, manifest, work + "/written", report)


def written_answers(submission, manifest, scratch, report):
    """The written answers' entries; their failure costs nothing graded and is said once."""
    try:
        return gradescope_entries(submission, manifest, scratch)
    except Exception:  # the graded tests are already recorded: keep them
        traceback.print_exc()
        report.messages.append("The written answers could not be read; the course staff will find them in "
                               "your notebooks (the details are in the autograder log).")
        return []


def run_group(tests, context, tests_left):
    """Verdicts of one group of tests; a failure of the harness costs only these tests."""
    try:
        if tests[0].scores_upload:
            return [UPLOAD_GRADERS[tests[0].kind](tests[0], context, tests_left)]
        return run_function_tests(tests, context, tests_left)
    except isolation.IsolationError:
        raise
    except Exception as error:  # the other groups are still graded
        traceback.print_exc()
        return [harness_verdict(error, test, context) for test in tests]


def in_dependency_order(grouped):
    """The groups in plan order, except that a group runs after the groups of the functions its tests rely
    on, so that a prerequisite's failure is known (and the reference stands in) when they run."""
    pending, ordered = list(grouped), []
    while pending:
        waiting = {group[0].test.function for group in pending}
        ready = next((group for group in pending
                      if not any(name in waiting and name != group[0].test.function
                                 for planned_test in group for name in planned_test.test.requires)), pending[0])
        pending.remove(ready)
        ordered.append(ready)
    return ordered


def groups(planned):
    """Consecutive tests of one function, which share a worker; each checkpoint and experiment on its own."""
    grouped = []
    for planned_test in planned:
        test = planned_test.test
        if grouped and not test.scores_upload and grouped[-1][-1].test.function == test.function:
            grouped[-1].append(planned_test)
        else:
            grouped.append([planned_test])
    return grouped
