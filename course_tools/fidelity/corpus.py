"""The fidelity corpus: loading ``fidelity/{wrong,correct}/<assignment>.toml`` and checking it fits the reference.

Each [[variant]] table is a small patch on the reference ``course_lib``: a
mistake students really make (wrong) or another valid way to write a student
function (correct). ``load_corpus`` parses and validates the tables;
``check_corpus`` checks every edit applies once, inside the solution regions
of the functions the variant names.
"""
import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

from course_tools.fidelity.patching import PatchError, changed_lines, edit_position, patched_text
from course_tools.manifest import load_manifest
from course_tools.regions import find_regions

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_FOLDER = "fidelity"
KINDS = ("wrong", "correct")
# Field name -> required, per kind of variant.
FIELDS = {
    "wrong": {"name": True, "mistake": True, "file": True, "find": True, "replace": True,
              "breaks": True, "names": True, "intact": False, "hint": False, "clause": False, "rewrites": False},
    "correct": {"name": True, "approach": True, "file": True, "find": True, "replace": True,
                "functions": True},
}


class CorpusError(ValueError):
    """The corpus is malformed or does not fit the reference; the message lists every problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the fidelity corpus:\n  "
                         + "\n  ".join(self.problems))


@dataclass(frozen=True)
class Variant:
    """One patched implementation.

    ``functions``: the manifest keys the patch breaks (wrong) or rewrites (correct).
    ``rewrites``: of a wrong variant, functions the patch also changes but keeps right (a backward
    written for the forward's own cache format): their tests must keep full marks.
    ``edits``: (find, replace) pairs applied to ``course_lib/<file>``.
    """

    name: str
    kind: str
    assignment: str
    file: str
    edits: tuple
    functions: tuple
    description: str
    names: tuple = ()
    intact: tuple = ()
    hint: str = ""  # what the feedback tells a student whose output matches this variant's
    clause: str = ""  # the contract clause the variant breaks
    rewrites: tuple = ()

    @property
    def patched(self):
        """Every manifest key the patch edits."""
        return self.functions + self.rewrites

    @property
    def wrong(self):
        return self.kind == "wrong"


def load_corpus(assignments=None, repo_root=REPO_ROOT):
    """Every variant of ``assignments`` (default: all, in manifest order); raises CorpusError."""
    repo_root = Path(repo_root)
    manifest = load_manifest(repo_root / "course.toml")
    for assignment in assignments or ():
        manifest.assignment(assignment)  # a clear error for an unknown id
    variants, problems = [], []
    for kind in KINDS:
        for assignment in assignments or manifest.assignment_ids:
            path = repo_root / CORPUS_FOLDER / kind / f"{assignment}.toml"
            if path.is_file():
                variants += read_corpus_file(path, kind, assignment, problems)
    seen = set()
    for variant in variants:
        if variant.name in seen:
            problems.append(f"variant name {variant.name!r} is used twice")
        seen.add(variant.name)
    if problems:
        raise CorpusError(problems)
    return variants


def read_corpus_file(path, kind, assignment, problems):
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        problems.append(f"{path}: not valid TOML: {error}")
        return []
    unknown = sorted(set(data) - {"variant"})
    if unknown:
        problems.append(f"{path}: unknown top-level key(s) {', '.join(unknown)}; write [[variant]] tables")
    entries = data.get("variant", [])
    return [variant for index, entry in enumerate(entries, start=1)
            if (variant := parse_variant(entry, kind, assignment, f"{path.name} variant {index}", problems))]


def parse_variant(entry, kind, assignment, where, problems):
    """A Variant from one [[variant]] table, or None after recording its problems."""
    fields = FIELDS[kind]
    missing = [name for name, required in fields.items() if required and name not in entry]
    unknown = sorted(set(entry) - set(fields))
    if missing or unknown:
        problems.append(f"{where} ({entry.get('name', 'unnamed')}): "
                        + "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                                  unknown and f"unknown field(s) {', '.join(unknown)}"])))
        return None
    finds, replaces = as_list(entry["find"]), as_list(entry["replace"])
    if len(finds) != len(replaces) or not finds:
        problems.append(f"{where} ({entry['name']}): find and replace must be two strings or two lists "
                        "of the same non-zero length")
        return None
    functions = entry["breaks"] if kind == "wrong" else entry["functions"]
    return Variant(
        name=entry["name"], kind=kind, assignment=assignment, file=entry["file"],
        edits=tuple(zip(finds, replaces)), functions=tuple(functions),
        description=entry["mistake"] if kind == "wrong" else entry["approach"],
        names=tuple(entry.get("names", ())), intact=tuple(entry.get("intact", ())),
        hint=entry.get("hint", ""), clause=entry.get("clause", ""), rewrites=tuple(entry.get("rewrites", ())),
    )


def as_list(value):
    return list(value) if isinstance(value, list) else [value]


def check_corpus(variants, repo_root=REPO_ROOT):
    """Problems of the corpus against the reference: every edit applies once, inside the
    solution regions of the variant's own functions, which belong to its assignment."""
    repo_root = Path(repo_root)
    lib_root = repo_root / "course_lib"
    manifest = load_manifest(repo_root / "course.toml")
    regions = find_regions(lib_root)
    problems = []
    for variant in variants:
        problems += variant_problems(variant, lib_root, manifest, regions)
    return problems


def inside(region, first, last):
    """Whether the changed lines first..last (an insertion before ``first`` when last < first) lie in ``region``."""
    if last < first:
        return region.begin < first <= region.end
    return region.begin < first and last < region.end


def variant_problems(variant, lib_root, manifest, regions):
    own = manifest.assignment(variant.assignment).functions
    problems = [f"{variant.name}: {key!r} is not a student function of {variant.assignment}"
                for key in variant.patched if key not in own]
    path = lib_root / variant.file
    if not path.is_file():
        return problems + [f"{variant.name}: course_lib/{variant.file} does not exist"]
    text = path.read_text(encoding="utf-8")
    file_regions = [region for region in regions if region.path == variant.file]
    covered, applies = set(), True
    for number, (find, replace) in enumerate(variant.edits, start=1):
        try:
            edit_position(text, find, f"{variant.name}, edit {number}")
        except PatchError as error:
            problems.append(str(error))
            applies = False
            continue
        first, last = changed_lines(text, find, replace)
        keys = {r.key for r in file_regions if inside(r, first, last)} & set(variant.patched)
        if not keys:
            problems.append(f"{variant.name}, edit {number}: lines {first}-{last} of course_lib/{variant.file} "
                            f"are not inside a solution region of {', '.join(variant.patched)}")
        covered |= keys
    if not applies:
        return problems
    problems += [f"{variant.name}: no edit touches {key}" for key in variant.patched
                 if key in own and key not in covered]
    try:
        ast.parse(patched_text(variant, text))
    except SyntaxError as error:
        problems.append(f"{variant.name}: the patched course_lib/{variant.file} does not parse: {error}")
    return problems
