"""Build a student release ``release/<id>/`` from the reference, and check it for leaks.

The pipeline, one function per step:
  plan_release     collect: manifest, solution regions and who claims them, nbgrader settings
  write_release    transform and write: stubbed course_lib, nbgrader notebooks, student files
  check_release    check: files present, checkpoints and logs named by the notebooks, no
                   marker, no solution or hidden-test line, every module imports, every
                   stub raises naming its function
``build_release`` runs them into a staging folder next to the target and swaps
it in only when the check passes. Progress goes to stderr, one line per step.
"""
import copy
import hashlib
import json
import os
import shutil
import string
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config


from course_tools.leaks import (
    find_leaks,
    find_markers,
    find_stub_problems,
    library_secrets,
    notebook_secrets,
    probe_release,
    release_lines,
)
from course_tools.manifest import (
    Assignment,
    Manifest,
    load_manifest,
    module_file,
    split_function_key,
    submission_files,
)
from course_tools.regions import Region, check_claims, find_regions, library_files, module_name
from course_tools.stubs import load_nbgrader_config, solution_clearer, stubs_of, write_stubbed_library

STUDENT_FILES = Path(__file__).with_name("student_files")
# Things a run of the source notebooks leaves behind; never part of a release.
RUN_OUTPUTS = ("checkpoints", "submission_logs", ".ipynb_checkpoints", "__pycache__", "*.pyc",
               "gradebook.db", "*.zip")
BUILD_PRODUCT_SUFFIXES = (".so", ".pyd", ".c", ".pyc")
BUILD_PRODUCT_DIRS = ("__pycache__", "build", ".ipynb_checkpoints")
HELPER_FILES = ("make_submission.py", "submission_names.py", "submission.json", "README.md", "pyproject.toml",
                "setup.py")
# The near-miss matching the grader uses, shipped for make_submission.py.
NAMES_MODULE = Path(__file__).resolve().parents[1] / "autograder" / "harness" / "names.py"


class ReleaseCheckError(RuntimeError):
    """A built release failed its checks; the message lists every problem."""

    def __init__(self, release_dir, problems):
        self.problems = list(problems)
        super().__init__(f"release {release_dir} failed {len(self.problems)} check(s):\n  "
                         + "\n  ".join(p.replace("\n", "\n    ") for p in self.problems))


class ReleaseBuildError(RuntimeError):
    """A build step could not run (e.g. nbgrader rejected a notebook)."""


@dataclass(frozen=True)
class ReleasePlan:
    """Everything the transform and check steps need, collected once."""

    repo_root: Path
    manifest: Manifest
    assignment: Assignment
    regions: tuple[Region, ...]
    cleared_keys: frozenset[str]
    student_files: tuple[str, ...]
    nbgrader_config: Config

    @property
    def lib_root(self):
        return self.repo_root / "course_lib"

    @property
    def source_dir(self):
        return self.repo_root / "source" / self.assignment.id

    def stubs(self):
        return stubs_of(self.regions, self.cleared_keys)


def progress(assignment_id, message):
    print(f"[{assignment_id}] {message}", file=sys.stderr, flush=True)


def plan_release(assignment_id, repo_root):
    """Collect step: load and cross-check the manifest, the regions and nbgrader's settings."""
    repo_root = Path(repo_root).resolve()
    manifest = load_manifest(repo_root / "course.toml")
    assignment = manifest.assignment(assignment_id)
    progress(assignment_id, "finding solution regions in course_lib")
    regions = find_regions(repo_root / "course_lib")
    check_claims(regions, manifest)
    return ReleasePlan(
        repo_root=repo_root,
        manifest=manifest,
        assignment=assignment,
        regions=tuple(regions),
        cleared_keys=frozenset(manifest.cleared_keys(assignment_id)),
        student_files=tuple(submission_files(assignment, repo_root / "course_lib")),
        nbgrader_config=load_nbgrader_config(repo_root),
    )


def build_release(assignment_id: str, repo_root: Path, out_root: Path | None = None) -> Path:
    """Write ``<out_root>/<assignment_id>/`` (default out_root: ``<repo_root>/release``).

    The new tree is built and checked in a staging folder inside ``out_root``,
    then swapped in for the previous one; a failed build leaves the previous
    release untouched. Returns the release folder.
    """
    plan = plan_release(assignment_id, repo_root)
    out_root = Path(out_root) if out_root is not None else plan.repo_root / "release"
    out_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{assignment_id}.building-", dir=out_root))
    target = out_root / assignment_id
    try:
        staging.chmod(0o755)
        write_release(plan, staging)
        check_release(assignment_id, plan.repo_root, staging, plan=plan)
        replace_directory(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(assignment_id, f"release built and checked: {target}")
    return target


def complete_nbgrader_release(assignment, **_):
    """nbgrader's post-convert hook (set in nbgrader_config.py): complete a plain nbgrader release.

    ``nbgrader generate_assignment hw3 --force``, run from the repository root,
    writes only the notebooks into ``release/hw3/``, deleting the stubbed
    course_lib and the student files; this hook then builds the whole release
    as ``course build`` does and swaps it in. nbgrader only logs a failing hook,
    so a failure is also announced loudly here.
    """
    repo_root = Path.cwd()
    try:
        build_release(assignment, repo_root)
    except Exception as error:
        print(f"\nERROR: release/{assignment}/ is INCOMPLETE (notebooks only): completing it failed:\n"
              f"{error}\nFix that, then run `course build {assignment}`.\n", file=sys.stderr, flush=True)
        raise


def replace_directory(new, target):
    """Put ``new`` at ``target`` with two renames, removing the previous tree afterwards."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def write_release(plan, dest):
    """Transform and write step: every file of the release into the empty folder ``dest``."""
    aid = plan.assignment.id
    progress(aid, f"stubbing course_lib: {cleared_summary(plan)}")
    clearer = solution_clearer(plan.nbgrader_config)
    stubs = write_stubbed_library(plan.lib_root, dest / "course_lib", plan.regions, plan.cleared_keys,
                                  clearer)
    progress(aid, f"running nbgrader generate_assignment on {len(plan.assignment.notebooks)} notebook(s)")
    generate_notebooks(plan, dest)
    progress(aid, "writing the submission helper, README and build files")
    write_student_files(plan, stubs, dest)


def cleared_summary(plan):
    """Which functions become stubs in this release, counted per assignment."""
    ids = plan.manifest.assignment_ids
    here = ids.index(plan.assignment.id)
    counts = [(aid, sum(key in plan.cleared_keys for key in plan.manifest.assignments[aid].functions))
              for aid in ids]
    parts = [f"{count} of {aid}" + (" (this one)" if position == here else
                                    " (later)" if position > here else " (earlier)")
             for position, (aid, count) in enumerate(counts) if count]
    return f"{len(plan.cleared_keys)} student functions become stubs: {', '.join(parts)}"


def generate_notebooks(plan, dest):
    """nbgrader's GenerateAssignment in a throwaway course directory, without a gradebook."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log

    aid = plan.assignment.id
    missing = [nb for nb in plan.assignment.notebooks if not (plan.source_dir / nb).is_file()]
    if missing:
        raise FileNotFoundError(f"{aid}: notebook(s) listed in course.toml but missing from "
                                f"{plan.source_dir}: {', '.join(missing)}")
    unlisted = sorted(p.name for p in plan.source_dir.glob("*.ipynb")
                      if p.name not in plan.assignment.notebooks)
    if unlisted:
        raise ReleaseBuildError(f"{aid}: {plan.source_dir} holds notebook(s) that course.toml does not "
                                f"list: {', '.join(unlisted)} (add them to notebooks, or move them out)")
    with tempfile.TemporaryDirectory(prefix="course-nbgrader-") as tmp:
        config = copy.deepcopy(plan.nbgrader_config)
        config.CourseDirectory.root = tmp
        config.CourseDirectory.assignment_id = aid
        config.CourseDirectory.db_url = f"sqlite:///{tmp}/gradebook.db"
        config.GenerateAssignment.no_database = True
        config.SaveCells.enabled = False
        # nbgrader_config.py completes a release made by plain nbgrader; this one is completed here.
        config.GenerateAssignment.post_convert_hook = None
        coursedir = CourseDirectory(config=config)
        shutil.copytree(plan.source_dir, Path(tmp, coursedir.source_directory, aid),
                        ignore=shutil.ignore_patterns(*RUN_OUTPUTS))
        result = capture_log(GenerateAssignment(coursedir=coursedir, config=config))
        if not result["success"]:
            raise ReleaseBuildError(f"nbgrader generate_assignment {aid} failed:\n"
                                    f"{result.get('log', '')}{result.get('error', '')}")
        generated = Path(tmp, coursedir.release_directory, aid)
        for path in sorted(p for p in generated.rglob("*") if p.is_file()):
            relative = path.relative_to(generated)
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".ipynb":
                target.write_text(normalised_notebook(path, plan.source_dir / relative, aid),
                                  encoding="utf-8")
            else:
                shutil.copyfile(path, target)


def normalised_notebook(path, source_path, assignment_id):
    """The generated notebook's JSON with cell ids fixed: the source's, else derived from the position.

    nbgrader keeps cells one to one and copies their ids; a source notebook
    without ids would otherwise get random ones on every build.
    """
    notebook = json.loads(path.read_text(encoding="utf-8"))
    source_cells = json.loads(source_path.read_text(encoding="utf-8"))["cells"]
    for index, cell in enumerate(notebook["cells"]):
        if "id" in cell:
            source_id = source_cells[index].get("id") if index < len(source_cells) else None
            digest = hashlib.sha256(f"{assignment_id}/{source_path.name}/{index}".encode())
            cell["id"] = source_id or digest.hexdigest()[:8]
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_student_files(plan, stubs, dest):
    """The submission helper with its file list, the README, and the extension's build files."""
    setup_py = plan.repo_root / "setup.py"
    if not setup_py.is_file():
        raise FileNotFoundError(f"{setup_py} is missing: the release copies it to build the Cython extension")
    shutil.copyfile(STUDENT_FILES / "make_submission.py", dest / "make_submission.py")
    shutil.copyfile(NAMES_MODULE, dest / "submission_names.py")
    shutil.copyfile(STUDENT_FILES / "pyproject.toml.template", dest / "pyproject.toml")
    shutil.copyfile(setup_py, dest / "setup.py")
    submission = submission_plan(plan, stubs)
    (dest / "submission.json").write_text(json.dumps(submission, indent=2, sort_keys=True) + "\n",
                                          encoding="utf-8")
    (dest / "README.md").write_text(render_readme(plan, submission), encoding="utf-8")


def submission_plan(plan, stubs):
    """What make_submission.py zips, which stubs it refuses to send and which it warns about.

    In the student's files, stubs of this assignment must be gone (refused);
    earlier assignments' stubs (when they stay stubs) only draw a warning, since
    not every one of them is used here; later assignments' stubs are expected.
    """
    ids = plan.manifest.assignment_ids
    earlier = {key for aid in ids[:ids.index(plan.assignment.id)]
               for key in plan.manifest.assignments[aid].functions}

    in_student_files = sorted({s for s in stubs if s.path in plan.student_files},
                              key=lambda s: (s.path, s.key))

    def entries(keys):
        return [{"function": s.key, "file": s.path, "message": s.message}
                for s in in_student_files if s.key in keys]

    return {
        "assignment": plan.assignment.id,
        "title": plan.assignment.title,
        "course_lib_files": list(plan.student_files),
        "notebooks": list(plan.assignment.notebooks),
        "checkpoints": [{"file": c.file, "notebook": c.notebook} for c in plan.assignment.checkpoints],
        "logs": list(plan.assignment.logs),
        "stubs": entries(set(plan.assignment.functions)),
        "earlier_stubs": entries(earlier),
        "answer_placeholder": solution_clearer(plan.nbgrader_config).text_stub,
    }


def render_readme(plan, submission):
    """The student README, filled in for this assignment."""
    assignment = plan.assignment
    earlier = sorted({f"`{s['function']}`" for s in submission["earlier_stubs"]})
    if earlier:
        earlier_note = ("\nThese files also hold functions of earlier assignments, released as stubs "
                        f"again: {', '.join(earlier)}. Put your own code for them back; this "
                        "assignment's notebooks and tests use some of them.\n")
    else:
        earlier_note = ""
    datasets = sorted({c.dataset for c in assignment.checkpoints})
    template = string.Template((STUDENT_FILES / "README.md.template").read_text(encoding="utf-8"))
    return template.substitute(
        assignment=assignment.id,
        title=assignment.title,
        functions=functions_by_file(plan),
        earlier=earlier_note,
        notebooks="\n".join(f"{n}. `{nb}`" for n, nb in enumerate(assignment.notebooks, start=1)),
        fetch="\n".join(f"python -m course_lib.fetch {d}" for d in datasets) or "# no dataset needed",
        zip_contents="\n".join(f"- `{path}`" for path in expected_submission(submission)),
    )


def functions_by_file(plan):
    """Markdown list of the assignment's functions, grouped by the file they live in."""
    by_file = {}
    for key in plan.assignment.functions:
        qualname, tag = split_function_key(key)
        path = module_file(plan.lib_root, qualname)
        shown = qualname[len(module_name(path)) + 1:] + (f" ({tag} part)" if tag else "")
        by_file.setdefault(path, []).append(f"`{shown}`")
    return "\n".join(f"- `course_lib/{path}`: {', '.join(names)}" for path, names in sorted(by_file.items()))


def expected_submission(submission):
    """Paths, relative to the release folder, that make_submission.py puts in the zip."""
    return ([f"course_lib/{f}" for f in submission["course_lib_files"]] + submission["notebooks"]
            + [c["file"] for c in submission["checkpoints"]] + submission["logs"])


def check_release(assignment_id, repo_root, release_dir=None, *, plan=None):
    """Check step: raise :class:`ReleaseCheckError` listing every problem of a release folder.

    ``release_dir`` defaults to ``<repo_root>/release/<assignment_id>``.
    """
    plan = plan or plan_release(assignment_id, repo_root)
    release_dir = Path(release_dir) if release_dir else plan.repo_root / "release" / assignment_id
    if not release_dir.is_dir():
        raise FileNotFoundError(f"no release folder {release_dir}; build it with `course build {assignment_id}`")
    progress(assignment_id, "checking the release: files, markers, solution and hidden-test lines")
    problems = [f"missing from the release: {name}" for name in
                (*plan.assignment.notebooks, *HELPER_FILES, "course_lib/__init__.py")
                if not (release_dir / name).is_file()]
    problems += find_unnamed_outputs(plan, release_dir)
    problems += find_markers(release_dir)
    problems += find_secret_lines(plan, release_dir)
    if (release_dir / "course_lib" / "__init__.py").is_file():
        progress(assignment_id, "checking the stubs: static check, imports and calls inside the release")
        stub_problems, calls = find_stub_problems(release_dir / "course_lib", plan.stubs())
        problems += stub_problems
        modules = sorted(module_name(p.relative_to(release_dir / "course_lib"))
                         for p in library_files(release_dir / "course_lib") if p.suffix == ".py")
        problems += probe_release(release_dir, [m for m in modules if m], calls)
    if problems:
        raise ReleaseCheckError(release_dir, problems)


def find_unnamed_outputs(plan, release_dir):
    """Checkpoints the submission needs but their notebook never names, and experiments whose notebook
    saves no log (so running the notebooks cannot produce them)."""
    from autograder.suites.logs import experiment

    texts = {name: (release_dir / name).read_text(encoding="utf-8")
             for name in plan.assignment.notebooks if (release_dir / name).is_file()}
    problems = [f"checkpoint {c.file}: {c.notebook} never names it, so running it cannot save it"
                for c in plan.assignment.checkpoints if c.file not in texts.get(c.notebook, "")]
    for name in plan.assignment.experiments:
        notebook = experiment(name).notebook
        if "record_histories_as_npz" not in texts.get(notebook, ""):
            problems.append(f"experiment {name}: {notebook} never calls record_histories_as_npz, so running "
                            "it cannot save the logs")
    return problems


def find_secret_lines(plan, release_dir):
    """Leaks of cleared library regions, notebook solutions and hidden tests into the release."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme

    config = plan.nbgrader_config
    clearer = solution_clearer(config)
    hidden, scheme = ClearHiddenTests(config=config), ClearMarkScheme(config=config)
    delimiters = {
        clearer.begin_solution_delimeter: clearer.end_solution_delimeter,
        hidden.begin_test_delimeter: hidden.end_test_delimeter,
        scheme.begin_mark_scheme_delimeter: scheme.end_mark_scheme_delimeter,
    }
    stub_text = {line.strip() for text in (*clearer.code_stub.values(), clearer.text_stub)
                 for line in text.split("\n")}
    lib_secrets, lib_public = library_secrets(plan.lib_root, plan.regions, plan.cleared_keys)
    notebooks = sorted(plan.source_dir.glob("*.ipynb"))
    nb_secrets, nb_public = notebook_secrets(notebooks, delimiters, clearer.begin_solution_delimeter)
    for line in sorted({secret.text for secret in lib_secrets} & nb_public):
        progress(plan.assignment.id, f"note: a public notebook cell shows solution line {line!r}")
    index = release_lines(release_dir)
    return find_leaks(lib_secrets + nb_secrets, lib_public | nb_public | stub_text, index)


def compare_trees(expected, actual):
    """Relative paths that differ between two release folders (missing on either side, or other bytes).

    Build products a student or instructor may create inside a release
    (``pip install -e .``, running Python there) are gitignored and not compared.
    """
    def files(root):
        return {p.relative_to(root).as_posix(): p for p in Path(root).rglob("*")
                if p.is_file() and not _is_build_product(p.relative_to(root))}

    left, right = files(expected), files(actual)
    return sorted(
        [f"only in {expected}: {name}" for name in left.keys() - right.keys()]
        + [f"only in {actual}: {name}" for name in right.keys() - left.keys()]
        + [f"differs: {name}" for name in left.keys() & right.keys()
           if left[name].read_bytes() != right[name].read_bytes()]
    )


def _is_build_product(relative):
    return (relative.suffix in BUILD_PRODUCT_SUFFIXES
            or any(part in BUILD_PRODUCT_DIRS or part.endswith(".egg-info") for part in relative.parts))
