"""Finding the student's files anywhere in an upload and laying them over the released stubs.

A ``.py`` file is placed by its path inside ``course_lib/`` when one of its
folders is called ``course_lib``; in an upload without any such folder, by the
longest tail of its path that names a file of the release (``mlp/layers.py``
and ``layers.py`` share a basename). Zip files inside the upload are unpacked
first. Files that are not found keep the released stub, so only their own
tests are lost.
"""
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.harness.names import copy_of, did_you_mean

SKIPPED_FOLDERS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git"}
MAX_UNPACKED_BYTES = 300 << 20
MAX_UNPACKED_FILES = 20000
MAX_ZIP_DEPTH = 2


@dataclass
class Collection:
    """What was found: the overlaid library, the checkpoints and logs, and notes for the student."""

    overlay: Path
    found: dict = field(default_factory=dict)  # course_lib-relative path -> where it was in the upload
    checkpoints: dict = field(default_factory=dict)  # manifest file -> path on disk
    logs: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    extra: list = field(default_factory=list)  # course_lib-relative paths of uploaded files the release lacks


def upload_files(root, scratch, depth=0):
    """(path shown to the student, path on disk) of every regular file, zips unpacked into ``scratch``."""
    found = []
    for path in walk_regular_files(Path(root)):
        relative = path.relative_to(root)
        if path.suffix.lower() == ".zip" and depth < MAX_ZIP_DEPTH:
            target = scratch / f"zip{len(list(scratch.glob('zip*')))}"
            if unpack(path, target):
                found += [(f"{relative.as_posix()}/{shown}", disk)
                          for shown, disk in upload_files(target, scratch, depth + 1)]
                continue
        found.append((relative.as_posix(), path))
    return found


def walk_regular_files(root):
    """Regular files under root, sorted; symbolic links (to files or folders) are never followed."""
    paths = []
    for folder, subfolders, names in os.walk(root, followlinks=False):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED_FOLDERS]
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                paths.append(path)
    return sorted(paths)


def unpack(archive_path, target):
    """Extract a zip safely (no absolute or parent paths, no links, bounded size); False if unreadable."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) > MAX_UNPACKED_FILES or sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
                return False
            for member in members:
                name = PurePosixPath(member.filename)
                is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
                if name.is_absolute() or ".." in name.parts or is_link:
                    continue
                destination = target.joinpath(*name.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(destination, "wb") as sink:
                    shutil.copyfileobj(source, sink)
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return True


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
    files = upload_files(Path(submission_dir), scratch)
    overlay = work_dir / "overlay"
    shutil.copytree(Path(stubs_dir) / "course_lib", overlay / "course_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    known = sorted(p.relative_to(overlay / "course_lib").as_posix()
                   for p in (overlay / "course_lib").rglob("*.py"))
    collection = Collection(overlay)
    placed = {}
    loose = not any(inside_course_lib(shown) for shown, _ in files)
    for shown, disk in files:
        if disk.suffix == ".py":
            target = library_path(shown, known, set(student_files), loose)
            if target:
                placed.setdefault(target, []).append((shown, disk))
    for target, candidates in sorted(placed.items()):
        shown, disk = choose(candidates)
        destination = overlay / "course_lib" / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(disk, destination)
        collection.found[target] = shown
        if len(candidates) > 1:
            collection.notes.append(f"course_lib/{target}: {len(candidates)} copies in your upload; graded {shown}")
    collection.extra = sorted(set(collection.found) - set(known))
    if collection.extra:
        collection.notes.append("Extra file(s) in your upload, not files of the assignment (your code may import "
                                "them; nothing grades them): "
                                + ", ".join(f"course_lib/{path}"
                                            + copy_of(path, [f"course_lib/{name}" for name in student_files])
                                            for path in collection.extra))
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
