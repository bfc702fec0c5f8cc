"""Finding the student's files anywhere in an upload and laying them over the released stubs.

A ``.py`` file is placed by its path inside ``course_lib/`` when one of its
folders is called ``course_lib``; in an upload without any such folder, by the
longest tail of its path that names a file of the release (``mlp/layers.py``
and ``layers.py`` share a basename). Zip files inside the upload are unpacked
first, within one budget for the whole upload (``archives``); a file that
cannot be read is named in a note and costs only itself. Besides the files of
the release, only a few new modules are overlaid (every job gets a copy); other
``.py`` files are listed, not copied. Files that are not found keep the
released stub, so only their own tests are lost. The modules the grader's own
programs run (``GRADER_MODULES``: the Solver that replays and reruns logged
experiments, the checkpoint reader) always keep their released copy, since an
edited copy could make up what they report.
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
SHOWN_NAMES = 3
MAX_ADDED_MODULES = 20
GRADER_MODULES = ("solver.py", "checkpoint.py")
# What is read first when an upload is larger than its budget (a whole project folder with its data or its
# virtual environment): the code, then archives that may hold it and checkpoints, then the rest.
READ_FIRST = {".py": 0, ".zip": 1, ".npz": 1}


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
        found = []
        try:
            self.collect(Path(root), "", 0, found)
        except BudgetExceeded as spent:
            self.problems.append(f"{spent}: the rest of it was not read (remove what the assignment does not need)")
        return found

    def collect(self, folder, prefix, depth, found):
        """Append the files under ``folder`` to ``found``, code first, a zip's content as soon as it is unpacked."""
        walked = walk_regular_files(folder, self.budget, self.problems, prefix)
        for path, relative in sorted(walked, key=lambda item: read_order(item[1])):
            if depth == 0:  # unpacked members were counted as they were written
                self.budget.charge_file()
            if path.suffix.lower() == ".zip" and depth < self.budget.max_depth:
                target = self.scratch / f"zip{self.archives}"
                self.archives += 1
                if self.unpack(path, target, relative):
                    self.collect(target, relative + "/", depth + 1, found)
                    continue
            found.append((relative, path))

    def unpack(self, archive_path, target, shown):
        """Extract the readable members of a zip into ``target``; False when it is no zip at all."""
        try:
            archive = open_zip(archive_path, self.budget)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            return False
        except BudgetExceeded as spent:  # too large an archive costs only itself
            self.problems.append(f"{shown}: {spent}, so it was not unpacked (zip only what the assignment needs)")
            return True
        with archive:
            refused = member_problems(archive, self.budget)
            for info in sorted(archive.infolist(), key=lambda info: read_order(info.filename)):
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


def read_order(shown):
    """Sort key of a file of the upload: code first (see READ_FIRST), in name order within each kind."""
    return READ_FIRST.get(PurePosixPath(shown).suffix.lower(), 2), shown


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
            elif entry.is_symlink():
                problems.append(f"{relative} skipped: it is a symbolic link, which is never followed; upload the "
                                "file itself")
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
    for target in [target for target in GRADER_MODULES if target in placed and target not in preferred]:
        shown, disk = choose(placed.pop(target))
        if disk.read_bytes() != (overlay / "course_lib" / target).read_bytes():
            collection.notes.append(f"{shown}: the grader runs the released course_lib/{target} (it holds no work "
                                    "of yours), so your changes to it were not used")
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
    collection.notes += upload_mistakes(files, collection, Path(stubs_dir) / "course_lib", student_files,
                                        known, loose)
    for wanted in student_files:
        if wanted not in collection.found:
            misplaced = [collection.found[target] for target in collection.added
                         if PurePosixPath(target).name == PurePosixPath(wanted).name]
            collection.notes.append(f"course_lib/{wanted} was not found in your upload; "
                                    "its tests ran on the released stub"
                                    + (f" (your {misplaced[0]} is in another folder: move it to course_lib/{wanted})"
                                       if misplaced else did_you_mean(wanted, uploaded)))
    collection.checkpoints = find_by_name(files, checkpoint_files)
    collection.logs = find_by_name(files, log_files)
    return collection


def upload_mistakes(files, collection, stubs, student_files, known, loose):
    """Notes on the usual wrong uploads: the released files unchanged, edited copies left outside the
    course_lib folder, no file of the assignment at all (only notebooks, say)."""
    notes = []
    unchanged = [target for target in student_files if target in collection.found
                 and (collection.overlay / "course_lib" / target).read_bytes() == (stubs / target).read_bytes()]
    if unchanged:
        notes.append(f"{listed(['course_lib/' + target for target in unchanged])}: the released file(s), unchanged "
                     "(their functions raise NotImplementedError): upload the copies you edited")
    def graded_elsewhere(shown, disk):  # an edited copy outside course_lib, unlike the one graded
        target = library_path(shown, known, student_files, True)
        return target in student_files and disk.read_bytes() != (collection.overlay / "course_lib" / target).read_bytes()

    outside = [shown for shown, disk in files if not loose and PurePosixPath(shown).suffix == ".py"
               and not inside_course_lib(shown) and graded_elsewhere(shown, disk)]
    if outside:
        notes.append(f"{listed(outside)}: outside your course_lib folder, so not graded (when an upload has a "
                     "course_lib folder, only the files inside it are): move your edited file(s) into course_lib/")
    if not any(target in collection.found for target in student_files):
        kinds = sorted({PurePosixPath(shown).suffix.lower() or PurePosixPath(shown).name for shown, _ in files})
        held = f"it holds {len(files)} file(s): {listed(kinds)}" if files else "it is empty"
        fix = ("your code is graded from these .py files, not from the notebooks: upload them too"
               if ".ipynb" in kinds else "upload them, named exactly so, in a course_lib folder")
        notes.insert(0, f"None of the assignment's files ({listed(['course_lib/' + name for name in student_files])}) "
                        f"is in your upload ({held}): {fix}")
    return notes


def listed(names):
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")


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
