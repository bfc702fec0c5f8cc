"""Extending the course touches only the files the README lists: a throwaway assignment, built for real.

A temporary course is laid out from this repository's machinery (``autograder/``,
``course_tools/``, nbgrader's settings, the data-folder helpers of
``course_lib``), untouched. The test then makes exactly the edits that the
README's "Adding an assignment" asks for (a library module with solution
regions, the manifest entry, a source notebook, a suite module of hidden tests
that also brings a kind of test of its own), builds the release and the
autograder zip with the copy's own ``course build`` (which grades the reference
and the untouched release), and grades both again to read their results; then
it adds a function to that assignment as "Adding a function to an existing
assignment" says, and builds again. Every file that differs from the untouched
machinery must match a path of the README section that was followed.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.local import grade_submission, write_reference_submission

REPO_ROOT = Path(__file__).resolve().parent.parent
# The course's machinery, copied as it is; the new assignment brings everything else.
MACHINERY = ("autograder", "course_tools", "nbgrader_config.py", "setup.py", "course_lib/__init__.py",
             "course_lib/data_folder.py", "course_lib/standin.py")
GENERATED = ("release/", "dist/")

CLIP_MODULE = '''\
"""Clipping values to a range, and its gradient."""
import numpy as np


def clip_forward(x, limit):
    """Every value of x clipped to [-limit, limit].

    Inputs: x, an array of any shape; limit, a positive float.
    Returns (out, cache): out of x's shape, cache for clip_backward.
    """
    ### BEGIN SOLUTION
    out = np.clip(x, -limit, limit)
    ### END SOLUTION
    return out, (x, limit)
'''

CLIP_BACKWARD = '''

def clip_backward(dout, cache):
    """Gradient of clip_forward: dout where |x| < limit, 0 elsewhere.

    Inputs: dout, the upstream gradient of out's shape; cache from clip_forward.
    Returns dx, of x's shape.
    """
    x, limit = cache
    ### BEGIN SOLUTION
    dx = dout * (np.abs(x) < limit)
    ### END SOLUTION
    return dx
'''

MANIFEST = '''\
[course]
title = "A throwaway course"
assignments = ["clip"]
seed = 11

[assignments.clip]
title = "Clipping"
notebooks = ["clip.ipynb"]
earlier_functions = "stub"

[assignments.clip.functions]
"clip.clip_forward" = { points = 3 }
'''

# A kind of hidden test of its own, declared where it is used: whether outputs stay inside a range.
SUITE = '''\
"""Hidden tests of the clip assignment."""
import numpy as np

from autograder.suites.spec import Check, Kind, Test, call, forward_test, inp, program, res

BOUNDS = Kind("bounds")


def bounds_test(function, make_inputs, calls, outputs, low, high):
    """Every output of ``calls`` lies within [low, high]."""
    def rule(found, expected, inputs, reference):
        outside = [name for name in outputs if not np.all((found[name] >= low) & (found[name] <= high))]
        return not outside, f"{', '.join(outside)} leave [{low:g}, {high:g}]"
    return Test(function, "stays within bounds", BOUNDS, program(calls, outputs), make_inputs,
                (Check("custom", rule=rule, label="within bounds"),))


def clip_inputs(rng):
    return {"x": 3.0 * rng.standard_normal((4, 6)), "dout": rng.standard_normal((4, 6))}


TESTS = [
    forward_test("clip.clip_forward", clip_inputs, [call("clip.clip_forward", inp("x"), 1.5)], {"out": res(0, 0)}),
    bounds_test("clip.clip_forward", clip_inputs, [call("clip.clip_forward", inp("x"), 0.5)], {"out": res(0, 0)},
                -0.5, 0.5),
]
'''

BACKWARD_TESTS = '''
TESTS.append(layer_gradient_test("clip.clip_backward", "clip.clip_forward", clip_inputs, [inp("x"), 1.5],
                                 {"dx": ("x", 0)}))
'''


def nbgrader(cell, grade_id, **flags):
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": False, "grade": False, "locked": False,
                                 "schema_version": 3, **flags}
    return cell


def notebook(names):
    """The assignment's source notebook: imports, and one public sanity check per function."""
    book = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                 "language": "python"}})
    book.cells = [new_markdown_cell("# Clipping"),
                  nbgrader(new_code_cell("import numpy as np\n"
                                         f"from course_lib.clip import {', '.join(names)}"), "imports", locked=True)]
    checks = {"clip_forward": "out, _ = clip_forward(np.array([-2.0, 0.5, 2.0]), 1.0)\n"
                              "assert np.allclose(out, [-1.0, 0.5, 1.0])",
              "clip_backward": "dx = clip_backward(np.ones(3), (np.array([-2.0, 0.5, 2.0]), 1.0))\n"
                               "assert np.allclose(dx, [0.0, 1.0, 0.0])"}
    book.cells += [nbgrader(new_code_cell(checks[name]), f"check_{name}", locked=True) for name in names]
    return book


def write(root, relative, text):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_notebook(root, names):
    path = root / "source" / "clip" / "clip.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook(names), path)


def snapshot(root):
    """{path relative to root: digest} of every file, build products and caches left out."""
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith(".")}


def touched(before, after):
    """Source files added or changed since ``before`` (generated release/ and dist/ left out)."""
    return sorted(path for path, digest in after.items()
                  if before.get(path) != digest and not path.startswith(GENERATED))


def readme_paths(section):
    """Regular expressions of the paths (in backquotes) that the numbered list of README's ``section``
    names; <placeholders> stand for one path component or part of one."""
    text = (REPO_ROOT / "README.md").read_text()
    body = text.split(f"### {section}\n", 1)[1].split("\n### ", 1)[0]
    steps = body.split("\n1. ", 1)[1].split("\n\n", 1)[0]
    paths = [token for token in re.findall(r"`([^`\s]+)`", steps)
             if re.fullmatch(r"[\w<>|./-]+\.(py|toml|ipynb)", token)]
    return [re.compile(re.sub(r"<[^>]*>", "[^/]+", re.escape(path).replace(r"\<", "<").replace(r"\>", ">")))
            for path in paths]


def unlisted(paths, section):
    patterns = readme_paths(section)
    assert patterns, f"README section {section!r} lists no files"
    return [path for path in paths if not any(pattern.fullmatch(path) for pattern in patterns)]


def course_build(root, data, assignment):
    env = dict(os.environ, COURSE_DATA_DIR=str(data), PYTHONDONTWRITEBYTECODE="1")
    built = subprocess.run([sys.executable, "-m", "course_tools.cli", "build", assignment], cwd=root, env=env,
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    return built


@pytest.fixture
def machinery(tmp_path):
    """A course root holding only the repository's machinery, untouched."""
    root = tmp_path / "course"
    for name in MACHINERY:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, root / name)
    return root


def test_a_new_assignment_and_function_touch_only_the_files_the_readme_lists(machinery, standin_dir, tmp_path,
                                                                              monkeypatch):
    root = machinery
    untouched = snapshot(root)

    # Adding an assignment, with a kind of hidden test of its own.
    write(root, "course_lib/clip.py", CLIP_MODULE)
    write(root, "course.toml", MANIFEST)
    write_notebook(root, ["clip_forward"])
    write(root, "autograder/suites/clip.py", SUITE)
    built = course_build(root, standin_dir, "clip")
    assert re.search(r"^clip\s+3/3\s+0/3\s", built.stdout, re.MULTILINE), built.stdout
    added = touched(untouched, snapshot(root))
    assert [path for path in added if path in untouched] == []  # the machinery is as it was: nothing registered
    assert unlisted(added, "Adding an assignment") == []

    monkeypatch.setenv("COURSE_DATA_DIR", str(standin_dir))
    zip_path = root / "dist" / "clip-autograder.zip"
    reference = write_reference_submission(zip_path, tmp_path / "reference", repo_root=root)
    graded = {"reference": grade_submission("clip", reference, zip_path, trusted=True),
              "release": grade_submission("clip", root / "release" / "clip", zip_path, trusted=True)}
    for name, results in graded.items():
        tests = {test["number"]: test for test in results["tests"]}
        assert list(tests) == ["1.1", "1.2"], name
        assert [test["extra_data"]["kind"] for test in tests.values()] == ["forward", "bounds"]
    assert graded["reference"]["score"] == 3 and all(t["status"] == "passed" for t in graded["reference"]["tests"])
    assert [check["name"] for check in graded["reference"]["tests"][1]["extra_data"]["checks"]] == ["within bounds"]
    assert graded["release"]["score"] == 0
    assert all(t["extra_data"]["failure"] == "not_implemented" for t in graded["release"]["tests"])

    # Adding a function to that assignment.
    before = snapshot(root)
    (root / "course_lib/clip.py").write_text(CLIP_MODULE + CLIP_BACKWARD)
    (root / "course.toml").write_text(MANIFEST + '"clip.clip_backward" = { points = 2 }\n')
    write_notebook(root, ["clip_forward", "clip_backward"])
    suite = SUITE.replace("forward_test, inp,", "forward_test, inp, layer_gradient_test,") + BACKWARD_TESTS
    (root / "autograder/suites/clip.py").write_text(suite)
    built = course_build(root, standin_dir, "clip")
    assert re.search(r"^clip\s+5/5\s+0/5\s", built.stdout, re.MULTILINE), built.stdout
    changed = touched(before, snapshot(root))
    assert [path for path in changed if path in untouched] == []
    assert unlisted(changed, "Adding a function to an existing assignment") == []
    with zipfile.ZipFile(zip_path) as archive:
        assert "autograder/suites/clip.py" in archive.namelist()
        assert json.loads(archive.read("manifest.json"))["functions"] == {"clip.clip_forward": 3.0,
                                                                          "clip.clip_backward": 2.0}
