"""The instructor command line: ``course build``, ``course grade``, ``course data``.

Each subcommand is a thin pipeline over functions that live elsewhere: the
release builder (``course_tools.release``), the autograder builder and runner
(``autograder``) and the data helpers (``course_lib.fetch``, ``course_lib.standin``).
"""
import argparse
import os
import sys
from pathlib import Path

from course_tools.data_folder import ensure_grading_data
from course_tools.manifest import load_manifest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _progress(message):
    print(message, file=sys.stderr, flush=True)


def build(args):
    from autograder import build_autograder_zip, check_build, format_table
    from course_tools.release import build_release

    manifest = load_manifest(REPO_ROOT / "course.toml")
    assignments = args.assignments or list(manifest.assignment_ids)
    unknown = [a for a in assignments if a not in manifest.assignment_ids]
    if unknown:
        raise SystemExit(f"course build: unknown assignment(s) {', '.join(unknown)}; "
                         f"known: {', '.join(manifest.assignment_ids)}")
    seed = manifest.seed if args.seed is None else args.seed
    data_note = ensure_grading_data()
    dist = REPO_ROOT / "dist"
    dist.mkdir(exist_ok=True)
    summary, failures = [], []
    for assignment in assignments:
        _progress(f"[{assignment}] building the student release")
        release_dir = build_release(assignment, REPO_ROOT)
        _progress(f"[{assignment}] building the autograder (seed {seed})")
        candidate = dist / f".{assignment}-autograder.zip.candidate"
        build_autograder_zip(assignment, REPO_ROOT, candidate, seed, release_dir)
        _progress(f"[{assignment}] grading the reference and the untouched release")
        try:
            report = check_build(assignment, REPO_ROOT, candidate, release_dir,
                                 checkpoint_dir=Path(args.checkpoints) if args.checkpoints else None)
        except Exception as exc:  # the refusal message is the product here
            candidate.unlink(missing_ok=True)
            failures.append(f"{assignment}: {exc}")
            continue
        published = dist / f"{assignment}-autograder.zip"
        os.replace(candidate, published)
        summary.append((assignment, report, release_dir, published))

    print(f"\nGrading data: {data_note}\n")
    for assignment, report, _, _ in summary if args.verbose else ():
        print(format_table(report["reference"], title=f"{assignment}: reference solution"))
        print(format_table(report["release"], title=f"{assignment}: untouched release"))
    if summary:
        print("\nAssignment  reference        untouched release  release / autograder zip")
        for assignment, report, release_dir, published in summary:
            ref, stub = report["reference"], report["release"]
            print(f"{assignment:<11} {ref['score']:6.2f}/{report['max_score']:<8.2f} "
                  f"{stub['score']:6.2f}/{report['max_score']:<10.2f} "
                  f"{release_dir.relative_to(REPO_ROOT)}/  {published.relative_to(REPO_ROOT)}")
    if failures:
        print("\nRefused to publish:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def grade(args):
    from autograder import format_table, grade_submission

    manifest = load_manifest(REPO_ROOT / "course.toml")
    if args.assignment not in manifest.assignment_ids:
        raise SystemExit(f"course grade: unknown assignment {args.assignment!r}; "
                         f"known: {', '.join(manifest.assignment_ids)}")
    submission = Path(args.submission)
    if not submission.exists():
        raise SystemExit(f"course grade: submission {submission} does not exist")
    zip_path = Path(args.zip) if args.zip else REPO_ROOT / "dist" / f"{args.assignment}-autograder.zip"
    if not zip_path.exists():
        raise SystemExit(f"course grade: no autograder at {zip_path}; run `course build {args.assignment}` first")
    results = grade_submission(args.assignment, submission, zip_path=zip_path,
                               json_path=Path(args.json) if args.json else None)
    print(format_table(results, title=f"{args.assignment}: {submission}"))
    return 0


def reference(args):
    from autograder.local import write_reference_submission

    zip_path = Path(args.zip) if args.zip else REPO_ROOT / "dist" / f"{args.assignment}-autograder.zip"
    if not zip_path.exists():
        raise SystemExit(f"course reference: no autograder at {zip_path}; run `course build {args.assignment}` first")
    destination = write_reference_submission(zip_path, Path(args.destination), repo_root=REPO_ROOT)
    print(destination)
    return 0


def fidelity(args):
    from course_tools.fidelity.cli import main as fidelity_main

    return fidelity_main(args.arguments)


def data(args):
    if args.data_command == "fetch":
        from course_lib.fetch import main as fetch_main

        return fetch_main([args.dataset] + (["--dir", args.dir] if args.dir else []))
    from course_lib.standin import main as standin_main

    return standin_main((["--dir", args.dir] if args.dir else []) + (["--small"] if args.small else []))


def parser():
    top = argparse.ArgumentParser(prog="course", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)

    build_cmd = commands.add_parser("build", help="build student releases and Gradescope autograder zips")
    build_cmd.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    build_cmd.add_argument("--seed", type=int, default=None,
                           help="fixture seed for this term (default: [course] seed in course.toml)")
    build_cmd.add_argument("--verbose", action="store_true",
                           help="also print every test of the reference and the untouched release")
    build_cmd.add_argument("--checkpoints", metavar="DIR",
                           help="reference checkpoints (checkpoints/<name>.npz) to grade instead of the "
                                "quickly trained ones; needed for the real datasets' accuracy bars")
    build_cmd.set_defaults(run=build)

    grade_cmd = commands.add_parser("grade", help="grade a submission folder or zip as Gradescope would")
    grade_cmd.add_argument("assignment", metavar="ASSIGNMENT")
    grade_cmd.add_argument("submission", metavar="SUBMISSION")
    grade_cmd.add_argument("--json", metavar="PATH", help="write Gradescope's results.json here")
    grade_cmd.add_argument("--zip", metavar="PATH", help="autograder zip (default: dist/ASSIGNMENT-autograder.zip)")
    grade_cmd.set_defaults(run=grade)

    reference_cmd = commands.add_parser(
        "reference", help="write the reference submission (solution files and trained checkpoints)")
    reference_cmd.add_argument("assignment", metavar="ASSIGNMENT")
    reference_cmd.add_argument("destination", metavar="FOLDER")
    reference_cmd.add_argument("--zip", metavar="PATH", help="autograder zip (default: dist/ASSIGNMENT-autograder.zip)")
    reference_cmd.set_defaults(run=reference)

    fidelity_cmd = commands.add_parser(
        "fidelity", help="grade the corpus of wrong and correct variants and write a report",
        description="Arguments go to python -m course_tools.fidelity: [ASSIGNMENT ...] --report PATH [--jobs N] "
                    "[--mutants [--json PATH] [--cap N]]")
    fidelity_cmd.add_argument("arguments", nargs=argparse.REMAINDER)
    fidelity_cmd.set_defaults(run=fidelity)

    data_cmd = commands.add_parser("data", help="fetch datasets or write the offline stand-in")
    data_sub = data_cmd.add_subparsers(dest="data_command", required=True)
    fetch_cmd = data_sub.add_parser("fetch", help="download the official archives, verifying checksums")
    fetch_cmd.add_argument("dataset", choices=["cifar10", "svhn"])
    fetch_cmd.add_argument("--dir", help="data directory (default: $COURSE_DATA_DIR or ~/.course_data)")
    standin_cmd = data_sub.add_parser("standin", help="write the deterministic offline STAND-IN datasets")
    standin_cmd.add_argument("--dir", help="target directory (default: <data dir>/standin)")
    standin_cmd.add_argument("--small", action="store_true", help="a few thousand images only")
    data_cmd.set_defaults(run=data)
    return top


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["fidelity"]:  # its parser reads every option; REMAINDER would drop leading ones (--mutants)
        return fidelity(argparse.Namespace(arguments=argv[1:])) or 0
    args = parser().parse_args(argv)
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
