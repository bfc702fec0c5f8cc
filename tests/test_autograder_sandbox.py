"""The worker sandbox and the submission collector, on small made-up libraries.

Every misbehaviour a submission can show (crash, hang, exit, fork, floods of
output, memory hogs) must end as a clear verdict, never as a stuck or broken
grading process.
"""
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder.harness import collect
from autograder.harness.collect import collect_submission
from autograder.harness.pipeline import Context, verdict_from_error, worker_failure
from autograder import isolation, namespaces, sandbox
from autograder.sandbox import NUMPY_HOME, Limits, run_worker
from autograder.suites import spec
from autograder.suites.spec import call, inp, program, res

PROBE = '''
import os
import sys
import time
import warnings

import numpy as np


def double(x):
    warnings.warn("just so you know")
    print("hello from the student")
    return 2 * x


def not_done(x):
    raise NotImplementedError("probe.not_done: not implemented yet")


def fails(x):
    return helper(x)


def helper(x):
    raise ValueError("shapes do not match")


def hang(x):
    while True:
        pass


def leave(x):
    sys.exit(3)


def too_large_to_store(x):
    return np.broadcast_to(x[:1], (4000, 1000))  # 32 MB once written out, 8 bytes in memory


def too_long_keys(x):
    return {"k" * 100_000 + str(index): x for index in range(30)}


def dawdle(x):
    time.sleep(2)
    return x


def vanish(x):
    os._exit(7)


def flood(x):
    print("x" * 20_000_000)
    return x


def flood_descriptor(x):
    for _ in range(40):
        os.write(1, b"x" * (1 << 20))
    return x


def hog(x):
    return np.ones((1 << 31,))


def spawn(x):
    pid = os.fork()
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    return np.array([pid])


def quiet(x):
    return x


def fake_line_count(x):
    sys.stdout.lines = "many"
    return x


def poison_numpy(x):
    np.add = None
    return x


def what_can_i_import(x):
    """[the autograder package is importable, course_lib comes from the working folder]."""
    import importlib.util

    import course_lib

    own = os.path.dirname(course_lib.__file__).startswith(os.getcwd())
    return np.array([importlib.util.find_spec("autograder") is not None, own], dtype=np.int64)
'''


@pytest.fixture
def library(tmp_path):
    folder = tmp_path / "submission"
    (folder / "course_lib").mkdir(parents=True)
    (folder / "course_lib" / "__init__.py").write_text("")
    (folder / "course_lib" / "probe.py").write_text(PROBE)
    return folder


def probe(library, function, limits=Limits(wall_seconds=20), *extra):
    body = program([call(f"probe.{function}", inp("x"), *extra)], {"out": res(0)})
    result = run_worker({"programs": [body]}, [{"x": np.arange(3.0)}], library, limits)
    return result


def test_a_working_function_returns_arrays_warnings_and_output(library):
    result = probe(library, "double")
    assert result.status == "ok"
    arrays, reply = result.programs[0]
    assert np.array_equal(arrays["out"], [0.0, 2.0, 4.0])
    assert reply["status"] == "ok" and reply["printed"]["chars"] > 0
    assert any("just so you know" in warning for warning in reply["warnings"])


def test_the_lines_each_call_printed_are_an_output(library):
    calls = [call("probe.double", inp("x")), call("probe.quiet", inp("x")), call("probe.double", res(0))]
    body = program(calls, {name: spec.printed(k) for k, name in enumerate(["double", "quiet", "again"])})
    arrays, reply = run_worker({"programs": [body]}, [{"x": np.arange(3.0)}], library, Limits(wall_seconds=20)).programs[0]
    assert reply["status"] == "ok"
    assert (int(arrays["double"]), int(arrays["quiet"]), int(arrays["again"])) == (1, 0, 1)


def test_a_tampered_line_count_fails_the_program_not_the_worker(library):
    calls = [call("probe.fake_line_count", inp("x")), call("probe.double", inp("x"))]
    body = program(calls, {"lines": spec.printed(1)})
    result = run_worker({"programs": [body]}, [{"x": np.arange(3.0)}], library, Limits(wall_seconds=20))
    assert result.status == "ok" and result.programs[0][1]["status"] == "error"


def test_not_implemented_and_exceptions_keep_only_the_students_frames(library):
    not_done = verdict_from_error(probe(library, "not_done").programs[0][1]["error"])
    assert not_done.not_implemented and "probe.not_done: not implemented yet" in not_done.lines[0]
    error = probe(library, "fails").programs[0][1]["error"]
    verdict = verdict_from_error(error)
    text = "\n".join(verdict.lines)
    assert "probe.fails raised ValueError: shapes do not match" in text
    assert [frame["function"] for frame in error["frames"]] == ["fails", "helper"]
    assert all(frame["file"] == "course_lib/probe.py" for frame in error["frames"])
    assert "worker" not in text and str(library) not in text


@pytest.mark.parametrize("function, seconds, status, words", [
    ("hang", 1.0, "timeout", "did not finish within 1 s"),
    ("vanish", 20.0, "crashed", "exit code 7"),  # time to start even on a busy machine
])
def test_a_misbehaving_worker_ends_as_a_verdict(library, function, seconds, status, words):
    result = probe(library, function, Limits(wall_seconds=seconds))
    assert result.status == status and not result.programs
    verdict = worker_failure(result, spec.Test("probe." + function, "check", spec.FORWARD))
    assert verdict.fraction == 0 and words in verdict.lines[0]


def test_a_worker_of_many_slow_programs_ends_when_the_time_left_for_all_of_them_runs_out(library):
    """Each program stays under its wall time; together they would outlive the assignment's time budget."""
    bodies = [program([call("probe.dawdle", inp("x"))], {"out": res(0)})] * 6
    result = run_worker({"programs": bodies}, [{"x": np.ones(2)}] * 6, library,
                        Limits(wall_seconds=10, total_seconds=3))
    assert result.status == "timeout" and len(result.programs) < 6
    assert "time left for these tests ran out (3 s of the whole assignment's time budget)" in result.problem


def test_a_worker_is_stopped_before_its_files_fill_the_disk(library, monkeypatch):
    """The job's file system had 100 GB free when the worker started and has 10 GB now."""
    readings = iter([100 << 30])
    monkeypatch.setattr(sandbox, "_free_bytes", lambda folder: next(readings, 10 << 30))
    result = probe(library, "dawdle", Limits(wall_seconds=10))
    assert result.status == "crashed" and not result.programs
    assert "its files took half the free disk space; write no files" in result.problem


def test_a_group_of_tests_shares_the_time_the_budget_leaves():
    tests = [spec.Test("probe.double", f"check {index}", spec.FORWARD) for index in range(3)]
    manifest = {"timeouts": {}, "default_timeout": 60.0, "reference_seconds": {}}
    context = Context(manifest, None, None, {}, None, time.monotonic() + 100, {})
    limits = context.limits(tests, tests_left=10)
    assert 70 < limits.total_seconds <= 80  # 100 s less 2 s kept for each of the 10 tests after these
    assert limits.wall_seconds == 60.0
    squeezed = Context(manifest, None, None, {}, None, time.monotonic() + 40, {}).limits(tests, tests_left=10)
    assert squeezed.wall_seconds <= squeezed.total_seconds - 4 <= 16


@pytest.mark.parametrize("function, words", [
    ("leave", "your code called exit(3)"),
    ("hog", "MemoryError"),
    ("flood_descriptor", "File too large"),
])
def test_exit_memory_and_file_size_limits_are_reported_as_errors(library, function, words):
    result = probe(library, function, Limits(wall_seconds=20, memory_bytes=1 << 30))
    error = result.programs[0][1]["error"]
    assert words in error["message"] or words == error["type"]


@pytest.mark.parametrize("source, kind, fix", [
    ('def f(x):\n    return "caf\xe9"\n'.encode("latin-1"), "SyntaxError",
     "(the file is not saved as UTF-8: save it as UTF-8 in your editor"),
    (b"def f(x):\n    y = x\n\treturn y\n", "TabError", "(indent with spaces only"),
    (b"%matplotlib inline\ndef f(x):\n    return x\n", "SyntaxError", "(a notebook's % or ! command is no Python"),
])
def test_a_careless_file_format_is_named_with_its_fix(library, source, kind, fix):
    (library / "course_lib" / "careless.py").write_bytes(source)
    body = program([call("careless.f", inp("x"))], {"out": res(0)})
    error = run_worker({"programs": [body]}, [{"x": np.ones(2)}], library, Limits(wall_seconds=20)).programs[0][1]["error"]
    assert error["where"] == "importing course_lib/careless.py" and error["type"] == kind
    assert fix in verdict_from_error(error).lines[0]


@pytest.mark.parametrize("function, words", [
    ("too_large_to_store", "File too large (output size: the worker may write at most 16 MB per file)"),
    ("too_long_keys", "MB to describe (dicts of too many or too long keys?)"),
])
def test_results_that_cannot_be_stored_fail_their_test_with_the_reason(library, function, words):
    result = probe(library, function)
    assert result.status == "ok"
    error = result.programs[0][1]["error"]
    assert error["where"] == "storing your results" and words in error["message"]


def test_printing_megabytes_is_counted_not_kept(library):
    result = probe(library, "flood")
    assert result.status == "ok" and result.programs[0][1]["printed"]["chars"] > 20_000_000


def running(pid):
    """True while process pid exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_forked_children_are_killed_with_the_worker(library):
    """As root: no process of the workers' user survives; otherwise the child's pid is gone (outside
    namespaces, where that pid means something here; inside, the PID namespace ends with the worker)."""
    result = probe(library, "spawn")
    assert result.status == "ok", result.problem
    identity = isolation.sandbox_identity()
    if identity is not None:
        with isolation.serialized(identity):
            living = [pid for pid, (state, _) in isolation.processes_of(identity.uid).items() if state != "Z"]
        assert not living
        return
    if namespaces.available(isolation.log, NUMPY_HOME)[0]:
        pytest.skip("the child's pid is one of its PID namespace; not root, so its user is ours")
    child = int(result.programs[0][0]["out"][0])
    deadline = time.monotonic() + 5
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(child)


def test_student_code_cannot_touch_the_grading_process(library):
    result = probe(library, "poison_numpy")
    assert result.status == "ok" and np.add(1, 2) == 3


def test_the_worker_imports_only_the_submission(library):
    """Even here, where the repository (reference and autograder) is installed in the interpreter."""
    result = probe(library, "what_can_i_import")
    assert result.programs[0][0]["out"].tolist() == [0, 1]


def test_later_programs_run_after_an_earlier_one_fails(library):
    bodies = [program([call("probe.not_done", inp("x"))], {"out": res(0)}),
              program([call("probe.double", inp("x"))], {"out": res(0)})]
    result = run_worker({"programs": bodies}, [{"x": np.ones(2)}] * 2, library, Limits(wall_seconds=20))
    assert [reply["status"] for _, reply in result.programs] == ["error", "ok"]


# Collecting submissions ----------------------------------------------------------------

STUB_FILES = ("__init__.py", "layers.py", "mlp/__init__.py", "mlp/layers.py", "classifiers/fc_net.py", "solver.py",
              "checkpoint.py")


@pytest.fixture
def stubs(tmp_path):
    for name in STUB_FILES:
        path = tmp_path / "stubs" / "course_lib" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# released stub\n")
    return tmp_path / "stubs"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def collected(tmp_path, stubs, submission, student_files=("layers.py", "mlp/layers.py", "classifiers/fc_net.py")):
    return collect_submission(submission, stubs, tmp_path / "work", list(student_files),
                              ["checkpoints/net.npz"], ["submission_logs/run.npz"])


def overlay_text(collection, name):
    return (collection.overlay / "course_lib" / name).read_text()


def test_files_are_found_by_their_path_inside_course_lib(tmp_path, stubs):
    upload = tmp_path / "upload"
    write(upload / "deep" / "folder" / "course_lib" / "layers.py", "functional")
    write(upload / "deep" / "folder" / "course_lib" / "mlp" / "layers.py", "object api")
    write(upload / "deep" / "folder" / "course_lib" / "my_net.py", "a new module")
    write(upload / "results" / "net.npz", "checkpoint")
    collection = collected(tmp_path, stubs, upload)
    assert overlay_text(collection, "layers.py") == "functional"
    assert overlay_text(collection, "mlp/layers.py") == "object api"
    assert overlay_text(collection, "my_net.py") == "a new module"
    assert overlay_text(collection, "classifiers/fc_net.py") == "# released stub\n"
    assert "course_lib/classifiers/fc_net.py was not found in your upload" in " ".join(collection.notes)
    assert collection.checkpoints["checkpoints/net.npz"] == upload / "results" / "net.npz"


def test_the_graders_own_modules_keep_their_released_copy(tmp_path, stubs):
    """An edited Solver could replay a made-up log; an unchanged copy of the release is no news."""
    upload = tmp_path / "upload"
    write(upload / "course_lib" / "solver.py", "class Solver: step = lambda self: None")
    write(upload / "course_lib" / "checkpoint.py", "# released stub\n")
    write(upload / "course_lib" / "layers.py", "functional")
    collection = collected(tmp_path, stubs, upload)
    assert overlay_text(collection, "solver.py") == overlay_text(collection, "checkpoint.py") == "# released stub\n"
    assert overlay_text(collection, "layers.py") == "functional"
    notes = " ".join(collection.notes)
    assert "grader runs the released course_lib/solver.py" in notes and "checkpoint.py" not in notes
    # An assignment whose own work is in one of them would grade the upload's.
    collection = collected(tmp_path / "own", stubs, upload, student_files=("solver.py",))
    assert overlay_text(collection, "solver.py").startswith("class Solver")


def test_loose_files_are_placed_by_the_longest_matching_tail(tmp_path, stubs):
    upload = tmp_path / "upload"
    write(upload / "layers.py", "functional")
    write(upload / "mlp" / "layers.py", "object api")
    write(upload / "fc_net.py", "nets")
    write(upload / "notes.py", "not part of the library")
    collection = collected(tmp_path, stubs, upload)
    assert overlay_text(collection, "layers.py") == "functional"
    assert overlay_text(collection, "mlp/layers.py") == "object api"
    assert overlay_text(collection, "classifiers/fc_net.py") == "nets"
    assert not (collection.overlay / "course_lib" / "notes.py").exists()


def test_zips_inside_the_upload_are_unpacked_safely(tmp_path, stubs):
    upload = tmp_path / "upload"
    upload.mkdir()
    with zipfile.ZipFile(upload / "homework.zip", "w") as archive:
        archive.writestr("homework/course_lib/layers.py", "from the zip")
        archive.writestr("../../escaped.py", "must not be written")
    collection = collected(tmp_path, stubs, upload)
    assert overlay_text(collection, "layers.py") == "from the zip"
    assert collection.found["layers.py"] == "homework.zip/homework/course_lib/layers.py"
    assert not list(tmp_path.rglob("escaped.py"))


def test_duplicates_prefer_the_shallowest_and_links_are_ignored(tmp_path, stubs):
    upload = tmp_path / "upload"
    write(upload / "backup" / "course_lib" / "layers.py", "old copy")
    write(upload / "course_lib" / "layers.py", "current")
    write(upload / "venv" / "keras" / "layers.py", "not the student's: the upload has a course_lib folder")
    secret = write(tmp_path / "outside" / "fc_net.py", "a file outside the upload")
    (upload / "course_lib" / "classifiers").mkdir(parents=True)
    (upload / "course_lib" / "classifiers" / "fc_net.py").symlink_to(secret)
    collection = collected(tmp_path, stubs, upload)
    assert overlay_text(collection, "layers.py") == "current"
    assert "2 copies in your upload; graded course_lib/layers.py" in " ".join(collection.notes)
    assert overlay_text(collection, "classifiers/fc_net.py") == "# released stub\n"


def test_code_is_read_first_when_the_upload_outgrows_its_budget(tmp_path, stubs, monkeypatch):
    """A whole project folder (its data, its virtual environment) sorted before course_lib, loose and zipped."""
    monkeypatch.setitem(collect.UPLOAD_LIMITS, "max_files", 40)
    upload = tmp_path / "upload"
    for index in range(60):
        write(upload / ".venv" / f"lib{index}.so", "binary")
    write(upload / "course_lib" / "layers.py", "functional")
    with zipfile.ZipFile(upload / "project.zip", "w") as archive:
        for index in range(30):
            archive.writestr(f"project/.data/{index}.png", "image")
        archive.writestr("project/course_lib/classifiers/fc_net.py", "nets")
    with zipfile.ZipFile(upload / "env.zip", "w") as archive:  # too many members: refused alone
        for index in range(50):
            archive.writestr(f"env/{index}.so", "binary")
    collection = collected(tmp_path, stubs, upload)
    assert overlay_text(collection, "layers.py") == "functional"
    assert overlay_text(collection, "classifiers/fc_net.py") == "nets"
    assert any(problem.startswith("env.zip: an archive lists more than 40 files, so it was not unpacked")
               for problem in collection.problems)
    assert any("the upload holds more than 40 files" in problem for problem in collection.problems)


def test_the_usual_wrong_uploads_are_named_with_their_fix(tmp_path, stubs):
    released = tmp_path / "released"
    shutil.copytree(stubs / "course_lib", released / "course_lib")
    write(released / "layers.py", "my edited copy, beside the released folder")
    write(released / "backup" / "fc_net.py", "# released stub\n")  # the same as the graded one: nothing to say
    notes = " ".join(collected(tmp_path / "a", stubs, released).notes)
    assert ("course_lib/layers.py, course_lib/mlp/layers.py, course_lib/classifiers/fc_net.py: the released file(s), "
            "unchanged") in notes
    assert "layers.py: outside your course_lib folder, so not graded" in notes and "backup/fc_net.py" not in notes
    flattened = tmp_path / "flattened"
    write(flattened / "course_lib" / "fc_net.py", "nets, out of their classifiers folder")
    notes = " ".join(collected(tmp_path / "d", stubs, flattened).notes)
    assert ("course_lib/classifiers/fc_net.py was not found in your upload; its tests ran on the released stub "
            "(your course_lib/fc_net.py is in another folder: move it to course_lib/classifiers/fc_net.py)") in notes
    notebooks = tmp_path / "notebooks"
    write(notebooks / "two_layer_nn.ipynb", "{}")
    notes = " ".join(collected(tmp_path / "b", stubs, notebooks).notes)
    assert "None of the assignment's files" in notes and "not from the notebooks" in notes
    (tmp_path / "empty").mkdir()
    assert "is in your upload (it is empty)" in " ".join(collected(tmp_path / "c", stubs, tmp_path / "empty").notes)
