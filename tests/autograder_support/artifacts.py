"""Per-session autograder artifacts: each assignment's stub release, zip and reference submission, built once."""
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from course_tools.autograder_zip import build_autograder_zip
from course_tools.manifest import load_manifest
from autograder.local import write_reference_submission
from tests.autograder_support.releases import REPO_ROOT, write_stub_release
from tests.autograder_support.submissions import grade, zip_folder

SEED = 7
ASSIGNMENTS = load_manifest(REPO_ROOT / "course.toml").assignment_ids


@contextmanager
def data_dir(path):
    """COURSE_DATA_DIR pointed at ``path`` for the duration (the builder and trainer read it)."""
    previous = os.environ.get("COURSE_DATA_DIR")
    os.environ["COURSE_DATA_DIR"] = str(path)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["COURSE_DATA_DIR"]
        else:
            os.environ["COURSE_DATA_DIR"] = previous


@dataclass
class Built:
    """One assignment's autograder and the submissions every test reuses."""

    assignment_id: str
    folder: Path
    data: Path
    results: dict = field(default_factory=dict)

    @cached_property
    def release(self):
        return write_stub_release(self.assignment_id, self.folder / "release")

    @cached_property
    def zip(self):
        with data_dir(self.data):
            return build_autograder_zip(self.assignment_id, REPO_ROOT, self.folder / "autograder.zip", seed=SEED,
                                        release_dir=self.release)

    @cached_property
    def reference(self):
        """The reference's files and trained checkpoints, as a folder."""
        with data_dir(self.data):
            return write_reference_submission(self.zip, self.folder / "reference")

    @cached_property
    def reference_zip(self):
        """The reference submission zipped inside a top-level folder, as students often upload it."""
        return zip_folder(self.reference, self.folder / "submission.zip", top="my_submission")

    def graded(self, name, submission, **options):
        """Results of grading ``submission`` (cached under ``name``), checked against the schema."""
        if name not in self.results:
            self.results[name] = grade(self.assignment_id, submission, self.zip, **options)
        return self.results[name]


class Artifacts:
    """Lazily built Built objects, one per assignment."""

    def __init__(self, root, data):
        self.root = Path(root)
        self.data = Path(data)
        self.built = {}

    def __getitem__(self, assignment_id):
        if assignment_id not in self.built:
            folder = self.root / assignment_id
            folder.mkdir(parents=True, exist_ok=True)
            self.built[assignment_id] = Built(assignment_id, folder, self.data)
        return self.built[assignment_id]


_SHARED = {}


def shared_artifacts(tmp_path_factory, standin_dir):
    """One Artifacts for the whole test session, whichever test module asks first."""
    if "artifacts" not in _SHARED:
        _SHARED["artifacts"] = Artifacts(tmp_path_factory.mktemp("autograder"), standin_dir)
    return _SHARED["artifacts"]
