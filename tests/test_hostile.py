"""Student code runs unprivileged and limited, and hostile submissions are graded exactly (tests/hostile).

Every case of the corpus is graded in full by hw3's autograder, as Gradescope
would, and must get exactly its score, within its time budget, with nothing of
the fixtures or the autograder in any output, no attack's success mark, the
canary intact and no process of the workers' user left. Run as root (as
Gradescope and CI are), workers run as the sandbox user; without root the
cases that only that user can contain are skipped. The reduced isolation
(``GRADER_ISOLATION=reduced``) is graded on the cases that need no user switch.
"""
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder import isolation, layout, namespaces
from autograder.local import (
    grade_submission,
    local_environment,
    place_submission,
    run_script,
    unpack_autograder,
)
from autograder.sandbox import NUMPY_HOME, Limits, run_worker
from autograder.suites.spec import call, program, res
from course_tools.manifest import load_manifest
from tests.autograder_support.artifacts import shared_artifacts
from tests.autograder_support.releases import REPO_ROOT
from tests.autograder_support.submissions import validate_results
from tests.hostile import load_cases, write_submission

CASES = load_cases()
# The corpus's autograder gives each test this wall time (course.toml's default is 60 s),
# so the hang and the fork bomb cost seconds, not minutes.
TEST_SECONDS = 5
AS_ROOT = os.geteuid() == 0
WORKERS_USER = os.environ.get(isolation.USER_VARIABLE) or isolation.SANDBOX_USER
NEEDS_ROOT = "needs root: only a dedicated workers' user keeps this attack away from the autograder's files"
# Cases whose expectations hold without the user switch too (they attack nothing outside the worker).
REDUCED_CASES = ("correct", "sys_exit_in_function", "allocate_10gb", "print_50mb")
CANARY_TEXT = "the canary must survive every submission"
FIXTURE_MARKERS = ("::out::", "::in::")
PATH_MARKERS = ("course-grade-", "worker-job-")
# The worker runtime is copied into every job (the worker may read it); the rest of this is secret.
SECRET_SOURCES = ("autograder/harness/", "autograder/suites/", "autograder/sandbox.py", "autograder/isolation.py",
                  "autograder/layout.py")
SHARED_SOURCES = ("autograder/worker.py", "autograder/proxy.py", "stubs/")


@dataclass
class Corpus:
    """The corpus's autograder zip, the reference submission, and what no output may contain."""

    zip: Path
    reference: Path
    secret_lines: frozenset


@dataclass
class Arena:
    """The temp folder all grading of this module happens in (TMPDIR), with the proof folder and the canary."""

    folder: Path
    proof: Path
    canary: Path


def with_test_seconds(zip_path, out_path, seconds):
    """A copy of an autograder zip whose manifest gives every test ``seconds`` of wall time."""
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == layout.MANIFEST:
                manifest = json.loads(data)
                manifest.update(default_timeout=seconds, timeouts={})
                data = json.dumps(manifest).encode()
            target.writestr(info, data)
    return out_path


def secret_lines(zip_path):
    """Long lines of the harness, suites and sandbox that appear nowhere in what the worker may read."""
    with zipfile.ZipFile(zip_path) as archive:
        def lines(prefixes):
            return {line.strip() for name in archive.namelist() if name.startswith(prefixes) and name.endswith(".py")
                    for line in archive.read(name).decode().splitlines() if len(line.strip()) >= 30}
        return frozenset(lines(SECRET_SOURCES) - lines(SHARED_SOURCES))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, standin_dir):
    built = shared_artifacts(tmp_path_factory, standin_dir)["hw3"]
    zip_path = with_test_seconds(built.zip, tmp_path_factory.mktemp("hostile") / "hw3.zip", TEST_SECONDS)
    return Corpus(zip_path, built.reference, secret_lines(zip_path))


@pytest.fixture(scope="module")
def arena():
    """In /tmp itself, readable by the workers' user like /tmp is; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="hostile-"))
    folder.chmod(0o755)
    proof = folder / "proof"
    proof.mkdir()
    proof.chmod(0o1777)
    canary_folder = folder / "canary"
    canary_folder.mkdir()
    canary_folder.chmod(0o755)
    canary = canary_folder / "canary.txt"
    canary.write_text(CANARY_TEXT)
    canary.chmod(0o644)
    yield Arena(folder, proof, canary)
    shutil.rmtree(folder, ignore_errors=True)


def workers_identity():
    return isolation.ensure_user(WORKERS_USER) if AS_ROOT else None


def grade_case(case, corpus, arena, monkeypatch, tmp_path):
    """(results, log, seconds) of grading the case's submission, every temp folder inside the arena."""
    monkeypatch.setenv("TMPDIR", str(arena.folder))
    monkeypatch.setenv(namespaces.SHARED_VARIABLE, str(arena.proof))  # workers in namespaces see only this
    monkeypatch.setattr(tempfile, "tempdir", str(arena.folder))
    tokens = {"@PROOF@": arena.proof, "@CASE@": case.name, "@CANARY@": arena.canary}
    submission = write_submission(case, corpus.reference, tmp_path / "submission", tokens)
    log_path = tmp_path / "log.txt"
    started = time.monotonic()
    results = grade_submission("hw3", submission, corpus.zip, log_path=log_path)
    seconds = time.monotonic() - started
    return validate_results(results), log_path.read_text(), seconds


def manifest_points():
    """{function key or ``checkpoint NAME``: points} of hw3, as the manifest gives them."""
    assignment = load_manifest(REPO_ROOT / "course.toml").assignment("hw3")
    points = dict(assignment.functions)
    points.update({f"checkpoint {checkpoint.name}": checkpoint.points for checkpoint in assignment.checkpoints})
    return points


def assert_exact_scores(case, results):
    functions = {test["extra_data"]["function"] for test in results["tests"]}
    titles = {test["name"] for test in results["tests"]}
    assert set(case.zero) <= functions and set(case.zero_tests) <= titles, "the case names tests hw3 does not have"
    wrong = {test["name"]: (test["score"], test["max_score"]) for test in results["tests"]
             if test["score"] != round(test["max_score"] * case.expected_fraction(test), 4)}
    assert not wrong, f"scores other than expected (score, max): {wrong}"
    zeroed_tests = sum(test["max_score"] for test in results["tests"] if test["name"] in case.zero_tests)
    partial = sum(test["max_score"] - round(test["max_score"] * case.partial_tests[test["name"]], 4)
                  for test in results["tests"] if test["name"] in case.partial_tests)
    points = manifest_points()
    expected = sum(points.values()) - sum(points[key] for key in case.zero) - zeroed_tests - partial
    assert results["score"] == round(expected, 4)


def assert_feedback(case, results):
    for named, text in case.feedback.items():
        tests = [test for test in results["tests"] if named in (test["extra_data"]["function"], test["name"])]
        assert tests, f"no test is named or tests {named}"
        for test in tests:
            assert text in test["output"], f"{test['name']}: {test['output']}"


def strings_of(value):
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings_of(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings_of(item)]
    return []


def assert_nothing_leaked(results, log, corpus):
    shown = "\n".join(strings_of(results))
    assert len(json.dumps(results)) < 200_000, "results.json must stay small whatever the code printed"
    for marker in FIXTURE_MARKERS:
        assert marker not in shown and marker not in log, f"fixture content ({marker}) in the output"
    for marker in PATH_MARKERS:
        assert marker not in shown, f"a harness path ({marker}...) shown to the student"
    leaked = [line for line in corpus.secret_lines if line in shown or line in log]
    assert not leaked, f"autograder source in the output: {leaked[:3]}"


def assert_attacks_failed(case, arena):
    marks = sorted(path.name[len(case.name) + 1:] for path in arena.proof.glob(f"{case.name}.*"))
    assert not [mark for mark in marks if mark.startswith(("succeeded", "ran-as-root"))], marks
    assert ("ran" in marks) == case.ran, f"the hostile code {'did not run' if case.ran else 'ran'}: {marks}"
    assert arena.canary.read_text() == CANARY_TEXT


def assert_nothing_left_running():
    identity = workers_identity()
    if identity is None:
        return
    with isolation.serialized(identity):  # no worker of any grading runs meanwhile
        living = {pid: state for pid, (state, _) in isolation.processes_of(identity.uid).items() if state != "Z"}
    assert not living, f"processes of {identity.name} outlived grading: {living}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_hostile_submission_gets_exactly_its_score(case, corpus, arena, monkeypatch, tmp_path):
    if case.needs_user_switch and not AS_ROOT:
        pytest.skip(NEEDS_ROOT)
    results, log, seconds = grade_case(case, corpus, arena, monkeypatch, tmp_path)
    assert seconds < case.budget, f"grading took {seconds:.1f} s"
    assert_exact_scores(case, results)
    assert_feedback(case, results)
    assert_nothing_leaked(results, log, corpus)
    assert_attacks_failed(case, arena)
    assert_nothing_left_running()
    if AS_ROOT:
        assert f"runs as the unprivileged user {WORKERS_USER}" in log


def test_correct_submission_is_unaffected_after_the_hostile_ones(corpus, arena, monkeypatch, tmp_path):
    correct = next(case for case in CASES if case.name == "correct")
    results, log, _ = grade_case(correct, corpus, arena, monkeypatch, tmp_path)
    assert results["score"] == sum(manifest_points().values())
    assert all(test["status"] == "passed" for test in results["tests"])
    assert_nothing_left_running()


@pytest.mark.parametrize("name", REDUCED_CASES)
def test_reduced_isolation_keeps_the_limits_and_says_so(name, corpus, arena, monkeypatch, tmp_path):
    case = next(case for case in CASES if case.name == name)
    monkeypatch.setenv(isolation.MODE_VARIABLE, "reduced")
    results, log, seconds = grade_case(case, corpus, arena, monkeypatch, tmp_path)
    assert "ISOLATION IS REDUCED" in log and f"{isolation.MODE_VARIABLE}=reduced" in log
    assert seconds < case.budget
    assert_exact_scores(case, results)
    assert_feedback(case, results)
    assert_nothing_leaked(results, log, corpus)


def test_failing_isolation_fails_every_test_with_a_message_for_the_staff(corpus, tmp_path):
    """setup.sh prepared the workers' user; at grading time it is unusable (here: root itself)."""
    if not AS_ROOT:
        pytest.skip("the workers' user is only set up when running as root")
    root = layout.Root(tmp_path / "root")
    unpack_autograder(corpus.zip, root.source)
    place_submission(corpus.reference, root.submission)
    env = local_environment(root, sys.executable)
    run_script(root, "setup.sh", env)
    log = run_script(root, "run_autograder", {**env, isolation.USER_VARIABLE: "root"})
    results = validate_results(json.loads(root.results.read_text()))
    assert results["score"] == 0 and results["tests"]
    assert all(test["status"] == "failed" for test in results["tests"])
    assert "The autograder itself failed (IsolationError)" in results["output"]
    assert "must be unprivileged" in log


# The sandbox on its own: a probe module run by run_worker -------------------------

PROBE = '''
import os
import resource

import numpy as np


def identity():
    return np.array([os.getuid(), os.geteuid(), os.getgid(), len(os.getgroups())])


def limits():
    kinds = (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_NPROC,
             resource.RLIMIT_CORE)
    return np.array([resource.getrlimit(kind)[0] for kind in kinds], dtype=np.int64)


def environment():
    return np.array(sorted(os.environ) == sorted(["PATH", "HOME", "TMPDIR", "LANG", "OMP_NUM_THREADS",
                                                  "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]))


def regain_root():
    try:
        os.setuid(0)
    except PermissionError:
        return np.array(False)
    return np.array(True)


def readable(path):
    try:
        with open(path) as file:
            file.read(1)
    except OSError:
        return np.array(False)
    return np.array(True)


def fork_until_refused():
    """Children that leave the process group and sleep, until the process limit refuses one; their pids."""
    import time

    children = []
    while len(children) < 1000:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            os.setsid()
            time.sleep(300)
            os._exit(0)
        children.append(pid)
    return np.array(children)


def importable(name):
    import importlib

    try:
        importlib.import_module(name)
    except ImportError:
        return np.array(False)
    return np.array(True)
'''


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    (folder / "course_lib").mkdir()
    (folder / "course_lib" / "__init__.py").write_text("")
    (folder / "course_lib" / "probe.py").write_text(PROBE)
    return folder


def probe_outputs(probe_dir, *calls, limits=Limits(wall_seconds=30)):
    """Run each (function, *args) of the probe in one worker; their outputs in order."""
    programs = [program([call(f"probe.{name}", *args)], {"out": res(0)}) for name, *args in calls]
    result = run_worker({"programs": programs}, [{}] * len(programs), probe_dir, limits)
    assert result.status == "ok", (result.problem, result.log)
    return [arrays["out"] for arrays, _ in result.programs]


@pytest.mark.skipif(not AS_ROOT, reason="the user switch needs root")
def test_worker_runs_as_the_unprivileged_user_for_good(probe):
    identity = workers_identity()
    who, regained, clean_env = probe_outputs(probe, ("identity",), ("regain_root",), ("environment",))
    assert who.tolist() == [identity.uid, identity.uid, identity.gid, 0]
    assert not regained and clean_env


@pytest.mark.skipif(not AS_ROOT, reason="the user switch needs root")
def test_worker_cannot_read_private_folders_or_import_the_autograder(probe, tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    secret = private / "secret.txt"
    secret.write_text("hidden")
    isolation.protect(private)
    public = Path(tempfile.mkdtemp())
    try:
        public.chmod(0o755)
        (public / "open.txt").write_text("anyone")
        (public / "open.txt").chmod(0o644)
        hidden, visible, autograder, numpy = probe_outputs(
            probe, ("readable", str(secret)), ("readable", str(public / "open.txt")),
            ("importable", "autograder"), ("importable", "numpy"))
    finally:
        shutil.rmtree(public)
    in_namespaces = namespaces.available(isolation.log, NUMPY_HOME)[0]
    assert not hidden and not autograder and numpy
    assert visible != in_namespaces  # a world-readable file in /tmp; inside namespaces /tmp is the worker's own


def test_worker_limits_are_the_requested_ones(probe):
    limits = Limits(wall_seconds=20, memory_bytes=900 << 20, file_bytes=3 << 20, processes=16)
    (found,) = probe_outputs(probe, ("limits",), limits=limits)
    memory, cpu, file_size, processes, core = found.tolist()
    assert (memory, cpu, file_size, core) == (900 << 20, 20 + 5, 3 << 20, 0)  # CPU: the wall time of its one program
    assert processes == 16 if AS_ROOT else processes >= 16


@pytest.mark.skipif(not AS_ROOT, reason="the process limit only binds a dedicated user")
def test_process_limit_contains_forks_and_every_escaped_process_is_killed(probe):
    (children,) = probe_outputs(probe, ("fork_until_refused",), limits=Limits(wall_seconds=20, processes=8))
    assert 0 < len(children) < 8
    assert_nothing_left_running()


def test_import_folders_out_of_reach_are_reopened_through_a_descriptor(tmp_path):
    closed = tmp_path / "closed"
    inner = closed / "inner" / "lib"
    inner.mkdir(parents=True)
    closed.chmod(0o700)
    (closed / "inner").chmod(0o755)
    tmp_path.chmod(0o755)
    reopened = isolation.reopened(str(inner))
    assert reopened.startswith("/proc/self/fd/") and reopened.endswith("/lib")
    assert os.path.samefile(reopened, inner)
    assert isolation.reopened("relative/path") == "relative/path"


def test_scrub_replaces_paths_everywhere_in_a_reply():
    reply = {"error": {"message": "no file /tmp/job-1/submission/x"}, "frames": ["/tmp/job-1/worker.py"], "n": 3}
    scrubbed = isolation.scrub(reply, [("/tmp/job-1/submission", "<your submission>"), ("/tmp/job-1", "<job>")])
    assert scrubbed == {"error": {"message": "no file <your submission>/x"}, "frames": ["<job>/worker.py"], "n": 3}


@pytest.mark.parametrize("name, problem", [("root", "must be unprivileged"), ("Bad Name", "not a valid user name")])
def test_unusable_workers_user_is_refused(name, problem):
    with pytest.raises(isolation.IsolationError, match=problem):
        isolation.ensure_user(name)
