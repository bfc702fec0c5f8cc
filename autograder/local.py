"""Running an autograder zip locally exactly as Gradescope does (instructor side).

``grade_submission`` unpacks the zip into a temporary folder laid out like
``/autograder``, puts the submission (folder or zip) where Gradescope puts
it, runs the zip's own ``setup.sh`` (in local mode: nothing is installed) and
``run_autograder``, and returns the results.json they wrote. ``check_build``
grades the reference and the untouched release with it and refuses unless
they score full marks and zero.
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

from autograder import layout

REPO_ROOT = Path(__file__).resolve().parents[1]


class BuildCheckError(RuntimeError):
    """The reference did not score full marks, or the untouched release scored above zero."""


def default_zip(assignment_id, repo_root=REPO_ROOT):
    return Path(repo_root) / "dist" / f"{assignment_id}-autograder.zip"


def unpack_autograder(zip_path, source):
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(source)
    for script in layout.SCRIPTS:
        (source / script).chmod(0o755)


def place_submission(submission_path, destination):
    """Where Gradescope puts an upload: a folder's contents, or a zip's contents (unpacked)."""
    submission_path = Path(submission_path)
    if submission_path.is_dir():
        shutil.copytree(submission_path, destination, symlinks=True)
    elif zipfile.is_zipfile(submission_path):
        destination.mkdir(parents=True)
        with zipfile.ZipFile(submission_path) as archive:
            archive.extractall(destination)
    elif submission_path.exists():
        raise ValueError(f"{submission_path} is neither a folder nor a zip file; give the submission folder or zip")
    else:
        raise FileNotFoundError(f"no submission at {submission_path}")


def prebuilt_extension(python):
    """The reference's compiled fast-layer kernels, when they fit the interpreter that will grade."""
    if Path(python).resolve() != Path(sys.executable).resolve():
        return None
    candidate = REPO_ROOT / "course_lib" / f"_im2col{sysconfig.get_config_var('EXT_SUFFIX')}"
    return candidate if candidate.is_file() else None


def local_environment(root, python):
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUTOGRADER_")}
    env.update(AUTOGRADER_ROOT=str(root.root), AUTOGRADER_PYTHON=str(python), AUTOGRADER_LOCAL="1")
    prebuilt = prebuilt_extension(python)
    if prebuilt is not None:
        env["AUTOGRADER_PREBUILT_EXT"] = str(prebuilt)
    else:
        env.setdefault("AUTOGRADER_BUILD_EXT", "0")
    return env


def run_script(root, name, env, arguments=()):
    completed = subprocess.run(["bash", str(root.source / name), *arguments], cwd=root.root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{name} failed with exit code {completed.returncode}:\n{completed.stdout[-4000:]}")
    return completed.stdout


def grade_submission(assignment_id, submission_path, zip_path=None, json_path=None, *, only=(), python=None,
                     log_path=None):
    """Grade a submission folder or zip with the autograder zip; returns Gradescope's results.json body.

    zip_path defaults to ``dist/<id>-autograder.zip``; json_path, when given,
    receives a copy of results.json and log_path the scripts' output (what
    Gradescope shows instructors only); only: test numbers or function keys.
    """
    zip_path = Path(zip_path) if zip_path is not None else default_zip(assignment_id)
    if not zip_path.is_file():
        raise FileNotFoundError(f"no autograder zip at {zip_path}: build it with `course build {assignment_id}`")
    python = python or sys.executable
    with tempfile.TemporaryDirectory(prefix=f"course-grade-{assignment_id}-") as temporary:
        root = layout.Root(temporary)
        unpack_autograder(zip_path, root.source)
        baked = json.loads((root.source / layout.MANIFEST).read_text())
        if baked["id"] != assignment_id:
            raise ValueError(f"{zip_path} is the autograder of {baked['id']}, not of {assignment_id}")
        place_submission(submission_path, root.submission)
        env = local_environment(root, python)
        log = run_script(root, "setup.sh", env)
        log += run_script(root, "run_autograder", env, ["--only", ",".join(only)] if only else [])
        results = json.loads(root.results.read_text())
    if json_path is not None:
        layout_path = Path(json_path)
        layout_path.parent.mkdir(parents=True, exist_ok=True)
        layout_path.write_text(json.dumps(results, indent=2))
    if log_path is not None:
        Path(log_path).write_text(log)
    return results


def write_reference_submission(zip_path, destination, checkpoint_dir=None, repo_root=REPO_ROOT):
    """The reference's course_lib files of the assignment plus its checkpoints and experiment logs,
    as a student would upload.

    Checkpoints come from checkpoint_dir (same relative paths as in the
    manifest) or are trained by autograder.reference_models; logs are the
    reference's runs of the experiments (autograder.reference_logs).
    """
    from autograder.reference_logs import write_reference_logs
    from autograder.reference_models import write_reference_checkpoints

    with zipfile.ZipFile(zip_path) as archive:
        baked = json.loads(archive.read(layout.MANIFEST))
    destination = Path(destination)
    for name in baked["student_files"]:
        target = destination / "course_lib" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(repo_root) / "course_lib" / name, target)
    if checkpoint_dir is None:
        write_reference_checkpoints(baked["checkpoints"], destination, seed=baked["seed"])
    else:
        for checkpoint in baked["checkpoints"]:
            source = Path(checkpoint_dir) / checkpoint["file"]
            if not source.is_file():
                raise FileNotFoundError(f"reference checkpoint {source} is missing")
            (destination / checkpoint["file"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination / checkpoint["file"])
    write_reference_logs(baked.get("experiments", {}), destination)
    return destination


def failing_tests(results):
    return [f"{test['number']} {test['name']}: {test['score']:g}/{test['max_score']:g}\n    "
            + test["output"].replace("\n", "\n    ") for test in results["tests"] if test["score"] < test["max_score"]]


def check_build(assignment_id, repo_root=REPO_ROOT, zip_path=None, release_dir=None, *, checkpoint_dir=None,
                python=None, progress=lambda message: None):
    """Grade the reference and the untouched release with the zip; refuse unless they score full and zero.

    Returns {"reference": results, "release": results, "max_score": points}; progress(message) hears of each step.
    raises BuildCheckError naming every test that scored otherwise.
    zip_path and release_dir default to dist/<id>-autograder.zip and release/<id>.
    """
    repo_root = Path(repo_root)
    zip_path = Path(zip_path) if zip_path is not None else default_zip(assignment_id, repo_root)
    release_dir = Path(release_dir) if release_dir is not None else repo_root / "release" / assignment_id
    with tempfile.TemporaryDirectory(prefix=f"reference-{assignment_id}-") as temporary:
        progress("writing the reference submission" + ("" if checkpoint_dir else " (training its checkpoints)"))
        reference = write_reference_submission(zip_path, Path(temporary) / "submission", checkpoint_dir, repo_root)
        progress("grading the reference submission (1/2)")
        reference_results = grade_submission(assignment_id, reference, zip_path, python=python)
    progress("grading the untouched release (2/2)")
    release_results = grade_submission(assignment_id, release_dir, zip_path, python=python)
    possible = round(sum(test["max_score"] for test in reference_results["tests"]), 4)
    problems = []
    if reference_results["score"] != possible:
        problems.append(f"the reference scores {reference_results['score']:g} of {possible:g}:\n  "
                        + "\n  ".join(failing_tests(reference_results)))
    if release_results["score"] > 0:
        scored = [f"{t['number']} {t['name']}: {t['score']:g}" for t in release_results["tests"] if t["score"] > 0]
        problems.append(f"the untouched release scores {release_results['score']:g}:\n  " + "\n  ".join(scored))
    if problems:
        raise BuildCheckError(f"{zip_path.name} must not be published: " + "\n".join(problems))
    return {"reference": reference_results, "release": release_results, "max_score": possible}
