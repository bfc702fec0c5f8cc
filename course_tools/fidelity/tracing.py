"""Which course_lib functions each hidden test's program executes on the reference.

Grading only the tests that can see a patch needs this map: a test that never
enters a patched function runs the patch exactly as it runs the reference.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from course_tools.fidelity.corpus import REPO_ROOT


def module_of(relative_path):
    return "course_lib." + Path(relative_path).with_suffix("").as_posix().replace("/", ".")


def traced_functions(zip_path, work_dir):
    """{test number: course_lib functions (``module.Qualname``) its program executes on the reference}.

    Runs every hidden test's program of the zip once, in a separate process
    (the programs seed NumPy's global generator), without its numerical
    gradients (they re-run the same calls).
    """
    out_path = Path(work_dir) / f"traced-{Path(zip_path).stem}.json"
    code = "import sys; from course_tools.fidelity.tracing import write_traced_functions as w; w(sys.argv[1], sys.argv[2])"
    subprocess.run([sys.executable, "-c", code, str(zip_path), str(out_path)], check=True, cwd=REPO_ROOT,
                   stdout=subprocess.DEVNULL)
    return json.loads(out_path.read_text())


def qualname_in_library(code, lib_root):
    """``classifiers.fc_net.TwoLayerNet.loss`` for the code object of that method under lib_root."""
    module = module_of(Path(code.co_filename).relative_to(lib_root)).removeprefix("course_lib.")
    return f"{module}.{code.co_qualname}"


def write_traced_functions(zip_path, out_path):
    """The body of traced_functions, run in its own process."""
    import contextlib
    import io
    import zipfile

    import numpy as np

    from autograder import layout, worker
    from autograder.suites import plan_tests

    with zipfile.ZipFile(zip_path) as archive:
        planned = plan_tests(json.loads(archive.read(layout.MANIFEST)))
        with np.load(io.BytesIO(archive.read(layout.FIXTURES)), allow_pickle=False) as fixtures:
            inputs = {}
            for key in fixtures.files:
                test_id, part, name = layout.split_fixture_key(key)
                if part == "in":
                    inputs.setdefault(test_id, {})[name] = fixtures[key]
    lib_root = REPO_ROOT / "course_lib"
    traced = {}
    with tempfile.TemporaryDirectory() as job_dir, contextlib.redirect_stdout(io.StringIO()):
        job = worker.Job(job_dir, REPO_ROOT)
        for item in planned:
            if item.test.kind == "accuracy":
                continue
            job.inputs = inputs.get(item.test.id, {})
            codes = set()
            sys.setprofile(lambda frame, event, arg, codes=codes: codes.add(frame.f_code) if event == "call" else None)
            try:
                worker.run_program(job, {key: value for key, value in item.test.program.items() if key != "numeric"})
            finally:
                sys.setprofile(None)
            traced[item.number] = sorted({qualname_in_library(code, lib_root) for code in codes
                                          if lib_root in Path(code.co_filename).parents})
    Path(out_path).write_text(json.dumps(traced, indent=1))
