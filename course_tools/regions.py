"""Find the solution regions of the reference library and check who claims them.

A line that starts (after indentation) with ``### BEGIN SOLUTION`` opens a
region, optionally tagged (``### BEGIN SOLUTION [batchnorm]``); the next line
starting with ``### END SOLUTION`` closes it. Each region belongs to the
innermost function around it, named by its qualified name inside course_lib
(``classifiers.fc_net.FullyConnectedNet.loss``), which the manifest's keys claim.
"""
import ast
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from course_tools.manifest import manifest_line, split_function_key

# nbgrader matches its delimiters as substrings anywhere in a line, so these words
# may appear only on real region lines (and hidden-test/mark-scheme words nowhere).
MARKER_WORDS = (
    "BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
    "BEGIN MARK SCHEME", "END MARK SCHEME",
)
LIBRARY_SUFFIXES = (".py", ".pyx", ".pxd")
_BEGIN = re.compile(r"^\s*### BEGIN SOLUTION(?: \[(?P<tag>[A-Za-z0-9_-]+)\])?\s*$")
_END = re.compile(r"^\s*### END SOLUTION\s*$")
_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
# How close a comment line must be to a marker to be reported as a misspelled one.
NEAR_MISS_RATIO = 0.85


class RegionError(ValueError):
    """Solution regions are malformed or not claimed; the message lists every problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} solution-region problem(s):\n  "
                         + "\n  ".join(self.problems))


@dataclass(frozen=True)
class Region:
    """One solution region: ``begin``/``end`` are the 1-based lines of its two markers."""

    path: str
    begin: int
    end: int
    qualname: str
    tag: str | None

    @property
    def key(self):
        return self.qualname if self.tag is None else f"{self.qualname}[{self.tag}]"

    @property
    def location(self):
        return f"course_lib/{self.path}:{self.begin}"


def library_files(lib_root):
    """Sorted source files of the library (no build products, no caches)."""
    lib_root = Path(lib_root)
    return sorted(
        path for path in lib_root.rglob("*")
        if path.suffix in LIBRARY_SUFFIXES and path.is_file()
        and "__pycache__" not in path.relative_to(lib_root).parts
    )


def module_name(relative_path):
    """``classifiers/fc_net.py`` -> ``classifiers.fc_net``; a package's ``__init__`` is the package."""
    parts = list(Path(relative_path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_regions(lib_root):
    """Every solution region under ``lib_root``, in file and line order.

    Raises :class:`RegionError` listing nested, unclosed or stray markers,
    marker words outside marker lines, and regions not inside one function.
    """
    lib_root = Path(lib_root)
    regions, problems = [], []
    for path in library_files(lib_root):
        relative = path.relative_to(lib_root).as_posix()
        text = path.read_text(encoding="utf-8")
        spans = _marker_spans(relative, text, problems)
        if spans and path.suffix != ".py":
            problems.append(f"course_lib/{relative}: solution regions are supported in .py files only")
            continue
        if spans:
            regions.extend(_name_regions(relative, text, spans, problems))
    if problems:
        raise RegionError(problems)
    return regions


def check_claims(regions, manifest):
    """Every region is claimed by exactly one manifest key; every key claims at least one region."""
    owners = {}
    for key in manifest.all_function_keys():
        owners.setdefault(split_function_key(key), []).append(key)
    problems = []
    claimed = set()
    for region in regions:
        keys = owners.get((region.qualname, region.tag), [])
        if not keys:
            problems.append(f"{region.location}: region in {region.qualname} "
                            f"{'tagged [' + region.tag + ']' if region.tag else '(untagged)'} "
                            f"is claimed by no key of {manifest.path.name}; add "
                            f'"{region.key}" = {{ points = N }} under [assignments.<id>.functions], '
                            "or remove the markers")
        claimed.update(keys)
    for key in manifest.all_function_keys():
        if key not in claimed:
            qualname, tag = split_function_key(key)
            wanted = f"### BEGIN SOLUTION [{tag}]" if tag else "an untagged ### BEGIN SOLUTION"
            line = manifest_line(manifest.path, f'"{key}"')
            problems.append(f'{manifest.path.name}:{line or "?"}: key "{key}" ({manifest.owner(key)}) '
                            f"claims no region: no function {qualname} in course_lib holds {wanted}; "
                            "put the markers around that function's solution code, or fix the key")
    if problems:
        raise RegionError(problems)


def _marker_spans(relative, text, problems):
    """(begin, end, tag) of each region of one file, recording marker misuse in ``problems``."""
    spans, open_at, open_tag = [], None, None
    for number, line in enumerate(text.split("\n"), start=1):
        begin, end = _BEGIN.match(line), _END.match(line)
        where = f"course_lib/{relative}:{number}"
        tag = begin.group("tag") if begin else None
        if not (begin or end):
            if any(word in line for word in MARKER_WORDS):
                problems.append(f"{where}: marker words on a line that is not a marker line "
                                "(a marker is `### BEGIN SOLUTION`, optionally with ` [tag]`, or "
                                "`### END SOLUTION`, alone on its line; nbgrader would treat this line "
                                f"as one): {line.strip()!r}")
                continue
            near_miss = misspelled_marker(line)
            if near_miss is None:
                continue
            problems.append(f"{where}: {line.strip()!r} looks like a misspelled marker; write "
                            f"`{near_miss}` alone on the line")
            # Read on as if it were spelled right, so that one typo is one problem.
            begin, end = near_miss == _MARKERS[0], near_miss == _MARKERS[1]
        if begin:
            if open_at is not None:
                problems.append(f"{where}: BEGIN inside the region opened at line {open_at} (nested); "
                                f"close that region with `### END SOLUTION` first")
                continue
            open_at, open_tag = number, tag
        elif open_at is None:
            problems.append(f"{where}: END without a matching BEGIN; add `### BEGIN SOLUTION` where "
                            "the region starts, or remove this line")
        else:
            spans.append((open_at, number, open_tag))
            open_at = None
    if open_at is not None:
        problems.append(f"course_lib/{relative}:{open_at}: region is never closed; add `### END SOLUTION` "
                        "on its own line where the solution code ends")
    return spans


def misspelled_marker(line):
    """The marker a comment line nearly spells (``### END SOLUTON``), or None."""
    text = line.strip()
    if not text.startswith("#"):
        return None
    for marker in _MARKERS:
        start = text[:len(marker) + 2].upper()
        if difflib.SequenceMatcher(None, start, marker).ratio() >= NEAR_MISS_RATIO:
            return marker
    return None


def _name_regions(relative, text, spans, problems):
    try:
        tree = ast.parse(text, filename=relative)
    except SyntaxError as exc:
        problems.append(f"course_lib/{relative}:{exc.lineno}: cannot parse: {exc.msg}")
        return []
    functions = list(_function_spans(tree.body, []))
    statement_lines = sorted({node.lineno for node in ast.walk(tree) if isinstance(node, ast.stmt)})
    prefix = module_name(relative)
    regions = []
    for begin, end, tag in spans:
        # ast ends a function at its last statement, so the END marker may lie past it
        around = [f for f in functions if f[0] < begin <= f[1]]
        innermost = max(around, key=lambda f: f[0]) if around else None
        inner_statements = [n for n in statement_lines if begin < n < end]
        if innermost is None or any(n > innermost[1] for n in inner_statements):
            problems.append(f"course_lib/{relative}:{begin}: region (lines {begin}-{end}) is not "
                            "inside one function; move the markers inside the function body")
            continue
        qualname = f"{prefix}.{innermost[2]}" if prefix else innermost[2]
        regions.append(Region(relative, begin, end, qualname, tag))
    return regions


def _function_spans(body, outer):
    """(first line, last line, dotted name) of every function, nested ones included."""
    for node in body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names = [*outer, node.name]
            if not isinstance(node, ast.ClassDef):
                yield node.lineno, node.end_lineno, ".".join(names)
            yield from _function_spans(node.body, names)
        elif hasattr(node, "body"):
            # functions defined under if/try/with at module or class level
            for field in ("body", "orelse", "finalbody", "handlers"):
                yield from _function_spans(getattr(node, field, []), outer)
