"""Building an assignment's Gradescope autograder zip (instructor side, Python 3.11+).

The instructor side bakes the assignment's manifest entry to JSON
(``course_tools.autograder_zip``) and hands it to ``write_autograder_zip``:
this module never reads course.toml. Steps, one function each: generate the fixtures by
running every hidden test's program on the reference (in a worker, from the
per-build seed), pack the held-out data, copy the released stubs and the
reference, and write the zip with the grading code and the two scripts.
"""
import json
import math
import os
import shutil
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from autograder import layout
from autograder.harness.programs import PROBE_PREFIX, SWAPPED_PREFIX, probed_input, swapped_modes, with_probes
from autograder.sandbox import Limits, run_worker
from autograder.suites import plan_tests

PACKAGE = Path(__file__).resolve().parent
# The grading code that ships; the builder, local runner and trainer stay behind.
RUNTIME_MODULES = ("__init__.py", "archives.py", "layout.py", "isolation.py", "leftovers.py", "namespaces.py", "sandbox.py",
                   "worker.py", "proxy.py", "results_schema.json", "harness/*.py", "suites/*.py")
LIBRARY_PATTERNS = ("*.py", "*.pyx")
HELDOUT_IMAGES = 2000
TIME_BUDGET_SECONDS = 540
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class AutograderBuildError(RuntimeError):
    """The autograder could not be built; the message says what to fix."""


def write_autograder_zip(manifest, repo_root, out_path, release_dir=None, heldout_images=HELDOUT_IMAGES,
                         known_mistakes=None):
    """Write ``out_path``, the Gradescope autograder described by the baked ``manifest``; returns its path.

    manifest: the assignment's manifest entry as plain JSON (``course_tools.autograder_zip.baked_manifest``:
    id, title, functions, checkpoints, experiments, student_files, seed, ...), baked by the instructor side.
    release_dir: the student release (default ``<repo_root>/release/<id>``),
    whose ``course_lib`` is the stub the submissions are laid over. The data
    (real or stand-in) comes from ``course_lib.data_utils.data_dir()``.
    known_mistakes: {variant name: {"hint": str, "outputs": {test id: {output: array}}}}, the known wrong
    variants' outputs on this build's inputs (see course_tools.known_mistakes), stored next to the fixtures.
    """
    repo_root = Path(repo_root).resolve()
    manifest, assignment_id, seed = dict(manifest), manifest["id"], manifest["seed"]
    release_dir = Path(release_dir) if release_dir is not None else repo_root / "release" / assignment_id
    if not (release_dir / "course_lib").is_dir():
        raise AutograderBuildError(f"{release_dir}/course_lib does not exist: build the student release first "
                                   f"(course build {assignment_id})")
    with tempfile.TemporaryDirectory(prefix=f"autograder-{assignment_id}-") as staging:
        staging = Path(staging)
        copy_library(repo_root / "course_lib", staging / layout.REFERENCE / "course_lib")
        copy_library(release_dir / "course_lib", staging / layout.STUBS / "course_lib")
        manifest["reference_seconds"] = write_fixtures(manifest, staging / layout.REFERENCE,
                                                       staging / layout.FIXTURES, seed)
        if known_mistakes:
            write_known_mistakes(known_mistakes, staging)
        manifest["standin"] = {}
        for dataset in sorted({c["dataset"] for c in manifest["checkpoints"]}):
            manifest["standin"][dataset] = write_heldout(dataset, staging / layout.HELDOUT / f"{dataset}.npz",
                                                         heldout_images)
        if manifest["experiments"]:
            manifest["standin"]["experiments"] = write_experiment_data(staging / layout.EXPERIMENT_DATA)
        (staging / layout.MANIFEST).write_text(json.dumps(manifest, indent=2))
        copy_runtime(staging)
        return write_zip(staging, Path(out_path))


def copy_library(source, destination):
    """The library's sources only (no compiled files, caches or build products)."""
    for pattern in LIBRARY_PATTERNS:
        for path in sorted(Path(source).rglob(pattern)):
            if "__pycache__" in path.parts:
                continue
            target = destination / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def draw_inputs(test, seed):
    """A test's inputs, drawn from the build seed and the test's id (independent of test order)."""
    rng = np.random.default_rng([int(seed), zlib.crc32(test.id.encode())])
    return {name: np.asarray(value) for name, value in test.make_inputs(rng).items()}


def write_fixtures(manifest, reference_root, path, seed):
    """Run every hidden test's program on the reference in one worker; store inputs and outputs.

    The programs run with probes (inputs read back after each call), and the
    programs with a train/test mode run once more with the modes swapped
    (``swapped/<output>``): both serve the diagnoses. Returns {test id: the
    reference's time, see slow_seconds}.
    """
    tests = [planned.test for planned in plan_tests(manifest) if not planned.test.scores_upload]
    inputs = [draw_inputs(test, seed) for test in tests]
    swapped = [(index, program) for index, test in enumerate(tests)
               if (program := swapped_modes(test.program)) is not None]
    programs = [with_probes(test.program) for test in tests] + [program for _, program in swapped]
    budget = Limits(wall_seconds=600, memory_bytes=4 << 30)
    result = run_worker({"programs": programs}, inputs + [inputs[index] for index, _ in swapped], reference_root,
                        budget)
    if result.status != "ok":
        raise AutograderBuildError(f"running the reference on the hidden tests failed: {result.problem}\n{result.log}")
    arrays, seconds = {}, {}
    for (index, _), (outputs, reply) in zip(swapped, result.programs[len(tests):]):
        if reply.get("status") == "ok":
            unswapped = result.programs[index][0]
            arrays.update({layout.fixture_key(tests[index].id, "out", SWAPPED_PREFIX + name): value
                           for name, value in outputs.items()
                           if name in unswapped and not np.array_equal(value, unswapped[name])})
    for test, test_in, (outputs, reply) in zip(tests, inputs, result.programs):
        if reply.get("status") != "ok":
            raise AutograderBuildError(f"the reference fails hidden test {test.id!r}: {reply.get('error')}")
        # A probe is kept only where the reference changes that input: absent, the input is left as it was.
        expected = {name: value for name, value in outputs.items() if not name.startswith("numeric/")
                    and not (name.startswith(PROBE_PREFIX) and unchanged_input(name, value, test_in))}
        missing = [check.output for check in test.checks
                   if check.output and check.kind != "custom" and not any(
                       key == check.output or key.startswith(check.output + "/") for key in expected)]
        if missing:
            raise AutograderBuildError(f"hidden test {test.id!r}: the reference gave no {', '.join(missing)}")
        arrays.update({layout.fixture_key(test.id, "in", name): value for name, value in test_in.items()})
        arrays.update({layout.fixture_key(test.id, "out", name): value for name, value in expected.items()})
        seconds[test.id] = slow_seconds(float(reply.get("seconds", 0.0)), manifest["default_timeout"])
    with open(path, "wb") as file:
        np.savez_compressed(file, **arrays)
    return seconds


def unchanged_input(probe, value, inputs):
    given = inputs.get(probed_input(probe))
    return given is not None and value.shape == given.shape and np.array_equal(value, given)


def write_known_mistakes(known_mistakes, staging):
    """The known wrong variants' outputs (an .npz) and their hints (JSON), next to the fixtures."""
    arrays, hints = {}, {}
    for variant, entry in sorted(known_mistakes.items()):
        tests = sorted(entry["outputs"])
        for test_id in tests:
            arrays.update({layout.known_key(variant, test_id, name): np.asarray(value)
                           for name, value in entry["outputs"][test_id].items()})
        hints[variant] = {"hint": entry["hint"], "tests": tests}
    with open(staging / layout.KNOWN_MISTAKES, "wb") as file:
        np.savez_compressed(file, **arrays)
    (staging / layout.KNOWN_HINTS).write_text(json.dumps(hints, indent=1, sort_keys=True))


def slow_seconds(seconds, default_timeout):
    """The reference's time where its 10x allowance exceeds the default limit (whole seconds), else 0.

    Only slow tests need it, and leaving out the others' jittery timings keeps the zip reproducible.
    """
    return math.ceil(seconds) if 10 * seconds > default_timeout else 0


def write_heldout(dataset, path, count):
    """Held-out images (uint8, in the loaders' layout) with labels and preprocessing; True for stand-in data."""
    from course_lib import data_utils

    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if dataset == "cifar10":
            images, labels, mean, scale = cifar_heldout(data_utils, count)
        elif dataset == "svhn":
            images, labels, mean, scale = svhn_heldout(data_utils, count)
        else:
            raise AutograderBuildError(f"unknown dataset {dataset!r} in the manifest")
    standin = any(issubclass(w.category, data_utils.StandInDataWarning) for w in caught)
    np.savez_compressed(path, X=images, y=labels.astype(np.int64), mean=mean.astype(np.float32),
                        scale=np.float32(scale), standin=np.int64(standin))
    return standin


def write_experiment_data(path):
    """The training images the experiments' runs use (uint8), their labels and the preprocessing mean;
    True for stand-in data."""
    from autograder.reference_logs import experiment_data

    data = experiment_data()
    np.savez_compressed(path, **data)
    return bool(data["standin"])


def held_split(training_images, validation_default):
    validation = min(validation_default, training_images // 10)
    return training_images - validation, validation


def cifar_heldout(data_utils, count):
    """The first ``count`` test images, recovered as uint8 from get_CIFAR10_data's own preprocessing."""
    X_train, _, X_test, _ = data_utils.load_CIFAR10()
    training, validation = held_split(len(X_train), 1000)
    data = data_utils.get_CIFAR10_data(num_training=training, num_validation=validation,
                                       num_test=min(count, len(X_test)))
    return uint8_images(data["X_test"] + data["mean_image"]), data["y_test"], data["mean_image"], 1.0


def svhn_heldout(data_utils, count):
    """The first ``count`` test images, recovered as uint8 from SVHN_data's own preprocessing."""
    data_utils.SVHN_data(num_training=0, num_validation=0, num_test=0)  # a clear error when the files are missing
    training, validation = held_split(svhn_image_count(data_utils, "train_32x32.mat"), 3257)
    num_test = min(count, svhn_image_count(data_utils, "test_32x32.mat"))
    data = data_utils.SVHN_data(num_training=training, num_validation=validation, num_test=num_test)
    images = uint8_images((data["data_test"] + data["mean_image"]) * 255.0)
    return images, data["labels_test"], data["mean_image"], 1.0 / 255.0


def svhn_image_count(data_utils, file_name):
    """Images in one SVHN .mat file, read from its header (the labels' shape) without loading it."""
    from scipy.io import whosmat

    from course_lib.standin import SVHN_FOLDER

    shapes = {name: shape for name, shape, _ in whosmat(data_utils.data_dir() / SVHN_FOLDER / file_name)}
    return int(shapes["y"][0])


def uint8_images(values):
    images = np.rint(values)
    if images.min() < 0 or images.max() > 255 or np.max(np.abs(images - values)) > 1e-2:
        raise AutograderBuildError("the data loader's preprocessing is not a shift of uint8 images; "
                                   "the held-out packing must follow it")
    return images.astype(np.uint8)


def copy_runtime(staging):
    for pattern in RUNTIME_MODULES:
        for path in sorted(PACKAGE.glob(pattern)):
            target = staging / "autograder" / path.relative_to(PACKAGE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    for script in layout.SCRIPTS:
        shutil.copyfile(PACKAGE / "scripts" / script, staging / script)


def write_zip(staging, out_path):
    """A deterministic zip (sorted entries, fixed dates), written next to out_path then moved in place."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            name = path.relative_to(staging).as_posix()
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if name in layout.SCRIPTS else 0o644) << 16
            archive.writestr(info, path.read_bytes())
    os.replace(temporary, out_path)
    return out_path
