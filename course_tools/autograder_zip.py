"""The instructor side of an autograder zip: the assignment's manifest, baked to JSON, handed to the builder.

``autograder.build`` writes the zip from a baked manifest and never reads
``course.toml`` (the grading side runs on Python 3.10, which has no tomllib,
and depends on nothing of ``course_tools``). The files a submission holds are
those the release ships (``course_tools.manifest.submission_files``).
"""
from pathlib import Path

from autograder.build import TIME_BUDGET_SECONDS, write_autograder_zip
from course_tools.manifest import load_manifest, submission_files
from course_tools.written import baked_questions


def baked_manifest(assignment_id, repo_root, seed):
    """The assignment's manifest entry as plain JSON for the harness."""
    repo_root = Path(repo_root).resolve()
    manifest = load_manifest(repo_root / "course.toml")
    assignment = manifest.assignment(assignment_id)
    return {
        "id": assignment.id,
        "title": assignment.title,
        "functions": dict(assignment.functions),
        "timeouts": dict(assignment.timeouts),
        "default_timeout": manifest.default_timeout,
        "time_budget": TIME_BUDGET_SECONDS,
        "checkpoints": [{"name": c.name, "file": c.file, "notebook": c.notebook, "dataset": c.dataset,
                         "lo": c.lo, "hi": c.hi, "points": c.points, "timeout": c.timeout,
                         "architecture": c.architecture}
                        for c in assignment.checkpoints],
        "experiments": dict(assignment.experiments),
        "logs": list(assignment.logs),
        "student_files": submission_files(assignment, repo_root / "course_lib"),
        "written": baked_questions(assignment.id, repo_root),
        "seed": int(seed),
    }


def build_autograder_zip(assignment_id, repo_root, out_path, seed=0, release_dir=None, known_mistakes=None):
    """Write ``out_path``, the Gradescope autograder of ``assignment_id`` (see autograder.build); returns its path.

    release_dir: the student release (default ``<repo_root>/release/<id>``);
    known_mistakes: the corpus' wrong variants' outputs (course_tools.known_mistakes), for diagnoses.
    """
    return write_autograder_zip(baked_manifest(assignment_id, repo_root, seed), repo_root, out_path,
                                release_dir=release_dir, known_mistakes=known_mistakes)
