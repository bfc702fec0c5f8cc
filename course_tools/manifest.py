"""Load and validate the course manifest (``course.toml``).

The manifest says which reference function is whose student work, what it is
worth, which checkpoints and experiment logs a submission carries and how
checkpoints are scored. Everything that builds or grades an assignment reads it through
:func:`load_manifest`, which reports every problem of the file at once.
"""
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autograder.harness.architectures import ARCHITECTURES

EARLIER_FUNCTIONS = ("stub", "given")
DATASETS = ("cifar10", "svhn")
_FUNCTION_KEY = re.compile(
    r"^(?P<qualname>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\[(?P<tag>[A-Za-z0-9_-]+)\])?$"
)
_COURSE_FIELDS = {"title": True, "assignments": True, "default_timeout": False, "seed": False}
_ASSIGNMENT_FIELDS = {
    "title": True, "notebooks": True, "earlier_functions": True, "experiments": False, "logs": False,
    "functions": True, "checkpoints": False,
}
_EXPERIMENT_FIELDS = {"points": True}
_FUNCTION_FIELDS = {"points": True, "timeout": False}
_CHECKPOINT_FIELDS = {
    "name": True, "file": True, "notebook": True, "dataset": True, "lo": True, "hi": True,
    "points": True, "timeout": False, "architecture": False,
}
DEFAULT_SEED = 0
DEFAULT_TIMEOUT = 60.0


class UnknownNameError(LookupError):
    """An assignment id or function key the manifest does not hold."""


class ManifestError(ValueError):
    """The manifest is malformed; the message lists every problem found, each with its line when known."""

    def __init__(self, path, problems):
        self.problems = list(problems)
        text = Path(path).read_text(encoding="utf-8") if Path(path).is_file() else ""
        located = [f"{Path(path).name}:{line}: {problem}" if (line := problem_line(text, problem))
                   else f"{Path(path).name}: {problem}" for problem in self.problems]
        super().__init__(f"{path}: {len(self.problems)} problem(s):\n  " + "\n  ".join(located))


@dataclass(frozen=True)
class Checkpoint:
    """A model file a submission must carry, scored by held-out accuracy in percent."""

    name: str
    file: str
    notebook: str
    dataset: str
    lo: float
    hi: float
    points: float
    timeout: float | None = None
    architecture: str | None = None  # a rule of autograder/harness/architectures.py the model must follow


@dataclass(frozen=True)
class Assignment:
    """One assignment's settings. ``functions`` maps manifest keys to points."""

    id: str
    title: str
    notebooks: tuple[str, ...]
    functions: dict[str, float]
    checkpoints: tuple[Checkpoint, ...]
    experiments: dict[str, float]
    earlier_functions: str
    timeouts: dict[str, float]
    ungraded_logs: tuple[str, ...] = ()  # `logs`: further files the notebooks save, carried but not graded

    @property
    def logs(self):
        """The log files a submission carries (``submission_logs/...``): the ungraded ones, then the
        experiments' logs, in order."""
        from autograder.suites.logs import log_files

        return self.ungraded_logs + tuple(log_files(self.experiments))


@dataclass(frozen=True)
class Manifest:
    """The whole course: assignments in release order and course-wide settings."""

    path: Path
    title: str
    assignment_ids: tuple[str, ...]
    assignments: dict[str, Assignment]
    default_timeout: float
    seed: int

    def assignment(self, assignment_id):
        """The assignment called ``assignment_id``; a clear error names the known ones."""
        if assignment_id not in self.assignments:
            raise UnknownNameError(f"unknown assignment {assignment_id!r} in {self.path}; "
                           f"known: {', '.join(self.assignment_ids)}")
        return self.assignments[assignment_id]

    def owner(self, key):
        """The id of the assignment whose manifest lists function key ``key``."""
        for assignment in self.assignments.values():
            if key in assignment.functions:
                return assignment.id
        raise UnknownNameError(f"function key {key!r} is not in {self.path}")

    def all_function_keys(self):
        return [key for aid in self.assignment_ids for key in self.assignments[aid].functions]

    def cleared_keys(self, assignment_id):
        """Keys whose solution regions become stubs in ``assignment_id``'s release.

        Those of this and every later assignment, plus the earlier ones when the
        assignment's ``earlier_functions`` is "stub" ("given" keeps their reference code).
        """
        position = self.assignment_ids.index(self.assignment(assignment_id).id)
        keep_earlier = self.assignments[assignment_id].earlier_functions == "given"
        first_cleared = position if keep_earlier else 0
        return {key for aid in self.assignment_ids[first_cleared:]
                for key in self.assignments[aid].functions}


def manifest_line(path, needle):
    """1-based number of the first line of the manifest at ``path`` that contains ``needle``, or None."""
    text = Path(path).read_text(encoding="utf-8") if Path(path).is_file() else ""
    return _first_line(text.split("\n"), lambda line: needle in line)


def problem_line(text, problem):
    """The line a manifest problem is about: its quoted function key, else its table header."""
    lines = text.split("\n")
    for quoted in re.findall(r'"([^"]+)"', problem):
        if (number := _first_line(lines, lambda line, q=quoted: f'"{q}"' in line)) is not None:
            return number
    header = re.match(r"(\[\[?)([\w.-]+)\]\]?(?: #(\d+))?", problem)
    if header is None:
        return None
    opening, name, nth = header.groups()
    pattern = re.compile(rf"^\s*{re.escape(opening)}\s*{re.escape(name)}\s*\]")
    matches = [number for number, line in enumerate(lines, start=1) if pattern.match(line)]
    index = int(nth) - 1 if nth else 0
    return matches[index] if index < len(matches) else None


def _first_line(lines, wanted):
    return next((number for number, line in enumerate(lines, start=1) if wanted(line)), None)


def split_function_key(key):
    """``"mod.Class.method[tag]"`` -> ``("mod.Class.method", "tag")``; the tag may be None."""
    match = _FUNCTION_KEY.match(key)
    if match is None:
        raise ValueError(f"malformed function key {key!r}: expected a dotted name inside "
                         "course_lib such as 'layers.affine_forward', optionally followed by '[tag]'")
    return match.group("qualname"), match.group("tag")


def module_file(lib_root, qualname):
    """Path, relative to ``lib_root``, of the module that defines ``qualname``.

    The longest dotted prefix of ``qualname`` naming a module (``a/b.py`` or
    ``a/b/__init__.py``) wins, as Python's import would resolve it.
    """
    parts = qualname.split(".")
    lib_root = Path(lib_root)
    for length in range(len(parts) - 1, 0, -1):
        base = lib_root.joinpath(*parts[:length])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate.relative_to(lib_root).as_posix()
    raise FileNotFoundError(f"{qualname}: no module under {lib_root} defines it "
                            f"(looked for {'/'.join(parts[:-1])}.py and the shorter prefixes)")


def student_files(assignment, lib_root, prerequisites=()):
    """Sorted course_lib-relative paths of the modules a submission of ``assignment`` holds.

    Those of its own functions, and of ``prerequisites``: the earlier functions its
    hidden tests rely on (students bring their own code for them).
    """
    qualnames = (split_function_key(key)[0] for key in [*assignment.functions, *prerequisites])
    return sorted({module_file(lib_root, qualname) for qualname in qualnames})


def submission_files(assignment, lib_root):
    """The course_lib files a submission of ``assignment`` holds: its own functions' modules and those of the
    earlier functions its hidden tests (and experiments) rely on. The release ships them and the grader
    overlays them."""
    from autograder.suites import assignment_prerequisites

    return student_files(assignment, lib_root, assignment_prerequisites(assignment.functions, assignment.experiments))


def load_manifest(path):
    """Parse and validate ``course.toml``; raises :class:`ManifestError` listing every problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"course manifest {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        # tomllib also rejects a key written twice in one table; its message says where.
        raise ManifestError(path, [f"not valid TOML: {exc}"]) from None
    problems = []
    manifest = _parse_manifest(path, data, problems)
    if problems:
        raise ManifestError(path, problems)
    return manifest


def _parse_manifest(path, data, problems):
    course = _table(data, "course", "[course]", problems)
    _check_fields(course, _COURSE_FIELDS, "[course]", problems)
    ids = course.get("assignments", [])
    if not (isinstance(ids, list) and all(isinstance(i, str) and i for i in ids)):
        problems.append("[course] assignments must be a list of assignment ids")
        ids = []
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"[course] assignments lists {duplicate!r} more than once")
    tables = _table(data, "assignments", "[assignments]", problems)
    for extra in sorted(set(tables) - set(ids)):
        problems.append(f"[assignments.{extra}]: unknown assignment (not in [course] assignments "
                        f"= {ids})")
    for unknown in sorted(set(data) - {"course", "assignments"}):
        problems.append(f"unknown top-level table [{unknown}]")
    assignments = {}
    for aid in dict.fromkeys(ids):
        if aid not in tables:
            problems.append(f"[course] assignments lists {aid!r} but there is no [assignments.{aid}]")
            continue
        assignments[aid] = _parse_assignment(aid, tables[aid], problems)
    _check_duplicate_functions(assignments, problems)
    return Manifest(
        path=path,
        title=_string(course, "title", "[course]", problems),
        assignment_ids=tuple(dict.fromkeys(ids)),
        assignments=assignments,
        default_timeout=_number(course, "default_timeout", "[course]", problems,
                                default=DEFAULT_TIMEOUT, positive=True),
        seed=_integer(course, "seed", "[course]", problems, default=DEFAULT_SEED),
    )


def _parse_assignment(aid, table, problems):
    where = f"[assignments.{aid}]"
    if not isinstance(table, dict):
        problems.append(f"{where} must be a table")
        table = {}
    _check_fields(table, _ASSIGNMENT_FIELDS, where, problems)
    notebooks = _names(table, "notebooks", where, problems, suffix=".ipynb", required=True)
    earlier = table.get("earlier_functions", "stub")
    if earlier not in EARLIER_FUNCTIONS:
        problems.append(f"{where} earlier_functions = {earlier!r}: must be one of {EARLIER_FUNCTIONS}")
    functions, timeouts = _parse_functions(aid, table.get("functions", {}), problems)
    checkpoints = _parse_checkpoints(aid, table.get("checkpoints", []), notebooks, problems)
    return Assignment(
        id=aid,
        title=_string(table, "title", where, problems),
        notebooks=notebooks,
        functions=functions,
        checkpoints=checkpoints,
        experiments=_parse_experiments(aid, table.get("experiments", {}), problems),
        ungraded_logs=_names(table, "logs", where, problems, suffix="", required=False),
        earlier_functions=earlier,
        timeouts=timeouts,
    )


def _parse_functions(aid, table, problems):
    where = f"[assignments.{aid}.functions]"
    if not isinstance(table, dict) or not table:
        problems.append(f"{where} must be a non-empty table of function keys")
        return {}, {}
    functions, timeouts = {}, {}
    for key, entry in table.items():
        here = f'{where} "{key}"'
        try:
            split_function_key(key)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{here} must be an inline table such as {{ points = 2 }}")
            continue
        _check_fields(entry, _FUNCTION_FIELDS, here, problems)
        functions[key] = _number(entry, "points", here, problems, positive=True)
        if "timeout" in entry:
            timeouts[key] = _number(entry, "timeout", here, problems, positive=True)
    return functions, timeouts


def _parse_experiments(aid, table, problems):
    """{experiment name: points}; each name is an experiment of autograder/suites/logs.py."""
    from autograder.suites.logs import EXPERIMENTS

    where = f"[assignments.{aid}.experiments]"
    if not isinstance(table, dict):
        problems.append(f"{where} must be a table such as {{ batchnorm_deep_networks = {{ points = 2 }} }}")
        return {}
    experiments = {}
    for name, entry in table.items():
        here = f'{where} "{name}"'
        if name not in EXPERIMENTS:
            problems.append(f"{here}: no such experiment; known: {', '.join(EXPERIMENTS)} "
                            "(experiments are defined in autograder/suites/logs.py)")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{here} must be an inline table such as {{ points = 2 }}")
            continue
        _check_fields(entry, _EXPERIMENT_FIELDS, here, problems)
        experiments[name] = _number(entry, "points", here, problems, positive=True)
    return experiments


def _parse_checkpoints(aid, entries, notebooks, problems):
    where = f"[[assignments.{aid}.checkpoints]]"
    if not isinstance(entries, list):
        problems.append(f"{where} must be an array of tables")
        return ()
    checkpoints = []
    for index, entry in enumerate(entries):
        here = f"{where} #{index + 1}"
        if not isinstance(entry, dict):
            problems.append(f"{here} must be a table")
            continue
        _check_fields(entry, _CHECKPOINT_FIELDS, here, problems)
        checkpoint = Checkpoint(
            name=_string(entry, "name", here, problems),
            file=_relative_path(entry.get("file"), f"{here} file", problems, suffix=".npz"),
            notebook=_string(entry, "notebook", here, problems),
            dataset=_string(entry, "dataset", here, problems),
            lo=_number(entry, "lo", here, problems),
            hi=_number(entry, "hi", here, problems),
            points=_number(entry, "points", here, problems, positive=True),
            timeout=(_number(entry, "timeout", here, problems, positive=True)
                     if "timeout" in entry else None),
            architecture=entry.get("architecture"),
        )
        if checkpoint.architecture is not None and checkpoint.architecture not in ARCHITECTURES:
            problems.append(f"{here} architecture {checkpoint.architecture!r}: known architectures are "
                            f"{', '.join(ARCHITECTURES)} (autograder/harness/architectures.py); delete the line to "
                            "accept any")
        if checkpoint.notebook and checkpoint.notebook not in notebooks:
            problems.append(f"{here} notebook {checkpoint.notebook!r} is not one of the "
                            f"assignment's notebooks {list(notebooks)}")
        if checkpoint.dataset and checkpoint.dataset not in DATASETS:
            problems.append(f"{here} dataset {checkpoint.dataset!r}: must be one of {DATASETS}")
        if "lo" in entry and "hi" in entry and not 0 <= checkpoint.lo < checkpoint.hi <= 100:
            problems.append(f"{here} lo = {checkpoint.lo}, hi = {checkpoint.hi}: accuracies in "
                            "percent need 0 <= lo < hi <= 100")
        checkpoints.append(checkpoint)
    names = [c.name for c in checkpoints]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{where}: checkpoint name {duplicate!r} is used more than once")
    return tuple(checkpoints)


def _check_duplicate_functions(assignments, problems):
    owners = {}
    for aid, assignment in assignments.items():
        for key in assignment.functions:
            owners.setdefault(key, []).append(aid)
    for key, aids in owners.items():
        if len(aids) > 1:
            problems.append(f'function key "{key}" is listed by several assignments: {", ".join(aids)}'
                            " (each solution region belongs to exactly one)")


def _table(data, key, where, problems):
    value = data.get(key)
    if not isinstance(value, dict):
        problems.append(f"{where} table is missing" if value is None else f"{where} must be a table")
        return {}
    return value


def _check_fields(table, fields, where, problems):
    for name, required in fields.items():
        if required and name not in table:
            problems.append(f"{where}: missing {name!r}")
    for name in table:
        if name not in fields:
            problems.append(f"{where}: unknown field {name!r} (known: {', '.join(fields)})")


def _string(table, key, where, problems):
    value = table.get(key, "")
    if key in table and not (isinstance(value, str) and value):
        problems.append(f"{where} {key} must be a non-empty string, got {value!r}")
        return ""
    return value


def _number(table, key, where, problems, default=0.0, positive=False):
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{where} {key} must be a number, got {value!r}")
        return default
    if positive and value <= 0:
        problems.append(f"{where} {key} must be positive, got {value!r}")
    return float(value)


def _integer(table, key, where, problems, default):
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{where} {key} must be an integer, got {value!r}")
        return default
    return value


def _names(table, key, where, problems, suffix, required):
    values = table.get(key, [])
    if not isinstance(values, list) or (required and not values):
        problems.append(f"{where} {key} must be a {'non-empty ' if required else ''}list of paths")
        return ()
    paths = [_relative_path(v, f"{where} {key}", problems, suffix) for v in values]
    for duplicate in sorted({p for p in paths if paths.count(p) > 1}):
        problems.append(f"{where} {key} lists {duplicate!r} more than once")
    return tuple(paths)


def _relative_path(value, where, problems, suffix):
    if not isinstance(value, str) or not value:
        problems.append(f"{where} must be a relative path, got {value!r}")
        return ""
    pure = PurePosixPath(value)
    if pure.is_absolute() or ".." in pure.parts or "\\" in value:
        problems.append(f"{where} {value!r} must be a relative POSIX path inside the assignment folder")
    if suffix and not value.endswith(suffix):
        problems.append(f"{where} {value!r} must end with {suffix}")
    return value
