"""Running an autograder zip locally exactly as Gradescope does (instructor side).

``grade_submission`` unpacks the zip into a temporary folder laid out like
``/autograder``, puts the submission (folder or zip) where Gradescope puts
it, runs the zip's own ``setup.sh`` (in local mode: nothing is installed) and
``run_autograder``, and returns the results.json they wrote. ``check_build``
grades the reference and the untouched release with it and refuses unless
they score full marks and zero.

Grading a student's code from a checkout must not let it read the answers
(this zip and the others in ``dist/``, the reference ``course_lib/``, the
notebooks in ``source/``). Workers in namespaces never see them; where
namespaces are unavailable, ``grade_submission`` refuses while the workers'
user can read any of them, and says how to fix that (``guard_answers``).
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

from autograder import isolation, layout, namespaces

REPO_ROOT = Path(__file__).resolve().parents[1]


class BuildCheckError(RuntimeError):
    """The reference did not score full marks, or the untouched release scored above zero."""


class ExposedAnswersError(RuntimeError):
    """Student code graded here could read the answers; the message says what to fix."""


def answer_paths(zip_path, python, repo_root=REPO_ROOT):
    """What a worker must never read: the autograder zips, the reference library and notebooks,
    and a course_lib installed beside the numpy workers import."""
    repo_root, zip_path = Path(repo_root), Path(zip_path).resolve()
    paths = {zip_path, *zip_path.parent.glob("*.zip"), *(repo_root / "dist").glob("*.zip")}
    paths |= {path for path in (repo_root / "course_lib", repo_root / "source") if path.exists()}
    paths |= set((repo_root / "course_lib").glob("*.py"))
    installed = Path(numpy_home(python)) / "course_lib"
    if installed.is_dir():
        paths |= {installed, *installed.glob("*.py")}
    return sorted(str(path) for path in paths)


def numpy_home(python):
    """The folder holding the numpy that ``python`` imports (the workers' numpy)."""
    if Path(python).resolve() == Path(sys.executable).resolve():
        from autograder.sandbox import NUMPY_HOME

        return NUMPY_HOME
    completed = subprocess.run([str(python), "-c", "import numpy, os; print(os.path.dirname(os.path.dirname("
                                "os.path.realpath(numpy.__file__))))"], stdout=subprocess.PIPE, text=True)
    return completed.stdout.strip()


def guard_answers(zip_path, python, repo_root=REPO_ROOT):
    """Raise ExposedAnswersError when workers would run outside namespaces and could read the answers.

    ``GRADER_ISOLATION=reduced`` is the instructor's explicit choice to grade
    without the user switch (e.g. trusted code without root); the log says so.
    """
    if os.environ.get(isolation.MODE_VARIABLE) == "reduced":
        return
    in_namespaces, why_not = namespaces.available(lambda message: None, numpy_home(python))
    if in_namespaces and os.geteuid() == 0:
        return
    if os.geteuid() != 0:
        if in_namespaces:
            return
        raise ExposedAnswersError(
            f"student code would run as you, outside namespaces ({why_not}), and could read this checkout's "
            "answers. Install bubblewrap (apt-get install bubblewrap) so that workers see only their job, or "
            f"grade as root with the checkout closed to others, or set {isolation.MODE_VARIABLE}=reduced "
            "to grade code you trust anyway.")
    identity = isolation.ensure_user(os.environ.get(isolation.USER_VARIABLE) or isolation.SANDBOX_USER)
    exposed = isolation.readable_by(identity, answer_paths(zip_path, python, repo_root))
    if exposed:
        shown = ", ".join(exposed[:4]) + (f" and {len(exposed) - 4} more" if len(exposed) > 4 else "")
        closed = sorted({_folder_to_close(Path(path), Path(repo_root)) for path in exposed})
        raise ExposedAnswersError(
            f"student code runs outside namespaces here ({why_not}), and the workers' user {identity.name} "
            f"can read {shown}. Fix: `chmod o-rx {' '.join(closed)}` (student code would otherwise read the "
            "answers), or install bubblewrap (apt-get install bubblewrap) so that workers see only their job.")


def _folder_to_close(path, repo_root):
    """The folder whose closing hides ``path``: the checkout for what lies in it, else the file's folder."""
    resolved = path.resolve()
    if repo_root.resolve() in resolved.parents:
        return str(repo_root.resolve())
    return str(resolved.parent)


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
                     log_path=None, trusted=False):
    """Grade a submission folder or zip with the autograder zip; returns Gradescope's results.json body.

    zip_path defaults to ``dist/<id>-autograder.zip``; json_path, when given,
    receives a copy of results.json and log_path the scripts' output (what
    Gradescope shows instructors only); only: test numbers or function keys.
    Raises ExposedAnswersError (see guard_answers) unless ``trusted`` (the
    course's own reference and release, graded by check_build).
    """
    zip_path = Path(zip_path) if zip_path is not None else default_zip(assignment_id)
    if not zip_path.is_file():
        raise FileNotFoundError(f"no autograder zip at {zip_path}: build it with `course build {assignment_id}`")
    python = python or sys.executable
    if not trusted:
        guard_answers(zip_path, python)
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
        reference_results = grade_submission(assignment_id, reference, zip_path, python=python, trusted=True)
    progress("grading the untouched release (2/2)")
    release_results = grade_submission(assignment_id, release_dir, zip_path, python=python, trusted=True)
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
