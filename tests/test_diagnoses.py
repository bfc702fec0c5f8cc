"""Diagnoses: each relation fires on its constructed mistake and on nothing else; known mistakes are recognised
end to end; no diagnosis on a passing test, the reference or a correct variant; no expected value revealed."""
import io
import json
import re
import zipfile

import numpy as np
import pytest

from autograder import layout
from autograder.harness import diagnose, programs
from autograder.harness.judge import CheckResult, Verdict
from autograder.harness.report import LIKELY_CAUSE, feedback_text
from autograder.suites import CATALOG
from autograder.suites.spec import Check, call, inp, method, program, res
from course_tools import fidelity
from course_tools.fidelity import judging
from course_tools.manifest import load_manifest

CORPUS = fidelity.load_corpus()
WRONG = [variant for variant in CORPUS if variant.wrong]
CORRECT = [variant for variant in CORPUS if not variant.wrong]
ASSIGNMENTS = load_manifest(fidelity.REPO_ROOT / "course.toml").assignment_ids

# Constructed cases ----------------------------------------------------------------------------------


def layer_program(**kwargs):
    """A program whose output ``out`` is the result of one call on the inputs x and dout."""
    return program([call("layers.some_layer", inp("x"), inp("dout"), **kwargs)], {"out": res(0)})


def normal(rng, *shape):
    return rng.standard_normal(shape)


def case(rng, name):
    """(student's output, expected output, inputs, program, extra expected arrays) of one constructed mistake."""
    x, dout = normal(rng, 4, 5), normal(rng, 4, 5)
    inputs = {"x": x, "dout": dout}
    expected = np.tanh(x) * dout + 0.3 * x  # no exact relation to any known quantity
    plain = layer_program()
    if name == "sign":
        return -expected, expected, inputs, plain, {}
    if name == "factor":
        return expected / 4, expected, inputs, plain, {}
    if name == "factor_dropout":
        return expected / 0.7, expected, inputs, layer_program(dropout_param={"mode": "train", "p": 0.3}), {}
    if name == "scale":
        return 0.37 * expected, expected, inputs, plain, {}
    if name == "transposed":
        return expected.T, expected, inputs, plain, {}
    if name == "permuted":
        cube = normal(rng, 2, 3, 4)
        return cube.transpose(2, 0, 1), cube, inputs, plain, {}
    if name == "reshape":
        cube = normal(rng, 4, 2, 3)
        return cube.reshape(4, 6), cube, inputs, plain, {}
    if name == "keepdims":
        column = normal(rng, 4, 1)
        return column[:, 0], column, inputs, plain, {}
    if name == "reduction":
        return dout.sum(axis=1), dout.sum(axis=0), inputs, plain, {}
    if name == "masked":
        return np.abs(x), np.maximum(x, 0), inputs, plain, {}
    if name == "inverted_mask":
        return dout * (x < 0), dout * (x > 0), inputs, plain, {}
    if name == "dropped":
        keep = rng.random(x.shape) < 0.6
        return x * keep / 0.6, x, inputs, layer_program(dropout_param={"mode": "test", "p": 0.4}), {}
    if name == "term_bias":
        b = normal(rng, 5)
        return expected - b, expected, {**inputs, "b": b}, plain, {}
    if name == "term_dout":
        return expected + dout, expected, inputs, plain, {}
    if name == "term_mean":
        return expected - x.mean(axis=0), expected, inputs, plain, {}
    if name == "term_reg":
        weights = normal(rng, 4, 5)
        return (expected + 0.7 * weights, expected, {**inputs, "W1": weights},
                program([call("Net", reg=0.7)], {"W1": res(0)}), {})
    if name == "term_loss":
        weights = normal(rng, 3, 2)
        loss = np.float64(2.3)
        return (loss + 0.5 * 0.05 * np.sum(weights ** 2), loss, {"X": x, "W1": weights},
                program([call("Net"), method(res(0), "loss", inp("X"), inp("y"), 0.05)], {"loss": res(1, 0)}), {})
    if name == "overflow":
        large = x + 1000.0
        actual = expected.copy()
        actual[:] = np.nan
        return actual, expected, {"x_large": large}, program([call("layers.softmax", inp("x_large"))],
                                                             {"out": res(0)}), {}
    if name == "unstable":
        actual = expected.copy()
        actual[1, 2] = np.inf
        return actual, expected, inputs, plain, {}
    if name == "dtype":
        return np.trunc(expected * 10).astype(np.int64), expected * 10, inputs, plain, {}
    if name == "state":
        running = normal(rng, 5)
        return running, running * 0.8 + 0.2 * x.mean(axis=0), {**inputs, "out": running}, plain, {}
    if name == "mode":
        train = expected * 2.5 - 1.0
        return (train, expected, inputs, layer_program(bn_param={"mode": "test"}),
                {programs.SWAPPED_PREFIX + "out": train})
    raise ValueError(name)


KIND = {"sign": "sign", "factor": "factor", "factor_dropout": "factor", "scale": "scale", "transposed": "transposed",
        "permuted": "transposed", "reshape": "reshape", "keepdims": "keepdims", "reduction": "reduction",
        "masked": "masked", "inverted_mask": "inverted_mask", "dropped": "dropped", "term_bias": "term", "term_dout": "term",
        "term_mean": "term", "term_reg": "term", "term_loss": "term", "overflow": "overflow",
        "unstable": "unstable", "dtype": "dtype", "state": "state", "mode": "mode"}
# A perturbation of the student's output must silence these (the others are about NaN and dtypes).
NEAR_MISSES = [name for name in KIND if name not in ("overflow", "unstable", "dtype")]
# Facts about a wrong shape alone (dimensions in another order...): true whatever the values.
SHAPE_FACTS = {"axes_order", "size", "ndim", "input_shape", "axis"}


def value_diagnoses(found, actual, expected):
    """The diagnoses that read values: all of them, less the shape facts when the shapes differ."""
    if np.shape(actual) == np.shape(expected):
        return found
    return [item for item in found if item["kind"] not in SHAPE_FACTS]


def diagnoses_of(actual, expected, inputs, body, extra=(), key="out", outputs=None, known=()):
    """The diagnoses of one failing match check of output ``key``."""
    check = Check("match", list(body["outputs"])[0] if key == "out" else key)
    result = CheckResult(check.name, "match", False, f"{check.name}: relative error 1 > tolerance 1e-07",
                         problem="mismatch")
    student = {check.output: np.asarray(actual), **(outputs or {})}
    fixtures = {check.output: np.asarray(expected), **dict(extra)}
    diagnose.diagnose_checks([check], [result], student, fixtures, inputs, body, known)
    return result.diagnoses


@pytest.mark.parametrize("name", list(KIND))
def test_each_relation_fires_on_its_mistake(name):
    actual, expected, inputs, body, extra = case(np.random.default_rng(3), name)
    found = diagnoses_of(actual, expected, inputs, body, extra)
    assert KIND[name] in [item["kind"] for item in found], found
    for item in found:
        assert item["message"].startswith("your ")


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", NEAR_MISSES)
def test_no_relation_fires_on_a_near_miss(name, seed):
    """The mistake's output, off by a relative 1e-4 at random: a relation must hold on the whole array."""
    rng = np.random.default_rng(seed)
    actual, expected, inputs, body, extra = case(rng, name)
    actual = np.asarray(actual, dtype=np.float64)
    noisy = actual * (1 + 1e-4 * rng.standard_normal(actual.shape)) + 1e-4 * np.max(np.abs(actual))
    assert value_diagnoses(diagnoses_of(noisy, expected, inputs, body, extra), noisy, expected) == []


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", list(KIND))
def test_no_relation_fires_on_an_unrelated_output(name, seed):
    rng = np.random.default_rng(100 + seed)
    actual, expected, inputs, body, extra = case(rng, name)
    unrelated = rng.standard_normal(np.shape(expected))
    assert value_diagnoses(diagnoses_of(unrelated, expected, inputs, body, extra), unrelated, expected) == []


@pytest.mark.parametrize("name", list(KIND))
def test_a_right_output_gets_no_relation(name):
    """Even if a check failed for another reason, an output equal to the expected one (up to rounding) has none."""
    _, expected, inputs, body, extra = case(np.random.default_rng(5), name)
    right = np.asarray(expected, dtype=np.float64) * (1 + 1e-13)
    assert diagnoses_of(right, expected, inputs, body, extra) == []


def test_factor_reads_the_batch_size_from_the_inputs():
    rng = np.random.default_rng(0)
    dout = rng.standard_normal((7, 3))
    found = diagnoses_of(dout.mean(axis=0), dout.sum(axis=0), {"x": rng.standard_normal((7, 2)), "dout": dout},
                         layer_program())
    assert "1/N (N = 7, the batch size)" in found[0]["message"]


def test_factor_reads_the_dropout_probability_from_the_program():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5))
    found = diagnoses_of(x * 0.4, x, {"x": x}, layer_program(dropout_param={"mode": "train", "p": 0.6}))
    assert "p = 0.6" in found[0]["message"]


def test_mode_names_the_mode_asked_for():
    rng = np.random.default_rng(0)
    actual, expected, inputs, body, extra = case(rng, "mode")
    found = diagnoses_of(actual, expected, inputs, body, extra)
    assert "equals what train mode gives, but this call asks for test mode" in found[0]["message"]


def test_an_input_modified_in_place_is_named_with_its_call():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    body = layer_program()
    probe = f"{programs.PROBE_PREFIX}0/x"
    assert probe in programs.with_probes(body)["outputs"]
    found = diagnoses_of(x + 1, x, {"x": x, "dout": x}, body, outputs={probe: np.maximum(x, 0)})
    assert [item["kind"] for item in found] == ["inplace"]
    assert "your layers.some_layer changed x, which it received and must leave as it was" in found[0]["message"]
    assert diagnoses_of(x + 1, x, {"x": x, "dout": x}, body, outputs={probe: x.copy()}) == []
    # The reference changes it too (state it must update; the fixtures keep that probe): nothing to say.
    assert diagnoses_of(x + 1, x, {"x": x, "dout": x}, body, {probe: np.maximum(x, 0)},
                        outputs={probe: np.maximum(x, 0)}) == []


def test_probes_and_swapped_modes_leave_the_program_itself_alone():
    body = program([call("layers.batchnorm_forward", inp("x"), {"mode": "train", "running_mean": inp("rm")}),
                    method(res(0), "forward", inp("x"), True, 7)], {"out": res(0, 0)})
    probed = programs.with_probes(body)
    assert probed["calls"] == body["calls"]
    assert probed["outputs"]["probe/0/rm"] == {"$a": [0, 1, "running_mean"]}
    swapped = programs.swapped_modes(body)
    assert swapped["calls"][0]["args"][1]["mode"] == "test"
    assert swapped["calls"][1]["args"][1] is False
    assert body["calls"][0]["args"][1]["mode"] == "train"
    assert programs.swapped_modes(program([call("layers.relu_forward", inp("x"))], {"out": res(0)})) is None


def known_case():
    rng = np.random.default_rng(0)
    expected = rng.standard_normal((4, 5))
    mistake = expected * 1.7 + 0.2
    return expected, mistake


def test_a_known_mistake_is_recognised_on_every_output_and_all_matches_are_listed():
    expected, mistake = known_case()
    known = [("first", "hint one.", {"out": mistake}), ("second", "hint two.", {"out": mistake.copy()}),
             ("other", "hint three.", {"out": mistake + 1.0})]
    found = diagnoses_of(mistake, expected, {}, layer_program(), known=known)
    assert [item["kind"] for item in found][:2] == ["known:first", "known:second"]
    assert found[0]["message"].endswith("hint one.")
    assert not any(item["kind"] == "known:other" for item in found)


def test_a_known_mistake_that_equals_the_reference_says_nothing():
    expected, mistake = known_case()
    assert diagnoses_of(mistake, expected, {}, layer_program(), known=[("same", "hint.", {"out": expected})]) == []


def test_a_known_mistake_must_match_every_output_it_produced():
    expected, mistake = known_case()
    known = [("both", "hint.", {"out": mistake, "other": np.ones(3)})]
    found = diagnoses_of(mistake, expected, {}, layer_program(), known=known, outputs={"other": np.zeros(3)})
    assert not any(item["kind"].startswith("known:") for item in found)


# Interface -------------------------------------------------------------------------------------------


class Planned:
    prerequisite_only = False


def test_likely_cause_lines_appear_on_failing_tests_only():
    diagnosis = {"kind": "sign", "message": "your dx equals the expected dx with the sign flipped: ..."}
    failing = CheckResult("dx", "gradient", False, "dx: relative error 2e+00 > tolerance 1e-07", diagnoses=[diagnosis])
    text = feedback_text(Planned(), Verdict(0.0, [failing.message], checks=[failing]))
    assert f"{LIKELY_CAUSE} {diagnosis['message']}" in text.splitlines()
    passing = CheckResult("dx", "gradient", True, "dx: ok", diagnoses=[diagnosis])
    assert LIKELY_CAUSE not in feedback_text(Planned(), Verdict(1.0, [passing.message], checks=[passing]))


# No expected value is ever revealed -------------------------------------------------------------------

NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def revealed_numbers(message, body):
    """Numbers in ``message`` that are neither integers (shapes, axes, counts) nor settings of the test's
    program (p, reg...; and the 0.5 of the L2 term), formatted as the messages format them."""
    settings = {f"{float(token):g}" for token in NUMBER.findall(json.dumps(body))} | {"0.5"}
    return [token for token in NUMBER.findall(message)
            if not re.fullmatch(r"-?\d+", token) and f"{float(token):g}" not in settings]


@pytest.mark.parametrize("name", list(KIND))
def test_constructed_diagnoses_reveal_no_value(name):
    actual, expected, inputs, body, extra = case(np.random.default_rng(3), name)
    for item in diagnoses_of(actual, expected, inputs, body, extra):
        assert revealed_numbers(item["message"], body) == [], item


# End to end: the fidelity corpus graded with zips that hold the known mistakes ------------------------

TARGET_SHARE = 0.9  # of the corpus' wrong variants whose own known diagnosis appears


class DiagnosedCorpus:
    """Per assignment, of the session's corpus grading (tests/conftest.py, zips built with the known
    mistakes): every variant's tests of the functions it patches, where its own diagnosis must appear,
    the reference on every test of a function, and the zip."""

    def __init__(self, graded):
        self.graded = graded

    def __getitem__(self, assignment):
        grader = self.graded.grade(assignment)
        tests = {variant.name: [test for test in self.graded[variant.name].tests
                                if judging.function_of(test) in variant.functions]
                 for variant in CORPUS if variant.assignment == assignment}
        return {"tests": tests, "reference": self.graded.references[assignment], "zip": grader.zip_path}


@pytest.fixture(scope="module")
def corpus(graded_corpus):
    return DiagnosedCorpus(graded_corpus)


def diagnosis_kinds(tests):
    return [item["kind"] for test in tests for item in test["extra_data"]["diagnoses"]]


def test_most_wrong_variants_get_their_own_diagnosis(corpus):
    named = {variant.name: f"known:{variant.name}" in diagnosis_kinds(corpus[variant.assignment]["tests"][variant.name])
             for variant in WRONG}
    share = sum(named.values()) / len(named)
    missed = sorted(name for name, found in named.items() if not found)
    print(f"\n{sum(named.values())} of {len(named)} wrong variants ({share:.0%}) get their own diagnosis; "
          f"missed: {', '.join(missed) or 'none'}")
    assert share >= TARGET_SHARE, missed


GENERIC = {"affine_backward_forgets_reshape": "reshape", "affine_backward_db_averaged": "factor",
           "relu_forward_absolute_value": "masked", "relu_backward_passes_negative_side": "inverted_mask",
           "fc_two_layer_l2_missing_from_gradient": "term", "batchnorm_test_mode_uses_batch_statistics": "mode",
           "fc_backward_dw_transposed": "transposed", "softmax_without_max_shift": "overflow",
           "sgdm_velocity_never_stored": "state", "mlp_dropout_applied_at_test_time": "dropped",
           "cross_entropy_forward_never_averages": "factor"}


@pytest.mark.parametrize("name", sorted(GENERIC))
def test_generic_relations_name_corpus_mistakes_in_real_gradings(corpus, name):
    """The relations fire through the whole pipeline (probes and swapped-mode fixtures included)."""
    variant = next(v for v in WRONG if v.name == name)
    assert GENERIC[name] in diagnosis_kinds(corpus[variant.assignment]["tests"][name])


def test_share_of_wrong_variants_with_a_generic_diagnosis(corpus):
    """Reported, not a target: what a mistake outside the corpus can expect, roughly."""
    generic = [v.name for v in WRONG if any(not kind.startswith("known:") for kind in
                                            diagnosis_kinds(corpus[v.assignment]["tests"][v.name]))]
    print(f"\n{len(generic)} of {len(WRONG)} wrong variants also get a generic diagnosis")
    assert generic


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_diagnosis_on_correct_variants_the_reference_or_passing_tests(corpus, assignment):
    graded = corpus[assignment]
    for variant in (v for v in CORRECT if v.assignment == assignment):
        assert diagnosis_kinds(graded["tests"][variant.name]) == [], variant.name
    assert graded["reference"] and all(test["status"] == "passed" for test in graded["reference"])
    assert diagnosis_kinds(graded["reference"]) == []
    for tests in graded["tests"].values():
        for test in tests:
            if test["status"] == "passed":
                assert test["extra_data"]["diagnoses"] == [] and LIKELY_CAUSE not in test["output"]
            lines = [line for line in test["output"].splitlines() if line.startswith(LIKELY_CAUSE)]
            assert lines == [f"{LIKELY_CAUSE} {item['message']}" for item in test["extra_data"]["diagnoses"]]


def expected_values(zip_path):
    """{test id: every expected float of the test} from the zip's fixtures."""
    with zipfile.ZipFile(zip_path) as archive, np.load(io.BytesIO(archive.read(layout.FIXTURES))) as fixtures:
        values = {}
        for key in fixtures.files:
            test_id, part, _ = layout.split_fixture_key(key)
            if part == "out" and fixtures[key].dtype.kind == "f":
                values.setdefault(test_id, []).append(np.ravel(fixtures[key]))
    return {test_id: np.concatenate(arrays) for test_id, arrays in values.items()}


def shown_expected_values(text, values):
    """Numbers of ``text`` written with 4 or more significant digits that are an expected value, rounded."""
    shown = []
    for token in NUMBER.findall(text):
        digits = len(re.sub(r"e.*|[-.]", "", token).lstrip("0"))
        number = float(token)
        if digits >= 4 and number != 0:
            half_unit = 0.5 * 10 ** (np.floor(np.log10(abs(number))) - digits + 1)
            if np.any(np.abs(values - number) <= half_unit * (1 + 1e-9)):
                shown.append(token)
    return shown


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_expected_value_is_revealed(corpus, assignment):
    """Diagnoses hold no number but shapes, counts and the program's settings, and no feedback of a wrong
    variant writes an expected value."""
    graded = corpus[assignment]
    values = expected_values(graded["zip"])
    hidden = {test.title: test for key in CATALOG for test in CATALOG[key]}
    for tests in graded["tests"].values():
        for test in tests:
            for item in test["extra_data"]["diagnoses"]:
                assert revealed_numbers(item["message"], hidden[test["name"]].program) == [], item
            shown = shown_expected_values(test["output"], values.get(hidden[test["name"]].id, np.zeros(0)))
            assert shown == [], test["output"]
