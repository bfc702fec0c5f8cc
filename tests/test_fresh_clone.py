"""From nothing to a graded submission, as a new instructor would do it.

Clones the repository's committed HEAD into a temporary folder, runs the setup of
`make test` there (a new .venv, the project and its Cython extension installed),
then `course build hw3` and `course grade` on the reference submission.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run(command, cwd, env):
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


@pytest.mark.slow
def test_fresh_clone_installs_builds_and_grades(tmp_path, standin_dir):
    if shutil.which("make") is None or not (REPO / ".git").exists():
        pytest.skip("needs make and a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["COURSE_DATA_DIR"] = str(standin_dir)

    run(["make", "install"], clone, env)
    course = clone / ".venv" / "bin" / "course"
    assert (clone / ".venv" / "bin" / "python").exists()

    build = run([course, "build", "hw3", "--seed", "7"], clone, env)
    summary = build.stdout.splitlines()
    row = next(line for line in summary if line.startswith("hw3 "))
    reference_score, release_score = row.split()[1], row.split()[2]
    earned, possible = reference_score.split("/")
    assert float(earned) == float(possible) > 0
    assert float(release_score.split("/")[0]) == 0
    assert (clone / "dist" / "hw3-autograder.zip").exists()
    assert (clone / "release" / "hw3" / "course_lib").is_dir()

    reference = run([course, "reference", "hw3", tmp_path / "reference"], clone, env)
    assert Path(reference.stdout.strip()).is_dir()
    results_path = tmp_path / "results.json"
    graded = run([course, "grade", "hw3", tmp_path / "reference", "--json", results_path], clone, env)
    results = json.loads(results_path.read_text())
    assert results["score"] == pytest.approx(sum(test["max_score"] for test in results["tests"]))
    assert results["score"] == pytest.approx(float(possible))
    assert f"{results['score']:g}" in graded.stdout
