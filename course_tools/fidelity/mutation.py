"""Mutation analysis: grade every mutant of an assignment's solution regions and classify it.

The assignment's zip is built (or given) once and unpacked once per grading
slot into a root laid out like ``/autograder``, where its own ``setup.sh``
runs once. Each slot keeps a copy of the reference submission; a mutant is
graded by writing its one mutated module into that copy and running the zip's
``run_autograder --only <tests>``, then restoring the module. Only tests that
can see the mutant run: first those of the mutated function; when they all
pass, those of other functions whose programs execute it on the reference. Slots grade side by side, each with
its own workers' user (``GRADER_USER``-<slot>, so the per-user worker lock of
``autograder.isolation`` never makes them wait for each other).

A mutant is
- ``killed_own``: a test of the function it mutates loses points;
- ``killed_elsewhere``: only tests of other functions lose points;
- ``equivalent``: no test loses points and ``fidelity/equivalent_mutants.toml``
  argues that no valid input under the contract tells it from the reference;
- ``survived``: no test loses points (and no such argument).
A crash or a timeout is a lost test like any other.
"""
import json
import os
import queue
import shutil
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from course_tools.fidelity.corpus import REPO_ROOT
from course_tools.fidelity.grading import AssignmentGrader, relevant_numbers
from course_tools.fidelity.judging import function_of, generic_diagnoses, lost_points
from course_tools.fidelity.mutants import generate_mutants
from course_tools.manifest import load_manifest

EQUIVALENT_FILE = Path("fidelity") / "equivalent_mutants.toml"
STATUSES = ("killed_own", "killed_elsewhere", "survived", "equivalent")
DEFAULT_USER = "grader-mutants"


class EquivalentListError(ValueError):
    """The list of equivalent mutants is malformed."""


def load_equivalent(path):
    """{mutant id: one-line argument} from the ``[equivalent]`` table of ``path`` (empty when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise EquivalentListError(f"{path}: not valid TOML: {error}") from None
    unknown = sorted(set(data) - {"equivalent"})
    table = data.get("equivalent", {})
    bad = [key for key, reason in table.items() if not isinstance(reason, str) or not reason.strip()]
    if unknown or not isinstance(table, dict) or bad:
        raise EquivalentListError(
            f"{path}: write one line per mutant under [equivalent]: \"<mutant id>\" = \"<why no valid input "
            f"tells it from the reference>\"" + (f"; unknown key(s) {', '.join(unknown)}" if unknown else "")
            + (f"; no argument for {', '.join(bad)}" if bad else ""))
    return dict(table)


@dataclass
class MutantOutcome:
    """How the autograder treated one mutant."""

    mutant: object
    status: str
    numbers: list  # the tests that ran
    failing: list = field(default_factory=list)  # "<number> <name>" of the tests that lost points
    diagnosed: bool = False  # a failing test carries at least one generic diagnosis (not a known mistake)
    seconds: float = 0.0
    reason: str = ""  # the argument of an equivalent mutant

    @property
    def killed(self):
        return self.status.startswith("killed")

    def as_data(self):
        return {**self.mutant.as_data(), "status": self.status, "tests_run": self.numbers, "failing": self.failing,
                "diagnosed": self.diagnosed, "seconds": round(self.seconds, 2), "reason": self.reason}


def classify(mutant, tests, equivalent):
    """(status, failing tests, diagnosed) from the results.json tests that ran."""
    failing = [t for t in tests if lost_points(t)]
    own = [t for t in failing if function_of(t) == mutant.function]
    if own:
        status = "killed_own"
    elif failing:
        status = "killed_elsewhere"
    else:
        status = "equivalent" if mutant.id in equivalent else "survived"
    return (status, [f"{t['number']} {t['name']}" for t in failing],
            any(generic_diagnoses(t) for t in failing))


# The grading process of a slot: the zip's own harness, imported once, grading the slot's root on request.
# Each request is one JSON line (the test numbers); the reply line comes once results.json is written.
HARNESS_LOOP = """
import json, os, sys
from autograder.harness.pipeline import grade
replies = os.fdopen(os.dup(1), "w")
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
for request in sys.stdin:
    grade(sys.argv[1], json.loads(request))
    replies.write("done\\n")
    replies.flush()
"""


class GradingSlots:
    """Unpacked autograder roots, one per concurrent grading, each holding the reference submission.

    A slot's grading process is the zip's ``autograder.harness`` (what
    ``run_autograder`` starts), kept alive between gradings so that its
    imports are paid once; every test still runs in a fresh worker process.
    """

    def __init__(self, grader, count, work_dir, base_user=None):
        self.grader = grader
        self.work_dir = Path(work_dir)
        self.base_user = base_user or os.environ.get("GRADER_USER") or DEFAULT_USER
        self.slots = []  # (root, harness process)
        self.free = queue.Queue()
        self.count = max(1, count)

    def __enter__(self):
        from autograder import layout
        from autograder.local import local_environment, place_submission, run_script, unpack_autograder

        for slot in range(self.count):
            root = layout.Root(self.work_dir / f"slot-{slot}")
            unpack_autograder(self.grader.zip_path, root.source)
            place_submission(self.grader.reference, root.submission)
            environment = {**local_environment(root, sys.executable), "GRADER_USER": f"{self.base_user}-{slot}",
                           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            run_script(root, "setup.sh", environment)
            root.results.parent.mkdir(parents=True, exist_ok=True)
            with open(self.work_dir / f"slot-{slot}.log", "w") as log:
                harness = subprocess.Popen([sys.executable, "-c", HARNESS_LOOP, str(root.root)], cwd=root.source,
                                           env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=log, text=True)
            self.slots.append((root, harness))
            self.free.put(slot)
        return self

    def __exit__(self, *exc_info):
        for _, harness in self.slots:
            try:
                harness.stdin.close()  # the harness loop ends at the end of its input
            except BrokenPipeError:  # it ended already (grade() reported how)
                pass
            harness.wait()

    def grade(self, files, numbers):
        """results.json of the reference submission with ``files`` ({course_lib path: text}) swapped in,
        graded on test ``numbers`` only."""
        slot = self.free.get()
        root, harness = self.slots[slot]
        originals = {}
        try:
            for relative, text in files.items():
                path = root.submission / "course_lib" / relative
                originals[path] = path.read_text(encoding="utf-8")
                path.write_text(text, encoding="utf-8")
            root.results.unlink(missing_ok=True)
            harness.stdin.write(json.dumps(list(numbers)) + "\n")
            harness.stdin.flush()
            if harness.stdout.readline() != "done\n":
                raise RuntimeError(f"the grading process of slot {slot} ended; its log is "
                                   f"{self.work_dir / f'slot-{slot}.log'}")
            return json.loads(root.results.read_text())
        finally:
            for path, text in originals.items():
                path.write_text(text, encoding="utf-8")
            self.free.put(slot)


@dataclass
class MutationRun:
    """The mutation analysis of one assignment."""

    assignment: str
    outcomes: list
    seconds: float  # wall time of grading the mutants (preparation excluded)
    prepare_seconds: float
    slots: int
    cap: int | None
    seed: int
    generated: int  # mutants before sampling
    stale: list = field(default_factory=list)  # equivalent-list ids of this assignment's functions no mutant has
    functions: list | None = None  # the functions analysed, when not all of the assignment's

    def counts(self):
        return {status: sum(o.status == status for o in self.outcomes) for status in STATUSES}

    @property
    def own_kill_rate(self):
        """killed_own / non-equivalent mutants (None when there are none)."""
        counts = self.counts()
        scored = len(self.outcomes) - counts["equivalent"]
        return counts["killed_own"] / scored if scored else None


def reference_failures(slots, planned):
    """Tests the unpatched reference loses points on (the analysis means nothing until they pass)."""
    numbers = [item.number for item in planned]
    results = slots.grade({}, numbers)
    return [f"{t['number']} {t['name']}" for t in results["tests"] if t["number"] in numbers and lost_points(t)]


def analyse(assignment, work_dir, repo_root=REPO_ROOT, functions=None, cap=None, seed=0, jobs=2, zip_path=None,
            equivalent=None, progress=None):
    """Generate, grade and classify the mutants of ``assignment`` (of ``functions`` only, when given).

    ``cap``: at most that many mutants per solution region (a seeded sample);
    ``equivalent``: {mutant id: argument} (default: the committed list).
    """
    repo_root = Path(repo_root)
    own = load_manifest(repo_root / "course.toml").assignment(assignment).functions
    unknown = sorted(set(functions or ()) - set(own))
    if unknown:
        raise ValueError(f"not a student function of {assignment}: {', '.join(unknown)}; "
                         f"choose among {', '.join(own)}")
    keys = set(functions or own)
    if equivalent is None:
        equivalent = load_equivalent(repo_root / EQUIVALENT_FILE)
    lib_root = repo_root / "course_lib"
    everything = generate_mutants(lib_root, keys)
    mutants = generate_mutants(lib_root, keys, cap, seed) if cap else everything
    stale = stale_entries(equivalent, keys, everything)

    started = time.monotonic()
    # Without known mistakes: the diagnosed share measures the generic relations (a mutant is not in the corpus).
    grader = AssignmentGrader(assignment, work_dir, repo_root, zip_path, known_mistakes=False).prepare()
    with GradingSlots(grader, min(jobs, max(1, len(mutants))), Path(work_dir) / assignment / "mutants") as slots:
        failures = reference_failures(slots, grader.planned)
        if failures:
            raise RuntimeError(f"the unpatched reference of {assignment} loses points, so no mutant can be "
                               "judged: " + "; ".join(failures))
        prepared = time.monotonic()
        grade = mutant_grading(slots, grader, lib_root, equivalent, progress)
        with ThreadPoolExecutor(max_workers=slots.count) as pool:
            outcomes = list(pool.map(grade, mutants))
    shutil.rmtree(Path(work_dir) / assignment / "mutants", ignore_errors=True)
    return MutationRun(assignment, outcomes, time.monotonic() - prepared, prepared - started, slots.count, cap,
                       seed, len(everything), stale, sorted(functions) if functions else None)


def mutant_grading(slots, grader, lib_root, equivalent, progress=None):
    """A function grading one mutant: the mutated function's own tests first, and the tests of other
    functions that execute it only when those all pass."""
    texts = {}
    function_of_number = {item.number: item.test.function for item in grader.planned}

    def grade(mutant):
        if mutant.file not in texts:
            texts[mutant.file] = (lib_root / mutant.file).read_text(encoding="utf-8")
        files = {mutant.file: mutant.apply(texts[mutant.file])}
        numbers = relevant_numbers(mutant, grader.planned, grader.traced)
        stages = [[n for n in numbers if function_of_number[n] == mutant.function],
                  [n for n in numbers if function_of_number[n] != mutant.function]]
        began = time.monotonic()
        tests, ran = [], []
        for stage in filter(None, stages):
            results = slots.grade(files, stage)
            tests += [t for t in results.get("tests", []) if t["number"] in stage]
            ran += stage
            if any(lost_points(t) for t in tests):
                break
        status, failing, diagnosed = classify(mutant, tests, equivalent)
        outcome = MutantOutcome(mutant, status, ran, failing, diagnosed, time.monotonic() - began,
                                equivalent.get(mutant.id, "") if status == "equivalent" else "")
        if progress:
            progress(outcome)
        return outcome

    return grade


def stale_entries(equivalent, keys, generated):
    """Ids listed as equivalent, of a function among ``keys``, that no generated mutant has any more."""
    ids = {mutant.id for mutant in generated}
    return sorted(i for i in equivalent if i.split(":", 1)[0] in keys and i not in ids)


def recorded_runs(path, equivalent, repo_root=REPO_ROOT):
    """The MutationRuns of a ``--json`` file, survivors and equivalents re-read from ``equivalent``.

    Arguing an equivalent mutant then needs no new grading; a recorded mutant
    the current library no longer generates (its line changed) is an error.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    lib_root = Path(repo_root) / "course_lib"
    manifest = load_manifest(Path(repo_root) / "course.toml")
    runs = []
    for entry in data["assignments"]:
        keys = set(entry.get("functions") or manifest.assignment(entry["assignment"]).functions)
        generated = generate_mutants(lib_root, keys)
        known = {mutant.id: mutant for mutant in generated}
        missing = [m["id"] for m in entry["mutants"] if m["id"] not in known]
        if missing:
            raise ValueError(f"{path}: {len(missing)} recorded mutant(s) of {entry['assignment']} are no longer "
                             f"generated from course_lib (first: {missing[0]}); grade them again")
        outcomes = []
        for recorded in entry["mutants"]:
            status = recorded["status"]
            if status in ("survived", "equivalent"):
                status = "equivalent" if recorded["id"] in equivalent else "survived"
            outcomes.append(MutantOutcome(known[recorded["id"]], status, recorded["tests_run"], recorded["failing"],
                                          recorded["diagnosed"], recorded["seconds"],
                                          equivalent.get(recorded["id"], "") if status == "equivalent" else ""))
        runs.append(MutationRun(entry["assignment"], outcomes, entry["seconds"], entry.get("prepare_seconds", 0.0),
                                entry.get("slots", 1), entry["cap"], entry["seed"], entry["generated"],
                                stale_entries(equivalent, keys, generated), entry.get("functions")))
    return runs
