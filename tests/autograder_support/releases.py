"""Stubbed course_lib trees as the release builder writes them, without the notebooks (fast)."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_stub_release(assignment_id, destination):
    """``destination/course_lib``: the library with every region the release clears replaced by its stub."""
    from course_tools.release import plan_release
    from course_tools.stubs import solution_clearer, write_stubbed_library

    plan = plan_release(assignment_id, REPO_ROOT)
    write_stubbed_library(plan.lib_root, Path(destination) / "course_lib", plan.regions, plan.cleared_keys,
                          solution_clearer(plan.nbgrader_config))
    return Path(destination)
