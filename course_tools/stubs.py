"""Turn the reference library into the student's copy: cleared regions become named stubs.

The replacement itself is nbgrader's: each region to clear goes through
``ClearSolutions`` as a solution cell, configured by the repository's
``nbgrader_config.py``, so library stubs read exactly like notebook stubs. The
builder then names the function in the stub's ``NotImplementedError``.
"""
from dataclasses import dataclass
from pathlib import Path

from course_tools.regions import library_files

STUB_CALL = "raise NotImplementedError()"


@dataclass(frozen=True)
class Stub:
    """A cleared region in the student copy: its manifest key, file and the raise's message."""

    key: str
    path: str
    qualname: str
    message: str


def stub_message(key):
    """Text of the stub's NotImplementedError; the submission helper and the grader look for it."""
    return f"{key}: not implemented yet"


def load_nbgrader_config(repo_root):
    """The traitlets config of ``<repo_root>/nbgrader_config.py``."""
    from traitlets.config.loader import PyFileConfigLoader

    path = Path(repo_root) / "nbgrader_config.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the release needs the course's nbgrader settings")
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


def solution_clearer(config):
    """nbgrader's ClearSolutions preprocessor with the course's settings."""
    from nbgrader.preprocessors import ClearSolutions

    clearer = ClearSolutions(config=config)
    if STUB_CALL not in clearer.code_stub.get("python", ""):
        raise ValueError(f"ClearSolutions.code_stub['python'] = {clearer.code_stub.get('python')!r} "
                         f"must contain {STUB_CALL!r}: the builder names the function there")
    return clearer


def clear_region(region_lines, key, clearer):
    """The stub lines replacing one region (its marker lines included in ``region_lines``)."""
    from nbformat.v4 import new_code_cell

    cell = new_code_cell("\n".join(region_lines), metadata={"nbgrader": {"solution": True}})
    cell, _ = clearer.preprocess_cell(cell, {"language": "python"}, 0)
    named = f'raise NotImplementedError("{stub_message(key)}")'
    return cell.source.replace(STUB_CALL, named).split("\n")


def stub_text(text, regions, cleared_keys, clearer):
    """``text`` with cleared regions stubbed and the others reduced to their reference code."""
    lines = text.split("\n")
    out, position = [], 0
    for region in sorted(regions, key=lambda r: r.begin):
        out.extend(lines[position:region.begin - 1])
        block = lines[region.begin - 1:region.end]
        if region.key in cleared_keys:
            out.extend(clear_region(block, region.key, clearer))
        else:
            out.extend(block[1:-1])
        position = region.end
    out.extend(lines[position:])
    return "\n".join(out)


def write_stubbed_library(lib_root, dest, regions, cleared_keys, clearer):
    """Copy the library's sources into ``dest`` with regions stubbed; returns the stubs written."""
    lib_root, dest = Path(lib_root), Path(dest)
    by_file = {}
    for region in regions:
        by_file.setdefault(region.path, []).append(region)
    for source in library_files(lib_root):
        relative = source.relative_to(lib_root).as_posix()
        text = source.read_text(encoding="utf-8")
        if relative in by_file:
            text = stub_text(text, by_file[relative], cleared_keys, clearer)
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    return stubs_of(regions, cleared_keys)


def stubs_of(regions, cleared_keys):
    """The stubs that clearing ``cleared_keys`` leaves in the student copy, one per region."""
    return [Stub(r.key, r.path, r.qualname, stub_message(r.key))
            for r in regions if r.key in cleared_keys]
