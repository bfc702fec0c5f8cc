"""Finding the student's files anywhere in an upload and laying them over the released stubs.

A ``.py`` file is placed by its path inside ``course_lib/`` when one of its
folders is called ``course_lib``; in an upload without any such folder, by the
longest tail of its path that names a file of the release (``mlp/layers.py``
and ``layers.py`` share a basename). Zip files inside the upload are unpacked
first, within one budget for the whole upload (``archives``); a file that
cannot be read is named in a note and costs only itself. Besides the files of
the release, only a few new modules are overlaid (every job gets a copy); other
``.py`` files are listed, not copied. Files that are not found keep the
released stub, so only their own tests are lost.
"""
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.archives import Budget, BudgetExceeded, MemberProblem, member_problems, open_zip, read_member
from autograder.harness.names import did_you_mean

SKIPPED_FOLDERS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git"}
# One budget for everything an upload holds, inner zips included: what is
# unpacked is written to disk, and checkpoints are read again under their own.
UPLOAD_LIMITS = {"max_bytes": 256 << 20, "max_files": 20000, "max_depth": 2, "max_path_chars": 300,
                 "max_path_parts": 32, "seconds": 60.0}
# One member (a decompression bomb) can spend only part of the budget and cost only itself.
MAX_MEMBER_BYTES = 128 << 20
SHOWN_PROBLEMS = 10
MAX_ADDED_MODULES = 20


@dataclass
class Collection:
    """What was found: the overlaid library, the checkpoints and logs, and notes for the student."""

    overlay: Path
    found: dict = field(default_factory=dict)  # course_lib-relative path -> where it was in the upload
    checkpoints: dict = field(default_factory=dict)  # manifest file -> path on disk
    logs: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # upload files that could not be read, and why
    added: list = field(default_factory=list)  # course_lib-relative paths of the student's own modules
    extras: list = field(default_factory=list)  # .py files in course_lib folders beyond MAX_ADDED_MODULES, not used


class Unpacker:
    """Every regular file of an upload as (path shown to the student, path on disk), zips unpacked,
    within one Budget; what could not be read is noted in ``problems`` and costs only itself."""

    def __init__(self, scratch, budget):
        self.scratch = Path(scratch)
        self.budget = budget
        self.problems = []
        self.archives = 0

    def files(self, root):
        found, pending = [], [(Path(root), "", 0)]
        try:
            while pending:
                folder, prefix, depth = pending.pop(0)
                for path, relative in walk_regular_files(folder, self.budget, self.problems, prefix):
                    if depth == 0:  # unpacked members were counted as they were written
                        self.budget.charge_file()
                    if path.suffix.lower() == ".zip" and depth < self.budget.max_depth:
                        target = self.scratch / f"zip{self.archives}"
                        self.archives += 1
                        if self.unpack(path, target, relative):
                            pending.append((target, relative + "/", depth + 1))
                            continue
                    found.append((relative, path))
        except BudgetExceeded as spent:
            self.problems.append(f"{spent}: the rest of it was not read (remove what the assignment does not need)")
        return found

    def unpack(self, archive_path, target, shown):
        """Extract the readable members of a zip into ``target``; False when it is no zip at all."""
        try:
            archive = open_zip(archive_path, self.budget)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            return False
        with archive:
            refused = member_problems(archive, self.budget)
            for info in archive.infolist():
                if info.is_dir():
                    continue
                if info.filename in refused:
                    self.problems.append(f"{shown}/{info.filename} {refused[info.filename]}")
                    continue
                self.budget.charge_file()
                destination = target.joinpath(*PurePosixPath(info.filename).parts)
                try:
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with open(destination, "wb") as sink:
                        read_member(archive, info, self.budget, limit=MAX_MEMBER_BYTES, sink=sink)
                except MemberProblem as problem:
                    self.problems.append(f"{shown}/{problem}")
                    destination.unlink(missing_ok=True)
                except OSError as error:
                    self.problems.append(f"{shown}/{info.filename} could not be unpacked ({error.strerror})")
        return True


def walk_regular_files(root, budget, problems, prefix=""):
    """(path, shown path) of the regular files under root, sorted, without following symbolic links;
    folders nested deeper than the budget allows are noted and skipped."""
    found, pending = [], [(Path(root), prefix)]
    while pending:
        folder, shown = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            budget.check_time()
            relative = shown + entry.name
            problem = budget.path_problem(relative)
            if problem:
                problems.append(f"{relative[:80]}... skipped: {problem}")
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIPPED_FOLDERS:
                    pending.append((Path(entry.path), relative + "/"))
            elif entry.is_file(follow_symlinks=False):
                found.append((Path(entry.path), relative))
    return sorted(found, key=lambda item: item[1])


def inside_course_lib(shown):
    return "course_lib" in PurePosixPath(shown).parts[:-1]


def library_path(shown, known, preferred, loose):
    """Where an uploaded .py file goes inside course_lib, or None when it is not part of it.

    Files outside a course_lib folder are placed by their tail only when ``loose``
    (the upload has no course_lib folder at all).
    """
    parts = PurePosixPath(shown).parts
    if inside_course_lib(shown):
        last = len(parts) - 1 - parts[::-1].index("course_lib")
        return "/".join(parts[last + 1:])
    if not loose:
        return None

    def tail_length(candidate):
        candidate_parts = PurePosixPath(candidate).parts
        length = 0
        while (length < min(len(parts), len(candidate_parts))
               and parts[-1 - length] == candidate_parts[-1 - length]):
            length += 1
        return length

    scored = [(tail_length(c), c in preferred, -len(PurePosixPath(c).parts), c) for c in known]
    best = max(scored, default=(0, False, 0, None))
    return best[3] if best[0] > 0 else None


def choose(candidates):
    """Of several uploads of one file, the shallowest."""
    return min(candidates, key=lambda item: (item[0].count("/"), item[0]))


def collect_submission(submission_dir, stubs_dir, work_dir, student_files, checkpoint_files, log_files):
    """Overlay the submission's course_lib files on the stubs (``stubs_dir/course_lib``) in ``work_dir``.

    student_files: course_lib-relative paths this assignment expects;
    checkpoint_files, log_files: their paths as the manifest names them.
    """
    work_dir = Path(work_dir)
    scratch = work_dir / "unpacked"
    scratch.mkdir(parents=True, exist_ok=True)
    unpacker = Unpacker(scratch, Budget(**UPLOAD_LIMITS))
    files = unpacker.files(Path(submission_dir))
    overlay = work_dir / "overlay"
    shutil.copytree(Path(stubs_dir) / "course_lib", overlay / "course_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    known = sorted(p.relative_to(overlay / "course_lib").as_posix()
                   for p in (overlay / "course_lib").rglob("*.py"))
    collection = Collection(overlay, problems=unpacker.problems)
    placed = {}
    loose = not any(inside_course_lib(shown) for shown, _ in files)
    preferred = set(student_files)
    for shown, disk in files:
        if disk.suffix == ".py":
            target = library_path(shown, known, preferred, loose)
            if target:
                placed.setdefault(target, []).append((shown, disk))
    # Modules of the student's own (a custom architecture) are overlaid too, but only a few: every job gets a copy.
    added = sorted(target for target in placed if target not in set(known))
    for target in added[MAX_ADDED_MODULES:]:
        collection.extras += [shown for shown, _ in placed.pop(target)]
    collection.added = added[:MAX_ADDED_MODULES]
    for target, candidates in sorted(placed.items()):
        shown, disk = choose(candidates)
        destination = overlay / "course_lib" / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(disk, destination)
        collection.found[target] = shown
        if len(candidates) > 1:
            collection.notes.append(f"course_lib/{target}: {len(candidates)} copies in your upload; graded {shown}")
    graded = {collection.found[path] for path in student_files if path in collection.found}
    uploaded = [shown for shown, _ in files if shown not in graded]
    for wanted in student_files:
        if wanted not in collection.found:
            collection.notes.append(f"course_lib/{wanted} was not found in your upload; "
                                    "its tests ran on the released stub"
                                    + did_you_mean(wanted, uploaded))
    collection.checkpoints = find_by_name(files, checkpoint_files)
    collection.logs = find_by_name(files, log_files)
    return collection


def find_by_name(files, wanted):
    """{manifest path: disk path} for files found by name; the upload path ending in the manifest path wins."""
    found = {}
    for path in wanted:
        name = PurePosixPath(path).name
        matches = [(shown, disk) for shown, disk in files if PurePosixPath(shown).name == name]
        if matches:
            matches.sort(key=lambda item: (not item[0].endswith(path), item[0].count("/"), item[0]))
            found[path] = matches[0][1]
    return found
