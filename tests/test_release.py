"""The release builder: regions, stubs, nbgrader notebooks, leak checks, determinism.

Pipeline steps are tested on a tiny throwaway course written into a temporary
folder (``make_fake_course``); the real assignments are built once per session
into a temporary folder and compared with the committed ``release/``.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_tools.manifest import load_manifest
from course_tools.regions import RegionError, check_claims, find_regions, misspelled_marker
from course_tools.release import (
    ReleaseBuildError,
    ReleaseCheckError,
    build_release,
    check_release,
    cleared_summary,
    compare_trees,
    plan_release,
)
from course_tools.stubs import load_nbgrader_config, solution_clearer, stub_text

REPO_ROOT = Path(__file__).resolve().parent.parent
REAL_ASSIGNMENTS = load_manifest(REPO_ROOT / "course.toml").assignment_ids
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")

FAKE_MANIFEST = """\
[course]
title = "Toy course"
assignments = ["a1", "a2"]
seed = 7

[assignments.a1]
title = "Scaling and a linear model"
notebooks = ["a1.ipynb"]
earlier_functions = "stub"
logs = []

[assignments.a1.functions]
"ops.scale" = { points = 2 }
"models.linear.Linear.__init__" = { points = 1 }
"models.linear.Linear.forward" = { points = 3 }

[[assignments.a1.checkpoints]]
name = "model"
file = "checkpoints/a1_model.npz"
notebook = "a1.ipynb"
dataset = "cifar10"
lo = 10
hi = 50
points = 5

[assignments.a2]
title = "Shifting and biases"
notebooks = ["a2.ipynb"]
earlier_functions = "given"
logs = ["submission_logs/a2_history.npz"]

[assignments.a2.functions]
"ops.shift" = { points = 2 }
"models.linear.Linear.forward[bias]" = { points = 1 }
"""

FAKE_OPS = '''\
"""Toy operations."""
import numpy as np


def scale(x, factor):
    """Multiply x by factor."""
    ### BEGIN SOLUTION
    scaled_values = np.asarray(x) * factor
    return scaled_values
    ### END SOLUTION


def shift(x, offset):
    """Add offset to x."""
    x = np.asarray(x)
    ### BEGIN SOLUTION
    shifted_values = x + offset
    ### END SOLUTION
    return shifted_values
'''

FAKE_LINEAR = '''\
"""A toy linear model with an optional bias."""
import numpy as np


class Linear:
    """x @ W (+ 0.5)."""

    def __init__(self, dim, bias=True):
        """Identity weights of shape (dim, dim)."""
        ### BEGIN SOLUTION
        self.weight_matrix = np.eye(dim)
        ### END SOLUTION
        self.bias = bias

    def forward(self, x):
        ### BEGIN SOLUTION
        result_vector = x @ self.weight_matrix
        ### END SOLUTION
        if self.bias:
            ### BEGIN SOLUTION [bias]
            result_vector = result_vector + 0.5
            ### END SOLUTION
        return result_vector
'''

# Provided code sharing one line with a solution region: public, so never a leak.
FAKE_HELPERS = '''\
"""Provided helpers."""


def shifted_copy(x, offset):
    shifted_values = x + offset
    return shifted_values
'''


def _nbgrader(cell, grade_id, solution=False, grade=False, points=None, locked=False):
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": solution, "grade": grade,
                                 "locked": locked, "schema_version": 3}
    if points is not None:
        cell.metadata["nbgrader"]["points"] = points
    return cell


def fake_notebook(name, import_line, solution_line, hidden_line, saves, with_ids=True):
    notebook = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                     "language": "python"}})
    notebook.cells = [
        new_markdown_cell(f"# {name}"),
        _nbgrader(new_code_cell(import_line), f"{name}_imports", locked=True),
        _nbgrader(new_code_cell(f"def answer(x):\n    ### BEGIN SOLUTION\n    {solution_line}\n"
                                "    return value_from_solution\n    ### END SOLUTION"),
                  f"{name}_answer", solution=True),
        _nbgrader(new_code_cell(f"assert answer(1.0) is not None\n### BEGIN HIDDEN TESTS\n{hidden_line}\n"
                                "### END HIDDEN TESTS"),
                  f"{name}_test", grade=True, points=1, locked=True),
        _nbgrader(new_markdown_cell(f"The written answer of {name} is forty-two, for reasons."),
                  f"{name}_written", solution=True, grade=True, points=2),
        new_markdown_cell(f"Running the whole notebook saves `{saves}`."),
    ]
    if not with_ids:
        # an older notebook format without cell ids: the builder must still be deterministic
        notebook.nbformat_minor = 4
        for cell in notebook.cells:
            del cell["id"]
    return notebook


def make_fake_course(root):
    """A two-assignment course with every kind of region, under ``root``; returns ``root``."""
    files = {
        "course.toml": FAKE_MANIFEST,
        "course_lib/__init__.py": '"""Toy course library."""\n',
        "course_lib/ops.py": FAKE_OPS,
        "course_lib/helpers.py": FAKE_HELPERS,
        "course_lib/models/__init__.py": "",
        "course_lib/models/linear.py": FAKE_LINEAR,
        "course_lib/_fast.pyx": "def twice(double x):\n    return 2 * x\n",
        # build products and caches that must not reach the release
        "course_lib/_fast.c": "/* generated */\n",
        "course_lib/__pycache__/ops.cpython-311.pyc": "not a real cache",
        "setup.py": "from setuptools import setup\n\nsetup()\n",
        "source/a1/checkpoints/instructor_run.npz": "left over by running the notebook",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    shutil.copyfile(REPO_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    notebooks = {
        "a1": fake_notebook("a1", "from course_lib.ops import scale", "value_from_solution = scale(x, 2.0)",
                            "assert answer(21.0) == 42.0  # hidden check", saves="checkpoints/a1_model.npz"),
        "a2": fake_notebook("a2", "from course_lib.ops import shift", "value_from_solution = shift(x, 3.0)",
                            "assert answer(-3.0) == 0.0  # hidden check", saves="submission_logs/a2_history.npz",
                            with_ids=False),
    }
    for aid, notebook in notebooks.items():
        (root / "source" / aid).mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, root / "source" / aid / f"{aid}.ipynb",
                       version=nbformat.NO_CONVERT)
    return root


@pytest.fixture(scope="session")
def fake_course(tmp_path_factory):
    return make_fake_course(tmp_path_factory.mktemp("fake_course"))


@pytest.fixture(scope="session")
def fake_releases(fake_course, tmp_path_factory):
    out = tmp_path_factory.mktemp("fake_release")
    return {aid: build_release(aid, fake_course, out) for aid in ("a1", "a2")}


@pytest.fixture(scope="session")
def real_releases(tmp_path_factory):
    out = tmp_path_factory.mktemp("real_release")
    return {aid: build_release(aid, REPO_ROOT, out) for aid in REAL_ASSIGNMENTS}


def run_in(folder, code):
    """Run Python code with ``folder`` as the working directory; returns the completed process."""
    return subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True,
                          env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"})


def all_text(folder):
    return "\n".join(p.read_text(errors="replace") for p in sorted(Path(folder).rglob("*")) if p.is_file())


# ---- solution regions -------------------------------------------------------------------------

def test_regions_get_their_enclosing_qualified_names(fake_course):
    regions = find_regions(fake_course / "course_lib")
    assert [(r.path, r.key) for r in regions] == [
        ("models/linear.py", "models.linear.Linear.__init__"),
        ("models/linear.py", "models.linear.Linear.forward"),
        ("models/linear.py", "models.linear.Linear.forward[bias]"),
        ("ops.py", "ops.scale"),
        ("ops.py", "ops.shift"),
    ]
    check_claims(regions, load_manifest(fake_course / "course.toml"))


def test_every_real_region_is_claimed_by_the_manifest():
    regions = find_regions(REPO_ROOT / "course_lib")
    manifest = load_manifest(REPO_ROOT / "course.toml")
    check_claims(regions, manifest)
    assert {r.key for r in regions} == set(manifest.all_function_keys())


@pytest.mark.parametrize("source, expected", [
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION\n",
     "bad.py:3: BEGIN inside the region opened at line 2"),
    ("def f():\n    ### BEGIN SOLUTION\n    x = 1\n", "bad.py:2: region is never closed"),
    ("def f():\n    x = 1\n    ### END SOLUTION\n", "bad.py:3: END without a matching BEGIN"),
    ('def f():\n    """Fill in the BEGIN SOLUTION part."""\n', "bad.py:2: marker words on a line"),
    ("x = 1  # END HIDDEN TESTS\n", "bad.py:1: marker words on a line"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "bad.py:1: region (lines 1-3) is not inside one function"),
    ("def f():\n    ### BEGIN SOLUTION\n    x = 1\n\ndef g():\n    y = 2\n    ### END SOLUTION\n",
     "bad.py:2: region (lines 2-7) is not inside one function"),
    ("def f():\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTON\n",
     "bad.py:4: '### END SOLUTON' looks like a misspelled marker; write `### END SOLUTION` alone on the line"),
    ("def f():\n    ### begin solution\n    x = 1\n    ### END SOLUTION\n",
     "bad.py:2: '### begin solution' looks like a misspelled marker; write `### BEGIN SOLUTION`"),
])
def test_malformed_regions_are_reported_with_file_and_line(tmp_path, source, expected):
    (tmp_path / "bad.py").write_text(source)
    with pytest.raises(RegionError) as error:
        find_regions(tmp_path)
    assert f"course_lib/{expected}" in str(error.value)
    # every problem says what to do about it
    assert all(";" in problem for problem in error.value.problems), error.value.problems


def test_a_misspelled_marker_is_one_problem_not_a_cascade(tmp_path):
    (tmp_path / "bad.py").write_text("def f():\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTON\n\n\n"
                                     "def g():\n    ### BEGIN SOLUTION\n    y = 2\n    ### END SOLUTION\n")
    with pytest.raises(RegionError) as error:
        find_regions(tmp_path)
    assert len(error.value.problems) == 1, error.value.problems


def test_ordinary_comments_are_not_taken_for_misspelled_markers():
    for line in ("# end of the solution loop", "### Backward pass", "# BEGIN: setup", "## Solution notes"):
        assert misspelled_marker(line) is None, line
    assert misspelled_marker("    ### END SOLUTON") == "### END SOLUTION"


def test_unclaimed_regions_and_keys_without_region_are_both_listed(fake_course, tmp_path):
    shutil.copytree(fake_course, tmp_path / "course")
    lib = tmp_path / "course" / "course_lib"
    (lib / "extra.py").write_text("def orphan():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")
    text = (lib / "ops.py").read_text().replace("def shift(x, offset)", "def shift_by(x, offset)")
    (lib / "ops.py").write_text(text)
    with pytest.raises(RegionError) as error:
        check_claims(find_regions(lib), load_manifest(tmp_path / "course" / "course.toml"))
    message = str(error.value)
    assert "course_lib/extra.py:2: region in extra.orphan (untagged) is claimed by no key" in message
    assert "course_lib/ops.py:16: region in ops.shift_by" in message
    line = next(n for n, text in enumerate(FAKE_MANIFEST.split("\n"), start=1) if '"ops.shift"' in text)
    assert f'course.toml:{line}: key "ops.shift" (a2) claims no region' in message
    assert 'add "extra.orphan" = { points = N } under [assignments.<id>.functions]' in message


def test_the_progress_line_counts_the_stubbed_functions_per_assignment(fake_course):
    plan = plan_release("a1", fake_course)
    assert cleared_summary(plan) == "5 student functions become stubs: 3 of a1 (this one), 2 of a2 (later)"


# ---- stubbed course_lib -----------------------------------------------------------------------

def test_cleared_region_becomes_nbgraders_stub_naming_the_function(fake_course):
    regions = [r for r in find_regions(fake_course / "course_lib") if r.path == "ops.py"]
    clearer = solution_clearer(load_nbgrader_config(fake_course))
    text = stub_text(FAKE_OPS, regions, {"ops.scale"}, clearer)
    assert ('    """Multiply x by factor."""\n    # YOUR CODE HERE\n'
            '    raise NotImplementedError("ops.scale: not implemented yet")\n\n') in text
    assert "scaled_values" not in text
    # a region that is not cleared keeps its reference code, without markers
    assert "    x = np.asarray(x)\n    shifted_values = x + offset\n    return shifted_values\n" in text
    assert not any(marker in text for marker in MARKERS)


def test_release_library_holds_sources_only(fake_releases):
    lib = fake_releases["a1"] / "course_lib"
    names = sorted(p.relative_to(lib).as_posix() for p in lib.rglob("*") if p.is_file())
    assert names == ["__init__.py", "_fast.pyx", "helpers.py", "models/__init__.py", "models/linear.py",
                     "ops.py"]


@pytest.mark.parametrize("aid, call, message", [
    ("a1", "from course_lib.ops import scale; scale(1.0, 2.0)", "ops.scale: not implemented yet"),
    ("a1", "from course_lib.ops import shift; shift(1.0, 2.0)", "ops.shift: not implemented yet"),
    ("a1", "from course_lib.models.linear import Linear; Linear(2)",
     "models.linear.Linear.__init__: not implemented yet"),
    ("a2", "from course_lib.ops import shift; shift(1.0, 2.0)", "ops.shift: not implemented yet"),
    ("a2", "import numpy as np; from course_lib.models.linear import Linear; Linear(2).forward(np.ones(2))",
     "models.linear.Linear.forward[bias]: not implemented yet"),
])
def test_stubs_raise_not_implemented_naming_their_function(fake_releases, aid, call, message):
    result = run_in(fake_releases[aid], call)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"NotImplementedError: {message}" in result.stderr


def test_given_earlier_functions_keep_their_reference_code(fake_releases):
    result = run_in(fake_releases["a2"], "from course_lib.ops import scale; print(scale(2.0, 3.0))")
    assert result.stdout.strip() == "6.0", result.stderr


def test_course_lib_resolves_to_the_release_copy(fake_releases):
    release = fake_releases["a1"]
    result = run_in(release, "import course_lib; print(course_lib.__file__)")
    assert Path(result.stdout.strip()).resolve() == (release / "course_lib" / "__init__.py").resolve()


@pytest.mark.parametrize("aid", REAL_ASSIGNMENTS)
def test_real_course_lib_resolves_to_the_release_copy_despite_the_installed_reference(real_releases, aid):
    code = "import course_lib, course_lib.layers; print(course_lib.__file__)"
    inside = run_in(real_releases[aid], code)
    assert Path(inside.stdout.strip()).parent == (real_releases[aid] / "course_lib").resolve(), inside.stderr


# ---- notebooks ----------------------------------------------------------------------------------

@pytest.mark.parametrize("aid, solution, hidden", [
    ("a1", "value_from_solution = scale(x, 2.0)", "answer(21.0) == 42.0"),
    ("a2", "value_from_solution = shift(x, 3.0)", "answer(-3.0) == 0.0"),
])
def test_release_notebooks_lose_solutions_and_hidden_tests(fake_releases, aid, solution, hidden):
    notebook = nbformat.read(fake_releases[aid] / f"{aid}.ipynb", as_version=4)
    sources = "\n".join(cell.source for cell in notebook.cells)
    assert solution not in sources and hidden not in sources and "forty-two" not in sources
    assert "raise NotImplementedError()" in sources and "YOUR ANSWER HERE" in sources
    assert "assert answer(1.0) is not None" in sources
    assert notebook.cells[3].metadata["nbgrader"]["checksum"]


def test_notebook_run_outputs_stay_out_of_the_release(fake_releases):
    assert not (fake_releases["a1"] / "checkpoints").exists()


@pytest.mark.parametrize("aid", REAL_ASSIGNMENTS)
def test_real_release_notebooks_hold_no_marker_and_no_hidden_test(real_releases, aid):
    manifest = load_manifest(REPO_ROOT / "course.toml")
    for name in manifest.assignment(aid).notebooks:
        source = nbformat.read(REPO_ROOT / "source" / aid / name, as_version=4)
        released = nbformat.read(real_releases[aid] / name, as_version=4)
        assert len(released.cells) == len(source.cells)
        for index, (before, after) in enumerate(zip(source.cells, released.cells)):
            where = f"{name} cell {index}"
            assert not [m for m in MARKERS if m in after.source], where
            if before.metadata.get("nbgrader", {}).get("solution"):
                assert after.source != before.source, f"{where}: solution cell released unchanged"
            elif "BEGIN HIDDEN TESTS" in before.source:
                assert after.source == without_hidden_blocks(before.source), where


def without_hidden_blocks(source):
    """The cell as a student should see it: every hidden-test block, markers included, removed."""
    kept, hidden = [], False
    for line in source.split("\n"):
        if "BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


# ---- leak checks --------------------------------------------------------------------------------

def test_built_releases_pass_their_checks(fake_course, fake_releases):
    for aid, release in fake_releases.items():
        check_release(aid, fake_course, release)


@pytest.mark.parametrize("plant, expected", [
    (lambda r: _append(r / "course_lib" / "helpers.py", "    scaled_values = np.asarray(x) * factor\n"),
     "solution leak: course_lib/ops.py:8 (ops.scale): 'scaled_values = np.asarray(x) * factor' "
     "appears in course_lib/helpers.py:7"),
    (lambda r: _append(r / "README.md", "value_from_solution = scale(x, 2.0)\n"),
     "solution leak: a1.ipynb cell 2 line 3"),
    (lambda r: _edit_notebook(r / "a1.ipynb", 1, "\nassert answer(21.0) == 42.0  # hidden check"),
     "solution leak: a1.ipynb cell 3 line 3"),
    (lambda r: _append(r / "make_submission.py", "# END SOLUTION\n"),
     "marker left: make_submission.py:"),
    (lambda r: _replace(r / "course_lib" / "ops.py", '"ops.scale: not implemented yet"', '"scale"'),
     "stub: course_lib/ops.py ops.scale: no raise NotImplementedError('ops.scale: not implemented yet')"),
    (lambda r: _append(r / "course_lib" / "models" / "linear.py", "import not_a_module\n"),
     "course_lib.models.linear does not import"),
    (lambda r: (r / "a1.ipynb").unlink(), "missing from the release: a1.ipynb"),
    (lambda r: (r / "course_lib" / "ops.py").unlink(), "stub: course_lib/ops.py is missing (ops.scale)"),
    (lambda r: _replace(r / "a1.ipynb", "checkpoints/a1_model.npz", "elsewhere.npz"),
     "checkpoint checkpoints/a1_model.npz: a1.ipynb never names it"),
])
def test_leak_check_catches_planted_problems(fake_course, fake_releases, tmp_path, plant, expected):
    release = tmp_path / "a1"
    shutil.copytree(fake_releases["a1"], release)
    plant(release)
    with pytest.raises(ReleaseCheckError) as error:
        check_release("a1", fake_course, release)
    assert expected in str(error.value)


def test_stub_shadowed_at_run_time_is_caught_by_calling_it(fake_course, fake_releases, tmp_path):
    release = tmp_path / "a1"
    shutil.copytree(fake_releases["a1"], release)
    # the stub is still in the source (the static check passes) but is not what gets called
    _append(release / "course_lib" / "ops.py", "scale = lambda x, factor: x\n")
    with pytest.raises(ReleaseCheckError) as error:
        check_release("a1", fake_course, release)
    assert ("course_lib.ops.scale: returned instead of raising NotImplementedError("
            "'ops.scale: not implemented yet')") in str(error.value)


@pytest.mark.parametrize("change, expected", [
    (lambda source: (source / "a1.ipynb").rename(source / "renamed.ipynb"),
     "notebook(s) listed in course.toml but missing from"),
    (lambda source: shutil.copyfile(source / "a1.ipynb", source / "scratch.ipynb"),
     "holds notebook(s) that course.toml does not list: scratch.ipynb"),
])
def test_notebooks_must_match_the_manifest(fake_course, tmp_path, change, expected):
    course = shutil.copytree(fake_course, tmp_path / "course")
    change(course / "source" / "a1")
    with pytest.raises((FileNotFoundError, ReleaseBuildError), match=re.escape(expected)):
        build_release("a1", course, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_solution_line_shown_by_a_notebook_is_a_note_not_a_leak(fake_course, tmp_path, capsys):
    course = shutil.copytree(fake_course, tmp_path / "course")
    _edit_notebook(course / "source" / "a1" / "a1.ipynb", 1, "\nscaled_values = np.asarray(x) * factor")
    build_release("a1", course, tmp_path / "out")
    assert ("note: a public notebook cell shows solution line 'scaled_values = np.asarray(x) * factor'"
            in capsys.readouterr().err)


def test_failed_build_keeps_the_previous_release(fake_course, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(fake_course, course)
    out = tmp_path / "release"
    first = build_release("a1", course, out)
    before = {p: p.read_bytes() for p in first.rglob("*") if p.is_file()}
    (course / "course_lib" / "broken.py").write_text("import not_a_module\n")
    with pytest.raises(ReleaseCheckError, match="course_lib.broken does not import"):
        build_release("a1", course, out)
    assert {p: p.read_bytes() for p in first.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in out.iterdir()) == ["a1"]


def test_plain_nbgrader_generate_assignment_gives_the_complete_release(fake_course, fake_releases, tmp_path):
    course = shutil.copytree(fake_course, tmp_path / "course")
    shutil.copytree(fake_releases["a1"], course / "release" / "a1")
    (course / "release" / "a1" / "course_lib" / "ops.py").unlink()  # to see it come back
    nbgrader = Path(sys.executable).with_name("nbgrader")
    result = subprocess.run([str(nbgrader), "generate_assignment", "a1", "--force"], cwd=course,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Running post-convert hook" in result.stderr and "Post-convert hook failed" not in result.stderr
    assert compare_trees(fake_releases["a1"], course / "release" / "a1") == []


def _append(path, text):
    path.write_text(path.read_text() + text)


def _replace(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _edit_notebook(path, cell, extra):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[cell].source += extra
    nbformat.write(notebook, path)


# ---- determinism and the committed release ------------------------------------------------------

def test_build_is_deterministic(fake_course, fake_releases, tmp_path):
    for aid, first in fake_releases.items():
        second = build_release(aid, fake_course, tmp_path)
        assert compare_trees(first, second) == []


def test_notebook_cell_ids_are_kept_or_derived(fake_course, fake_releases):
    source = json.loads((fake_course / "source" / "a1" / "a1.ipynb").read_text())
    released = json.loads((fake_releases["a1"] / "a1.ipynb").read_text())
    assert [c["id"] for c in released["cells"]] == [c["id"] for c in source["cells"]]


def test_tree_comparison_names_each_difference_and_skips_build_products(fake_releases, tmp_path):
    copy = shutil.copytree(fake_releases["a1"], tmp_path / "a1")
    (copy / "course_lib" / "_fast.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    (copy / "course_lib" / "__pycache__").mkdir()
    (copy / "course_lib" / "__pycache__" / "ops.cpython-311.pyc").write_bytes(b"cache")
    assert compare_trees(fake_releases["a1"], copy) == []
    _append(copy / "README.md", "edited\n")
    (copy / "setup.py").unlink()
    (copy / "notes.txt").write_text("new")
    assert set(compare_trees(fake_releases["a1"], copy)) == {
        "differs: README.md", f"only in {copy}: notes.txt", f"only in {fake_releases['a1']}: setup.py"}


@pytest.mark.parametrize("aid", REAL_ASSIGNMENTS)
def test_committed_release_equals_a_fresh_build(real_releases, aid):
    differences = compare_trees(REPO_ROOT / "release" / aid, real_releases[aid])
    assert differences == [], ("release/ is stale; rebuild it with `course build` and commit:\n  "
                               + "\n  ".join(differences))


def test_real_build_is_deterministic(real_releases, tmp_path):
    again = build_release("hw3", REPO_ROOT, tmp_path)
    assert compare_trees(real_releases["hw3"], again) == []


@pytest.mark.parametrize("aid", REAL_ASSIGNMENTS)
def test_real_release_holds_no_solution_text(real_releases, aid):
    check_release(aid, REPO_ROOT, real_releases[aid])
    text = all_text(real_releases[aid])
    assert not [m for m in MARKERS if m in text]
