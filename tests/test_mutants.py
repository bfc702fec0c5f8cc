"""Mutation analysis (``course fidelity --mutants``): the mutants, their classification, the report.

The operators and the classification are checked on small inputs; one test
grades every mutant of ``layers.relu_forward`` with hw3's real autograder
(about a minute, most of it building the zip).
"""
import ast
import json

import pytest

from course_tools.fidelity import judging
from course_tools.fidelity.cli import parse_args
from course_tools.fidelity.corpus import REPO_ROOT, Variant
from course_tools.fidelity.mutants import generate_mutants
from course_tools.fidelity.mutation import (EQUIVALENT_FILE, EquivalentListError, MutantOutcome, MutationRun,
                                            analyse, classify, load_equivalent, recorded_runs)
from course_tools.fidelity.mutation_report import write_mutation_json, write_mutation_report
from course_tools.manifest import load_manifest

MODULE = '''
import numpy as np


def student(x, w, b, n):
    """A student function."""
    out = None
    ### BEGIN SOLUTION
    out = x.copy()
    out = out + b
    total = np.sum(x * w, axis=0)
    window = x[1:n]
    if n > 0:
        out = out - window.mean()
    ### END SOLUTION
    return out
'''


@pytest.fixture
def library(tmp_path):
    (tmp_path / "layers.py").write_text(MODULE)
    return tmp_path


def afters(mutants):
    return {mutant.after.strip() for mutant in mutants}


def test_every_operator_family_mutates_a_solution_region(library):
    made = afters(generate_mutants(library, {"layers.student"}))
    expected = {
        "out = x",  # missing copy
        "out += b",  # in place
        "out = out - b",  # operator swap
        "out = out",  # dropped term
        "total = np.sum(x * w, axis=1)", "total = np.sum(x * w)",  # axis
        "total = np.sum(x * w, axis=0, keepdims=True)",
        "total = np.mean(x * w, axis=0)",  # function of the same family
        "total = np.sum(x / w, axis=0)",
        "window = x[1 + 1:n]", "window = x[1:n - 1]",  # off by one
        "if n >= 0:", "if n < 0:", "if n > 1:",  # comparison, constant
        "out = window.mean() - out",  # swapped operands
    }
    assert expected <= made, sorted(expected - made)


def test_mutants_stay_inside_the_region_and_parse(library):
    text = (library / "layers.py").read_text()
    mutants = generate_mutants(library, {"layers.student"})
    begin, end = text.index("### BEGIN SOLUTION"), text.index("### END SOLUTION")
    assert mutants
    for mutant in mutants:
        assert begin < mutant.start <= mutant.end < end
        mutated = mutant.apply(text)
        assert mutated != text
        ast.parse(mutated)


def test_mutant_ids_are_stable_and_unique(library):
    first = generate_mutants(library, {"layers.student"})
    assert len({m.id for m in first}) == len(first)
    # an edit elsewhere in the file moves the lines but keeps every id
    (library / "layers.py").write_text("# a new first line\n" + MODULE)
    assert [m.id for m in generate_mutants(library, {"layers.student"})] == [m.id for m in first]


def test_sampling_is_capped_and_seeded(library):
    every = generate_mutants(library, {"layers.student"})
    sample = generate_mutants(library, {"layers.student"}, cap=5, seed=3)
    assert len(sample) == 5 and {m.id for m in sample} <= {m.id for m in every}
    assert [m.id for m in generate_mutants(library, {"layers.student"}, cap=5, seed=3)] == [m.id for m in sample]
    assert len({m.operator for m in sample}) == 5  # operators are taken in turn


def test_reference_library_has_mutants_for_every_student_function():
    manifest = load_manifest(REPO_ROOT / "course.toml")
    keys = {key for aid in manifest.assignment_ids for key in manifest.assignment(aid).functions}
    mutated = {m.function for m in generate_mutants(REPO_ROOT / "course_lib", keys)}
    assert keys - mutated == set()


def first_mutant(function):
    return generate_mutants(REPO_ROOT / "course_lib", {function})[0]


def graded_test(function, passed, diagnoses=()):
    return {"number": "1.1", "name": f"{function}: a test", "status": "passed" if passed else "failed",
            "output": "", "extra_data": {"function": function, "diagnoses": list(diagnoses)}}


@pytest.mark.parametrize("tests, status", [
    ([graded_test("layers.affine_forward", True), graded_test("layers.affine_forward", False)], "killed_own"),
    ([graded_test("layers.affine_forward", True), graded_test("layers.fc_net", False)], "killed_elsewhere"),
    ([graded_test("layers.affine_forward", True)], "survived"),
])
def test_classify(tests, status):
    mutant = first_mutant("layers.affine_forward")
    assert classify(mutant, tests, {})[0] == status
    assert classify(mutant, tests, {mutant.id: "an argument"})[0] == (
        "equivalent" if status == "survived" else status)


def test_classify_counts_diagnosed_failures():
    mutant = first_mutant("layers.affine_forward")
    failing = graded_test("layers.affine_forward", False, [{"kind": "sign", "message": "flip"}])
    assert classify(mutant, [failing], {})[2] is True
    assert classify(mutant, [graded_test("layers.affine_forward", False)], {})[2] is False
    known = graded_test("layers.affine_forward", False, [{"kind": "known:affine_leaks", "message": "hint"}])
    assert classify(mutant, [known], {})[2] is False  # matching a known mistake is not a generic diagnosis


def test_own_diagnosis_reads_the_kind_or_the_hint():
    variant = Variant("relu_leaks", "wrong", "hw3", "layers.py", (), ("layers.relu_forward",), "",
                      hint="Negative inputs must map to zero.")
    by_kind = graded_test("layers.relu_forward", False, [{"kind": "known:relu_leaks", "message": "x"}])
    by_hint = graded_test("layers.relu_forward", False, [{"kind": "other", "message": "Negative inputs  must "
                                                                                        "map to zero."}])
    unrelated = graded_test("layers.relu_forward", False, [{"kind": "known:other", "message": "x"}])
    assert judging.own_diagnosis(variant, [by_kind]) and judging.own_diagnosis(variant, [by_hint])
    assert not judging.own_diagnosis(variant, [unrelated])


def test_committed_equivalent_list_loads():
    listed = load_equivalent(REPO_ROOT / EQUIVALENT_FILE)
    assert listed and all(reason.strip() for reason in listed.values())


@pytest.mark.parametrize("text, problem", [
    ('[equivalent]\n"a:b:c" = ""\n', "no argument for a:b:c"),
    ('[equivalents]\n"a:b:c" = "x"\n', "unknown key"),
    ('[equivalent\n', "not valid TOML"),
])
def test_equivalent_list_errors_name_the_problem(tmp_path, text, problem):
    (tmp_path / "list.toml").write_text(text)
    with pytest.raises(EquivalentListError, match=problem):
        load_equivalent(tmp_path / "list.toml")


@pytest.mark.parametrize("argv, message", [
    (["hw3", "--report", "r.md", "--json", "r.json"], "need --mutants"),
    (["--mutants", "hw3", "hw4", "--report", "r.md", "--function", "layers.relu_forward"], "exactly one"),
    (["--mutants", "--report", "r.md", "--cap", "0"], "at least 1"),
])
def test_cli_refuses_inconsistent_options(capsys, argv, message):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert message in capsys.readouterr().err


def test_report_and_json_list_every_mutant(tmp_path):
    mutant = first_mutant("layers.affine_forward")
    outcomes = [MutantOutcome(mutant, "survived", ["1.1"]),
                MutantOutcome(mutant, "killed_elsewhere", ["1.1", "2.1"], ["2.1 other: test"], diagnosed=True)]
    run = MutationRun("hw3", outcomes, 2.0, 1.0, 2, None, 0, 2)
    report = write_mutation_report(tmp_path / "report.md", [run]).read_text()
    assert f"| `{mutant.id}` |" in report and "2.1 other: test" in report
    assert "| hw3 | 2 of 2 | 0 | 1 | 1 | 0 | 0.0% | 100% |" in report
    data = json.loads(write_mutation_json(tmp_path / "m.json", [run]).read_text())
    listed = data["assignments"][0]["mutants"]
    assert [m["status"] for m in listed] == ["survived", "killed_elsewhere"]
    assert {"id", "function", "file", "line", "before", "after", "status"} <= set(listed[0])


def test_recorded_run_is_rejudged_with_the_current_equivalent_list(tmp_path):
    survivor, killed = generate_mutants(REPO_ROOT / "course_lib", {"layers.affine_forward"})[:2]
    run = MutationRun("hw3", [MutantOutcome(survivor, "survived", ["1.1"]),
                              MutantOutcome(killed, "killed_own", ["1.1"], ["1.1 x"])], 2.0, 1.0, 2, None, 0, 2,
                      functions=["layers.affine_forward"])
    path = write_mutation_json(tmp_path / "m.json", [run])
    again = recorded_runs(path, {survivor.id: "an argument", "layers.affine_forward:sign:gone": "stale"})[0]
    assert [o.status for o in again.outcomes] == ["equivalent", "killed_own"]
    assert again.outcomes[0].reason == "an argument"
    assert again.stale == ["layers.affine_forward:sign:gone"]
    assert [o.status for o in recorded_runs(path, {})[0].outcomes] == ["survived", "killed_own"]


# The real autograder on the mutants of one function -----------------------------------------------


def test_relu_forward_mutants_are_classified(tmp_path, standin_dir, monkeypatch):
    """maximum -> minimum is killed by relu_forward's own test; np.maximum(0, x) is the listed equivalent."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(standin_dir))
    run = analyse("hw3", tmp_path, functions=["layers.relu_forward"], jobs=2)
    status = {o.mutant.after.strip(): o.status for o in run.outcomes}
    assert status["out = np.minimum(x, 0)"] == "killed_own"
    assert status["out = np.maximum(0, x)"] == "equivalent"
    assert status["out = np.maximum(x, 1)"] == "killed_own"
    assert run.own_kill_rate == 1.0 and run.stale == []


def test_unknown_function_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a student function of hw3: optim.adam"):
        analyse("hw3", tmp_path, functions=["optim.adam"])
