"""Leak checks of a built release: solution text, marker words, hidden tests, stubs.

Each ``find_*`` function returns a list of problems (empty when clean) so that
the release check can report everything wrong with a build at once.

What counts as a leak: a line of secret text (a cleared solution region of
course_lib, a notebook solution or a hidden-test block), compared after
stripping surrounding whitespace, that appears as a line of any text file of
the release. Lines shorter than ``MIN_LEAK_CHARS`` characters (``else:``,
``return dx``, ``N = x.shape[0]``, lone brackets) are too common to be evidence
of anything and are ignored, and so are lines that are public anyway: library
lines outside the cleared regions, the source notebooks' lines outside their
solution and hidden-test regions (a notebook may show how the API is called,
e.g. ``optimizer.step()``; the builder reports such overlaps as notes), and
nbgrader's own stub text.
"""
import ast
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_tools.regions import MARKER_WORDS, library_files, module_name

MIN_LEAK_CHARS = 16
_PROBE_SOURCE = Path(__file__).with_name("stub_probe.py")


@dataclass(frozen=True)
class SecretLine:
    text: str
    origin: str


def significant(line):
    """The stripped line when it is long enough to count as evidence, else None."""
    stripped = line.strip()
    return stripped if len(stripped) >= MIN_LEAK_CHARS else None


def library_secrets(lib_root, regions, cleared_keys):
    """(secret lines of cleared regions, public lines of the rest of the library)."""
    lib_root = Path(lib_root)
    cleared = {}
    for region in regions:
        if region.key in cleared_keys:
            cleared.setdefault(region.path, []).append(region)
    secrets, public = [], set()
    for path in library_files(lib_root):
        relative = path.relative_to(lib_root).as_posix()
        spans = [(r.begin, r.end, r.key) for r in cleared.get(relative, [])]
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
            owner = next((key for begin, end, key in spans if begin < number < end), None)
            if owner is None:
                public.add(line.strip())
            elif significant(line):
                secrets.append(SecretLine(line.strip(), f"course_lib/{relative}:{number} ({owner})"))
    return secrets, public


def notebook_secrets(notebook_paths, delimiters, solution_begin):
    """(secret lines, public lines) of source notebooks.

    Secret: lines inside solution, hidden-test and mark-scheme regions, and whole
    solution cells without a solution region (nbgrader replaces those entirely).
    ``delimiters`` maps each region kind's BEGIN text to its END text.
    """
    secrets, public = [], set()
    for path in notebook_paths:
        notebook = nbformat.read(path, as_version=4)
        for index, cell in enumerate(notebook.cells):
            lines = cell.source.split("\n")
            whole_cell = (cell.metadata.get("nbgrader", {}).get("solution", False)
                          and solution_begin not in cell.source)
            hidden = _delimited(lines, delimiters)
            for number, line in enumerate(lines):
                if whole_cell or number in hidden:
                    if significant(line):
                        secrets.append(SecretLine(line.strip(), f"{path.name} cell {index} line {number + 1}"))
                else:
                    public.add(line.strip())
    return secrets, public


def _delimited(lines, delimiters):
    """Indices of the lines inside (or on the markers of) any delimited region, matched as nbgrader does."""
    inside, closing = set(), None
    for number, line in enumerate(lines):
        if closing is None:
            closing = next((end for begin, end in delimiters.items() if begin in line), None)
            if closing is not None:
                inside.add(number)
        else:
            inside.add(number)
            if closing in line:
                closing = None
    return inside


def release_lines(release_dir):
    """Stripped line -> where it occurs, over every text file of the release.

    Notebooks are read cell by cell (sources and any outputs) so a line matches
    whatever JSON escaping the file uses.
    """
    release_dir = Path(release_dir)
    index = {}
    for path in sorted(p for p in release_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(release_dir).as_posix()
        for where, line in _text_lines(path, relative):
            index.setdefault(line.strip(), []).append(where)
    return index


def _text_lines(path, relative):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []
    if path.suffix != ".ipynb":
        return [(f"{relative}:{n}", line) for n, line in enumerate(text.split("\n"), start=1)]
    lines = []
    for index, cell in enumerate(nbformat.reads(text, as_version=4).cells):
        chunks = [cell.source] + [_output_text(output) for output in cell.get("outputs", [])]
        for chunk in chunks:
            lines.extend((f"{relative} cell {index}", line) for line in chunk.split("\n"))
    return lines


def _output_text(output):
    if "text" in output:
        return output["text"]
    return "\n".join(str(value) for value in output.get("data", {}).values())


def find_leaks(secrets, exempt, index):
    """A problem for every secret line found in the release and not exempt."""
    problems, seen = [], set()
    for secret in secrets:
        if secret.text in seen or secret.text in exempt or secret.text not in index:
            continue
        seen.add(secret.text)
        places = index[secret.text]
        more = f" and {len(places) - 3} more" if len(places) > 3 else ""
        problems.append(f"solution leak: {secret.origin}: {secret.text!r} appears in "
                        f"{', '.join(places[:3])}{more}")
    return problems


def find_markers(release_dir):
    """A problem for every line of the release that still holds a marker word."""
    release_dir = Path(release_dir)
    problems = []
    for path in sorted(p for p in release_dir.rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.split("\n"), start=1):
            words = [w for w in MARKER_WORDS if w in line]
            if words:
                problems.append(f"marker left: {path.relative_to(release_dir).as_posix()}:{number} "
                                f"holds {', '.join(words)}")
    return problems


def find_stub_problems(stub_lib, stubs):
    """Static check: each stub's function holds ``raise NotImplementedError(<its message>)``.

    Returns ``(problems, calls)``; ``calls`` lists ``(module, attribute path, message)``
    of the stubs that are their function's first statement, which the probe can
    call with dummy arguments.
    """
    stub_lib = Path(stub_lib)
    problems, calls, trees = [], {}, {}
    for stub in stubs:
        if not (stub_lib / stub.path).is_file():
            problems.append(f"stub: course_lib/{stub.path} is missing ({stub.key})")
            continue
        if stub.path not in trees:
            trees[stub.path] = ast.parse((stub_lib / stub.path).read_text(encoding="utf-8"))
        module = module_name(stub.path)
        attribute_path = stub.qualname[len(module) + 1:] if module else stub.qualname
        function = _find_function(trees[stub.path], attribute_path.split("."))
        where = f"course_lib/{stub.path} {stub.qualname}"
        if function is None:
            problems.append(f"stub: {where}: function not found in the stubbed module")
            continue
        raises = [node for node in ast.walk(function) if _raises_message(node, stub.message)]
        if not raises:
            problems.append(f"stub: {where}: no raise NotImplementedError({stub.message!r})")
        elif _first_statement(function) in raises:
            calls[(module, attribute_path)] = stub.message
    return problems, [(m, a, message) for (m, a), message in calls.items()]


def _find_function(tree, names):
    body = tree.body
    node = None
    for name in names:
        node = next((n for n in body if getattr(n, "name", None) == name
                     and isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)), None)
        if node is None:
            return None
        body = node.body
    return node if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None


def _raises_message(node, message):
    return (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
            and isinstance(node.exc.func, ast.Name) and node.exc.func.id == "NotImplementedError"
            and len(node.exc.args) == 1 and isinstance(node.exc.args[0], ast.Constant)
            and node.exc.args[0].value == message)


def _first_statement(function):
    body = function.body
    if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str) and len(body) > 1):
        return body[1]
    return body[0]


def probe_release(release_dir, modules, calls, timeout=300):
    """Import ``modules`` and call the stubs in ``calls`` in a fresh Python inside ``release_dir``.

    Also checks that ``import course_lib`` there resolves to the release's copy.
    """
    release_dir = Path(release_dir).resolve()
    request = json.dumps({"modules": modules, "calls": calls})
    # No bytecode caches in the release; plots never need a display.
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    env.pop("PYTHONSAFEPATH", None)
    result = subprocess.run([sys.executable, "-c", _PROBE_SOURCE.read_text(encoding="utf-8")],
                            input=request, capture_output=True, text=True, cwd=release_dir,
                            env=env, timeout=timeout)
    lines = result.stdout.strip().split("\n")
    if result.returncode != 0 or not lines[-1].startswith("{"):
        return [f"stub probe failed in {release_dir} (exit {result.returncode}):\n"
                f"{result.stdout[-2000:]}{result.stderr[-4000:]}"]
    report = json.loads(lines[-1])
    problems = list(report["problems"])
    resolved = Path(report["course_lib_file"]).resolve().parent
    if resolved != release_dir / "course_lib":
        problems.append(f"import course_lib inside {release_dir} resolves to {resolved}, "
                        "not the release's own copy")
    return problems
