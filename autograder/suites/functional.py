"""Hidden tests of the functional API: layers and update rules (hw3, hw4); the nets are in functional_nets.

Each function's contract is a numbered checklist in docs/contracts/hw3.md and
docs/contracts/hw4.md; every test below says which clauses it enforces.
"""
import dataclasses

import numpy as np

from autograder.suites import draw
from autograder.suites.masks import (
    dropout_rule,
    independent_units_rule,
    inverted_dropout_gradient,
    other_mask_rule,
    same_mask_rule,
)
from autograder.suites.spec import (
    Check,
    arg,
    behaviour_test,
    call,
    forward_test,
    inp,
    layer_gradient_test,
    gated,
    numeric,
    program,
    res,
)

AFFINE = ["layers.affine_forward", "layers.affine_backward"]
RELU = ["layers.relu_forward", "layers.relu_backward"]
# float32 results of a reference and a correct student differ by a few units in the last place
# of float32 (about 6e-8 each), summed over short reductions; wrong formulas miss by far more.
FLOAT32_TOL = 1e-5


# Contract checks shared by the tests of hw3 and hw4 ----------------------------------------------


def entries_of(arrays, name):
    """{key: array} of an output: the array itself, or a dict's entries ``name/key``."""
    if name in arrays:
        return {name: arrays[name]}
    return {key: value for key, value in arrays.items() if key.startswith(name + "/")}


def kept_dtype(name):
    """Output ``name`` (an array or a dict of arrays) has the reference's dtype."""
    def rule(outputs, expected, inputs, reference):
        for key, want in sorted(entries_of(expected, name).items()):
            got = outputs.get(key)
            if got is None:
                return False, f"{key} is missing"
            if got.dtype != want.dtype:
                return False, (f"{key} has dtype {got.dtype}, expected {want.dtype}: keep the inputs' dtype "
                               f"(no float64 buffers or NumPy float64 scalars with float32 data)")
        return True, ""
    return Check("custom", rule=rule, label=f"dtype of {name}", bookkeeping=True)


def left_unchanged(pairs):
    """Arrays the caller owns (outputs named by ``pairs``, after the calls) still equal their inputs exactly."""
    names = sorted(set(pairs.values()), key=list(pairs.values()).index)

    def rule(outputs, expected, inputs, reference):
        changed = []
        for output, source in pairs.items():
            for key, before in sorted(entries_of(inputs, source).items()):
                after = outputs.get(output + key[len(source):])
                if after is None or after.shape != before.shape or not np.array_equal(after, before):
                    changed.append(key)
        if changed:
            return False, (f"your code changed {', '.join(changed)} in place; the caller's arrays must stay "
                           f"as they were (work on a copy)")
        return True, ""
    return Check("custom", rule=rule, label=f"{', '.join(names)} left unchanged", bookkeeping=True)


def repeatable(pairs):
    """Outputs of a call made twice on the same cache (``{first: second}``) are identical."""
    def rule(outputs, expected, inputs, reference):
        differ = [first for first, second in pairs.items()
                  if first not in outputs or second not in outputs
                  or not np.array_equal(outputs[first], outputs[second])]
        if differ:
            return False, (f"a second call with the same cache gave another {', '.join(differ)}: "
                           f"do not modify the cache (or dout) in place")
        return True, ""
    return Check("custom", rule=rule, label="same result when called twice", bookkeeping=True)


def with_checks(test, outputs=None, checks=()):
    """``test`` with more outputs in its program and more checks."""
    body = dict(test.program)
    body["outputs"] = {**body["outputs"], **(outputs or {})}
    return dataclasses.replace(test, program=body, checks=test.checks + tuple(checks))


def as_float32(make_inputs):
    """The inputs of ``make_inputs`` cast to float32 (labels stay integers)."""
    def make(rng):
        arrays = make_inputs(rng)
        return {name: value.astype(np.float32) if value.dtype.kind == "f" else value
                for name, value in arrays.items()}
    return make


def backward_contract_test(function, forward, make_inputs, forward_args, grads, compare=True, **options):
    """A backward on float32 data: gradient values and dtypes, ``dout`` and the cache left as they were.

    The backward runs twice on the forward's cache; both runs must agree
    (a backward that edits its cache or dout in place breaks gradient checks).
    """
    single = len(grads) == 1
    calls = [call(forward, *forward_args), call(function, inp("dout"), res(0, 1)),
             call(function, inp("dout"), res(0, 1))]
    outputs = {}
    for name, (_, position) in grads.items():
        outputs[name] = res(1) if single else res(1, position)
        outputs[f"{name} (second call)"] = res(2) if single else res(2, position)
    outputs["dout after the call"] = arg(1, 0)
    checks = [Check("match", name, tol=FLOAT32_TOL) for name in grads] if compare else []
    checks += [kept_dtype(name) for name in grads]
    checks += [left_unchanged({"dout after the call": "dout"}),
               repeatable({name: f"{name} (second call)" for name in grads})]
    options.setdefault("requires", (forward,))
    return behaviour_test(function, "float32: dtypes, dout and cache left unchanged", as_float32(make_inputs),
                          program(calls, outputs), checks, **options)


# Layers ---------------------------------------------------------------------


def affine_inputs(rng):
    return {"x": draw.normal(rng, 4, 2, 3), "w": draw.normal(rng, 6, 5), "b": draw.normal(rng, 5),
            "dout": draw.normal(rng, 4, 5)}


def affine_single_inputs(rng):
    """A batch of one example with three trailing dimensions of odd sizes."""
    return {"x": draw.normal(rng, 1, 3, 1, 5), "w": draw.normal(rng, 15, 7), "b": draw.normal(rng, 7),
            "dout": draw.normal(rng, 1, 7)}


def affine_regime_inputs(rng):
    arrays = {"x2": draw.normal(rng, 3, 7), "w2": draw.normal(rng, 7, 5), "b2": draw.normal(rng, 5)}
    arrays.update({name: value for name, value in affine_single_inputs(rng).items() if name != "dout"})
    arrays.update({f"{name}32": value.astype(np.float32)
                   for name, value in affine_inputs(rng).items() if name != "dout"})
    return arrays


def relu_inputs(rng):
    return {"x": draw.away_from_zero(rng, 5, 6), "dout": draw.normal(rng, 5, 6)}


def relu_regime_inputs(rng):
    return {"x": draw.away_from_zero(rng, 2, 3, 1, 5), "x1": draw.away_from_zero(rng, 1, 7),
            "x32": draw.away_from_zero(rng, 4, 3).astype(np.float32)}


def relu_image_inputs(rng):
    return {"x": draw.away_from_zero(rng, 2, 3, 1, 5), "dout": draw.normal(rng, 2, 3, 1, 5)}


def batchnorm_inputs(rng):
    return {
        "x": draw.normal(rng, 10, 5, scale=3.0, shift=2.0),
        "gamma": draw.normal(rng, 5, shift=1.0),
        "beta": draw.normal(rng, 5),
        "running_mean": draw.normal(rng, 5),
        "running_var": 0.5 + np.abs(draw.normal(rng, 5)),
        "dout": draw.normal(rng, 10, 5),
    }


def batchnorm_scales_inputs(rng):
    """Odd sizes and features whose spreads differ by orders of magnitude (eps matters for the small ones)."""
    scales = np.array([0.03, 1.0, 30.0])
    return {"x": draw.normal(rng, 7, 3, shift=1.0) * scales, "gamma": draw.normal(rng, 3, shift=1.0),
            "beta": draw.normal(rng, 3), "dout": draw.normal(rng, 7, 3)}


def bn_param(mode, **settings):
    return {"mode": mode, "momentum": 0.8, "eps": 1e-5,
            "running_mean": inp("running_mean"), "running_var": inp("running_var"), **settings}


BN_ARGS = [inp("x"), inp("gamma"), inp("beta"), bn_param("train")]
# eps of the size of the smallest feature's variance: every place eps goes (or is forgotten) shows.
BN_LARGE_EPS = {"mode": "train", "eps": 1e-3}
BN_GRADS = {"dx": ("x", 0), "dgamma": ("gamma", 1), "dbeta": ("beta", 2)}
BN_INPUTS_UNCHANGED = {"x after the call": "x", "gamma after the call": "gamma", "beta after the call": "beta"}
DROP_PROBABILITIES = (0.3, 0.6, 0.75)


def dropout_inputs(rng):
    return {"x": draw.normal(rng, 400, 50, shift=1.0), "dout": draw.normal(rng, 400, 50)}


def small_dropout_inputs(rng):
    return {"x": draw.normal(rng, 20, 10, shift=1.0), "dout": draw.normal(rng, 20, 10)}


def dropout_image_inputs(rng):
    return {"x": draw.normal(rng, 30, 20, 40, shift=1.0).astype(np.float32)}


def dropout_param(mode, p, seed=None):
    param = {"mode": mode, "p": p}
    if seed is not None:
        param["seed"] = seed
    return param


NO_DROPOUT = "equal masks count only for a dropout that works (see p=0.6)"
GLOBAL_SEED = 21


def dropout_statistics_test():
    """dropout_forward.1-.5: fractions and scale for three p and p=0, independent units, seeds, test mode."""
    seeded = [call("layers.dropout_forward", inp("x"), dropout_param("train", p, seed=11 + i))
              for i, p in enumerate(DROP_PROBABILITIES)]
    first = len(seeded)
    calls = seeded + [call("layers.dropout_forward", inp("x"), dropout_param("train", 0.6, seed=12)),
                      call("layers.dropout_forward", inp("x"), dropout_param("train", 0.6, seed=14)),
                      call("layers.dropout_forward", inp("x"), dropout_param("test", 0.6)),
                      call("layers.dropout_forward", inp("x"), dropout_param("train", 0.0, seed=15)),
                      {"seed": GLOBAL_SEED},
                      call("layers.dropout_forward", inp("x"), dropout_param("train", 0.6)),
                      {"seed": GLOBAL_SEED},
                      call("layers.dropout_forward", inp("x"), dropout_param("train", 0.6)),
                      call("layers.dropout_forward", inp("x"), dropout_param("train", 0.6))]
    outputs = {**{f"out_{p}": res(i, 0) for i, p in enumerate(DROP_PROBABILITIES)},
               "out_again": res(first, 0), "out_other_seed": res(first + 1, 0), "out_test": res(first + 2, 0),
               "out_p0": res(first + 3, 0), "out_unseeded": res(first + 5, 0),
               "out_unseeded_again": res(first + 7, 0), "out_unseeded_next": res(first + 8, 0)}
    works = dropout_rule(0.6)
    seeds = [
        (same_mask_rule("out_0.6", "out_again", "two calls with the same dropout_param['seed'] dropped different "
                        "units: draw the mask from rng, which the seed sets up"), "same seed, same mask"),
        (other_mask_rule("out_0.6", "out_other_seed", "two calls with different seeds dropped the same units: "
                         "the mask must come from dropout_param['seed']"), "another seed, another mask"),
        (same_mask_rule("out_unseeded", "out_unseeded_again", "without a seed, np.random.seed(21) before each "
                        "of two calls did not give the same mask: draw from the global np.random state (rng)"),
         "no seed: np.random.seed makes the mask reproducible"),
        (other_mask_rule("out_unseeded_again", "out_unseeded_next", "two calls without a seed dropped the same "
                         "units: every call needs a fresh mask"), "no seed: a fresh mask at every call"),
    ]
    checks = [Check("custom", rule=dropout_rule(p), label=f"train mode, p={p}") for p in DROP_PROBABILITIES]
    checks += [Check("custom", rule=gated(independent_units_rule(*(f"out_{p}" for p in DROP_PROBABILITIES)),
                                          works, NO_DROPOUT), label="every unit dropped independently")]
    checks += [Check("custom", rule=gated(rule, works, NO_DROPOUT), label=label) for rule, label in seeds]
    checks += [Check("match", "out_test", label="test mode returns x"),
               Check("match", "out_p0", label="p=0 keeps every unit")]
    return behaviour_test("layers.dropout_forward", "statistics, seeds and test mode", dropout_inputs,
                          program(calls, outputs), checks)


def dropout_backward_rule(outputs, expected, inputs, reference):
    kept = float(np.mean(outputs["dx"] != 0))
    if abs(kept - 0.6) > 0.15:
        return False, f"dx is nonzero for {kept:.1%} of the units; with p=0.4 about 60% are kept"
    return True, ""


def affine_regimes_test():
    """affine_forward.2-.4: 2-D x of odd sizes, a batch of one with 3 trailing dims, float32, no input edited."""
    calls = [call("layers.affine_forward", inp("x2"), inp("w2"), inp("b2")),
             call("layers.affine_forward", inp("x"), inp("w"), inp("b")),
             call("layers.affine_forward", inp("x32"), inp("w32"), inp("b32"))]
    outputs = {"out (2-D x)": res(0, 0), "out (batch of 1)": res(1, 0), "out (float32)": res(2, 0),
               "x after the call": arg(1, 0), "w after the call": arg(1, 1), "b after the call": arg(1, 2)}
    checks = [Check("match", "out (2-D x)"), Check("match", "out (batch of 1)"),
              Check("match", "out (float32)", tol=FLOAT32_TOL), kept_dtype("out (float32)"),
              left_unchanged({"x after the call": "x", "w after the call": "w", "b after the call": "b"})]
    return behaviour_test("layers.affine_forward", "other shapes, float32, inputs left unchanged",
                          affine_regime_inputs, program(calls, outputs), checks)


def relu_regimes_test():
    """relu_forward.2-.4: a 4-D x, a batch of one, float32, x not edited in place."""
    calls = [call("layers.relu_forward", inp("x")), call("layers.relu_forward", inp("x1")),
             call("layers.relu_forward", inp("x32"))]
    outputs = {"out (4-D x)": res(0, 0), "out (batch of 1)": res(1, 0), "out (float32)": res(2, 0),
               "x after the call": arg(0, 0)}
    checks = [Check("match", "out (4-D x)"), Check("match", "out (batch of 1)"),
              Check("match", "out (float32)", tol=0.0), kept_dtype("out (float32)"),
              left_unchanged({"x after the call": "x"})]
    return behaviour_test("layers.relu_forward", "other shapes, float32, x left unchanged", relu_regime_inputs,
                          program(calls, outputs), checks)


def batchnorm_train_test():
    """batchnorm_forward.1-.3, .6: train mode; running averages stored back; x, gamma, beta not edited."""
    outputs = {"out": res(0, 0), "running_mean": arg(0, 3, "running_mean"),
               "running_var": arg(0, 3, "running_var"), "x after the call": arg(0, 0),
               "gamma after the call": arg(0, 1), "beta after the call": arg(0, 2)}
    checks = [Check("match", name) for name in ("out", "running_mean", "running_var")]
    return behaviour_test("layers.batchnorm_forward", "train mode: output and running averages",
                          batchnorm_inputs, program([call("layers.batchnorm_forward", *BN_ARGS)], outputs),
                          checks + [left_unchanged(BN_INPUTS_UNCHANGED)], weight=2)


def batchnorm_defaults_test():
    """batchnorm_forward.2, .4, .5: eps from bn_param, default momentum and zero running averages, feature scales."""
    calls = [call("layers.batchnorm_forward", inp("x"), inp("gamma"), inp("beta"), dict(BN_LARGE_EPS))]
    outputs = {"out": res(0, 0), "running_mean": arg(0, 3, "running_mean"), "running_var": arg(0, 3, "running_var")}
    return forward_test("layers.batchnorm_forward", batchnorm_scales_inputs, calls, outputs,
                        label="train mode: eps 1e-3, default momentum, features on different scales")


def batchnorm_test_mode_test():
    """batchnorm_forward.7-.8: test mode normalizes with the running averages and changes no state."""
    calls = [call("layers.batchnorm_forward", inp("x"), inp("gamma"), inp("beta"), bn_param("test"))]
    outputs = {"out": res(0, 0), "running_mean after the call": arg(0, 3, "running_mean"),
               "running_var after the call": arg(0, 3, "running_var")}
    state = left_unchanged({"running_mean after the call": "running_mean",
                            "running_var after the call": "running_var"})
    return behaviour_test("layers.batchnorm_forward", "test mode output", batchnorm_inputs,
                          program(calls, outputs), [Check("match", "out"), state])


def batchnorm_float32_test():
    """batchnorm_forward.9: float32 data keeps float32 outputs and running averages, in both modes."""
    calls = [call("layers.batchnorm_forward", inp("x"), inp("gamma"), inp("beta"), bn_param("train")),
             call("layers.batchnorm_forward", inp("x"), inp("gamma"), inp("beta"), bn_param("test"))]
    outputs = {"out (train)": res(0, 0), "running_mean": arg(0, 3, "running_mean"),
               "running_var": arg(0, 3, "running_var"), "out (test)": res(1, 0)}
    checks = [Check("match", name, tol=FLOAT32_TOL) for name in outputs]
    checks += [kept_dtype(name) for name in outputs]
    return behaviour_test("layers.batchnorm_forward", "float32: outputs and running averages keep the dtype",
                          as_float32(batchnorm_inputs), program(calls, outputs), checks)


def batchnorm_backward_tests(function):
    """batchnorm_backward(_alt).1-.5: the usual batch, odd sizes with a large eps, float32 and purity."""
    scales_args = [inp("x"), inp("gamma"), inp("beta"), dict(BN_LARGE_EPS)]
    return [
        layer_gradient_test(function, "layers.batchnorm_forward", batchnorm_inputs, BN_ARGS, BN_GRADS),
        layer_gradient_test(function, "layers.batchnorm_forward", batchnorm_scales_inputs, scales_args, BN_GRADS,
                            label="gradients, eps 1e-3, features on different scales"),
        backward_contract_test(function, "layers.batchnorm_forward", batchnorm_inputs, BN_ARGS, BN_GRADS),
    ]


def dropout_image_test():
    """dropout_forward.1-.2, .6-.7: a 3-D float32 x: fraction, scale, independent units, dtype; x not edited."""
    calls = [call("layers.dropout_forward", inp("x"), dropout_param("train", 0.4, seed=3)),
             call("layers.dropout_forward", inp("x"), dropout_param("test", 0.4))]
    outputs = {"out": res(0, 0), "out (test mode)": res(1, 0), "x after the call": arg(0, 0)}
    works = dropout_rule(0.4, "out")
    checks = [Check("custom", rule=works, label="train mode, p=0.4, float32"),
              Check("custom", rule=gated(independent_units_rule("out"), works, "independent units count only for "
                                         "a dropout that works"), label="every unit dropped independently"),
              Check("match", "out (test mode)", tol=0.0, label="test mode returns x"),
              kept_dtype("out"), kept_dtype("out (test mode)"), left_unchanged({"x after the call": "x"})]
    return behaviour_test("layers.dropout_forward", "a 3-D float32 x, x left unchanged",
                          dropout_image_inputs, program(calls, outputs), checks)


LAYER_TESTS = [
    forward_test("layers.affine_forward", affine_inputs,
                 [call("layers.affine_forward", inp("x"), inp("w"), inp("b"))], {"out": res(0, 0)}),
    affine_regimes_test(),
    layer_gradient_test("layers.affine_backward", "layers.affine_forward", affine_inputs,
                        [inp("x"), inp("w"), inp("b")], {"dx": ("x", 0), "dw": ("w", 1), "db": ("b", 2)}),
    layer_gradient_test("layers.affine_backward", "layers.affine_forward", affine_single_inputs,
                        [inp("x"), inp("w"), inp("b")], {"dx": ("x", 0), "dw": ("w", 1), "db": ("b", 2)},
                        label="gradients, a batch of one 3-D example"),
    backward_contract_test("layers.affine_backward", "layers.affine_forward", affine_inputs,
                           [inp("x"), inp("w"), inp("b")], {"dx": ("x", 0), "dw": ("w", 1), "db": ("b", 2)}),
    forward_test("layers.relu_forward", relu_inputs, [call("layers.relu_forward", inp("x"))], {"out": res(0, 0)}),
    relu_regimes_test(),
    layer_gradient_test("layers.relu_backward", "layers.relu_forward", relu_inputs, [inp("x")], {"dx": ("x", 0)}),
    backward_contract_test("layers.relu_backward", "layers.relu_forward", relu_image_inputs, [inp("x")],
                           {"dx": ("x", 0)}),
    batchnorm_train_test(),
    batchnorm_defaults_test(),
    batchnorm_test_mode_test(),
    batchnorm_float32_test(),
    *batchnorm_backward_tests("layers.batchnorm_backward"),
    *batchnorm_backward_tests("layers.batchnorm_backward_alt"),
    dropout_statistics_test(),
    dropout_image_test(),
    behaviour_test(
        "layers.dropout_backward", "gradients in train and test mode", small_dropout_inputs,
        program(
            [call("layers.dropout_forward", inp("x"), dropout_param("train", 0.4, seed=5)),
             call("layers.dropout_backward", inp("dout"), res(0, 1)),
             call("layers.dropout_forward", inp("x"), dropout_param("test", 0.4)),
             call("layers.dropout_backward", inp("dout"), res(2, 1))],
            {"dx": res(1), "dx_test": res(3), "out": res(0, 0)},
            [numeric(0, 0, {"dx": inp("x")}, output=[0], dout="dout")]),
        [Check("numeric", "dx", expect=inverted_dropout_gradient("out", 0.6)),
         Check("custom", rule=dropout_backward_rule, label="dx uses the mask"),
         Check("match", "dx_test", label="test mode: dx")],
        requires=("layers.dropout_forward",),
    ),
    backward_contract_test("layers.dropout_backward", "layers.dropout_forward", small_dropout_inputs,
                           [inp("x"), dropout_param("train", 0.4, seed=5)], {"dx": ("x", 0)}, compare=False),
]


# Update rules -----------------------------------------------------------------

OPTIMIZER_STEPS = 3


def optimizer_inputs(rng):
    arrays = {"w": draw.normal(rng, 4, 5), "velocity": draw.normal(rng, 4, 5, scale=0.1),
              "a": 0.1 + np.abs(draw.normal(rng, 4, 5)), "v": draw.normal(rng, 4, 5, scale=0.1)}
    arrays.update({f"dw{step}": draw.normal(rng, 4, 5) for step in range(OPTIMIZER_STEPS)})
    return arrays


def small_gradient_inputs(rng):
    """Gradients of about 1e-2, so that the second moment is of the size of a large epsilon."""
    arrays = {"w": draw.normal(rng, 3, 7)}
    arrays.update({f"dw{step}": draw.normal(rng, 3, 7, scale=1e-2) for step in range(OPTIMIZER_STEPS)})
    return arrays


def float32_optimizer_inputs(rng):
    return {"w": draw.normal(rng, 7).astype(np.float32),
            **{f"dw{step}": draw.normal(rng, 7).astype(np.float32) for step in range(2)}}


def update_rule_test(rule, config, state, tol=1e-7, make_inputs=optimizer_inputs,
                     label=f"{OPTIMIZER_STEPS} steps: next_w and config state"):
    """``rule`` takes OPTIMIZER_STEPS steps from ``config``; next_w and the state are scored, w and dw unedited."""
    calls = [call(f"optim.{rule}", inp("w"), inp("dw0"), config)]
    for step in range(1, OPTIMIZER_STEPS):
        calls.append(call(f"optim.{rule}", res(step - 1, 0), inp(f"dw{step}"), res(step - 1, 1)))
    last = OPTIMIZER_STEPS - 1
    outputs = {"next_w": res(last, 0), **{key: res(last, 1, key) for key in state},
               "w after the call": arg(0, 0), "dw after the call": arg(0, 1)}
    checks = [Check("match", name, tol=tol) for name in ("next_w", *state)]
    checks.append(left_unchanged({"w after the call": "w", "dw after the call": "dw0"}))
    return behaviour_test(f"optim.{rule}", label, make_inputs, program(calls, outputs), checks)


def float32_defaults_test(rule, state):
    """Two steps on float32 weights from no config: the defaults, and float32 next_w and state."""
    calls = [call(f"optim.{rule}", inp("w"), inp("dw0")), call(f"optim.{rule}", res(0, 0), inp("dw1"), res(0, 1))]
    outputs = {"next_w": res(1, 0), **{key: res(1, 1, key) for key in state}}
    arrays = ["next_w", *(key for key in state if key != "t")]
    checks = [Check("match", name, tol=FLOAT32_TOL) for name in outputs] + [kept_dtype(name) for name in arrays]
    return behaviour_test(f"optim.{rule}", "float32 weights, default config: values and dtypes",
                          float32_optimizer_inputs, program(calls, outputs), checks)


OPTIMIZER_TESTS = [
    update_rule_test("sgd_momentum", {"learning_rate": 1e-2, "momentum": 0.8, "velocity": inp("velocity")},
                     ["velocity"]),
    float32_defaults_test("sgd_momentum", ["velocity"]),
    update_rule_test("sgd_nesterov_momentum",
                     {"learning_rate": 1e-2, "momentum": 0.8, "velocity": inp("velocity")}, ["velocity"]),
    float32_defaults_test("sgd_nesterov_momentum", ["velocity"]),
    # An epsilon this large makes sqrt(a) + epsilon and sqrt(a + epsilon) differ beyond the tolerance.
    update_rule_test("rmsprop", {"learning_rate": 1e-2, "decay_rate": 0.95, "epsilon": 1e-2, "a": inp("a")},
                     ["a"], tol=1e-6),
    float32_defaults_test("rmsprop", ["a"]),
    update_rule_test("adam", {"learning_rate": 1e-2, "v": inp("v"), "a": inp("a"), "t": 5},
                     ["v", "a", "t"], tol=1e-6),
    # Every hyperparameter away from its default, from t = 0, with an epsilon as large as sqrt(a).
    update_rule_test("adam", {"learning_rate": 1e-2, "beta1": 0.7, "beta2": 0.9, "epsilon": 1e-3},
                     ["v", "a", "t"], tol=1e-6, make_inputs=small_gradient_inputs,
                     label="3 steps from t = 0: beta1 0.7, beta2 0.9, epsilon 1e-3, small gradients"),
    float32_defaults_test("adam", ["v", "a", "t"]),
]

TESTS = LAYER_TESTS + OPTIMIZER_TESTS
