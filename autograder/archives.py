"""Reading zip archives and ``.npz`` files that nobody vouches for, within one budget.

Uploads, the inner zips they hold, checkpoints and the workers' output
archives all pass through here. Only stored and deflated members are read,
through readers that count the bytes actually produced (declared sizes are
never trusted), against a ``Budget`` of bytes, files, nesting depth, path
length and time shared by everything one upload holds. A member that cannot
be read (encrypted, another compression method, an absurd or duplicate path,
a wrong array type) is a ``MemberProblem`` naming it, which costs only that
member; a spent budget is ``BudgetExceeded``, which ends the reading.
"""
import io
import struct
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

CHUNK = 1 << 20
READABLE_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
METHOD_NAMES = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
NPY_HEADER_LIMIT = 10000
END_RECORD = b"PK\x05\x06"
END_RECORD_SIZE = 22
MAX_COMMENT = 0xFFFF


class BudgetExceeded(Exception):
    """The budget is spent; the message says which part, for the student."""


class MemberProblem(Exception):
    """One member cannot be read; the message names it and says why, for the student."""


@dataclass
class Budget:
    """What one upload (or one archive) may cost in total, and what it has cost so far."""

    max_bytes: int
    max_files: int
    max_depth: int = 2
    max_path_chars: int = 300
    max_path_parts: int = 32
    seconds: float = 60.0
    bytes_used: int = 0
    files_used: int = 0
    started: float = field(default_factory=time.monotonic)

    def charge_file(self):
        self.check_time()
        if self.files_used >= self.max_files:
            raise BudgetExceeded(f"the upload holds more than {self.max_files} files")
        self.files_used += 1

    def charge_bytes(self, count):
        self.bytes_used += count
        if self.bytes_used > self.max_bytes:
            raise BudgetExceeded(f"the upload unpacks to more than {self.max_bytes >> 20} MB")

    def check_time(self):
        if time.monotonic() - self.started > self.seconds:
            raise BudgetExceeded(f"reading the upload took more than {self.seconds:g} s")

    def path_problem(self, path):
        """Why ``path`` (a posix path inside the upload) is refused, or None."""
        parts = PurePosixPath(path).parts
        if len(path) > self.max_path_chars or len(parts) > self.max_path_parts:
            return f"its path is longer than {self.max_path_chars} characters or {self.max_path_parts} folders"
        if "\x00" in path or any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in parts):
            return "its path holds a name no file system accepts"
        if path.startswith("/") or ".." in parts:
            return "its path leads outside the archive"
        return None


def entry_count(file):
    """(entries, central-directory bytes) from a zip's end record, or None when there is none to find."""
    file.seek(0, io.SEEK_END)
    size = file.tell()
    start = max(0, size - END_RECORD_SIZE - MAX_COMMENT)
    file.seek(start)
    tail = file.read()
    position = tail.rfind(END_RECORD)
    if position < 0 or len(tail) - position < END_RECORD_SIZE:
        return None
    entries, directory_bytes = struct.unpack("<HI", tail[position + 10:position + 16])
    return entries, directory_bytes


def open_zip(source, budget):
    """A ZipFile over a path or a binary file, refused before parsing when its directory is out of budget."""
    file = open(source, "rb") if not hasattr(source, "read") else source
    try:
        counted = entry_count(file)
        if counted is not None:
            entries, directory_bytes = counted
            # A zip64 directory reports 0xFFFF entries; its size still bounds what ZipFile parses.
            if entries > budget.max_files or directory_bytes > budget.max_files * (46 + budget.max_path_chars):
                raise BudgetExceeded(f"an archive lists more than {budget.max_files} files")
        file.seek(0)
        return zipfile.ZipFile(file)
    except BaseException:
        if file is not source:
            file.close()
        raise


def member_problems(archive, budget):
    """{member name: why it cannot be read} for the file members of ``archive`` that are refused."""
    problems, seen = {}, {}
    for info in archive.infolist():
        seen[info.filename] = seen.get(info.filename, 0) + 1
    for info in archive.infolist():
        if info.is_dir():
            continue
        name = info.filename
        is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
        method = info.compress_type
        if seen[name] > 1:
            problems[name] = f"appears {seen[name]} times in the archive, so none of its copies was used"
        elif info.flag_bits & 0x1:
            problems[name] = "is encrypted; upload it without a password"
        elif method not in READABLE_METHODS:
            problems[name] = (f"is compressed with {METHOD_NAMES.get(method, f'method {method}')}; "
                              "only stored or deflated (ordinary zip) members are read")
        elif is_link:
            problems[name] = "is a symbolic link, which is never followed"
        else:
            problem = budget.path_problem(name)
            if problem:
                problems[name] = problem
    return problems


def read_member(archive, info, budget, limit=None, sink=None):
    """The bytes of one member (or write them to ``sink``), counting what decompression produces.

    ``limit``: at most this many bytes for this member (a MemberProblem past it).
    """
    if info.compress_type not in READABLE_METHODS or info.flag_bits & 0x1:
        raise MemberProblem(f"{info.filename} is encrypted or compressed with an unreadable method")
    data, produced = bytearray(), 0
    try:
        with archive.open(info) as stream:
            while True:
                budget.check_time()
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                produced += len(chunk)
                if limit is not None and produced > limit:
                    raise MemberProblem(f"{info.filename} unpacks to more than {limit} bytes")
                budget.charge_bytes(len(chunk))
                if sink is None:
                    data += chunk
                else:
                    sink.write(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError, NotImplementedError) as error:
        raise MemberProblem(f"{info.filename} is damaged ({type(error).__name__})") from None
    return data if sink is None else None


def read_npz(source, budget, accepted, max_arrays=1000):
    """({name: array}, [problem, ...]) of an ``.npz`` (path, file or bytes), read within ``budget``.

    accepted(name, dtype, shape): None, or why that array is refused. Members
    that are not ``.npy`` arrays, or are refused, are left out and named in the problems.
    """
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    arrays, problems = {}, []
    try:
        archive = open_zip(source, budget)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise MemberProblem(f"it is not an .npz archive ({type(error).__name__})") from None
    with archive:
        refused = member_problems(archive, budget)
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) > max_arrays:
            raise BudgetExceeded(f"it holds more than {max_arrays} arrays")
        for info in members:
            name = info.filename[:-4] if info.filename.endswith(".npy") else None
            try:
                if info.filename in refused:
                    raise MemberProblem(f"{info.filename} {refused[info.filename]}")
                if name is None:
                    raise MemberProblem(f"{info.filename} is not an .npy array")
                budget.charge_file()
                arrays[name] = read_array(archive, info, budget, accepted)
            except MemberProblem as problem:
                problems.append(str(problem))
    return arrays, problems


def read_array(archive, info, budget, accepted):
    """One ``.npy`` member: its header checked (dtype, shape, size) before its data is read."""
    try:
        with archive.open(info) as stream:
            header = stream.read(NPY_HEADER_LIMIT + 16)
        file = io.BytesIO(header)
        version = np.lib.format.read_magic(file)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(file, max_header_size=NPY_HEADER_LIMIT)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(file, max_header_size=NPY_HEADER_LIMIT)
        else:
            raise ValueError(f"npy version {version}")
        offset = file.tell()
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, ValueError, TypeError, SyntaxError,
            EOFError, MemoryError, RecursionError) as error:
        raise MemberProblem(f"{info.filename} is not a readable .npy array ({type(error).__name__})") from None
    name = info.filename[:-4]
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise MemberProblem(f"{name}: dtype {dtype} is not a plain numeric array")
    if any(int(size) < 0 for size in shape):
        raise MemberProblem(f"{name}: its header declares a negative size {tuple(shape)}")
    problem = accepted(name, dtype, shape)
    if problem:
        raise MemberProblem(f"{name}: {problem}")
    count = 1
    for size in shape:
        count *= int(size)
    expected = count * dtype.itemsize
    remaining = budget.max_bytes - budget.bytes_used
    if expected > remaining:
        raise MemberProblem(f"{name}: its shape {tuple(shape)} asks for {expected:,} bytes, more than the "
                            f"{remaining:,} left")
    data = read_member(archive, info, budget, limit=offset + expected)
    if len(data) != offset + expected:
        raise MemberProblem(f"{name}: its data does not match its declared shape {tuple(shape)}")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran else "C")
