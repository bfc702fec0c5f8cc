"""Hidden tests of the object API ``course_lib.mlp`` (svhn): its layers here, the rest in mlp_models.

Each function's contract, clause by clause: docs/contracts/svhn.md.
"""
import numpy as np

from autograder.suites import draw
from autograder.suites.masks import independent_units_rule, inverted_dropout_gradient
from autograder.suites.mlp_models import NET_TESTS, OPTIMIZER_TESTS, TRAIN_TESTS
from autograder.suites.spec import (
    FLOAT32_TOL,
    Check,
    arg,
    as_float32,
    assign,
    behaviour_test,
    call,
    dtype,
    dtype_check,
    forward_test,
    gated,
    inp,
    method,
    numeric,
    program,
    repeat_check,
    res,
    unchanged_check,
)

F64 = dtype("float64")
LAYERS = "mlp.layers"


# Layers ---------------------------------------------------------------------


def build_layer(layer, constructor, params):
    calls = [call(f"{LAYERS}.{layer}", **constructor)]
    return calls + [assign(res(0), ["params", name], inp(name)) for name in params]


def layer_tests(layer, constructor, make_inputs, params=(), regimes=(), float32_constructor=None):
    """Forward and backward tests of ``mlp.layers.<layer>`` built with ``constructor`` kwargs.

    The forward test scores the output for ``x`` and for every input named in
    ``regimes`` (``x_3d`` gives ``out_3d``). The backward test runs a forward on
    ``x_previous`` first (backward must use the last forward), then scores dx
    and every parameter's gradient against the reference's and the numerical
    gradient of the student's forward. Two float32 tests (the layer built with
    ``float32_constructor``) score the dtypes, that the inputs stay unchanged
    and that a second backward gives the same dx.
    """
    key = f"{LAYERS}.{layer}"
    build = build_layer(layer, constructor, params)
    first = len(build)
    sources = ("x", *regimes)
    outputs = {("out" if name == "x" else "out_" + name[2:]): res(first + index) for index, name in enumerate(sources)}
    forward_calls = build + [method(res(0), "forward", inp(name)) for name in sources]
    backward_calls = build + [method(res(0), "forward", inp("x_previous")), method(res(0), "forward", inp("x")),
                              method(res(0), "backward", inp("dout"))]
    grads = {"dx": res(first + 2), **{name: res(0, "grads", name) for name in params}}
    wrt = {"dx": inp("x"), **{name: res(0, "params", name) for name in params}}
    regime_label = "output" + (f" in {len(sources)} regimes" if regimes else "")
    tests = [
        forward_test(f"{key}.forward", make_inputs, forward_calls, outputs, label=regime_label, weight=2),
        behaviour_test(f"{key}.backward", "gradients", make_inputs,
                       program(backward_calls, grads, [numeric(first + 1, first + 1, wrt, dout="dout")]),
                       [Check("gradient", name) for name in grads], weight=2, requires=(f"{key}.forward",)),
    ]
    build32 = build_layer(layer, float32_constructor or constructor, params)
    forward32 = build32 + [method(res(0), "forward", inp("x"))]
    tests.append(behaviour_test(
        f"{key}.forward", "float32: dtype, values, x unchanged", as_float32(make_inputs),
        program(forward32, {"out_float32": res(first), "x after the call": arg(first, 0)}),
        [Check("match", "out_float32", tol=FLOAT32_TOL), dtype_check("out_float32"),
         unchanged_check("x after the call", "x")]))
    backward32 = forward32 + [method(res(0), "backward", inp("dout")), method(res(0), "backward", inp("dout"))]
    values = {"dx_float32": res(first + 1), **{f"{name}_float32": res(0, "grads", name) for name in params}}
    tests.append(behaviour_test(
        f"{key}.backward", "float32: dtypes, values, dout unchanged", as_float32(make_inputs),
        program(backward32, {**values, "dx_again": res(first + 2), "dout after the call": arg(first + 1, 0)}),
        [Check("match", name, tol=FLOAT32_TOL) for name in values]
        + [dtype_check(*values), unchanged_check("dout after the call", "dout"), repeat_check("dx_float32", "dx_again")],
        requires=(f"{key}.forward",)))
    return tests


def flatten_inputs(rng):
    # k = 0 axes after the batch axis is valid too: (N,) flattens to (N, 1).
    return {"x": draw.normal(rng, 4, 2, 3, 2), "x_3d": draw.normal(rng, 3, 5, 2), "x_2d": draw.normal(rng, 4, 6),
            "x_1d": draw.normal(rng, 5), "x_batch1": draw.normal(rng, 1, 3, 2, 2), "x_previous": draw.normal(rng, 2, 3, 4),
            "dout": draw.normal(rng, 4, 12)}


def fc_inputs(rng):
    return {"x": draw.normal(rng, 5, 6), "x_batch1": draw.normal(rng, 1, 6), "x_previous": draw.normal(rng, 3, 6),
            "fc1_w": draw.normal(rng, 6, 4), "fc1_b": draw.normal(rng, 4), "dout": draw.normal(rng, 5, 4)}


def leaky_relu_inputs(rng):
    return {"x": draw.away_from_zero(rng, 4, 5), "x_4d": draw.away_from_zero(rng, 2, 3, 2, 2),
            "x_previous": draw.away_from_zero(rng, 3, 2), "dout": draw.normal(rng, 4, 5)}


KEEP_PROBABILITIES = (0.3, 0.6, 0.75)


def dropout_inputs(rng):
    return {"x": draw.normal(rng, 400, 50, shift=1.0)}


def small_dropout_inputs(rng):
    return {"x": draw.normal(rng, 20, 10, shift=1.0), "dout": draw.normal(rng, 20, 10)}


def keep_rule(keep_prob):
    def rule(outputs, expected, inputs, reference):
        x, out = inputs["x"], outputs[f"out_{keep_prob}"]
        kept = float(np.mean(out != 0))
        if abs(kept - keep_prob) > 0.02:
            return False, f"keep_prob={keep_prob}: {kept:.1%} of the units were kept, expected about {keep_prob:.0%}"
        if not np.allclose(out[out != 0], x[out != 0] / keep_prob, rtol=1e-6, atol=0):
            return False, f"keep_prob={keep_prob}: the kept units must be scaled by 1 / keep_prob"
        return True, ""
    return rule


NO_DROPOUT = "equal masks count only for a dropout that works (see keep_prob=0.6)"


def same_seed_rule(outputs, expected, inputs, reference):
    if np.array_equal(outputs["out_again"], outputs["out_0.6"]):
        return True, ""
    return False, "two forward calls with the same seed kept different units"


def meta_rule(outputs, expected, inputs, reference):
    """self.meta is the factor x was multiplied by (the docstring's contract; backward and the nets rely on it)."""
    meta = np.broadcast_to(outputs["meta"], inputs["x"].shape)
    if np.allclose(outputs["out_0.75"], inputs["x"] * meta, rtol=1e-6, atol=0):
        return True, ""
    return False, "self.meta must hold the factor x was multiplied by (0 or 1 / keep_prob per unit)"


def constructor_seed_rule(outputs, expected, inputs, reference):
    if not np.array_equal(outputs["first_a"], outputs["first_b"]):
        return False, "two layers built with the same seed dropped different units: draw from self.generator(seed)"
    if np.array_equal(outputs["first_a"], outputs["second_a"]):
        return False, "two forward calls without a seed dropped the same units: draw every mask from self.rng"
    return True, ""


def dropout_mask_rule(outputs, expected, inputs, reference):
    kept = float(np.mean(outputs["dx"] != 0))
    if abs(kept - 0.6) > 0.15:
        return False, f"dx is nonzero for {kept:.1%} of the units; with keep_prob=0.6 about 60% are kept"
    return True, ""


def dropout_tests():
    layers = [call(f"{LAYERS}.dropout", keep_prob=p, name=f"dropout{i}") for i, p in enumerate(KEEP_PROBABILITIES)]
    forwards = [method(res(i), "forward", inp("x"), True, 11 + i) for i in range(len(KEEP_PROBABILITIES))]
    count = 2 * len(KEEP_PROBABILITIES)
    extra = [method(res(1), "forward", inp("x"), True, 12), method(res(1), "forward", inp("x"), False),
             call(f"{LAYERS}.dropout", keep_prob=0, name="off"), method(res(count + 2), "forward", inp("x"), True)]
    outputs = {**{f"out_{p}": res(len(layers) + i) for i, p in enumerate(KEEP_PROBABILITIES)},
               "out_again": res(count), "out_test": res(count + 1), "out_off": res(count + 3)}
    statistics = behaviour_test(
        f"{LAYERS}.dropout.forward", "statistics, seeds, test mode and keep_prob 0", dropout_inputs,
        program(layers + forwards + extra, outputs),
        [Check("custom", rule=keep_rule(p), label=f"training, keep_prob={p}") for p in KEEP_PROBABILITIES]
        + [Check("custom", rule=gated(independent_units_rule(*(f"out_{p}" for p in KEEP_PROBABILITIES)), keep_rule(0.6),
                                      NO_DROPOUT), label="every unit dropped independently"),
           Check("custom", rule=gated(same_seed_rule, keep_rule(0.6), NO_DROPOUT), label="same seed, same mask"),
           Check("match", "out_test", label="test mode returns x"),
           Check("match", "out_off", label="keep_prob 0 returns x")], weight=2)
    seeded = [call(f"{LAYERS}.dropout", keep_prob=0.75, seed=5, name="a"),
              call(f"{LAYERS}.dropout", keep_prob=0.75, seed=5, name="b"),
              method(res(0), "forward", inp("x"), True), method(res(0), "forward", inp("x"), True),
              method(res(1), "forward", inp("x"), True), method(res(1), "forward", inp("x"), True, 3)]
    mask = behaviour_test(
        f"{LAYERS}.dropout.forward", "constructor seed, fresh masks, self.meta", dropout_inputs,
        program(seeded, {"first_a": res(2), "second_a": res(3), "first_b": res(4), "out_0.75": res(5),
                         "meta": res(1, "meta")}),
        [Check("custom", rule=constructor_seed_rule, label="masks from self.rng"),
         Check("custom", rule=meta_rule, label="self.meta")])
    float32 = behaviour_test(
        f"{LAYERS}.dropout.forward", "float32: dtype, x unchanged", as_float32(small_dropout_inputs),
        program([call(f"{LAYERS}.dropout", keep_prob=0.6, name="d"), method(res(0), "forward", inp("x"), True, 4)],
                {"out_float32": res(1), "x after the call": arg(1, 0)}),
        [dtype_check("out_float32"), unchanged_check("x after the call", "x")])
    backward = behaviour_test(
        f"{LAYERS}.dropout.backward", "gradients in training and test mode, and with keep_prob 0",
        small_dropout_inputs,
        program([call(f"{LAYERS}.dropout", keep_prob=0.6, name="dropout1"),
                 method(res(0), "forward", inp("x"), True, 5), method(res(0), "backward", inp("dout")),
                 method(res(0), "forward", inp("x"), False), method(res(0), "backward", inp("dout")),
                 call(f"{LAYERS}.dropout", keep_prob=0, name="off"), method(res(5), "forward", inp("x"), True),
                 method(res(5), "backward", inp("dout"))],
                {"dx": res(2), "dx_test": res(4), "dx_off": res(7), "out": res(1)},
                [numeric(1, 1, {"dx": inp("x")}, dout="dout")]),
        [Check("numeric", "dx", expect=inverted_dropout_gradient("out", 0.6)),
         Check("custom", rule=dropout_mask_rule, label="dx uses the mask"),
         Check("match", "dx_test", label="test mode: dx"), Check("match", "dx_off", label="keep_prob 0: dx")],
        weight=2, requires=(f"{LAYERS}.dropout.forward",))
    backward32 = behaviour_test(
        f"{LAYERS}.dropout.backward", "float32: dtype, dout unchanged", as_float32(small_dropout_inputs),
        program([call(f"{LAYERS}.dropout", keep_prob=0.6, name="d"), method(res(0), "forward", inp("x"), True, 4),
                 method(res(0), "backward", inp("dout")), method(res(0), "backward", inp("dout"))],
                {"dx_float32": res(2), "dx_again": res(3), "dout after the call": arg(2, 0)}),
        [dtype_check("dx_float32"), unchanged_check("dout after the call", "dout"),
         repeat_check("dx_float32", "dx_again")],
        requires=(f"{LAYERS}.dropout.forward",))
    return [statistics, mask, float32, backward, backward32]


def scores_inputs(rng):
    x = draw.normal(rng, 6, 5, scale=3.0)
    # Rows whose scores differ by orders of magnitude: each row needs its own shift.
    wide = draw.normal(rng, 6, 5) * np.array([1e-2, 1.0, 1e2, 1e3, 1e4, 1e5])[:, None]
    return {"x": x, "y": draw.labels(rng, 6, 5), "x_wide": wide, "x_large": x + 1000.0,
            "x_batch1": draw.normal(rng, 1, 5, scale=3.0), "y_batch1": draw.labels(rng, 1, 5)}


def cross_entropy_tests():
    def losses(scores, labels, size_average):
        return [call(f"{LAYERS}.cross_entropy", size_average=size_average),
                method(res(len(calls)), "forward", inp(scores), inp(labels))]
    calls = []
    for scores, labels, size_average in (("x", "y", True), ("x", "y", False), ("x_wide", "y", True),
                                         ("x_batch1", "y_batch1", True)):
        calls += losses(scores, labels, size_average)
    backward_calls = calls + [method(res(0), "backward"), method(res(2), "backward"), method(res(4), "backward"),
                              method(res(4), "backward")]
    first = len(calls)
    float32_calls = [call(f"{LAYERS}.cross_entropy"), method(res(0), "forward", inp("x"), inp("y")),
                     method(res(0), "backward"), method(res(0), "backward")]
    return [
        forward_test(f"{LAYERS}.cross_entropy.forward", scores_inputs, calls,
                     {"loss_mean": res(1), "loss_sum": res(3), "loss_wide_rows": res(5), "loss_batch1": res(7)},
                     label="loss: averaged, summed, rows of very different scales, a batch of 1", weight=2),
        behaviour_test(f"{LAYERS}.cross_entropy.forward", "float32: value, inputs unchanged",
                       as_float32(scores_inputs),
                       program(float32_calls[:2], {"loss_float32": res(1), "x after the call": arg(1, 0),
                                                   "y after the call": arg(1, 1)}),
                       [Check("match", "loss_float32", tol=FLOAT32_TOL), unchanged_check("x after the call", "x"),
                        unchanged_check("y after the call", "y")]),
        behaviour_test(f"{LAYERS}.cross_entropy.backward", "gradients: averaged, summed, rows of very different scales",
                       scores_inputs,
                       program(backward_calls, {"dx": res(first), "dx_summed": res(first + 1),
                                                "dx_wide_rows": res(first + 2), "dx_again": res(first + 3)},
                               [numeric(1, 1, {"dx": inp("x")})]),
                       [Check("gradient", "dx"), Check("match", "dx_summed"), Check("match", "dx_wide_rows"),
                        repeat_check("dx_wide_rows", "dx_again")],
                       weight=2, requires=(f"{LAYERS}.cross_entropy.forward",)),
        behaviour_test(f"{LAYERS}.cross_entropy.backward", "float32: dtype, values", as_float32(scores_inputs),
                       program(float32_calls, {"dx_float32": res(2), "dx_again": res(3)}),
                       [Check("match", "dx_float32", tol=FLOAT32_TOL), dtype_check("dx_float32"),
                        repeat_check("dx_float32", "dx_again")],
                       requires=(f"{LAYERS}.cross_entropy.forward",)),
    ]


def softmax_tests():
    calls = [call(f"{LAYERS}.softmax", inp(name)) for name in ("x", "x_large", "x_wide", "x_batch1")]
    return [
        forward_test(f"{LAYERS}.softmax", scores_inputs, calls,
                     {"probs": res(0), "probs_large_scores": res(1), "probs_wide_rows": res(2),
                      "probs_batch1": res(3)},
                     label="probabilities, also for large scores and rows of very different scales", weight=2),
        behaviour_test(f"{LAYERS}.softmax", "float32: dtype, values, x unchanged", as_float32(scores_inputs),
                       program([call(f"{LAYERS}.softmax", inp("x"))],
                               {"probs_float32": res(0), "x after the call": arg(0, 0)}),
                       [Check("match", "probs_float32", tol=FLOAT32_TOL), dtype_check("probs_float32"),
                        unchanged_check("x after the call", "x")]),
    ]


LAYER_TESTS = [
    *layer_tests("flatten", {"name": "flat"}, flatten_inputs, regimes=("x_3d", "x_2d", "x_1d", "x_batch1")),
    *layer_tests("fc", {"input_dim": 6, "output_dim": 4, "name": "fc1", "dtype": F64}, fc_inputs,
                 params=("fc1_w", "fc1_b"), regimes=("x_batch1",),
                 float32_constructor={"input_dim": 6, "output_dim": 4, "name": "fc1", "dtype": dtype("float32")}),
    *layer_tests("leaky_relu", {"negative_slope": 0.1, "name": "relu1"}, leaky_relu_inputs, regimes=("x_4d",)),
    *dropout_tests(),
    *cross_entropy_tests(),
    *softmax_tests(),
]


TESTS = LAYER_TESTS + NET_TESTS + OPTIMIZER_TESTS + TRAIN_TESTS
