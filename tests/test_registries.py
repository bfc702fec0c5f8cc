"""The course's registries, each with one home.

Hidden tests: the suite modules of ``autograder/suites`` (collected, none
registered by hand). Kinds of test: ``spec.Kind`` values, never strings.
Checkpoints: standard classes and reference recipes in
``autograder/suites/checkpoints.py``. Assignments: ``course.toml`` only.
"""
import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

from autograder import suites
from autograder.harness.pipeline import UPLOAD_GRADERS
from autograder.suites import CATALOG, assignment_prerequisites, suite_modules
from autograder.suites import spec
from autograder.suites.checkpoints import RECIPES, STANDARD_CLASSES
from autograder.suites.spec import Kind
from course_tools.manifest import load_manifest

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest(REPO_ROOT / "course.toml")
SUITES = REPO_ROOT / "autograder" / "suites"


def defines_tests(path):
    """Whether the module at ``path`` assigns ``TESTS`` at its top level (read from its source)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "TESTS" for target in node.targets)
               for node in tree.body)


def package_modules():
    return [importlib.import_module(f"autograder.suites.{info.name}") for info in pkgutil.iter_modules(suites.__path__)]


def test_every_suite_module_is_collected_in_alphabetical_order():
    on_disk = sorted(path.stem for path in SUITES.glob("*.py") if path.stem != "__init__" and defines_tests(path))
    assert len(on_disk) >= 2
    assert [module.__name__.rpartition(".")[2] for module in suite_modules()] == on_disk
    collected = [test for module in suite_modules() for test in module.TESTS]
    assert sorted(test.id for tests in CATALOG.values() for test in tests) == sorted(test.id for test in collected)


def test_every_list_of_tests_in_the_suites_reaches_the_catalog():
    catalogued = {test.id for tests in CATALOG.values() for test in tests}
    forgotten = [f"{module.__name__}.{name}: {test.id}" for module in package_modules()
                 for name, value in vars(module).items()
                 if isinstance(value, list | tuple) and value and all(isinstance(item, spec.Test) for item in value)
                 for test in value if test.id not in catalogued]
    assert forgotten == []


@pytest.mark.parametrize("assignment_id", MANIFEST.assignment_ids)
def test_prerequisites_are_numbered_in_course_order(assignment_id):
    assignment = MANIFEST.assignment(assignment_id)
    needed = assignment_prerequisites(assignment.functions, assignment.experiments)
    assert needed == [key for key in MANIFEST.all_function_keys() if key in needed]


def test_a_test_kind_is_a_type_not_a_string():
    with pytest.raises(TypeError, match="spec.Kind"):
        spec.Test("layers.relu_forward", "forward output", "forward")
    kinds = [value for value in vars(spec).values() if isinstance(value, Kind)]
    assert len({kind.name for kind in kinds}) == len(kinds)
    assert {test.kind for tests in CATALOG.values() for test in tests} <= set(kinds)


def test_every_kind_scored_from_the_upload_has_a_grader():
    upload_kinds = {value for value in vars(spec).values() if isinstance(value, Kind) and value.scores_upload}
    assert upload_kinds == {spec.CHECKPOINT, spec.EXPERIMENT} and upload_kinds <= set(UPLOAD_GRADERS)


def test_checkpoints_have_recipes_of_standard_classes():
    names = [checkpoint.name for aid in MANIFEST.assignment_ids for checkpoint in MANIFEST.assignment(aid).checkpoints]
    assert sorted(names) == sorted(RECIPES)  # course build trains each reference checkpoint by its recipe
    assert all(recipe.model in STANDARD_CLASSES for recipe in RECIPES.values())
    for qualname, layout in STANDARD_CLASSES.items():
        module, _, name = qualname.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), name), type) and layout in ("rows", "images")


def literal_lists_of_every_assignment(path, ids):
    """Lines of ``path`` holding a tuple, list or set of every assignment id, or a string naming them all."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            strings = {item.value for item in node.elts if isinstance(item, ast.Constant)}
            if set(ids) <= strings:
                found.append(f"{path.name}:{node.lineno}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and ", ".join(ids) in node.value:
            found.append(f"{path.name}:{node.lineno}")
    return found


def test_no_test_lists_the_assignments_by_hand():
    ids = MANIFEST.assignment_ids
    found = [line for path in sorted((REPO_ROOT / "tests").rglob("*.py"))
             for line in literal_lists_of_every_assignment(path, ids)]
    assert found == []


def test_printed_text_is_shown_only_where_printing_is_not_the_behaviour_under_test():
    from autograder.harness.judge import Verdict
    from autograder.harness.pipeline import with_printed
    from autograder.suites.spec import BEHAVIOUR, Test

    printed = {"chars": 12, "head": "loss 0.1234\n"}
    shown = with_printed(Verdict(1.0, []), printed, Test("f", "ordinary", BEHAVIOUR))
    assert "loss 0.1234" in "\n".join(shown.lines)
    counted = with_printed(Verdict(1.0, []), printed, Test("f", "progress", BEHAVIOUR, shows_printed=False))
    assert "loss 0.1234" not in "\n".join(counted.lines + counted.notes)
    assert counted.notes == ["your code printed 12 characters (not shown)"]


def test_a_function_is_graded_after_the_functions_its_tests_rely_on():
    from autograder.harness.pipeline import groups, in_dependency_order
    from autograder.suites import PlannedTest
    from autograder.suites.spec import BEHAVIOUR, Test

    def planned(number, function, requires=()):
        return PlannedTest(Test(function, "t", BEHAVIOUR, requires=requires), number, 1.0)

    plan = [planned("1.1", "loss"), planned("2.1", "train", ("loss", "predict")), planned("2.2", "train"),
            planned("3.1", "predict", ("loss",)), planned("4.1", "other")]
    order = [[p.number for p in group] for group in in_dependency_order(groups(plan))]
    assert order == [["1.1"], ["3.1"], ["2.1", "2.2"], ["4.1"]]
    circular = [planned("1.1", "a", ("b",)), planned("2.1", "b", ("a",))]
    assert [[p.number for p in g] for g in in_dependency_order(groups(circular))] == [["1.1"], ["2.1"]]
