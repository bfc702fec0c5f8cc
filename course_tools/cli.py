"""The instructor command line: course build, grade, reference, fidelity and data.

Each subcommand is one function of the same name over code that lives elsewhere:
the release builder (``course_tools.release``), the autograder builder and runner
(``autograder``), the fidelity corpus (``course_tools.fidelity``) and the data
helpers (``course_lib.fetch``, ``course_lib.standin``). ``main`` turns a user's
mistake (a malformed manifest or region, a missing file, a failed build check)
into a short message and exit status 1; ``--verbose`` adds the traceback.
"""
import argparse
import os
import shutil
import sys
import tempfile
import traceback
import zipfile
from contextlib import contextmanager
from pathlib import Path

from course_tools.data_folder import ensure_grading_data
from course_tools.manifest import load_manifest

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST = REPO_ROOT / "course.toml"
EPILOG = """\
Run any subcommand with --help for its options; README.md is the guide.
Environment: GRADER_USER names the unprivileged user that runs student code
(default grader-student), COURSE_DATA_DIR the data directory (default
~/.course_data), COURSE_QUICK=1 small data and few iterations in notebooks."""


class CourseError(Exception):
    """A mistake in how the command was called; the message says what to do instead."""


def progress(message):
    print(message, file=sys.stderr, flush=True)


def load_course_manifest():
    from course_tools.manifest import load_manifest

    return load_manifest(MANIFEST)


def chosen_assignments(manifest, wanted):
    unknown = [a for a in wanted if a not in manifest.assignment_ids]
    if unknown:
        raise CourseError(f"unknown assignment(s) {', '.join(unknown)}; known: "
                          f"{', '.join(manifest.assignment_ids)} (see course.toml)")
    return list(wanted) or list(manifest.assignment_ids)


def default_zip(assignment, given):
    zip_path = Path(given) if given else REPO_ROOT / "dist" / f"{assignment}-autograder.zip"
    if not zip_path.is_file():
        raise CourseError(f"no autograder zip at {zip_path}; run `course build {assignment}` first"
                          + (" or pass --zip PATH" if not given else ""))
    return zip_path


# Checks before anything is written -------------------------------------------------


def preflight(manifest, assignments):
    """Regions and manifest keys agree, and every graded function has hidden tests."""
    from autograder.suites import CATALOG
    from course_tools.manifest import manifest_line
    from course_tools.regions import check_claims, find_regions

    check_claims(find_regions(REPO_ROOT / "course_lib"), manifest)
    untested = []
    for aid in assignments:
        for key in manifest.assignments[aid].functions:
            if key not in CATALOG:
                line = manifest_line(MANIFEST, f'"{key}"') or "?"
                untested.append(f'{MANIFEST.name}:{line}: "{key}" ({aid}) has no hidden tests; add them to '
                                "autograder/suites (the TESTS of a suite module) under that key, "
                                'see README "Adding a function to an existing assignment"')
    if untested:
        raise CourseError(f"{len(untested)} function(s) without hidden tests:\n  " + "\n  ".join(untested))


# Subcommands ----------------------------------------------------------------------


def build(args):
    manifest = load_course_manifest()
    assignments = chosen_assignments(manifest, args.assignments)
    preflight(manifest, assignments)

    from autograder import check_build
    from course_tools.autograder_zip import build_autograder_zip
    from course_tools.known_mistakes import known_mistake_outputs
    from course_tools.release import build_release

    seed = manifest.seed if args.seed is None else args.seed
    data_note = ensure_grading_data()
    checkpoints = Path(args.checkpoints) if args.checkpoints else None
    built, failures = [], []
    with staging_folders() as (release_stage, dist_stage):
        for number, assignment in enumerate(assignments, start=1):
            step = f"[{assignment} {number}/{len(assignments)}]"
            try:
                progress(f"{step} building the student release")
                release_dir = build_release(assignment, REPO_ROOT, release_stage)
                progress(f"{step} building the autograder zip (seed {seed})")
                known = known_mistake_outputs(assignment, REPO_ROOT, seed)  # the corpus' wrong variants
                zip_path = build_autograder_zip(assignment, REPO_ROOT, dist_stage / f"{assignment}-autograder.zip",
                                                seed, release_dir, known_mistakes=known)
                report = check_build(assignment, REPO_ROOT, zip_path, release_dir, checkpoint_dir=checkpoints,
                                     progress=lambda message, step=step: progress(f"{step} {message}"))
            except Exception as error:
                if not is_user_error(error):
                    raise
                if args.verbose:
                    traceback.print_exc()
                progress(f"{step} FAILED; going on with the others, but nothing will be published")
                failures.append(f"{assignment}: {error}")
                continue
            built.append((assignment, report))
        if failures:
            raise CourseError("nothing was published (release/ and dist/ are unchanged):\n  "
                              + "\n  ".join(f.replace("\n", "\n  ") for f in failures))
        publish([assignment for assignment, _ in built], release_stage, dist_stage)
    print(f"\nGrading data: {data_note}\n")
    for assignment, report in built if args.verbose else ():
        print(score_table(report["reference"], title=f"{assignment}: reference solution") + "\n")
        print(score_table(report["release"], title=f"{assignment}: untouched release") + "\n")
    rows = [(assignment, f"{points(report['reference']['score'])}/{points(report['max_score'])}",
             f"{points(report['release']['score'])}/{points(report['max_score'])}",
             f"release/{assignment}/", f"dist/{assignment}-autograder.zip") for assignment, report in built]
    print(aligned(("Assignment", "Reference", "Untouched release", "Student release", "Autograder zip"), rows,
                  right=(1, 2)))
    return 0


@contextmanager
def staging_folders():
    """``release/.staging-*`` and ``dist/.staging-*`` (next to their targets, so publishing is a rename);
    removed afterwards, whatever happened."""
    folders = []
    try:
        for parent in (REPO_ROOT / "release", REPO_ROOT / "dist"):
            parent.mkdir(exist_ok=True)
            folders.append(Path(tempfile.mkdtemp(prefix=".staging-", dir=parent)))
        yield folders
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def publish(assignments, release_stage, dist_stage):
    """Swap the checked releases and zips in, only once every assignment passed its checks."""
    from course_tools.release import replace_directory

    for assignment in assignments:
        replace_directory(release_stage / assignment, REPO_ROOT / "release" / assignment)
        os.replace(dist_stage / f"{assignment}-autograder.zip", REPO_ROOT / "dist" / f"{assignment}-autograder.zip")
        progress(f"[{assignment}] published release/{assignment}/ and dist/{assignment}-autograder.zip")


def grade(args):
    from autograder import grade_submission
    from autograder.isolation import SANDBOX_USER, USER_VARIABLE

    manifest = load_course_manifest()
    chosen_assignments(manifest, [args.assignment])
    submission = Path(args.submission)
    if not submission.exists():
        raise CourseError(f"submission {submission} does not exist; give a folder or a zip")
    if not (submission.is_dir() or zipfile.is_zipfile(submission)):
        raise CourseError(f"submission {submission} is neither a folder nor a zip file")
    zip_path = default_zip(args.assignment, args.zip)
    user = os.environ.get(USER_VARIABLE) or SANDBOX_USER
    progress(f"grading {submission} with {zip_path}; student code runs as {user} (${USER_VARIABLE})")
    from autograder.local import ExposedAnswersError

    try:
        results = grade_submission(args.assignment, submission, zip_path=zip_path,
                                   json_path=Path(args.json) if args.json else None)
    except ExposedAnswersError as refusal:
        raise CourseError(f"refused: {refusal}") from None
    print(score_table(results, title=f"{args.assignment}: {submission}"))
    print(feedback_text(results))
    if args.json:
        print(f"\nresults.json written to {args.json}")
    return 0


def reference(args):
    from autograder.local import write_reference_submission

    zip_path = default_zip(args.assignment, args.zip)
    data_note = ensure_grading_data()
    if "STAND-IN" in data_note:
        progress(f"WARNING: the checkpoints are trained on the {data_note}")
    progress(f"writing the reference submission of {args.assignment} (training its checkpoints)")
    destination = write_reference_submission(zip_path, Path(args.destination), repo_root=REPO_ROOT)
    print(destination)
    return 0


def fidelity(arguments):
    """Everything after ``course fidelity`` goes to the fidelity corpus's own command line."""
    from course_tools.fidelity.cli import main as fidelity_main

    return fidelity_main(arguments, prog="course fidelity")


def written(args):
    from course_tools.export import ExportError
    from course_tools.written import WrittenError, write_written_pages

    manifest = load_manifest(REPO_ROOT / "course.toml")
    if args.assignment not in manifest.assignment_ids:
        raise SystemExit(f"course written: unknown assignment {args.assignment!r}; "
                         f"known: {', '.join(manifest.assignment_ids)}")
    try:
        pages = write_written_pages(args.assignment, [Path(p) for p in args.submissions], Path(args.out))
    except (ExportError, WrittenError) as error:
        raise SystemExit(f"course written: {error}") from None
    print(f"{len(pages)} question pages, index.html and answers.csv in {args.out}")
    return 0


def grade_all(args):
    from course_tools.export import ExportError
    from course_tools.grade_all import grade_all as grade_everything

    manifest = load_manifest(REPO_ROOT / "course.toml")
    if args.assignment not in manifest.assignment_ids:
        raise SystemExit(f"course grade-all: unknown assignment {args.assignment!r}; "
                         f"known: {', '.join(manifest.assignment_ids)}")
    zip_path = Path(args.zip) if args.zip else REPO_ROOT / "dist" / f"{args.assignment}-autograder.zip"
    if not zip_path.exists():
        raise SystemExit(f"course grade-all: no autograder at {zip_path}; run `course build {args.assignment}` first")
    if args.jobs < 1:
        raise SystemExit("course grade-all: --jobs must be at least 1")
    only = [item.strip() for item in args.only.split(",") if item.strip()]
    try:
        summary = grade_everything(args.assignment, Path(args.export), Path(args.out), zip_path, jobs=args.jobs,
                                   force=args.force, only=only)
    except ExportError as error:
        raise SystemExit(f"course grade-all: {error}") from None
    print(f"graded {summary['graded']}, skipped {summary['skipped']} already graded, "
          f"{len(summary['failed'])} with problems; report: {summary['report']}")
    return 1 if summary["failed"] else 0


def data(args):
    if args.data_command == "fetch":
        from course_lib.fetch import main as fetch_main

        return fetch_main([args.dataset] + (["--dir", args.dir] if args.dir else [])
                          + (["--base-url", args.base_url] if args.base_url else []))
    from course_lib.standin import main as standin_main

    return standin_main((["--dir", args.dir] if args.dir else []) + (["--small"] if args.small else [])
                        + ["--seed", str(args.seed)])


# Output ---------------------------------------------------------------------------


def points(value):
    """A score with at most two decimals and no trailing zeros: 1, 0.5, 0.33."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def aligned(header, rows, right=()):
    """Rows of strings in columns: left-aligned, or right-aligned for the column indexes in ``right``."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).rjust(width) if i in right else str(cell).ljust(width)
                               for i, (cell, width) in enumerate(zip(row, widths))).rstrip()
                     for row in [header, *rows])


def score_table(results, title=None):
    """The tests of a results.json body, one per line, with the total."""
    tests = results.get("tests", [])
    rows = [(test.get("number", ""), f"{points(test['score'])} / {points(test['max_score'])}",
             test.get("status", ""), test.get("name", "")) for test in tests]
    possible = sum(test["max_score"] for test in tests)
    lines = [title] if title else []
    lines += [aligned(("No.", "Score", "Status", "Test"), rows, right=(1,)),
              f"Total: {points(results.get('score', 0))} / {points(possible)}"]
    lines += [f"Leaderboard: {entry['name']} = {points(entry['value'])}" for entry in results.get("leaderboard", [])]
    return "\n".join(lines)


def feedback_text(results):
    """What the student reads on Gradescope: the notes about the upload, then each test that lost points."""
    notes = [line[2:] for line in results.get("output", "").splitlines() if line.startswith("- ")]
    lines = ["", "About the upload:", *(f"  {note}" for note in notes)] if notes else []
    failing = [test for test in results.get("tests", []) if test["score"] < test["max_score"]]
    if failing:
        lines += ["", f"Feedback on the {len(failing)} test(s) that lost points:"]
    for test in failing:
        lines += ["", f"{test.get('number', '')} {test.get('name', '')} "
                      f"({points(test['score'])} / {points(test['max_score'])})"]
        lines += [f"    {line}" for line in test.get("output", "").splitlines()]
    return "\n".join(lines)


# Errors ---------------------------------------------------------------------------


# Errors that come from the course's files or the command line, not from a bug here, by module.
USER_ERRORS = {
    "autograder.build": ("AutograderBuildError",),
    "autograder.local": ("BuildCheckError",),
    "course_lib.fetch": ("FetchError",),
    "course_tools.manifest": ("ManifestError", "UnknownNameError"),
    "course_tools.regions": ("RegionError",),
    "course_tools.release": ("ReleaseBuildError", "ReleaseCheckError"),
}


def is_user_error(error):
    """True for a mistake the message explains (a module not imported yet cannot have raised its errors)."""
    classes = [getattr(sys.modules[module], name) for module, names in USER_ERRORS.items()
               if module in sys.modules for name in names]
    return isinstance(error, (CourseError, FileNotFoundError, *classes))


# Command line ---------------------------------------------------------------------


def parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", "-v", action="store_true",
                        help="show the traceback of an error (and, for build, every test's score)")
    top = argparse.ArgumentParser(prog="course", description=__doc__.splitlines()[0], epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build_cmd = commands.add_parser(
        "build", parents=[common], help="build student releases and Gradescope autograder zips",
        description="Write release/ID/ and dist/ID-autograder.zip for each assignment (default: all). Both are "
                    "built in staging folders and published only when the reference scores full marks and the "
                    "untouched release zero, for every assignment; otherwise nothing changes.")
    build_cmd.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    build_cmd.add_argument("--seed", type=int, default=None,
                           help="fixture seed for this term (default: [course] seed in course.toml)")
    build_cmd.add_argument("--checkpoints", metavar="DIR",
                           help="reference checkpoints (DIR/checkpoints/<name>.npz) to grade instead of the "
                                "quickly trained ones; needed for the real datasets' accuracy bars")
    build_cmd.set_defaults(run=build)

    grade_cmd = commands.add_parser(
        "grade", parents=[common], help="grade a submission folder or zip as Gradescope would",
        description="Grade SUBMISSION (a folder or zip, as a student uploads it) with the assignment's "
                    "autograder zip, exactly as Gradescope runs it; print the score table and the feedback of "
                    "every test that lost points. Exit status 0 whenever grading completed.")
    grade_cmd.add_argument("assignment", metavar="ASSIGNMENT")
    grade_cmd.add_argument("submission", metavar="SUBMISSION")
    grade_cmd.add_argument("--json", metavar="PATH", help="also write Gradescope's results.json here")
    grade_cmd.add_argument("--zip", metavar="PATH", help="autograder zip (default: dist/ASSIGNMENT-autograder.zip)")
    grade_cmd.set_defaults(run=grade)

    reference_cmd = commands.add_parser(
        "reference", parents=[common], help="write the reference submission, to try the grader on",
        description="Write into FOLDER what a student with the reference solution would upload: the "
                    "assignment's course_lib files and its checkpoints, trained here (on the stand-in data "
                    "when the real datasets are absent).")
    reference_cmd.add_argument("assignment", metavar="ASSIGNMENT")
    reference_cmd.add_argument("destination", metavar="FOLDER")
    reference_cmd.add_argument("--zip", metavar="PATH", help="autograder zip (default: dist/ASSIGNMENT-autograder.zip)")
    reference_cmd.set_defaults(run=reference)

    # Parsed by the fidelity module itself (see main); listed here for `course --help`.
    commands.add_parser("fidelity", add_help=False,
                        help="grade the corpus of wrong and correct variants and write a report "
                             "(course fidelity --help)")

    written_cmd = commands.add_parser(
        "written", parents=[common], help="one HTML page per written question with every student's answer (math typeset)")
    written_cmd.add_argument("assignment", metavar="ASSIGNMENT")
    written_cmd.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                             help="a submission folder or zip, or a Gradescope export zip")
    written_cmd.add_argument("--out", required=True, metavar="DIR", help="where the pages go")
    written_cmd.set_defaults(run=written)

    grade_all_cmd = commands.add_parser(
        "grade-all", parents=[common], help="regrade a Gradescope export in parallel; scores.csv and a class report")
    grade_all_cmd.add_argument("assignment", metavar="ASSIGNMENT")
    grade_all_cmd.add_argument("export", metavar="EXPORT",
                               help="Gradescope export zip (or its folder), or a folder of submission zips")
    grade_all_cmd.add_argument("--out", required=True, metavar="DIR", help="results, scores.csv and report.html")
    grade_all_cmd.add_argument("--jobs", type=int, default=1, metavar="N", help="gradings at a time (default 1)")
    grade_all_cmd.add_argument("--force", action="store_true", help="regrade submissions already graded in DIR")
    grade_all_cmd.add_argument("--only", default="", metavar="TESTS",
                               help="comma-separated test numbers or function keys to run")
    grade_all_cmd.add_argument("--zip", metavar="PATH", help="autograder zip (default: dist/ASSIGNMENT-autograder.zip)")
    grade_all_cmd.set_defaults(run=grade_all)

    data_cmd = commands.add_parser("data", parents=[common], help="fetch the datasets or write the offline stand-in",
                                   description="Datasets live in $COURSE_DATA_DIR (default ~/.course_data).")
    data_sub = data_cmd.add_subparsers(dest="data_command", required=True, metavar="fetch|standin")
    fetch_cmd = data_sub.add_parser("fetch", parents=[common],
                                    help="download an official dataset, verifying its checksums")
    fetch_cmd.add_argument("dataset", choices=["cifar10", "svhn"])
    fetch_cmd.add_argument("--dir", help="data directory (default: $COURSE_DATA_DIR or ~/.course_data)")
    fetch_cmd.add_argument("--base-url", metavar="URL",
                           help="fetch the same file names from this mirror (default: $COURSE_DATA_BASE_URL "
                                "or the official site)")
    standin_cmd = data_sub.add_parser("standin", parents=[common],
                                      help="write the deterministic offline STAND-IN datasets")
    standin_cmd.add_argument("--dir", help="target directory (default: <data dir>/standin, where the loaders "
                                           "look when the real data is absent)")
    standin_cmd.add_argument("--small", action="store_true", help="a few thousand images only")
    standin_cmd.add_argument("--seed", type=int, default=0, help="seed of the images (default 0)")
    data_cmd.set_defaults(run=data)
    return top


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["fidelity"]:
            return fidelity(argv[1:]) or 0
        args = parser().parse_args(argv)
        try:
            return args.run(args) or 0
        except Exception as error:
            if not is_user_error(error):
                raise
            if args.verbose:
                traceback.print_exc()
            print(f"course {args.command}: error: {error}", file=sys.stderr)
            if not args.verbose:
                print(f"(`course {args.command} --verbose ...` shows the traceback)", file=sys.stderr)
            return 1
    except BrokenPipeError:
        # The reader stopped early (`course grade ... | head`): stop writing, quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
