"""Command line of the grading process; ``run_autograder`` calls it."""
import argparse
import sys

from autograder.harness.pipeline import grade
from autograder.harness.report import format_table


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.harness", description=__doc__)
    parser.add_argument("--root", default="/autograder", help="folder laid out like /autograder (default: %(default)s)")
    parser.add_argument("--only", default="", help="comma-separated test numbers or function keys to run")
    args = parser.parse_args(argv)
    only = [item.strip() for item in args.only.split(",") if item.strip()]
    print(format_table(grade(args.root, only)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
