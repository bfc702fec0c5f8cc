"""Grading variants with an assignment's autograder zip, the way Gradescope grades a submission.

``AssignmentGrader`` builds the zip (with the corpus' known mistakes baked in,
as ``course build`` does, unless told not to) or takes a given one, traces which
functions each hidden test executes and writes the reference submission, once
per assignment; each variant is then the reference submission with its patch,
and with experiment logs of its own runs where its patch changes them.
"""
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from course_tools.fidelity.corpus import REPO_ROOT, Variant
from course_tools.fidelity.judging import judge
from course_tools.fidelity.patching import apply_variant
from course_tools.fidelity.tracing import traced_functions
from course_tools.fidelity.variant_logs import experiments_using, write_variant_logs
from course_tools.manifest import load_manifest, split_function_key


def qualnames(variant):
    """The qualified names (without region tags) of the functions a variant patches."""
    return {split_function_key(key)[0] for key in variant.patched}


def relevant_numbers(variant, planned, traced):
    """The tests that can see the variant's patch: those of its functions and those whose program
    executes one of them on the reference.

    ``traced`` maps a test number to the functions its program executes on the
    reference (see traced_functions). A test that never enters a patched
    function runs the variant exactly as it runs the reference, so it keeps
    the reference's full marks and need not run.
    """
    patched = qualnames(variant)
    return [item.number for item in planned
            if item.test.function in variant.patched or patched & set(traced.get(item.number, ()))]


@dataclass
class Graded:
    """A variant's grading: the results, the tests that ran and what went wrong."""

    variant: Variant
    results: dict
    numbers: list = field(default_factory=list)  # the tests that ran; empty means all
    problems: list = field(default_factory=list)

    @property
    def tests(self):
        tests = self.results.get("tests", [])
        return [t for t in tests if t["number"] in self.numbers] if self.numbers else tests

    @property
    def score(self):
        return sum(t["score"] for t in self.tests), sum(t["max_score"] for t in self.tests)


class AssignmentGrader:
    """Grades variants of one assignment: builds its autograder zip and reference submission once."""

    def __init__(self, assignment, work_dir, repo_root=REPO_ROOT, zip_path=None, known_mistakes=True):
        self.assignment = assignment
        self.known_mistakes = known_mistakes  # bake the corpus' wrong variants' outputs in, as `course build` does
        self.repo_root = Path(repo_root)
        self.work_dir = Path(work_dir) / assignment
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.zip_path = Path(zip_path) if zip_path else None
        self.reference = None
        self.planned = None
        self.traced = None
        self.experiments = {}

    def prepare(self):
        """Build the zip (unless one was given) and the reference submission with its checkpoints."""
        import zipfile

        from autograder import layout
        from course_tools.autograder_zip import build_autograder_zip
        from autograder.local import write_reference_submission
        from autograder.suites import plan_tests

        seed = load_manifest(self.repo_root / "course.toml").seed
        if self.zip_path is None:
            from course_tools.known_mistakes import known_mistake_outputs

            stubs = write_stub_library(self.assignment, self.repo_root, self.work_dir / "release")
            known = known_mistake_outputs(self.assignment, self.repo_root, seed) if self.known_mistakes else None
            self.zip_path = build_autograder_zip(self.assignment, self.repo_root,
                                                 self.work_dir / f"{self.assignment}-autograder.zip",
                                                 seed=seed, release_dir=stubs, known_mistakes=known)
        with zipfile.ZipFile(self.zip_path) as archive:
            baked = json.loads(archive.read(layout.MANIFEST))
        self.planned = plan_tests(baked)
        self.experiments = baked.get("experiments", {})
        self.traced = traced_functions(self.zip_path, self.work_dir)
        self.reference = write_reference_submission(self.zip_path, self.work_dir / "reference")
        return self

    def submission(self, variant, logs=True):
        """The reference submission with the variant's patch applied (checkpoints reused) and, unless
        ``logs`` is false, the logs of the experiments whose runs its patch changes rewritten by its code."""
        folder = self.work_dir / "variants" / variant.name
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(self.reference, folder)
        apply_variant(variant, folder / "course_lib")
        if logs:
            write_variant_logs(experiments_using(variant.patched, self.experiments), folder, self.repo_root)
        return folder

    def grade(self, variant, restrict=False):
        """Grade one variant; ``restrict`` runs only the tests that can see its patch."""
        from autograder import grade_submission

        numbers = relevant_numbers(variant, self.planned, self.traced) if restrict else []
        folder = self.submission(variant, logs=not restrict)  # restricted gradings run no log test
        results = grade_submission(self.assignment, folder, self.zip_path, only=numbers)
        shutil.rmtree(folder)
        graded = Graded(variant, results, numbers)
        graded.problems = judge(variant, graded.tests)
        return graded

    def grade_reference(self):
        from autograder import grade_submission

        return grade_submission(self.assignment, self.reference, self.zip_path)


def write_stub_library(assignment, repo_root, destination):
    """``destination/course_lib``: the student release's stubbed library (no notebooks needed)."""
    from course_tools.release import plan_release
    from course_tools.stubs import solution_clearer, write_stubbed_library

    plan = plan_release(assignment, repo_root)
    write_stubbed_library(plan.lib_root, Path(destination) / "course_lib", plan.regions, plan.cleared_keys,
                          solution_clearer(plan.nbgrader_config))
    return Path(destination)


def grade_corpus(variants, work_dir, repo_root=REPO_ROOT, jobs=2, restrict=False, zip_dir=None,
                 progress=None, known_mistakes=True):
    """{variant name: Graded} for every variant, ``jobs`` gradings at a time; graders prepared per assignment
    (zips with the known mistakes unless ``known_mistakes`` is false)."""
    graders = {}
    for assignment in dict.fromkeys(v.assignment for v in variants):
        given = Path(zip_dir) / f"{assignment}-autograder.zip" if zip_dir else None
        graders[assignment] = AssignmentGrader(assignment, work_dir, repo_root, given, known_mistakes).prepare()

    def grade(variant):
        graded = graders[variant.assignment].grade(variant, restrict)
        if progress:
            progress(graded)
        return graded

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return {graded.variant.name: graded for graded in pool.map(grade, variants)}, graders
