"""Submissions as an instructor holds them: a folder, a zip, a Gradescope export, or a folder of zips.

Gradescope's "Export Submissions" gives a zip holding ``submission_metadata.yml``
and one folder per active submission (``submission_<id>/``, the upload already
unpacked); the YAML maps each folder name to its ``:submitters:`` (``:name:``,
``:sid:``, ``:email:``). The export may sit inside a top folder, and it may
have been unzipped already. ``export_submissions`` lists every submission of
an export (or of a plain folder of submission zips or folders);
``submissions_of`` takes anything a single argument can name. Nothing is
unpacked until ``materialize`` puts one submission in a folder.
"""
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

METADATA = "submission_metadata.yml"
SKIPPED = {"__MACOSX", ".DS_Store", ".ipynb_checkpoints", ".git"}
MAX_SUBMISSION_BYTES = 300 << 20  # as the autograder's own unpacking (autograder/harness/collect.py)
MAX_SUBMISSION_FILES = 20000


class ExportError(ValueError):
    """A submission or export cannot be read; the message names the path and what to give instead."""


@dataclass
class Submission:
    """One submission: where it is, and who made it."""

    key: str  # unique among the submissions read together, safe as a file name
    student: str  # the submitters' names (or the key when nobody is named)
    sid: str = ""
    email: str = ""
    path: Path = None  # a folder, a zip, or (with ``member``) an export zip
    member: str = ""  # folder prefix inside the export zip, ending in "/"


def safe_key(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "submission"


def _tolerant_loader():
    """PyYAML's safe loader that reads any tag (Ruby's ``!ruby/...`` included) as plain data."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def plain(loader, _suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", plain)
    return Loader


def parse_metadata(text, where):
    """{folder name: {"names", "sids", "emails"}} from the text of submission_metadata.yml."""
    import yaml

    try:
        data = yaml.load(text, Loader=_tolerant_loader())  # noqa: S506 (the loader is a safe one)
    except yaml.YAMLError as error:
        raise ExportError(f"{where}: {METADATA} is not valid YAML ({error.__class__.__name__}); "
                          "give the zip exactly as Gradescope's Export Submissions wrote it") from None
    if not isinstance(data, dict):
        raise ExportError(f"{where}: {METADATA} does not map submission folders to their submitters")
    people = {}
    for folder, record in data.items():
        submitters = record.get(":submitters") if isinstance(record, dict) else None
        submitters = [s for s in submitters if isinstance(s, dict)] if isinstance(submitters, list) else []

        def field(name, submitters=submitters):
            return [str(s[name]) for s in submitters if s.get(name) not in (None, "")]

        people[str(folder)] = {"names": field(":name"), "sids": field(":sid"), "emails": field(":email")}
    return people


def described(key, person):
    person = person or {}
    return {"student": " & ".join(person.get("names") or []) or key, "sid": ";".join(person.get("sids") or []),
            "email": ";".join(person.get("emails") or [])}


def unique(submissions):
    """The submissions with keys made unique (a suffix on repeats), sorted by key."""
    seen = {}
    for submission in sorted(submissions, key=lambda s: (s.key, str(s.path), s.member)):
        base = submission.key
        count = seen.get(base, 0)
        seen[base] = count + 1
        if count:
            submission.key = f"{base}-{count + 1}"
    return sorted(submissions, key=lambda s: s.key)


# Reading exports ---------------------------------------------------------------------


def zip_names(path):
    try:
        with zipfile.ZipFile(path) as archive:
            return [info.filename for info in archive.infolist()]
    except (zipfile.BadZipFile, OSError) as error:
        raise ExportError(f"{path} is not a readable zip file ({error})") from None


def visible(parts):
    return not any(part in SKIPPED or part.startswith("._") for part in parts)


def metadata_member(names):
    """The shallowest submission_metadata.yml of a zip's member names, or None."""
    found = [n for n in names if PurePosixPath(n).name == METADATA and visible(PurePosixPath(n).parts)]
    return min(found, key=lambda n: (n.count("/"), n)) if found else None


def export_zip_submissions(path):
    names = zip_names(path)
    member = metadata_member(names)
    prefix = member[: -len(METADATA)]
    with zipfile.ZipFile(path) as archive:
        people = parse_metadata(archive.read(member).decode("utf-8", "replace"), path)
    folders = sorted({n[len(prefix):].split("/", 1)[0] for n in names
                      if n.startswith(prefix) and "/" in n[len(prefix):]})
    return unique([Submission(safe_key(folder), path=Path(path), member=f"{prefix}{folder}/",
                              **described(folder, people.get(folder)))
                   for folder in folders if visible([folder])])


def export_folder_submissions(folder):
    metadata = min([*folder.glob(METADATA), *folder.glob(f"*/{METADATA}")], key=lambda p: (len(p.parts), str(p)))
    people = parse_metadata(metadata.read_text(errors="replace"), metadata)
    return unique([Submission(safe_key(entry.name), path=entry, **described(entry.name, people.get(entry.name)))
                   for entry in sorted(metadata.parent.iterdir()) if entry.is_dir() and visible([entry.name])])


def folder_of_submissions(folder):
    """Every zip or folder directly inside ``folder``, as one submission each."""
    entries = [entry for entry in sorted(folder.iterdir()) if visible([entry.name])
               and (entry.is_dir() or entry.suffix.lower() == ".zip")]
    return unique([Submission(safe_key(entry.stem if entry.is_file() else entry.name),
                              entry.stem if entry.is_file() else entry.name, path=entry) for entry in entries])


def is_export_zip(path):
    return zipfile.is_zipfile(path) and metadata_member(zip_names(path)) is not None


def has_metadata(folder):
    """Whether an unzipped export: the metadata at the top or inside one top folder."""
    return any(folder.glob(METADATA)) or any(folder.glob(f"*/{METADATA}"))


def export_submissions(path):
    """The submissions of a Gradescope export (zip or unzipped folder) or of a folder of zips/folders."""
    path = Path(path)
    if path.is_file() and is_export_zip(path):
        submissions = export_zip_submissions(path)
    elif path.is_dir() and has_metadata(path):
        submissions = export_folder_submissions(path)
    elif path.is_dir():
        submissions = folder_of_submissions(path)
    elif path.exists():
        raise ExportError(f"{path} is neither a Gradescope export (a zip holding {METADATA}) nor a folder of "
                          "submission zips")
    else:
        raise ExportError(f"{path} does not exist")
    if not submissions:
        raise ExportError(f"{path} holds no submissions (expected a folder per submission, or zips)")
    return submissions


def submissions_of(path):
    """The submissions one command-line argument names: an export (many), or one submission folder or zip."""
    path = Path(path)
    if not path.exists():
        raise ExportError(f"{path} does not exist")
    if (path.is_file() and is_export_zip(path)) or (path.is_dir() and has_metadata(path)):
        return export_submissions(path)
    if path.is_dir() or zipfile.is_zipfile(path):
        name = path.stem if path.is_file() else path.resolve().name
        return [Submission(safe_key(name), name, path=path)]
    raise ExportError(f"{path} is neither a submission folder, a submission zip nor a Gradescope export zip")


# Unpacking ------------------------------------------------------------------------------


def extract(archive, members, prefix, destination):
    """Extract the zip members under ``prefix`` into ``destination`` (no absolute or parent paths, no
    links, bounded size)."""
    chosen = [m for m in members if m.filename.startswith(prefix) and not m.is_dir()]
    if len(chosen) > MAX_SUBMISSION_FILES or sum(m.file_size for m in chosen) > MAX_SUBMISSION_BYTES:
        raise ExportError(f"{prefix or archive.filename} is larger than {MAX_SUBMISSION_BYTES >> 20} MB or "
                          f"{MAX_SUBMISSION_FILES} files")
    for member in chosen:
        name = PurePosixPath(member.filename[len(prefix):])
        is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
        if name.is_absolute() or ".." in name.parts or is_link or not name.parts:
            continue
        target = destination.joinpath(*name.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)


def materialize(submission, scratch):
    """A folder holding the submission's files: its own folder, or its zip (or export folder) unpacked
    into ``scratch``."""
    path = Path(submission.path)
    if path.is_dir():
        return path
    destination = Path(scratch) / submission.key
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(path) as archive:
            extract(archive, archive.infolist(), submission.member, destination)
    except (zipfile.BadZipFile, OSError) as error:
        raise ExportError(f"{path}: cannot unpack {submission.member or 'the zip'} ({error})") from None
    return destination
