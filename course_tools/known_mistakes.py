"""Known mistakes for the autograder's diagnoses: the fidelity corpus' wrong variants run on the hidden tests.

At build time every wrong variant with a hint runs, in its own worker on the
reference library with its patch applied, the hidden tests of the functions
it breaks, on the same inputs the builder draws for the fixtures. The outputs
go into the zip (``course_tools.autograder_zip.build_autograder_zip(known_mistakes=...)``);
when a student's outputs equal a variant's on a failing test, the feedback
gives that variant's hint.
"""
import shutil
import sys
import tempfile
import time
from pathlib import Path

from autograder.build import copy_library, draw_inputs
from autograder.harness.diagnose import NUMERIC_PREFIX
from autograder.sandbox import Limits, run_worker
from autograder.suites import plan_tests
from course_tools.fidelity import apply_variant, load_corpus
from course_tools.manifest import load_manifest

VARIANT_SECONDS = 120  # per program of a variant; the reference needs well under a second for most


def tests_broken_by(variant, planned):
    """The hidden tests (of an assignment's plan) of the functions ``variant`` breaks."""
    return [item.test for item in planned if not item.test.scores_upload and item.test.function in variant.functions]


def known_mistake_outputs(assignment_id, repo_root, seed, variants=None, progress=None):
    """{variant name: {"hint", "outputs": {test id: {output: array}}}} for the wrong variants (default: the whole
    corpus) that break a function the assignment tests, prerequisites included.

    A variant without a hint, or whose programs all fail, is left out.
    """
    repo_root = Path(repo_root)
    assignment = load_manifest(repo_root / "course.toml").assignment(assignment_id)
    planned = plan_tests({"functions": dict(assignment.functions), "checkpoints": []})
    variants = load_corpus(repo_root=repo_root) if variants is None else variants
    known = {}
    with tempfile.TemporaryDirectory(prefix=f"known-mistakes-{assignment_id}-") as work:
        reference = Path(work) / "reference"
        copy_library(repo_root / "course_lib", reference / "course_lib")
        for variant in variants:
            tests = tests_broken_by(variant, planned)
            if not variant.wrong or not variant.hint or not tests:
                continue
            started = time.monotonic()
            outputs = variant_outputs(variant, tests, seed, reference, Path(work) / variant.name)
            if outputs:
                known[variant.name] = {"hint": variant.hint, "outputs": outputs}
            if progress:
                progress(f"{variant.name}: {len(outputs)} of {len(tests)} tests ({time.monotonic() - started:.1f} s)")
    return known


def variant_outputs(variant, tests, seed, reference, folder):
    """{test id: outputs} of the tests ``variant``'s patched library completes (numerical gradients left out)."""
    shutil.copytree(reference, folder)
    apply_variant(variant, folder / "course_lib")
    programs = [{**test.program, "numeric": []} for test in tests]
    result = run_worker({"programs": programs}, [draw_inputs(test, seed) for test in tests], folder,
                        Limits(wall_seconds=VARIANT_SECONDS))
    shutil.rmtree(folder, ignore_errors=True)
    outputs = {}
    for test, (arrays, reply) in zip(tests, result.programs):
        if reply.get("status") == "ok" and arrays:
            outputs[test.id] = {name: value for name, value in arrays.items() if not name.startswith(NUMERIC_PREFIX)}
    return outputs


def main(argv=None):
    """python -m course_tools.known_mistakes ASSIGNMENT [SEED]: how long computing the known mistakes takes."""
    argv = sys.argv[1:] if argv is None else argv
    seed = int(argv[1]) if len(argv) > 1 else load_manifest(Path(__file__).resolve().parent.parent / "course.toml").seed
    started = time.monotonic()
    known = known_mistake_outputs(argv[0], Path(__file__).resolve().parent.parent, seed, progress=print)
    print(f"{argv[0]}: {len(known)} known mistakes in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
