"""Grading fidelity: realistic wrong solutions lose exactly their own points, correct ones none.

The corpus is ``fidelity/`` (see ``course_tools/fidelity/``). Every variant is
graded here by the real autograder, but only on the tests that can see its
patch: those of the functions it patches and of every function whose tests
rely on them (the tests' ``requires``, transitively). That keeps the module
within its CI budget; ``python -m course_tools.fidelity --report PATH``
grades every test of every variant.
"""
from types import SimpleNamespace

import pytest

from course_tools import fidelity
from course_tools.fidelity import grading, judging, variant_logs
from course_tools.fidelity import report as fidelity_report
from course_tools.manifest import load_manifest, split_function_key

CORPUS = fidelity.load_corpus()
WRONG = [variant for variant in CORPUS if variant.wrong]
CORRECT = [variant for variant in CORPUS if not variant.wrong]
ASSIGNMENTS = load_manifest(fidelity.REPO_ROOT / "course.toml").assignment_ids


def by_name(variants):
    return pytest.mark.parametrize("variant", variants, ids=[variant.name for variant in variants])


@pytest.fixture(scope="session")
def graded(graded_corpus):
    """{variant name: Graded}: the session's corpus grading (tests/conftest.py)."""
    return graded_corpus


def feedback(graded_variant):
    return "\n\n".join(f"{t['number']} {t['name']} ({t['score']:g}/{t['max_score']:g}):\n{t['output']}"
                       for t in graded_variant.tests if judging.lost_points(t)) or "(no test lost points)"


# The corpus itself ----------------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_has_wrong_and_correct_variants(assignment):
    assert any(v.assignment == assignment for v in WRONG)
    assert any(v.assignment == assignment for v in CORRECT)


def test_corpus_is_large_enough():
    assert len(WRONG) >= 40
    assert len(CORRECT) >= 10


def test_every_patch_applies_once_inside_the_functions_it_names():
    assert fidelity.check_corpus(CORPUS) == []


def make_variant(**fields):
    defaults = {"name": "probe", "kind": "wrong", "assignment": "hw3", "file": "layers.py",
                "edits": (("    dx = dout * (x > 0)\n", "    dx = dout\n"),),
                "functions": ("layers.relu_backward",), "description": "a probe", "names": ("dx",)}
    return fidelity.Variant(**{**defaults, **fields})


@pytest.mark.parametrize("fields, problem", [
    ({"edits": (("    dx = dout * (x >= 0)\n", "    dx = dout\n"),)}, "occurs 0 times"),
    ({"edits": (("    return dx\n", "    return -dx\n"),)}, "occurs"),
    ({"edits": (("dx = dout * (x > 0)\n", "dx = dout\n"),)}, "beginning of a line"),
    ({"functions": ("layers.relu_forward",)}, "not inside a solution region of layers.relu_forward"),
    ({"functions": ("layers.relu_backward", "layers.relu_forward")}, "no edit touches layers.relu_forward"),
    ({"functions": ("optim.adam",)}, "not a student function of hw3"),
    ({"edits": (("    dx = dout * (x > 0)\n", "    dx = (\n"),)}, "does not parse"),
])
def test_check_corpus_reports_a_patch_that_does_not_fit(fields, problem):
    problems = fidelity.check_corpus([make_variant(**fields)])
    assert any(problem in p for p in problems), problems


def test_a_patch_that_fits_passes_the_check():
    assert fidelity.check_corpus([make_variant()]) == []


def test_load_corpus_names_missing_and_unknown_fields(tmp_path):
    (tmp_path / "course.toml").write_text((fidelity.REPO_ROOT / "course.toml").read_text())
    (tmp_path / "fidelity" / "wrong").mkdir(parents=True)
    (tmp_path / "fidelity" / "wrong" / "hw3.toml").write_text(
        '[[variant]]\nname = "x"\nfile = "layers.py"\nfind = "a\\n"\nreplace = "b\\n"\nbreaks = []\nnamez = []\n')
    with pytest.raises(fidelity.CorpusError, match="missing mistake, names; unknown field"):
        fidelity.load_corpus(repo_root=tmp_path)


# Judging results, on results.json-like tests -----------------------------------------------


def checks_of(output):
    """The extra_data["checks"] the judge writes for feedback whose first paragraph is ``<output>: <message>``
    lines (an ``ok`` message passed); later paragraphs are notes, not checks."""
    lines = output.split("\n\n", 1)[0].splitlines()
    return [{"name": name, "message": line, "passed": message.startswith("ok")}
            for line in lines for name, message in [line.split(": ", 1)]]


def result(function, passed, output="", number="1.1"):
    return {"number": number, "name": f"{function}: a test", "score": 1.0 if passed else 0.0, "max_score": 1.0,
            "status": "passed" if passed else "failed", "output": output,
            "extra_data": {"function": function, "checks": checks_of(output)}}


def test_judge_accepts_a_caught_variant():
    tests = [result("layers.relu_backward", False, "dx: relative error 1.0e+00 > tolerance 1e-07"),
             result("classifiers.fc_net.TwoLayerNet.loss", False,
                    "W1: wrong\n\nThis test relies on layers.relu_backward, whose own test failed (test 4.1)"),
             result("layers.affine_forward", True, "out: ok (relative error 0.0e+00)")]
    assert judging.judge(make_variant(), tests) == []


@pytest.mark.parametrize("tests, problem", [
    ([result("layers.relu_backward", True, "dx: ok (relative error 0.0e+00)")], "survived"),
    ([result("layers.relu_backward", False, "dx: wrong"), result("layers.affine_forward", False, "out: wrong")],
     "collateral"),
    ([result("layers.relu_backward", False, "dx_test: wrong\ndx: ok (relative error 0)")], "never names 'dx'"),
])
def test_judge_reports_a_misjudged_wrong_variant(tests, problem):
    problems = judging.judge(make_variant(), tests)
    assert any(problem in p for p in problems), problems


def test_points_lost_elsewhere_count_only_other_functions_tests_even_when_they_name_the_prerequisite():
    note = "This test relies on layers.relu_backward, whose own test failed (test 4.1)"
    tests = [result("layers.relu_backward", False, "dx: wrong"), result("layers.affine_forward", True),
             {**result("classifiers.fc_net.TwoLayerNet.loss", False, "W1: wrong\n\n" + note), "score": 0.25}]
    assert judging.points_lost_elsewhere(make_variant(), tests) == 0.75
    assert judging.points_lost_elsewhere(make_variant(), tests[:2]) == 0


def test_a_function_the_variant_rewrites_but_keeps_right_must_keep_its_points():
    variant = make_variant(functions=("layers.batchnorm_forward",), rewrites=("layers.batchnorm_backward",),
                           names=("out",))
    note = "This test relies on layers.batchnorm_forward, whose own test failed (test 7.1)"
    tests = [result("layers.batchnorm_forward", False, "out: wrong"),
             result("layers.batchnorm_backward", False, "dx: wrong\n\n" + note, number="7.2")]
    assert any("collateral: 7.2" in problem for problem in judging.judge(variant, tests))
    assert variant.patched == ("layers.batchnorm_forward", "layers.batchnorm_backward")


def test_judge_reports_blame_on_an_output_that_is_still_right():
    tests = [result("layers.affine_backward", False, "dx: wrong\ndw: relative error 1e-1 > tolerance 1e-7")]
    variant = make_variant(functions=("layers.affine_backward",), intact=("dw",))
    assert judging.judge(variant, tests) == ["feedback blames 'dw', which is still right"]


def test_judge_reads_only_check_lines_not_prerequisite_notes():
    output = ("gamma1: relative error 1.5e+00 > tolerance 1e-07\nloss: ok (relative error 0.0e+00)\n\n"
              "This test relies on classifiers.fc_net.FullyConnectedNet.loss, whose own test failed (test 0.6)")
    variant = make_variant(functions=("layers.affine_backward",), names=("gamma1",), intact=("loss",))
    assert judging.judge(variant, [result("layers.affine_backward", False, output)]) == []


def test_judge_reports_a_correct_variant_that_loses_points():
    variant = make_variant(kind="correct", names=())
    assert judging.judge(variant, [result("layers.relu_backward", True)]) == []
    assert judging.judge(variant, [result("layers.relu_backward", False)]) != []


def test_a_variant_rewrites_the_logs_of_the_experiments_whose_runs_call_its_functions():
    experiments = {"batchnorm_deep_networks": 2, "batchnorm_weight_scale": 3, "dropout_regularization": 2}
    using = variant_logs.experiments_using
    assert using(("layers.dropout_forward",), experiments) == ["dropout_regularization"]
    assert using(("layers.batchnorm_backward_alt",), experiments) == ["batchnorm_deep_networks", "batchnorm_weight_scale"]
    # A region of loss is loss: every run calls it.
    assert using(("classifiers.fc_net.FullyConnectedNet.loss[batchnorm]",), experiments) == list(experiments)
    assert using(("optim.sgd_momentum", "layers.batchnorm_backward"), experiments) == []


def planned_test(number, function):
    return SimpleNamespace(number=number, test=SimpleNamespace(function=function))


def test_only_tests_that_execute_a_patched_function_are_selected():
    planned = [planned_test("1.1", "layers.relu_backward"), planned_test("2.1", "classifiers.fc_net.TwoLayerNet.loss"),
               planned_test("3.1", "layers.affine_forward"), planned_test("4.1", "classifiers.fc_net.TwoLayerNet.loss")]
    traced = {"1.1": ["layers.relu_forward"], "2.1": ["layers.affine_forward", "layers.relu_backward"],
              "3.1": ["layers.affine_forward"], "4.1": ["layers.affine_forward", "layers.relu_forward"]}
    assert grading.relevant_numbers(make_variant(), planned, traced) == ["1.1", "2.1"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_hidden_test_executes_the_function_it_grades(graded, assignment):
    """The trace that restricts grading here sees each test run its own student function on the reference."""
    grader = graded.grade(assignment)
    missing = [f"{item.number} {item.test.id}" for item in grader.planned if not item.test.scores_upload
               and split_function_key(item.test.function)[0] not in grader.traced[item.number]]
    assert missing == []


# The autograder on the corpus -----------------------------------------------------------------


@by_name(WRONG)
def test_wrong_variant_loses_points_on_the_functions_it_breaks(graded, variant):
    assert judging.missed_functions(variant, graded[variant.name].tests) == [], feedback(graded[variant.name])


@by_name(WRONG)
def test_wrong_variant_keeps_full_marks_elsewhere(graded, variant):
    collateral = judging.collateral_failures(variant, graded[variant.name].tests)
    assert [t["name"] for t in collateral] == [], feedback(graded[variant.name])


def builds_objects(variant):
    """Whether a variant patches a constructor: the reference cannot stand in for one (the object it makes is
    the rest of the test's), so tests of other functions that build with it may lose points."""
    return any(split_function_key(key)[0].endswith(".__init__") for key in variant.functions)


@by_name([variant for variant in WRONG if not builds_objects(variant)])
def test_wrong_variant_loses_no_point_on_other_functions_tests(graded, variant):
    """The reference stands in for the variant's functions wherever another function's test relies on them."""
    assert judging.points_lost_elsewhere(variant, graded[variant.name].tests) == 0, feedback(graded[variant.name])


@by_name(WRONG)
def test_wrong_variant_feedback_names_the_wrong_output(graded, variant):
    assert judging.feedback_problems(variant, graded[variant.name].tests) == [], feedback(graded[variant.name])


@by_name(CORRECT)
def test_correct_variant_scores_full_marks(graded, variant):
    earned, possible = graded[variant.name].score
    assert possible > 0
    assert earned == pytest.approx(possible), feedback(graded[variant.name])


def test_report_lists_every_variant_with_its_feedback(graded, tmp_path):
    variants = [WRONG[0], CORRECT[0]]
    report = fidelity_report.write_report(tmp_path / "report.md", variants,
                                   {v.name: graded[v.name] for v in variants}).read_text()
    assert f"### {WRONG[0].name} (wrong)" in report and f"### {CORRECT[0].name} (correct)" in report
    lost = [t for t in graded[WRONG[0].name].tests if judging.lost_points(t)]
    assert lost and lost[0]["output"].strip() in report


def test_report_says_whether_a_failing_test_diagnoses_the_variant(tmp_path):
    variant = make_variant(name="relu_backward_passes_everything", hint="The gradient must be zero where x <= 0.")
    failing = result("layers.relu_backward", False, "dx: relative error 1.0e+00 > tolerance 1e-07")
    graded_variants = {}
    for kind, message in (("known:relu_backward_passes_everything", "x"),
                          ("other", "The gradient must be zero where x <= 0."), ("other", "unrelated")):
        test = {**failing, "extra_data": {**failing["extra_data"], "diagnoses": [{"kind": kind, "message": message}]}}
        graded_variants[message] = grading.Graded(variant, {"tests": [test]})
    rows = [fidelity_report.variant_rows([variant], {variant.name: g})[2] for g in graded_variants.values()]
    own = [row.rsplit("|", 3)[1].strip() for row in rows]
    generic = [row.rsplit("|", 2)[1].strip() for row in rows]
    assert own == ["yes", "yes", "no"]
    assert generic == ["no", "yes", "yes"]  # a known mistake's hint is not a relation's diagnosis
