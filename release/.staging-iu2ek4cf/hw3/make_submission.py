"""Make the zip to upload to Gradescope for this assignment.

Run it from this folder, after finishing the code and running every notebook:

    python make_submission.py                     # writes <assignment>_submission.zip
    python make_submission.py --check             # only list what is still missing
    python make_submission.py --allow-incomplete  # zip what exists anyway

The zip holds exactly what the autograder reads (listed in submission.json): your
course_lib files of this assignment, the notebooks, the model checkpoints and the
training logs the notebooks save. It refuses, with the list of what is wrong,
when a file is missing, a function is still the released stub, a module does
not import, or a written answer still holds the placeholder text. Needs only the
Python standard library (3.10+).
"""
import argparse
import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same files always give the same zip
# Folders that never hold the student's work (environments, caches, build products).
NOT_WORK = {".venv", "venv", "__pycache__", ".ipynb_checkpoints", "build", ".git"}

sys.path.insert(0, str(HERE))
from submission_names import near_misses  # noqa: E402 (shipped next to this file)


def load_plan():
    return json.loads((HERE / "submission.json").read_text(encoding="utf-8"))


def expected_files(plan):
    """Paths, relative to this folder, that go into the zip."""
    return ([f"course_lib/{name}" for name in plan["course_lib_files"]] + plan["notebooks"]
            + [checkpoint["file"] for checkpoint in plan["checkpoints"]] + plan["logs"])


def folder_files():
    """Every file of this folder (relative POSIX paths), outside environments and caches."""
    found = []
    for folder, subfolders, names in os.walk(HERE):
        subfolders[:] = [name for name in subfolders if name not in NOT_WORK]
        found += [(Path(folder) / name).relative_to(HERE).as_posix() for name in names]
    return sorted(found)


def missing_files(plan, present):
    """One line per expected file that is absent: a near-miss name it may be under, else what makes it.

    Never "copy it from the release": a released copy holds no work, and the
    student's may only be renamed or moved.
    """
    hints = {checkpoint["file"]: f"run {checkpoint['notebook']} to the end; it saves this checkpoint"
             for checkpoint in plan["checkpoints"]}
    hints.update({log: "run the notebook experiment that saves this log" for log in plan["logs"]})
    expected = expected_files(plan)
    others = [p for p in present if p not in expected]
    problems = []
    for path in expected:
        if (HERE / path).is_file():
            continue
        renamed = near_misses(path, others)
        if renamed:
            hint = f"did you mean {renamed[0]}? rename it to {path}"
        else:
            hint = hints.get(path, "if you renamed or moved your copy, put it back at this path "
                                   "(a fresh copy of the released file would hold none of your work)")
        problems.append(f"missing {path}: {hint}")
    return problems


def renamed_copies(plan, present):
    """Warnings for near-miss copies (``layers_final.py``) next to a file that is there."""
    expected = expected_files(plan)
    return [f"{copy} looks like a copy of {path}, but only {path} is submitted: "
            f"did you mean to put that work into {path}?"
            for path in expected if (HERE / path).is_file()
            for copy in near_misses(path, [p for p in present if p not in expected])]


def unanswered_cells(plan):
    """Written-answer cells of the notebooks that still hold the placeholder text."""
    placeholder = plan.get("answer_placeholder")
    problems = []
    for name in plan["notebooks"]:
        path = HERE / name
        if not placeholder or not path.is_file():
            continue
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (ValueError, KeyError, TypeError):
            problems.append(f"{name} is not a readable notebook (is it saved as .ipynb JSON?)")
            continue
        for number, cell in enumerate(cells, start=1):
            grading = cell.get("metadata", {}).get("nbgrader", {})
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else str(source)
            if grading.get("solution") and grading.get("grade") and cell.get("cell_type") == "markdown" \
                    and placeholder in text:
                problems.append(f"{name}: written answer {grading.get('grade_id', f'in cell {number}')} "
                                f'still says "{placeholder}"')
    return problems


def raised_messages(tree):
    """Messages of every ``raise NotImplementedError("...")`` in a module."""
    return {node.exc.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
            and isinstance(node.exc.func, ast.Name) and node.exc.func.id == "NotImplementedError"
            and node.exc.args and isinstance(node.exc.args[0], ast.Constant)}


def unfinished_functions(plan):
    """(problems, warnings): this assignment's functions still stubbed or files that do not
    parse, and earlier assignments' functions still stubbed."""
    problems, warnings = [], []
    for name in plan["course_lib_files"]:
        path = HERE / "course_lib" / name
        if not path.is_file():
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError as exc:
            problems.append(f"course_lib/{name} does not parse: line {exc.lineno}: {exc.msg}")
            continue
        left = raised_messages(tree)
        for entries, found in ((plan["stubs"], problems), (plan["earlier_stubs"], warnings)):
            found.extend(f"course_lib/{name}: {stub['function']} is still the stub (not implemented yet)"
                         for stub in entries if stub["file"] == name and stub["message"] in left)
    return problems, warnings


def import_errors(plan):
    """Import each course_lib file in a fresh Python started in this folder."""
    problems = []
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    for name in plan["course_lib_files"]:
        if not (HERE / "course_lib" / name).is_file():
            continue
        module = ".".join(Path(name).with_suffix("").parts)
        code = f"import course_lib, course_lib.{module}; print(course_lib.__file__)"
        result = subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env,
                                capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
            problems.append(f"course_lib/{name} does not import: {last}")
        elif Path(result.stdout.strip()).resolve().parent != HERE / "course_lib":
            problems.append(f"import course_lib resolves to {result.stdout.strip()}, not this folder's "
                            "course_lib (run from this folder, or `pip install -e .` here)")
    return problems


def write_zip(files, output):
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (HERE / path).read_bytes())


def parse_args(argv):
    plan = load_plan()
    parser = argparse.ArgumentParser(description=f"Make the Gradescope submission of {plan['assignment']}.")
    parser.add_argument("--output", type=Path, default=HERE / f"{plan['assignment']}_submission.zip",
                        help="zip to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="only report what is missing or unfinished")
    parser.add_argument("--allow-incomplete", action="store_true",
                        help="zip whatever exists despite the problems (their tests will score 0)")
    return plan, parser.parse_args(argv)


def main(argv=None):
    plan, args = parse_args(argv)
    present = folder_files()
    unfinished, warnings = unfinished_functions(plan)
    problems = (missing_files(plan, present) + unfinished + import_errors(plan)
                + unanswered_cells(plan))
    if warnings:
        print("Warning: functions of earlier assignments that this one may use are still stubs:",
              file=sys.stderr)
        print("\n".join(f"  - {warning}" for warning in warnings), file=sys.stderr)
    copies = renamed_copies(plan, present)
    if copies:
        print("Warning: files that look like renamed copies:", file=sys.stderr)
        print("\n".join(f"  - {copy}" for copy in copies), file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) with your {plan['assignment']} submission:", file=sys.stderr)
        print("\n".join(f"  - {problem}" for problem in problems), file=sys.stderr)
    if args.check:
        return 1 if problems else 0
    if problems and not args.allow_incomplete:
        print("No zip written. Fix the above, or rerun with --allow-incomplete to submit as is.",
              file=sys.stderr)
        return 1
    files = [path for path in expected_files(plan) if (HERE / path).is_file()]
    write_zip(files, args.output)
    print(f"Wrote {args.output} with {len(files)} file(s):")
    print("\n".join(f"  {path}" for path in sorted(files)))
    print("Upload this zip to Gradescope.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
