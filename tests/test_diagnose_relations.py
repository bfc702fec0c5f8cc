"""The relations that locate or rebuild a mistake, the shape patterns, initial parameters and exceptions: each
fires on its constructed mistake, not on a near miss or an unrelated output, never on a right one, and reveals
no expected value."""
import numpy as np
import pytest

from autograder.harness import diagnose, programs
from autograder.harness.diagnose_errors import error_diagnoses
from autograder.harness.judge import CheckResult, Verdict
from autograder.suites.spec import Check, call, inp, method, program, res
from tests.test_diagnoses import diagnoses_of, layer_program, revealed_numbers


def net_loss_program(reg):
    return program([call("Net", reg=reg), method(res(0), "loss", inp("X"), inp("y"))], {"loss": res(1, 0)})


def case(rng, name):
    """(student's output, expected output, inputs, program, output key) of one constructed mistake."""
    x, dout = rng.standard_normal((6, 8)), rng.standard_normal((6, 8))
    inputs = {"x": x, "dout": dout}
    expected = np.tanh(x) * dout + 0.3 * x
    plain = layer_program()
    if name == "located":
        actual = expected.copy()
        actual[-1] = rng.standard_normal(8)
        return actual, expected, inputs, plain, "out"
    if name == "border":
        cube = rng.standard_normal((2, 3, 5, 5))
        actual = cube.copy()
        actual[:, :, 0, :] += 1.0
        actual[:, :, :, -1] -= 1.0
        return actual, cube, inputs, plain, "out"
    if name == "threshold":
        return np.maximum(x, 0.5), np.maximum(x, 0.0), inputs, plain, "out"
    if name == "multiple":
        weights = rng.standard_normal((6, 8))
        return expected + 0.3 * weights, expected, {**inputs, "W1": weights}, plain, "W1"
    if name == "l2":
        w1, w2 = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
        squares = np.sum(w1 * w1) + np.sum(w2 * w2)
        wanted = np.float64(2.1)
        return (wanted - 0.5 * 0.05 * squares + 0.5 * squares, wanted, {"X": x, "W1": w1, "W2": w2},
                net_loss_program(0.05), "loss")
    if name == "zero":
        return np.zeros_like(expected), expected, inputs, plain, "out"
    if name == "input":
        return x.copy(), expected, inputs, plain, "out"
    if name in ("step_sign", "step_scale"):
        w, step = rng.standard_normal((6, 8)), rng.standard_normal((6, 8))
        actual = w - step if name == "step_sign" else w + 0.37 * step
        return actual, w + step, {"w": w, "dw": rng.standard_normal((6, 8))}, plain, "next_w"
    if name == "per_column":
        return expected + rng.standard_normal(8), expected, inputs, plain, "out"
    if name == "per_column_linear":
        return expected + rng.standard_normal(8) + rng.standard_normal(8) * x, expected, inputs, plain, "out"
    if name == "band":
        return np.where(x > 1, x, 0.1 * x), np.where(x > 0, x, 0.1 * x), inputs, plain, "out"
    if name == "label":
        labels = rng.integers(0, 8, size=6)
        actual = expected.copy()
        actual[np.arange(6), labels] += 2.0
        return actual, expected, {**inputs, "y": labels}, plain, "out"
    if name == "sign_pieces":
        return np.where(x > 0, 0.1 * x, x), np.where(x > 0, x, 0.1 * x), inputs, plain, "out"
    raise ValueError(name)


VALUE_KINDS = ["located", "border", "threshold", "multiple", "l2", "zero", "input", "step_sign", "step_scale",
               "per_column", "per_column_linear", "band", "label", "sign_pieces"]


def found_for(actual, expected, inputs, body, key):
    if key == "out":
        return diagnoses_of(actual, expected, inputs, body)
    return diagnoses_of(actual, expected, inputs, body, key=key)


def body_for(body, key):
    """The program with its output renamed to ``key`` (diagnoses_of checks the program's first output)."""
    return {**body, "outputs": {key: next(iter(body["outputs"].values()))}}


@pytest.mark.parametrize("name", VALUE_KINDS)
def test_each_value_relation_fires_on_its_mistake(name):
    actual, expected, inputs, body, key = case(np.random.default_rng(3), name)
    found = found_for(actual, expected, inputs, body_for(body, key), key)
    assert name.replace("_linear", "") in [item["kind"] for item in found], found
    for item in found:
        assert item["message"].startswith("your ")
        assert revealed_numbers(item["message"], body) == [], item


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", VALUE_KINDS)
def test_no_value_relation_fires_on_a_near_miss_or_an_unrelated_output(name, seed):
    rng = np.random.default_rng(seed)
    actual, expected, inputs, body, key = case(rng, name)
    actual = np.asarray(actual, dtype=np.float64)
    size = max(np.max(np.abs(actual)), np.max(np.abs(expected)))  # all zeros: a near miss is small, not zero
    noisy = actual * (1 + 1e-4 * rng.standard_normal(actual.shape)) + 1e-4 * size
    assert found_for(noisy, expected, inputs, body_for(body, key), key) == []
    if np.ndim(expected):
        unrelated = rng.standard_normal(np.shape(expected))
        assert found_for(unrelated, expected, inputs, body_for(body, key), key) == []


@pytest.mark.parametrize("name", VALUE_KINDS)
def test_a_right_output_gets_no_value_relation(name):
    _, expected, inputs, body, key = case(np.random.default_rng(5), name)
    right = np.asarray(expected, dtype=np.float64) * (1 + 1e-13)
    assert found_for(right, expected, inputs, body_for(body, key), key) == []


SHAPES = {  # name: (student's shape, expected shape, inputs' shapes)
    "input_shape": ((8,), (6, 8), {"x": (6, 3), "b": (8,)}),
    "axes_order": ((8, 6), (6, 8), {"x": (6, 3)}),
    "size": ((2, 3, 4, 4), (2, 3, 6, 6), {"x": (2, 3, 7, 7)}),
    "ndim": ((6,), (6, 3), {"x": (6, 3)}),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_a_wrong_shape_is_explained(name):
    rng = np.random.default_rng(0)
    actual_shape, wanted_shape, shapes = SHAPES[name]
    inputs = {key: rng.standard_normal(shape) for key, shape in shapes.items()}
    found = diagnoses_of(rng.standard_normal(actual_shape), rng.standard_normal(wanted_shape), inputs,
                         layer_program())
    assert [item["kind"] for item in found] == [name]
    assert revealed_numbers(found[0]["message"], layer_program()) == []


def test_one_label_per_class_instead_of_per_example():
    rng = np.random.default_rng(0)
    body = program([call("Net", num_classes=3), method(res(0), "predict", inp("X"))], {"labels": res(1)})
    found = diagnoses_of(np.zeros(3, dtype=np.int64), np.zeros(30, dtype=np.int64),
                         {"X": rng.standard_normal((30, 4))}, body)
    assert [item["kind"] for item in found] == ["axis"]


def init_diagnoses(student, wanted):
    check = Check("init", "params")
    result = CheckResult("params", "init", False, "params: ...", problem="rule")
    diagnose.diagnose_checks([check], [result], {f"params/{k}": v for k, v in student.items()},
                             {f"params/{k}": v for k, v in wanted.items()}, {}, program([call("Net")], {}))
    return [item["kind"] for item in result.diagnoses]


def test_initial_parameters_numbered_shaped_or_scaled_wrong():
    rng = np.random.default_rng(0)
    wanted = {"W1": 0.1 * rng.standard_normal((20, 10)), "b1": np.zeros(10), "W2": 0.1 * rng.standard_normal((10, 5)),
              "b2": np.zeros(5)}
    shifted = {"W2": wanted["W1"], "b2": wanted["b1"], "W3": wanted["W2"], "b3": wanted["b2"]}
    assert init_diagnoses(shifted, wanted) == ["numbering"]
    assert init_diagnoses({**wanted, "W3": wanted["W2"], "b3": wanted["b2"]}, wanted) == ["numbering"]
    assert init_diagnoses({**wanted, "W2": wanted["W2"].T}, wanted) == ["transposed_shape"]
    assert init_diagnoses({**wanted, "W1": rng.standard_normal((20, 10))}, wanted) == ["init_scale"]
    assert init_diagnoses({**wanted, "W1": 0.1 / rng.standard_normal((20, 10))}, wanted) == ["init_outliers"]
    assert init_diagnoses({}, wanted) == ["numbering"]
    assert init_diagnoses({**wanted, "W2": 0.1 * rng.standard_normal((12, 5))}, wanted) == ["input_size"]
    filters = 0.1 * rng.standard_normal((6, 3, 3, 3))
    assert init_diagnoses({"W1": filters.transpose(1, 0, 2, 3)}, {"W1": filters}) == ["transposed_shape"]
    assert init_diagnoses({**wanted, "W1": 0.1 * rng.standard_normal((20, 10))}, wanted) == []


ERRORS = {  # kind: (exception type, message, last line of code)
    "error_transposed": ("ValueError", "operands could not be broadcast together with shapes (4,5) (5,4) ", "a * b"),
    "error_product": ("ValueError", "operands could not be broadcast together with shapes (5,10) (10,3) ",
                      "out = x * w + b"),
    "error_product_matmul": ("ValueError", "matmul: Input operand 1 has a mismatch in its core dimension 0, with "
                             "gufunc signature (n?,k),(k,m?)->(n?,m?) (size 4 is different from 5)", "x @ w"),
    "error_arguments": ("ValueError", "affine_forward expects x (N, d_1, ..., d_k), w (D, M), b (M,); got x (6, 8), "
                        "w (8,), b (5, 6)", "affine_forward(x, b, w)"),
    "error_arguments_features": ("ValueError", "affine_forward: x of shape (8, 4) has 4 features per example but w "
                                 "of shape (5, 8) expects 5", "affine_forward(w, x, b)"),
    "error_arguments_input": ("ValueError", "softmax_loss expects scores x of shape (N, C), got (6,)",
                              "softmax_loss(y, scores)"),
    "error_index": ("IndexError", "index 5 is out of bounds for axis 0 with size 5", "x[i]"),
    "error_key": ("KeyError", "'W4'", "self.params[f'W{layer}']"),
    "error_reshape": ("ValueError", "cannot reshape array of size 24 into shape (4,1)", "x.reshape(4, 1)"),
    "error_unpack": ("ValueError", "too many values to unpack (expected 2)", "a, b = f(x)"),
    "error_axis": ("ValueError", "operands could not be broadcast together with shapes (3,3,3,3) (3,3,3,4) (3,3,3,3) ",
                   "dw += np.tensordot(grad, window, axes=([0, 2, 3], [0, 2, 3]))"),
    "error_axis_inplace": ("ValueError", "non-broadcastable output operand with shape (1,2,2,2) doesn't match the "
                           "broadcast shape (2,2,2,2)", "dx[1:] += grad"),
    "error_axis_contract": ("ValueError", "value assigned to parameter 'fc1_w' has shape (15, 20), expected (14, 20)",
                            "raise ValueError(...)"),
    "error_reshape_broadcast": ("ValueError", "operands could not be broadcast together with shapes (2,2,2,2) (2,2,4) "
                                "(2,2,2,2) ", "dx[:, :, rows, cols] += window_grad"),
    "error_transposed_contract": ("ValueError", "value assigned to parameter 'fc1_w' has shape (48, 7), expected "
                                  "(7, 48)", "raise ValueError(...)"),
    "error_arguments_kind": ("ValueError", "fc layer 'fc3': output_dim must be a positive integer, got 0.05",
                             "raise ValueError(...)"),
    "error_empty": ("ValueError", "attempt to get argmax of an empty sequence", "winner = window.argmax(axis=2)"),
    "error_transposed_for_x": ("ValueError", "batchnorm_forward: gamma has shape (4,), expected (27,) for x (4, 27)",
                               "raise ValueError(...)"),
    "error_axis_tensordot": ("ValueError", "shape-mismatch for sum", "out = np.tensordot(field, w, axes=3)"),
    "error_axis_past": ("AxisError", "axis 4 is out of bounds for array of dimension 4", "x.max(axis=(4, 3))"),
    "error_index_arrays": ("IndexError", "shape mismatch: indexing arrays could not be broadcast together with shapes "
                           "(5,) (6,) ", "loss = -log_probs[np.arange(n), y].sum()"),
    "error_keepdims": ("ValueError", "operands could not be broadcast together with shapes (4,10) (4,) ",
                       "shifted = x - x.max(axis=-1)"),
    "error_reshape_flatten": ("ValueError", "fc layer 'fc1' expects input of shape (N, 48), got (2, 4, 4, 3); put a "
                              "flatten layer before it for images", "self.check_input(x)"),
    "error_float": ("TypeError", "slice indices must be integers or None or have an __index__ method",
                    "field = x_padded[:, :, rows, cols]"),
}
SUFFIXES = ("_matmul", "_features", "_input", "_inplace", "_contract", "_broadcast", "_kind", "_for_x",
            "_tensordot", "_past", "_arrays", "_flatten")


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_an_exception_that_says_more_than_its_type_is_explained(name):
    kind, message, code = ERRORS[name]
    error = {"type": kind, "message": message, "where": "layers.some_layer",
             "frames": [{"file": "course_lib/layers.py", "line": 3, "function": "f", "code": code}]}
    inputs = {"scores": np.zeros((6, 4)), "y": np.zeros(6, dtype=np.int64)}
    found = error_diagnoses(error, inputs)
    kind = name
    for suffix in SUFFIXES:
        kind = kind.replace(suffix, "")
    assert [item["kind"] for item in found] == [kind]
    assert revealed_numbers(found[0]["message"], {}) == []


@pytest.mark.parametrize("error", [
    {"type": "NotImplementedError", "message": "", "not_implemented": True},
    {"type": "ValueError", "message": "operands could not be broadcast together with shapes (4,5) (3,) "},
    {"type": "IndexError", "message": "index 7 is out of bounds for axis 0 with size 5"},
    {"type": "KeyError", "message": "'mode'"},
    {"type": "ValueError", "message": "too many values to unpack (expected 2)"},  # no line: nothing to point at
    {"type": "TypeError", "message": "unsupported operand type(s) for +: 'int' and 'NoneType'"},
    {"type": "ValueError", "message": "operands could not be broadcast together with shapes (6,6) (5,) "},
    {"type": "ValueError", "message": "b has shape (4,), expected (8,) to match w (4, 8)"},
    {"type": "IndexError", "message": "list index out of range"},
    {"type": "AxisError", "message": "axis 7 is out of bounds for array of dimension 4"},
    {},
])
def test_an_exception_that_says_nothing_more_is_left_alone(error):
    assert error_diagnoses(error, {}) == []


def test_a_test_wide_cause_shows_on_a_failing_verdict_only():
    cause = {"kind": "error_index", "message": "an index ..."}
    assert Verdict(0.0, ["raised"], failure="error", causes=[cause]).diagnoses == [cause]
    assert Verdict(1.0, ["ok"], causes=[cause]).diagnoses == []


def test_swapped_modes_and_probes_are_untouched_by_the_new_relations():
    assert programs.swapped_modes(layer_program()) is None


def test_gradients_held_to_the_students_own_forward_are_diagnosed_too():
    """A numeric check compares with the gradient the student's forward implies, or with the numerical gradient
    of the student's own code: the judge hands both to the diagnoses."""
    rng = np.random.default_rng(0)
    dout, mask = rng.standard_normal((6, 8)), (rng.random((6, 8)) > 0.4) / 0.6
    check = Check("numeric", "dx")
    result = CheckResult("dx", "numeric", False, "dx: relative error ...", problem="mismatch")
    diagnose.diagnose_checks([check], [result], {"dx": dout.copy()}, {}, {"dout": dout}, layer_program(),
                             implied={"dx": dout * mask})
    assert [item["kind"] for item in result.diagnoses] == ["input"]
    weights = rng.standard_normal((5, 4))
    analytic = rng.standard_normal((5, 4))
    check = Check("gradient", "W1")
    result = CheckResult("W1", "gradient", False, "W1: differs from the numerical gradient", problem="numeric")
    diagnose.diagnose_checks([check], [result], {"W1": analytic}, {"W1": analytic}, {"W1": weights}, layer_program(),
                             numerical={"W1": analytic + 0.7 * weights})
    assert [item["kind"] for item in result.diagnoses] == ["multiple"]
    assert "the numerical gradient of your own code for W1" in result.diagnoses[0]["message"]
