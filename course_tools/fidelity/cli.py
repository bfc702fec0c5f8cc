"""``python -m course_tools.fidelity`` (and ``course fidelity``): grade the corpus, or the mutants, and report."""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from course_tools.fidelity.corpus import REPO_ROOT, CorpusError, check_corpus, load_corpus
from course_tools.fidelity.grading import grade_corpus
from course_tools.fidelity.mutation import EQUIVALENT_FILE
from course_tools.fidelity.report import verdict, write_report
from course_tools.fidelity.unit_tests import unit_test_check
from course_tools.manifest import UnknownNameError


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m course_tools.fidelity",
        description="Grade the fidelity corpus (fidelity/wrong, fidelity/correct), or with --mutants the "
                    "mutants of the solution regions, and write a markdown report.")
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    parser.add_argument("--report", required=True, type=Path, help="where to write the markdown report")
    parser.add_argument("--jobs", type=int, default=2, help="gradings run at the same time (default 2)")
    parser.add_argument("--zip-dir", type=Path,
                        help="use <DIR>/<id>-autograder.zip instead of building fresh zips")
    parser.add_argument("--unit-tests", action="store_true",
                        help="also run the project's own tests against every variant")
    mutants = parser.add_argument_group("mutation analysis")
    mutants.add_argument("--mutants", action="store_true",
                         help="grade systematic mutants of every solution region instead of the corpus")
    mutants.add_argument("--json", type=Path, help="also write every mutant with its status as JSON here")
    mutants.add_argument("--cap", type=int, default=None,
                         help="at most N mutants per solution region, a seeded sample (default: all)")
    mutants.add_argument("--seed", type=int, default=0, help="seed of that sample (default 0)")
    mutants.add_argument("--function", action="append", dest="functions", metavar="KEY",
                         help="only the solution regions of this manifest key (repeatable; one assignment)")
    mutants.add_argument("--from-json", type=Path, metavar="PATH",
                         help="grade nothing: rewrite the report of an earlier --json run with the current "
                              "list of equivalent mutants")
    args = parser.parse_args(argv)
    mutation_only = [flag for flag, value in (("--json", args.json), ("--cap", args.cap),
                                               ("--function", args.functions), ("--from-json", args.from_json))
                     if value]
    if mutation_only and not args.mutants:
        parser.error(f"{', '.join(mutation_only)} need --mutants")
    if args.mutants and args.unit_tests:
        parser.error("--unit-tests applies to the corpus, not to --mutants")
    if args.from_json and (args.assignments or args.functions or args.cap):
        parser.error("--from-json takes the assignments, functions and sample of the run it records")
    if args.functions and len(args.assignments) != 1:
        parser.error("--function needs exactly one assignment")
    if args.cap is not None and args.cap < 1:
        parser.error("--cap must be at least 1")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def ensure_data():
    """Grading needs held-out data: COURSE_DATA_DIR as set, else real data or the stand-in (as `course build`)."""
    if "COURSE_DATA_DIR" not in os.environ:
        from course_tools.data_folder import ensure_grading_data

        print(f"data: {ensure_grading_data()}", file=sys.stderr)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.mutants:
        return mutation_main(args)
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



def mutation_main(args):
    """The mutation analysis of each assignment, one after the other; exit 1 when a mutant survives."""
    from course_tools.fidelity.mutation import EquivalentListError, load_equivalent, recorded_runs
    from course_tools.fidelity.mutation_report import write_mutation_json, write_mutation_report
    from course_tools.manifest import load_manifest

    manifest = load_manifest(REPO_ROOT / "course.toml")
    try:
        assignments = [a for a in args.assignments if manifest.assignment(a)] or list(manifest.assignment_ids)
        equivalent = load_equivalent(REPO_ROOT / EQUIVALENT_FILE)
    except (UnknownNameError, EquivalentListError) as error:
        raise SystemExit(f"fidelity: {error}") from None
    if args.from_json:
        try:
            runs = recorded_runs(args.from_json, equivalent)
        except (OSError, ValueError, KeyError) as error:
            raise SystemExit(f"fidelity --mutants --from-json: {error}") from None
    else:
        runs = grade_mutants(args, assignments, equivalent)
    report = write_mutation_report(args.report, runs)
    if args.json:
        write_mutation_json(args.json, runs)
    for run in runs:
        counts = run.counts()
        rate = run.own_kill_rate
        print(f"{run.assignment}: {len(run.outcomes)} mutants, {counts['killed_own']} killed by their own test, "
              f"{counts['killed_elsewhere']} elsewhere, {counts['survived']} survived, {counts['equivalent']} "
              f"equivalent; own kill rate {'-' if rate is None else f'{100 * rate:.1f}%'}")
    print(f"report: {report}")
    return 1 if any(run.counts()["survived"] for run in runs) else 0


def grade_mutants(args, assignments, equivalent):
    from course_tools.fidelity.mutation import analyse

    ensure_data()

    def progress(outcome):
        print(f"{outcome.mutant.id}: {outcome.status} ({outcome.seconds:.1f} s)", file=sys.stderr, flush=True)

    runs = []
    with tempfile.TemporaryDirectory(prefix="mutants-") as work:
        for assignment in assignments:
            zip_path = args.zip_dir / f"{assignment}-autograder.zip" if args.zip_dir else None
            try:
                runs.append(analyse(assignment, work, functions=args.functions, cap=args.cap, seed=args.seed,
                                    jobs=args.jobs, zip_path=zip_path, equivalent=equivalent, progress=progress))
            except (ValueError, RuntimeError) as error:
                raise SystemExit(f"fidelity --mutants: {error}") from None
    return runs
