"""The Gradescope autograder of the course.

Instructor side (Python 3.11+, the repository installed); the zip itself is built by
``course_tools.autograder_zip.build_autograder_zip``, which bakes the manifest for ``autograder.build``:
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
