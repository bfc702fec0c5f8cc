"""course.toml: loading, validation errors, which keys each release clears, student files."""
import tomllib
from pathlib import Path

import pytest

from course_tools.manifest import (
    ManifestError,
    UnknownNameError,
    load_manifest,
    module_file,
    split_function_key,
    student_files,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

VALID = """\
[course]
title = "Toy"
assignments = ["a1", "a2"]

[assignments.a1]
title = "First"
notebooks = ["one.ipynb"]
earlier_functions = "stub"

[assignments.a1.functions]
"layers.affine_forward" = { points = 2 }

[[assignments.a1.checkpoints]]
name = "net"
file = "checkpoints/net.npz"
notebook = "one.ipynb"
dataset = "cifar10"
lo = 28
hi = 50
points = 5

[assignments.a2]
title = "Second"
notebooks = ["two.ipynb"]
earlier_functions = "given"

[assignments.a2.experiments]
dropout_regularization = { points = 2 }

[assignments.a2.functions]
"layers.batchnorm_forward" = { points = 4 }
"classifiers.fc_net.FullyConnectedNet.loss[batchnorm]" = { points = 3 }
"""


def write(tmp_path, text):
    path = tmp_path / "course.toml"
    path.write_text(text)
    return path


def test_the_real_manifest_loads():
    manifest = load_manifest(REPO_ROOT / "course.toml")
    listed = tomllib.loads((REPO_ROOT / "course.toml").read_text())["course"]["assignments"]
    assert listed and manifest.assignment_ids == tuple(listed) and set(manifest.assignments) == set(listed)
    hw4 = manifest.assignment("hw4")
    assert hw4.notebooks == ("optimization.ipynb", "batchnorm.ipynb", "dropout.ipynb")
    assert [c.file for c in hw4.checkpoints] == ["checkpoints/fc_net_custom.npz"]
    assert (hw4.checkpoints[0].lo, hw4.checkpoints[0].hi) == (32, 60)
    assert hw4.functions["classifiers.fc_net.FullyConnectedNet.loss[batchnorm]"] == 3
    assert hw4.experiments == {"batchnorm_deep_networks": 2, "batchnorm_weight_scale": 3,
                               "dropout_regularization": 2}
    assert len(hw4.logs) == 44
    assert manifest.owner("layers.affine_forward") == "hw3"


def test_settings_are_parsed(tmp_path):
    manifest = load_manifest(write(tmp_path, VALID))
    assert manifest.seed == 0 and manifest.default_timeout == 60
    a1, a2 = manifest.assignment("a1"), manifest.assignment("a2")
    assert a1.checkpoints[0].notebook == "one.ipynb" and a1.logs == ()
    assert a2.experiments == {"dropout_regularization": 2} and a2.earlier_functions == "given"
    assert a2.logs == ("submission_logs/dropout_regularization_experiment_p0.npz",
                       "submission_logs/dropout_regularization_experiment_p0.5.npz")


def test_an_unknown_experiment_is_refused_with_the_known_ones(tmp_path):
    text = VALID.replace("dropout_regularization = {", "dropout_regularisation = {")
    with pytest.raises(ManifestError, match="dropout_regularisation.*no such experiment; known: "
                                            "batchnorm_deep_networks"):
        load_manifest(write(tmp_path, text))


@pytest.mark.parametrize("policy, cleared_by_a2", [
    ("given", {"layers.batchnorm_forward", "classifiers.fc_net.FullyConnectedNet.loss[batchnorm]"}),
    ("stub", {"layers.affine_forward", "layers.batchnorm_forward",
              "classifiers.fc_net.FullyConnectedNet.loss[batchnorm]"}),
])
def test_cleared_keys_follow_the_earlier_functions_policy(tmp_path, policy, cleared_by_a2):
    manifest = load_manifest(write(tmp_path, VALID.replace('"given"', f'"{policy}"')))
    assert manifest.cleared_keys("a2") == cleared_by_a2
    # later assignments' functions are always stubs
    assert manifest.cleared_keys("a1") == set(manifest.all_function_keys())


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t + '\n[assignments.a3]\ntitle = "x"\n',
     "[assignments.a3]: unknown assignment (not in [course] assignments"),
    (lambda t: t.replace('["a1", "a2"]', '["a1", "a2", "a9"]'),
     "[course] assignments lists 'a9' but there is no [assignments.a9]"),
    (lambda t: t.replace("lo = 28", "lo = 60"),
     "[[assignments.a1.checkpoints]] #1 lo = 60.0, hi = 50.0: accuracies in percent need 0 <= lo < hi <= 100"),
    (lambda t: t.replace("hi = 50", "hi = 150"), "lo = 28.0, hi = 150.0"),
    (lambda t: t.replace('"layers.affine_forward" = { points = 2 }', '"layers.affine_forward" = {}'),
     '[assignments.a1.functions] "layers.affine_forward": missing \'points\''),
    (lambda t: t.replace("{ points = 4 }", "{ points = -1 }"), "points must be positive, got -1"),
    (lambda t: t.replace("{ points = 4 }", "{ points = 4 }\n\"layers.affine_forward\" = { points = 1 }"),
     'function key "layers.affine_forward" is listed by several assignments: a1, a2'),
    (lambda t: t.replace("{ points = 4 }", "{ points = 4 }\n\"layers.batchnorm_forward\" = { points = 1 }"),
     "not valid TOML"),
    (lambda t: t.replace("{ points = 4 }", "{ point = 4 }"), "unknown field 'point'"),
    (lambda t: t.replace('dataset = "cifar10"', 'dataset = "mnist"'),
     "dataset 'mnist': must be one of ('cifar10', 'svhn')"),
    (lambda t: t.replace('notebook = "one.ipynb"', 'notebook = "two.ipynb"'),
     "notebook 'two.ipynb' is not one of the assignment's notebooks ['one.ipynb']"),
    (lambda t: t.replace('"given"', '"copied"'), "earlier_functions = 'copied': must be one of"),
    (lambda t: t.replace('"layers.batchnorm_forward"', '"batchnorm_forward"'),
     "malformed function key 'batchnorm_forward'"),
    (lambda t: t.replace("checkpoints/net.npz", "../net.npz"), "must be a relative POSIX path"),
    (lambda t: t.replace('notebooks = ["one.ipynb"]', 'notebooks = ["one.py"]'), "'one.py' must end with .ipynb"),
])
def test_validation_errors_name_the_problem(tmp_path, edit, expected):
    with pytest.raises(ManifestError) as error:
        load_manifest(write(tmp_path, edit(VALID)))
    assert expected in str(error.value)
    assert str(tmp_path / "course.toml") in str(error.value)


def test_every_problem_is_reported_at_once(tmp_path):
    broken = VALID.replace("lo = 28", "lo = 70").replace('"cifar10"', '"mnist"').replace("{ points = 4 }", "{}")
    with pytest.raises(ManifestError) as error:
        load_manifest(write(tmp_path, broken))
    assert len(error.value.problems) == 3


def test_unknown_assignment_lists_the_known_ones(tmp_path):
    with pytest.raises(UnknownNameError, match="unknown assignment 'hw9'.*known: a1, a2"):
        load_manifest(write(tmp_path, VALID)).assignment("hw9")


def test_missing_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="course manifest .* does not exist"):
        load_manifest(tmp_path / "course.toml")


def test_function_keys_split_into_qualname_and_tag():
    assert split_function_key("classifiers.fc_net.FullyConnectedNet.loss[batchnorm]") == (
        "classifiers.fc_net.FullyConnectedNet.loss", "batchnorm")
    assert split_function_key("layers.affine_forward") == ("layers.affine_forward", None)


@pytest.mark.parametrize("aid, files", [
    ("hw3", ["classifiers/fc_net.py", "classifiers/neural_net.py", "layers.py"]),
    ("hw4", ["classifiers/fc_net.py", "layers.py", "optim.py"]),
    ("hw5", ["classifiers/cnn.py", "conv_layers.py"]),
    ("svhn", ["mlp/layers.py", "mlp/nets.py", "mlp/optim.py", "mlp/train.py"]),
])
def test_student_files_are_the_modules_of_the_assignments_functions(aid, files):
    manifest = load_manifest(REPO_ROOT / "course.toml")
    assert student_files(manifest.assignment(aid), REPO_ROOT / "course_lib") == files


def test_module_file_prefers_the_longest_module_and_names_what_is_missing(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text("")
    assert module_file(tmp_path, "pkg.mod.Class.method") == "pkg/mod.py"
    assert module_file(tmp_path, "pkg.function") == "pkg/__init__.py"
    with pytest.raises(FileNotFoundError, match="nothere.f: no module under"):
        module_file(tmp_path, "nothere.f")
