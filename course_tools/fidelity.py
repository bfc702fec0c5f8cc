"""Grading fidelity: how the autograder judges realistic wrong and alternative correct solutions.

The corpus lives in ``fidelity/wrong/<assignment>.toml`` (mistakes students
really make) and ``fidelity/correct/<assignment>.toml`` (other valid ways to
write a student function). Each variant is a small patch on the reference
``course_lib``. A submission is made per variant (the reference submission
with the patch applied, reference checkpoints included) and graded with the
assignment's autograder zip. What is expected:

- a wrong variant loses points on the tests of every function it breaks,
  keeps full marks on every other test (unless that test's feedback names a
  broken function as its failing prerequisite), and the feedback of its
  failing tests names the wrong outputs (``names``) and does not blame the
  outputs that are still right (``intact``);
- a correct variant scores full marks.

``python -m course_tools.fidelity [ASSIGNMENT ...] --report PATH`` grades the
whole corpus and writes a markdown report an instructor can read;
``--unit-tests`` also checks every variant against the project's own test
suite (a wrong variant must make one of its tests fail, a correct one must
keep them passing).
"""
import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from course_tools.manifest import UnknownNameError, load_manifest, split_function_key
from course_tools.regions import find_regions

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_FOLDER = "fidelity"
KINDS = ("wrong", "correct")
# Field name -> required, per kind of variant.
FIELDS = {
    "wrong": {"name": True, "mistake": True, "file": True, "find": True, "replace": True,
              "breaks": True, "names": True, "intact": False, "hint": False, "clause": False},
    "correct": {"name": True, "approach": True, "file": True, "find": True, "replace": True,
                "functions": True},
}
# Test files of the project's own suite that check tooling, not the library.
TOOLING_TESTS = ("test_release.py", "test_source_notebooks.py", "test_submission_helper.py",
                 "test_manifest.py", "test_fidelity.py")


class CorpusError(ValueError):
    """The corpus is malformed or does not fit the reference; the message lists every problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the fidelity corpus:\n  "
                         + "\n  ".join(self.problems))


@dataclass(frozen=True)
class Variant:
    """One patched implementation.

    ``functions``: the manifest keys the patch breaks (wrong) or rewrites (correct).
    ``edits``: (find, replace) pairs applied to ``course_lib/<file>``.
    """

    name: str
    kind: str
    assignment: str
    file: str
    edits: tuple
    functions: tuple
    description: str
    names: tuple = ()
    intact: tuple = ()
    hint: str = ""  # what the feedback tells a student whose output matches this variant's
    clause: str = ""  # the contract clause the variant breaks

    @property
    def wrong(self):
        return self.kind == "wrong"


# Loading and checking the corpus ----------------------------------------------------


def load_corpus(assignments=None, repo_root=REPO_ROOT):
    """Every variant of ``assignments`` (default: all, in manifest order); raises CorpusError."""
    repo_root = Path(repo_root)
    manifest = load_manifest(repo_root / "course.toml")
    for assignment in assignments or ():
        manifest.assignment(assignment)  # a clear error for an unknown id
    variants, problems = [], []
    for kind in KINDS:
        for assignment in assignments or manifest.assignment_ids:
            path = repo_root / CORPUS_FOLDER / kind / f"{assignment}.toml"
            if path.is_file():
                variants += read_corpus_file(path, kind, assignment, problems)
    seen = set()
    for variant in variants:
        if variant.name in seen:
            problems.append(f"variant name {variant.name!r} is used twice")
        seen.add(variant.name)
    if problems:
        raise CorpusError(problems)
    return variants


def read_corpus_file(path, kind, assignment, problems):
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        problems.append(f"{path}: not valid TOML: {error}")
        return []
    unknown = sorted(set(data) - {"variant"})
    if unknown:
        problems.append(f"{path}: unknown top-level key(s) {', '.join(unknown)}; write [[variant]] tables")
    entries = data.get("variant", [])
    return [variant for index, entry in enumerate(entries, start=1)
            if (variant := parse_variant(entry, kind, assignment, f"{path.name} variant {index}", problems))]


def parse_variant(entry, kind, assignment, where, problems):
    """A Variant from one [[variant]] table, or None after recording its problems."""
    fields = FIELDS[kind]
    missing = [name for name, required in fields.items() if required and name not in entry]
    unknown = sorted(set(entry) - set(fields))
    if missing or unknown:
        problems.append(f"{where} ({entry.get('name', 'unnamed')}): "
                        + "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                                  unknown and f"unknown field(s) {', '.join(unknown)}"])))
        return None
    finds, replaces = as_list(entry["find"]), as_list(entry["replace"])
    if len(finds) != len(replaces) or not finds:
        problems.append(f"{where} ({entry['name']}): find and replace must be two strings or two lists "
                        "of the same non-zero length")
        return None
    functions = entry["breaks"] if kind == "wrong" else entry["functions"]
    return Variant(
        name=entry["name"], kind=kind, assignment=assignment, file=entry["file"],
        edits=tuple(zip(finds, replaces)), functions=tuple(functions),
        description=entry["mistake"] if kind == "wrong" else entry["approach"],
        names=tuple(entry.get("names", ())), intact=tuple(entry.get("intact", ())),
        hint=entry.get("hint", ""), clause=entry.get("clause", ""),
    )


def as_list(value):
    return list(value) if isinstance(value, list) else [value]


class PatchError(ValueError):
    """A variant's edit does not apply to the reference exactly once."""


def edit_position(text, find, label):
    """Offset of ``find`` in ``text``: it must be whole lines and occur exactly once."""
    if not find.endswith("\n"):
        raise PatchError(f"{label}: find must be whole lines ending with a newline")
    count = text.count(find)
    if count != 1:
        raise PatchError(f"{label}: find occurs {count} times in the reference (it must occur once):\n{find}")
    position = text.index(find)
    if position and text[position - 1] != "\n":
        raise PatchError(f"{label}: find must start at the beginning of a line:\n{find}")
    return position


def patched_text(variant, text):
    """``text`` (the reference module) with every edit of ``variant`` applied."""
    for number, (find, replace) in enumerate(variant.edits, start=1):
        position = edit_position(text, find, f"{variant.name}, edit {number}")
        text = text[:position] + replace + text[position + len(find):]
    return text


def apply_variant(variant, lib_root):
    """Patch ``lib_root/<variant.file>`` in place (lib_root is a course_lib folder)."""
    path = Path(lib_root) / variant.file
    path.write_text(patched_text(variant, path.read_text(encoding="utf-8")), encoding="utf-8")


def changed_lines(text, find, replace):
    """(first, last) 1-based lines of ``text`` that an edit changes; last = first - 1 for a pure insertion."""
    start = text[:text.index(find)].count("\n") + 1
    old, new = find.splitlines(), replace.splitlines()
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return start + head, start + len(old) - tail - 1


def check_corpus(variants, repo_root=REPO_ROOT):
    """Problems of the corpus against the reference: every edit applies once, inside the
    solution regions of the variant's own functions, which belong to its assignment."""
    repo_root = Path(repo_root)
    lib_root = repo_root / "course_lib"
    manifest = load_manifest(repo_root / "course.toml")
    regions = find_regions(lib_root)
    problems = []
    for variant in variants:
        problems += variant_problems(variant, lib_root, manifest, regions)
    return problems


def inside(region, first, last):
    """Whether the changed lines first..last (an insertion before ``first`` when last < first) lie in ``region``."""
    if last < first:
        return region.begin < first <= region.end
    return region.begin < first and last < region.end


def variant_problems(variant, lib_root, manifest, regions):
    own = manifest.assignment(variant.assignment).functions
    problems = [f"{variant.name}: {key!r} is not a student function of {variant.assignment}"
                for key in variant.functions if key not in own]
    path = lib_root / variant.file
    if not path.is_file():
        return problems + [f"{variant.name}: course_lib/{variant.file} does not exist"]
    text = path.read_text(encoding="utf-8")
    file_regions = [region for region in regions if region.path == variant.file]
    covered, applies = set(), True
    for number, (find, replace) in enumerate(variant.edits, start=1):
        try:
            edit_position(text, find, f"{variant.name}, edit {number}")
        except PatchError as error:
            problems.append(str(error))
            applies = False
            continue
        first, last = changed_lines(text, find, replace)
        keys = {r.key for r in file_regions if inside(r, first, last)} & set(variant.functions)
        if not keys:
            problems.append(f"{variant.name}, edit {number}: lines {first}-{last} of course_lib/{variant.file} "
                            f"are not inside a solution region of {', '.join(variant.functions)}")
        covered |= keys
    if not applies:
        return problems
    problems += [f"{variant.name}: no edit touches {key}" for key in variant.functions
                 if key in own and key not in covered]
    try:
        ast.parse(patched_text(variant, text))
    except SyntaxError as error:
        problems.append(f"{variant.name}: the patched course_lib/{variant.file} does not parse: {error}")
    return problems


# Judging a graded variant ------------------------------------------------------------


def function_of(test):
    """The manifest key a results.json test belongs to."""
    extra = test.get("extra_data") or {}
    if extra.get("function"):
        return extra["function"]
    return test["name"].split(": ", 1)[0]


def lost_points(test):
    return test.get("status") != "passed"


def failing_checks(test):
    """The checks of a results.json test that lost points (from its ``extra_data["checks"]``); a test
    whose code failed before any check (``extra_data["failure"]``) stands as one check of its first line."""
    extra = test.get("extra_data") or {}
    if extra.get("failure"):
        return [{"name": "", "message": test["output"].split("\n", 1)[0]}]
    return [check for check in extra.get("checks") or [] if not check["passed"]]


def names_output(checks, word):
    """Whether a failing check judged output ``word`` or names it as a whole word in its message
    (``dx`` is not in ``dx_test`` or ``layers.dx``)."""
    pattern = re.compile(rf"(?<![\w.]){re.escape(word)}(?![\w])")
    return any(check["name"] == word or pattern.search(check["message"]) for check in checks)


def own_failures(variant, tests):
    """The failing tests of the functions the variant patches."""
    return [t for t in tests if lost_points(t) and function_of(t) in variant.functions]


def missed_functions(variant, tests):
    """The functions a wrong variant breaks whose tests all pass anyway (the bug survives)."""
    failing = {function_of(t) for t in own_failures(variant, tests)}
    return [key for key in variant.functions if key not in failing]


def collateral_failures(variant, tests):
    """Failing tests of other functions whose feedback does not name a patched function."""
    return [t for t in tests if lost_points(t) and function_of(t) not in variant.functions
            and not any(key in t["output"] for key in variant.functions)]


def feedback_problems(variant, tests):
    """Wrong outputs no failing check names, and right ones a failing check blames."""
    failing = own_failures(variant, tests)
    if not failing:
        return []
    checks = [check for t in failing for check in failing_checks(t)]
    return ([f"feedback never names {word!r}" for word in variant.names if not names_output(checks, word)]
            + [f"feedback blames {word!r}, which is still right" for word in variant.intact
               if names_output(checks, word)])


def judge(variant, tests):
    """What is wrong with how the grader treated ``variant``: a list of problems (empty = as expected).

    ``tests``: the results.json tests that were run.
    """
    if not variant.wrong:
        return [f"lost points on {t['number']} {t['name']} ({t['score']:g}/{t['max_score']:g})"
                for t in tests if lost_points(t)]
    return ([f"survived: every test of {key} passes" for key in missed_functions(variant, tests)]
            + [f"collateral: {t['number']} {t['name']} lost points and its feedback does not name "
               f"{' or '.join(variant.functions)}" for t in collateral_failures(variant, tests)]
            + feedback_problems(variant, tests))


# Grading -----------------------------------------------------------------------------


def qualnames(variant):
    """The qualified names (without region tags) of the functions a variant patches."""
    return {split_function_key(key)[0] for key in variant.functions}


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
            if item.test.function in variant.functions or patched & set(traced.get(item.number, ()))]


def traced_functions(zip_path, work_dir):
    """{test number: course_lib functions (``module.Qualname``) its program executes on the reference}.

    Runs every hidden test's program of the zip once, in a separate process
    (the programs seed NumPy's global generator), without its numerical
    gradients (they re-run the same calls).
    """
    out_path = Path(work_dir) / f"traced-{Path(zip_path).stem}.json"
    code = "import sys; from course_tools.fidelity import write_traced_functions as w; w(sys.argv[1], sys.argv[2])"
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

    def __init__(self, assignment, work_dir, repo_root=REPO_ROOT, zip_path=None):
        self.assignment = assignment
        self.repo_root = Path(repo_root)
        self.work_dir = Path(work_dir) / assignment
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.zip_path = Path(zip_path) if zip_path else None
        self.reference = None
        self.planned = None
        self.traced = None

    def prepare(self):
        """Build the zip (unless one was given) and the reference submission with its checkpoints."""
        import zipfile

        from autograder import build_autograder_zip, layout
        from autograder.local import write_reference_submission
        from autograder.suites import plan_tests

        seed = load_manifest(self.repo_root / "course.toml").seed
        if self.zip_path is None:
            stubs = write_stub_library(self.assignment, self.repo_root, self.work_dir / "release")
            self.zip_path = build_autograder_zip(self.assignment, self.repo_root,
                                                 self.work_dir / f"{self.assignment}-autograder.zip",
                                                 seed=seed, release_dir=stubs)
        with zipfile.ZipFile(self.zip_path) as archive:
            self.planned = plan_tests(json.loads(archive.read(layout.MANIFEST)))
        self.traced = traced_functions(self.zip_path, self.work_dir)
        self.reference = write_reference_submission(self.zip_path, self.work_dir / "reference")
        return self

    def submission(self, variant):
        """The reference submission with the variant's patch applied (checkpoints reused)."""
        folder = self.work_dir / "variants" / variant.name
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(self.reference, folder)
        apply_variant(variant, folder / "course_lib")
        return folder

    def grade(self, variant, restrict=False):
        """Grade one variant; ``restrict`` runs only the tests that can see its patch."""
        from autograder import grade_submission

        numbers = relevant_numbers(variant, self.planned, self.traced) if restrict else []
        folder = self.submission(variant)
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
                 progress=None):
    """{variant name: Graded} for every variant, ``jobs`` gradings at a time; graders prepared per assignment."""
    graders = {}
    for assignment in dict.fromkeys(v.assignment for v in variants):
        given = Path(zip_dir) / f"{assignment}-autograder.zip" if zip_dir else None
        graders[assignment] = AssignmentGrader(assignment, work_dir, repo_root, given).prepare()

    def grade(variant):
        graded = graders[variant.assignment].grade(variant, restrict)
        if progress:
            progress(graded)
        return graded

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return {graded.variant.name: graded for graded in pool.map(grade, variants)}, graders


# The project's own unit tests against each variant ----------------------------------------


def imported_modules(path):
    """Dotted names of the course_lib modules a Python file imports."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("course_lib")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("course_lib"):
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def module_of(relative_path):
    return "course_lib." + Path(relative_path).with_suffix("").as_posix().replace("/", ".")


def unit_test_files(variant, repo_root=REPO_ROOT):
    """The project's test files that import the patched module or a module importing it,
    those closest to the patched module first (a wrong variant stops at its first failure)."""
    lib_root = Path(repo_root) / "course_lib"
    imports = {module_of(p.relative_to(lib_root)): imported_modules(p) for p in lib_root.rglob("*.py")}
    distance = {module_of(variant.file): 0}
    frontier = set(distance)
    while frontier:
        frontier = {module for module, imported in imports.items() if module not in distance and frontier & imported}
        distance.update({module: max(distance.values()) + 1 for module in frontier})
    ranked = []
    for path in sorted((Path(repo_root) / "tests").glob("test_*.py")):
        if path.name in TOOLING_TESTS or path.name.startswith("test_autograder"):
            continue
        reached = [distance[module] for module in imported_modules(path) if module in distance]
        if reached:
            ranked.append((min(reached), path.name))
    return [name for _, name in sorted(ranked)]


def copy_for_unit_tests(repo_root, destination):
    """course_lib (with its compiled kernels), tests and pyproject.toml, so pytest imports the copy."""
    repo_root, destination = Path(repo_root), Path(destination)
    ignore = shutil.ignore_patterns("__pycache__", "*.c", "build")
    shutil.copytree(repo_root / "course_lib", destination / "course_lib", ignore=ignore)
    shutil.copytree(repo_root / "tests", destination / "tests", ignore=ignore)
    shutil.copyfile(repo_root / "pyproject.toml", destination / "pyproject.toml")
    return destination


def failed_unit_tests(folder, files, deselect=(), stop_early=False):
    """Node ids of the failing tests among ``files``, run with pytest inside ``folder``."""
    command = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "--no-header",
               *(f"tests/{name}" for name in files), *(f"--deselect={node}" for node in deselect)]
    if stop_early:
        command.append("-x")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    completed = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", completed.stdout, flags=re.MULTILINE)
    if completed.returncode not in (0, 1) and not failed:
        raise RuntimeError(f"pytest could not run in {folder}:\n{completed.stdout[-3000:]}{completed.stderr[-2000:]}")
    return sorted(set(node.split(" - ")[0] for node in failed))


def unit_test_check(variants, work_dir, repo_root=REPO_ROOT, jobs=2, progress=None):
    """{variant name: (files run, failing tests)}; tests failing on the reference itself are left out.

    Every variant is patched into a copy of one snapshot of the repository, so
    edits made to the reference meanwhile do not mix in. Returns (results, baseline failures).
    """
    work_dir = Path(work_dir)
    files = {variant.name: unit_test_files(variant, repo_root) for variant in variants}
    every_file = sorted({name for names in files.values() for name in names})
    snapshot = copy_for_unit_tests(repo_root, work_dir / "reference")
    baseline = failed_unit_tests(snapshot, every_file)

    def check(variant):
        folder = copy_for_unit_tests(snapshot, work_dir / variant.name)
        apply_variant(variant, folder / "course_lib")
        failing = failed_unit_tests(folder, files[variant.name], baseline, stop_early=variant.wrong)
        shutil.rmtree(folder)
        if progress:
            progress(variant, failing)
        return variant.name, (files[variant.name], failing)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(pool.map(check, variants)), baseline


def unit_test_summary(variant, files, failing):
    ran = ", ".join(files) or "no test file imports the patched module"
    if variant.wrong and failing:
        return f"caught by {', '.join(failing)}"
    return unit_test_problem(variant, failing) or f"all pass ({ran})"


def unit_test_problem(variant, failing):
    if variant.wrong and not failing:
        return "survives the project's own unit tests"
    if not variant.wrong and failing:
        return f"fails the project's own unit tests: {', '.join(failing)}"
    return ""


# The report --------------------------------------------------------------------------------


def verdict(graded):
    if graded.problems:
        return "PROBLEM"
    return "caught" if graded.variant.wrong else "full marks"


def summary_rows(variants, graded):
    rows = []
    for assignment in dict.fromkeys(v.assignment for v in variants):
        mine = [graded[v.name] for v in variants if v.assignment == assignment]
        wrong = [g for g in mine if g.variant.wrong]
        correct = [g for g in mine if not g.variant.wrong]
        rows.append(f"| {assignment} | {len(wrong)} | {sum(not g.problems for g in wrong)} | "
                    f"{len(correct)} | {sum(not g.problems for g in correct)} |")
    return rows


def variant_section(graded, unit=None):
    variant = graded.variant
    earned, possible = graded.score
    scope = "the tests that can see the patch" if graded.numbers else "every test"
    lines = [f"### {variant.name} ({variant.kind}): {verdict(graded)}", "",
             f"- {'Mistake' if variant.wrong else 'Approach'}: {variant.description}",
             f"- Patched: `course_lib/{variant.file}`; "
             f"{'breaks' if variant.wrong else 'rewrites'} {', '.join(f'`{k}`' for k in variant.functions)}",
             f"- Score on {scope}: {earned:g} / {possible:g}"]
    if variant.names:
        lines.append(f"- Feedback must name: {', '.join(variant.names)}"
                     + (f"; must not blame: {', '.join(variant.intact)}" if variant.intact else ""))
    if unit is not None:
        lines.append(f"- Project unit tests: {unit_test_summary(variant, *unit)}")
    lines += [f"- **{problem}**" for problem in graded.problems]
    lost = [t for t in graded.tests if lost_points(t)]
    if lost:
        lines += ["", "Tests that lost points, with the feedback the student sees:", ""]
        for test in lost:
            lines += [f"**{test['number']} {test['name']}** ({test['score']:g} / {test['max_score']:g})", "",
                      "```text", test["output"].strip(), "```", ""]
    return lines + [""]


def write_report(path, variants, graded, reference_scores=None, unit=None, seconds=None):
    """The markdown report: a summary, then every variant with the feedback of its failing tests."""
    problems = [g for g in graded.values() if g.problems]
    lines = ["# Grading fidelity report", "",
             "Each variant is the reference submission with one small patch, graded by the assignment's "
             "autograder. A wrong variant must lose points on the tests of the functions it breaks and only "
             "there (other failing tests must name the broken prerequisite), with feedback that names the wrong "
             "output; a correct variant must score full marks.", "",
             "| assignment | wrong variants | caught | correct variants | full marks |",
             "|---|---|---|---|---|", *summary_rows(variants, graded), ""]
    if reference_scores:
        lines += ["Unpatched reference submission: " + ", ".join(
            f"{a} {earned:g}/{possible:g}" for a, (earned, possible) in reference_scores.items()), ""]
    if seconds is not None:
        lines += [f"Grading took {seconds:.0f} s.", ""]
    lines += ["## Variants the grader misjudges", ""]
    lines += [f"- `{g.variant.name}` ({g.variant.assignment}): {'; '.join(g.problems)}" for g in problems] or ["None."]
    if unit is not None:
        survivors = [f"- `{v.name}` ({v.assignment}): {problem} (ran {', '.join(unit[v.name][0]) or 'no test file'})"
                     for v in variants if (problem := unit_test_problem(v, unit[v.name][1]))]
        lines += ["", "## Variants the project's own unit tests misjudge", ""] + (survivors or ["None."])
    for assignment in dict.fromkeys(v.assignment for v in variants):
        lines += ["", f"## {assignment}", ""]
        for variant in (v for v in variants if v.assignment == assignment):
            lines += variant_section(graded[variant.name], unit.get(variant.name) if unit else None)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return Path(path)


# Command line ------------------------------------------------------------------------------------


def parse_args(argv, prog="python -m course_tools.fidelity"):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Grade the fidelity corpus (fidelity/wrong, fidelity/correct) and write a markdown report.")
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    parser.add_argument("--report", required=True, type=Path, help="where to write the markdown report")
    parser.add_argument("--jobs", type=int, default=2, help="gradings run at the same time (default 2)")
    parser.add_argument("--zip-dir", type=Path,
                        help="use <DIR>/<id>-autograder.zip instead of building fresh zips")
    parser.add_argument("--unit-tests", action="store_true",
                        help="also run the project's own tests against every variant")
    return parser.parse_args(argv)


def ensure_data():
    """Grading needs held-out data: COURSE_DATA_DIR as set, else real data or the stand-in (as `course build`)."""
    if "COURSE_DATA_DIR" not in os.environ:
        from course_tools.cli import ensure_grading_data

        print(f"data: {ensure_grading_data()}", file=sys.stderr)


def main(argv=None, prog="python -m course_tools.fidelity"):
    import time

    args = parse_args(sys.argv[1:] if argv is None else argv, prog)
    try:
        variants = load_corpus(args.assignments or None)
        problems = check_corpus(variants)
        if problems:
            raise CorpusError(problems)
    except (UnknownNameError, CorpusError) as error:
        raise SystemExit(f"fidelity: {error}") from None
    ensure_data()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fidelity-") as work:
        def progress(graded):
            print(f"{graded.variant.assignment:5} {graded.variant.name}: {verdict(graded)}", file=sys.stderr,
                  flush=True)

        graded, graders = grade_corpus(variants, work, jobs=args.jobs, zip_dir=args.zip_dir, progress=progress)
        reference_scores = {}
        for assignment, grader in graders.items():
            results = grader.grade_reference()
            reference_scores[assignment] = (results["score"], sum(t["max_score"] for t in results["tests"]))
        unit = None
        if args.unit_tests:
            unit, _ = unit_test_check(variants, Path(work) / "unit", jobs=args.jobs)
    report = write_report(args.report, variants, graded, reference_scores, unit, time.monotonic() - started)
    misjudged = [name for name, g in graded.items() if g.problems]
    print(f"{len(variants)} variants graded; {len(misjudged)} misjudged; report: {report}")
    return 1 if misjudged else 0


if __name__ == "__main__":
    sys.exit(main())
