"""The project's own unit tests (tests/) against each variant: a wrong one must fail one, a correct one none."""
import ast
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from course_tools.fidelity.corpus import REPO_ROOT
from course_tools.fidelity.patching import apply_variant
from course_tools.fidelity.tracing import module_of

# Test files of the project's own suite that check tooling, not the library.
TOOLING_TESTS = ("test_release.py", "test_source_notebooks.py", "test_submission_helper.py",
                 "test_manifest.py", "test_fidelity.py", "test_mutants.py")


def imported_modules(path):
    """Dotted names of the course_lib modules a Python file imports."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("course_lib")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("course_lib"):
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def unit_test_files(variant, repo_root=REPO_ROOT):
    """The project's test files that import the patched module or a module importing it,
    those closest to the patched module first (a wrong variant stops at its first failure)."""
    lib_root = Path(repo_root) / "course_lib"
    imports = {module_of(p.relative_to(lib_root)): imported_modules(p) for p in lib_root.rglob("*.py")}
    distance = {module_of(variant.file): 0}
    frontier = set(distance)
    while frontier:
        frontier = {module for module, imported in imports.items() if module not in distance and frontier & imported}
        distance.update({module: max(distance.values()) + 1 for module in frontier})
    ranked = []
    for path in sorted((Path(repo_root) / "tests").glob("test_*.py")):
        if path.name in TOOLING_TESTS or path.name.startswith("test_autograder"):
            continue
        reached = [distance[module] for module in imported_modules(path) if module in distance]
        if reached:
            ranked.append((min(reached), path.name))
    return [name for _, name in sorted(ranked)]


def copy_for_unit_tests(repo_root, destination):
    """course_lib (with its compiled kernels), tests and pyproject.toml, so pytest imports the copy."""
    repo_root, destination = Path(repo_root), Path(destination)
    ignore = shutil.ignore_patterns("__pycache__", "*.c", "build")
    shutil.copytree(repo_root / "course_lib", destination / "course_lib", ignore=ignore)
    shutil.copytree(repo_root / "tests", destination / "tests", ignore=ignore)
    shutil.copyfile(repo_root / "pyproject.toml", destination / "pyproject.toml")
    return destination


def failed_unit_tests(folder, files, deselect=(), stop_early=False):
    """Node ids of the failing tests among ``files``, run with pytest inside ``folder``."""
    command = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "--no-header",
               *(f"tests/{name}" for name in files), *(f"--deselect={node}" for node in deselect)]
    if stop_early:
        command.append("-x")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    completed = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", completed.stdout, flags=re.MULTILINE)
    if completed.returncode not in (0, 1) and not failed:
        raise RuntimeError(f"pytest could not run in {folder}:\n{completed.stdout[-3000:]}{completed.stderr[-2000:]}")
    return sorted(set(node.split(" - ")[0] for node in failed))


def unit_test_check(variants, work_dir, repo_root=REPO_ROOT, jobs=2, progress=None):
    """{variant name: (files run, failing tests)}; tests failing on the reference itself are left out.

    Every variant is patched into a copy of one snapshot of the repository, so
    edits made to the reference meanwhile do not mix in. Returns (results, baseline failures).
    """
    work_dir = Path(work_dir)
    files = {variant.name: unit_test_files(variant, repo_root) for variant in variants}
    every_file = sorted({name for names in files.values() for name in names})
    snapshot = copy_for_unit_tests(repo_root, work_dir / "reference")
    baseline = failed_unit_tests(snapshot, every_file)

    def check(variant):
        folder = copy_for_unit_tests(snapshot, work_dir / variant.name)
        apply_variant(variant, folder / "course_lib")
        failing = failed_unit_tests(folder, files[variant.name], baseline, stop_early=variant.wrong)
        shutil.rmtree(folder)
        if progress:
            progress(variant, failing)
        return variant.name, (files[variant.name], failing)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(pool.map(check, variants)), baseline


def unit_test_summary(variant, files, failing):
    ran = ", ".join(files) or "no test file imports the patched module"
    if variant.wrong and failing:
        return f"caught by {', '.join(failing)}"
    return unit_test_problem(variant, failing) or f"all pass ({ran})"


def unit_test_problem(variant, failing):
    if variant.wrong and not failing:
        return "survives the project's own unit tests"
    if not variant.wrong and failing:
        return f"fails the project's own unit tests: {', '.join(failing)}"
    return ""
