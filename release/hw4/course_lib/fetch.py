"""Download the official CIFAR-10 and SVHN files into the data directory, verified by MD5.

Command line::

    python -m course_lib.fetch cifar10 [--dir DIR] [--base-url URL]
    python -m course_lib.fetch svhn    [--dir DIR] [--base-url URL]

DIR defaults to the data directory (``$COURSE_DATA_DIR`` or ``~/.course_data``).
CIFAR-10 ends up in ``DIR/cifar-10-batches-py/`` (the archive is deleted after
extraction), SVHN in ``DIR/svhn/``. A download whose checksum differs from the
published one is deleted and reported. Running again when the files are there
downloads nothing. ``--base-url`` (or ``$COURSE_DATA_BASE_URL``) fetches the
same file names from a mirror.
"""
import argparse
import hashlib
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from course_lib.data_folder import CIFAR_FOLDER, MARKER_NAME, STANDIN_FOLDER, SVHN_FOLDER, data_dir
from course_lib.data_utils import CIFAR_BATCH_FILES, SVHN_FILES

BASE_URL_VARIABLE = "COURSE_DATA_BASE_URL"
CHUNK_BYTES = 1 << 20
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Source:
    """Where a dataset comes from and what a complete copy holds."""

    base_url: str
    checksums: dict  # file name at base_url -> MD5 hex digest
    folder: str  # inside the data directory
    is_archive: bool  # a tar archive that unpacks into folder
    required: tuple  # files in folder that make the dataset present


SOURCES = {
    "cifar10": Source(
        base_url="https://www.cs.toronto.edu/~kriz/",
        checksums={"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
        folder=CIFAR_FOLDER,
        is_archive=True,
        required=CIFAR_BATCH_FILES + ("batches.meta",),
    ),
    "svhn": Source(
        base_url="http://ufldl.stanford.edu/housenumbers/",
        checksums={
            "train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
            "test_32x32.mat": "eb5a983be6a315427106f1b7ea9e2a2d",
        },
        folder=SVHN_FOLDER,
        is_archive=False,
        required=SVHN_FILES,
    ),
}


def offline_advice():
    """What to do without access to the official sites."""
    return ("Offline? `python -m course_lib.standin` writes a synthetic STAND-IN in the same formats "
            f"into {data_dir() / STANDIN_FOLDER}, which the loaders then use (with a warning; "
            f"accuracies on it mean nothing). Behind a mirror, pass --base-url URL or set "
            f"${BASE_URL_VARIABLE}.")


class FetchError(RuntimeError):
    """A download or extraction failed; the message says what and where."""


class ChecksumError(FetchError):
    """A downloaded file is not the published one (it has been deleted)."""


def fetch(name, root=None, base_url=None, checksums=None, progress=True):
    """Make dataset ``name`` ('cifar10' or 'svhn') present under root; return its folder.

    root defaults to data_dir(); base_url to $COURSE_DATA_BASE_URL or the
    official site; checksums (file name -> MD5) to the published ones.
    """
    if name not in SOURCES:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(SOURCES)}")
    source = SOURCES[name]
    root = Path(root) if root is not None else data_dir()
    folder = root / source.folder
    if is_present(folder, source):
        kind = " (the synthetic stand-in)" if (folder / MARKER_NAME).is_file() else ""
        print(f"{name}: already present in {folder}{kind}; nothing to download")
        return folder
    base_url = base_url or os.environ.get(BASE_URL_VARIABLE) or source.base_url
    checksums = source.checksums if checksums is None else checksums
    unchecked = sorted(set(source.checksums) - set(checksums))
    if unchecked:
        raise ValueError(f"{name}: no checksum given for {', '.join(unchecked)}")
    download_folder = root if source.is_archive else folder
    download_folder.mkdir(parents=True, exist_ok=True)
    for file_name in source.checksums:
        target = download_folder / file_name
        if source.is_archive or not target.is_file():
            download(_join_url(base_url, file_name), target, checksums[file_name], progress)
        if source.is_archive:
            extract_tar(target, root)
            target.unlink()
    if not is_present(folder, source):
        missing = [file for file in source.required if not (folder / file).is_file()]
        raise FetchError(f"{name}: the download did not provide {', '.join(missing)} in {folder}")
    print(f"{name}: ready in {folder}")
    return folder


def is_present(folder, source):
    """True when folder holds every file that makes source's dataset complete."""
    return all((folder / file).is_file() for file in source.required)


def _join_url(base_url, file_name):
    return base_url.rstrip("/") + "/" + file_name


def download(url, target, md5, progress=True):
    """Stream url to target, verifying its MD5; nothing is left at target unless it matches."""
    from tqdm import tqdm

    partial = target.with_name(target.name + ".part")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response, open(partial, "wb") as file:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    file.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as error:
        partial.unlink(missing_ok=True)
        raise FetchError(f"could not download {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise FetchError(f"could not download {url}: {reason}\n{offline_advice()}") from None
    if digest.hexdigest() != md5:
        partial.unlink()
        raise ChecksumError(
            f"{url} has MD5 {digest.hexdigest()}, not the published {md5}; the download was deleted. "
            f"Try again, or check the mirror if you set one (--base-url or ${BASE_URL_VARIABLE})."
        )
    partial.replace(target)


def extract_tar(archive, destination):
    """Extract a tar archive's folders and regular files, all of which must land inside destination."""
    destination = Path(destination).resolve()
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        targets = [_member_target(archive, member, destination) for member in members]
        for member, target in zip(members, targets):
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as source, open(target, "wb") as file:
                shutil.copyfileobj(source, file)


def _member_target(archive, member, destination):
    if not (member.isfile() or member.isdir()):
        raise FetchError(f"{archive}: refusing {member.name!r}: only regular files and folders are extracted")
    target = (destination / member.name).resolve()
    if target != destination and destination not in target.parents:
        raise FetchError(f"{archive}: refusing {member.name!r}, which would be written outside {destination}")
    return target


def main(argv=None):
    """The command line (see the module docstring); returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.fetch",
        description="Download an official dataset into the data directory, verified by MD5 checksum.",
    )
    parser.add_argument("dataset", choices=sorted(SOURCES))
    parser.add_argument("--dir", type=Path, default=None,
                        help="data directory (default: $COURSE_DATA_DIR or ~/.course_data)")
    parser.add_argument("--base-url", default=None,
                        help=f"fetch the same file names from this mirror (default: ${BASE_URL_VARIABLE} or the official site)")
    args = parser.parse_args(argv)
    try:
        fetch(args.dataset, root=args.dir, base_url=args.base_url)
    except FetchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
