"""The Gradescope autograder of the course.

Instructor side (Python 3.11+, the repository installed):
- ``build_autograder_zip(assignment_id, repo_root, out_path, seed, release_dir)`` writes an assignment's zip;
- ``grade_submission(assignment_id, submission_path, zip_path=None, json_path=None)`` grades a
  submission folder or zip with it, as Gradescope would, and returns results.json;
- ``format_table(results, title=None)`` renders those results as a table;
- ``check_build(assignment_id, repo_root, zip_path, release_dir)`` grades the reference and the
  untouched release with a zip and raises unless they score full marks and zero.

Inside the zip (Gradescope, Python 3.10, numpy only): ``autograder.harness`` is the grading
process, ``autograder.worker`` the only code that runs student functions, started by
``autograder.sandbox``; ``autograder.suites`` holds the hidden tests. Importing this package
loads none of the instructor-side modules.
"""


def build_autograder_zip(assignment_id, repo_root, out_path, seed=0, release_dir=None, known_mistakes=None):
    """See autograder.build.build_autograder_zip."""
    from autograder.build import build_autograder_zip as build

    return build(assignment_id, repo_root, out_path, seed=seed, release_dir=release_dir,
                 known_mistakes=known_mistakes)


def grade_submission(assignment_id, submission_path, zip_path=None, json_path=None, **options):
    """See autograder.local.grade_submission."""
    from autograder.local import grade_submission as grade

    return grade(assignment_id, submission_path, zip_path, json_path, **options)


def check_build(assignment_id, repo_root=None, zip_path=None, release_dir=None, **options):
    """See autograder.local.check_build."""
    from autograder.local import REPO_ROOT
    from autograder.local import check_build as check

    return check(assignment_id, repo_root or REPO_ROOT, zip_path, release_dir, **options)


def format_table(results, title=None):
    """See autograder.harness.report.format_table."""
    from autograder.harness.report import format_table as table

    return table(results, title)
