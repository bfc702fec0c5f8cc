"""Hidden tests of the object API ``course_lib.mlp`` (svhn)."""
import numpy as np

from autograder.suites import draw
from autograder.suites.spec import (
    Check,
    arg,
    assign,
    behaviour_test,
    call,
    dtype,
    dtype_check,
    forward_test,
    inp,
    method,
    numeric,
    program,
    res,
    unchanged_check,
)

F64 = dtype("float64")
LAYERS = "mlp.layers"


# Layers ---------------------------------------------------------------------

# float32 results are compared at float32's precision; float64 ones keep the default 1e-7.
FLOAT32_TOL = 1e-5


def as_float32(make_inputs):
    """The same inputs with every float array in float32 (labels stay integers)."""
    def make(rng):
        return {name: value.astype(np.float32) if value.dtype.kind == "f" else value
                for name, value in make_inputs(rng).items()}
    return make


def repeat_check(first, again):
    """A second backward after the same forward gives what the first gave: backward leaves meta intact."""
    def rule(found, expected, inputs, reference):
        if np.array_equal(found[first], found[again]):
            return True, ""
        return False, f"a second backward after the same forward gave another {first}: do not modify self.meta"
    return Check("custom", rule=rule, label=f"{first} again")


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
    return {"x": draw.normal(rng, 4, 2, 3, 2), "x_3d": draw.normal(rng, 3, 5, 2), "x_2d": draw.normal(rng, 4, 6),
            "x_batch1": draw.normal(rng, 1, 3, 2, 2), "x_previous": draw.normal(rng, 2, 3, 4),
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
        + [Check("custom", rule=same_seed_rule, label="same seed, same mask"),
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
                {"dx": res(2), "dx_test": res(4), "dx_off": res(7)}, [numeric(1, 1, {"dx": inp("x")}, dout="dout")]),
        [Check("numeric", "dx"), Check("custom", rule=dropout_mask_rule, label="dx uses the mask"),
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
    *layer_tests("flatten", {"name": "flat"}, flatten_inputs, regimes=("x_3d", "x_2d", "x_batch1")),
    *layer_tests("fc", {"input_dim": 6, "output_dim": 4, "name": "fc1", "dtype": F64}, fc_inputs,
                 params=("fc1_w", "fc1_b"), regimes=("x_batch1",),
                 float32_constructor={"input_dim": 6, "output_dim": 4, "name": "fc1", "dtype": dtype("float32")}),
    *layer_tests("leaky_relu", {"negative_slope": 0.1, "name": "relu1"}, leaky_relu_inputs, regimes=("x_4d",)),
    *dropout_tests(),
    *cross_entropy_tests(),
    *softmax_tests(),
]


# Networks -----------------------------------------------------------------------

NETS = {
    # class: (constructor for the statistics test, constructor for the forward test, layer shapes, input shape)
    "TestFCReLU": ({"input_dim": 40, "output_dim": 30}, {"input_dim": 8, "output_dim": 5, "dtype": F64},
                   {"fc1": (8, 5)}, (6, 8)),
    "SmallFullyConnectedNetwork": ({"input_dim": 20, "hidden_dim": 30, "num_classes": 20},
                                   {"input_dim": 6, "hidden_dim": 9, "num_classes": 7, "dtype": F64},
                                   {"fc1": (6, 9), "fc2": (9, 7)}, (5, 6)),
    # keep_prob 0.75 tells keep_prob from 1 - keep_prob.
    "DropoutNet": ({}, {"keep_prob": 0.75, "seed": 3, "dtype": F64},
                   {"fc1": (15, 20), "fc2": (20, 30), "fc3": (30, 10)}, (4, 3, 5)),
    "TinyNet": ({"hidden_dims": [40, 20], "input_dim": 48},
                {"hidden_dims": [7, 6], "input_dim": 48, "num_classes": 5, "keep_prob": 0.8, "seed": 2, "dtype": F64},
                {"fc1": (48, 7), "fc2": (7, 6), "fc3": (6, 5)}, (3, 4, 4, 3)),
}
# Other numbers of hidden layers than the forward test's two.
TINYNET_DEPTHS = {"params_one_hidden": {"hidden_dims": [30], "input_dim": 24, "num_classes": 4},
                  "params_three_hidden": {"hidden_dims": [30, 20, 25], "input_dim": 24, "num_classes": 4}}
# Where the dropout layers sit in self.net.layers (flatten, then fc, leaky_relu, dropout per hidden layer).
DROPOUT_POSITIONS = (3, 6)


def net_weights(shapes, input_shape):
    def make(rng):
        arrays = {"x": draw.normal(rng, *input_shape)}
        for layer, (fan_in, fan_out) in shapes.items():
            arrays[f"{layer}_w"] = draw.normal(rng, fan_in, fan_out, scale=0.5)
            arrays[f"{layer}_b"] = draw.normal(rng, fan_out, scale=0.1)
        return arrays
    return make


def in_python(kwargs):
    """Constructor kwargs as the grading process passes them to the reference (dtypes as numpy types)."""
    return {key: np.dtype(value["$dtype"]).type if isinstance(value, dict) else value for key, value in kwargs.items()}


def dropout_net_rule(name, kwargs):
    """The training-mode scores are the documented layers' with the masks the net's dropout layers drew."""
    keep_prob = kwargs["keep_prob"]

    def rule(found, expected, inputs, reference):
        model = reference.build(f"mlp.nets.{name}", **in_python(kwargs))
        model.net.load({key: inputs[key] for key in model.net.params})
        x = inputs["x"]
        masks = iter(found.get(f"mask{position}") for position in DROPOUT_POSITIONS)
        for position, layer in enumerate(model.net.layers):
            if not getattr(layer, "depends_on_mode", False):
                x = layer.forward(x)
                continue
            mask = next(masks)
            if mask is None or np.shape(mask) != x.shape:
                return False, (f"self.net.layers[{position}] dropped no unit in training mode: put a dropout layer "
                               f"there and give it keep_prob")
            if not np.all(np.isclose(mask, 0) | np.isclose(mask, 1 / keep_prob, rtol=1e-6)):
                return False, f"the dropout layers must keep units with probability keep_prob={keep_prob}"
            x = x * mask
        scores = found["train"]
        if scores.shape != x.shape or not np.allclose(scores, x, rtol=1e-7, atol=1e-9):
            return False, "training-mode scores differ from the documented layers applied with your dropout masks"
        return True, ""
    return rule


def same_seed_rule_of_nets(found, expected, inputs, reference):
    if np.array_equal(found["seeded_a"], found["seeded_b"]):
        return True, ""
    return False, "two nets built with the same seed dropped different units: pass seed to every dropout layer"


def net_tests(name, statistics_kwargs, forward_kwargs, shapes, input_shape):
    key, model = f"mlp.nets.{name}.__init__", f"mlp.nets.{name}"
    weights = {f"{layer}_{kind}": inp(f"{layer}_{kind}") for layer in shapes for kind in "wb"}
    built = [call(model, **forward_kwargs), method(res(0, "net"), "load", weights)]
    # DropoutNet and TinyNet pass their inputs through dropout layers, in test mode too.
    layers = ("flatten", "fc", "leaky_relu") + (("dropout",) if name in ("DropoutNet", "TinyNet") else ())
    needs = tuple(f"{LAYERS}.{layer}.forward" for layer in layers)
    # The default dtype (float32) and float64: the init check compares dtypes too.
    constructions = {"params": statistics_kwargs, "params_float64": {**statistics_kwargs, "dtype": F64},
                     **(TINYNET_DEPTHS if name == "TinyNet" else {})}
    init_calls = [call(model, **kwargs) for kwargs in constructions.values()]
    tests = [
        behaviour_test(key, "initial parameters", lambda rng: {},
                       program(init_calls, {label: res(index, "net", "params")
                                            for index, label in enumerate(constructions)}, seed=0),
                       [Check("init", label) for label in constructions]),
        forward_test(key, net_weights(shapes, input_shape), built + [method(res(0), "forward", inp("x"), False)],
                     {"scores": res(2)}, label="test-mode scores with given weights", requires=needs),
    ]
    if forward_kwargs.get("keep_prob"):
        twin = [call(model, **forward_kwargs), method(res(2, "net"), "load", weights)]
        # Two nets built alike drop the same units; then net 0's masks from a seeded call are read back.
        calls = built + twin + [method(res(0), "forward", inp("x"), True), method(res(2), "forward", inp("x"), True),
                                method(res(0), "forward", inp("x"), True, 7)]
        outputs = {"seeded_a": res(4), "seeded_b": res(5), "train": res(6),
                   **{f"mask{position}": res(0, "net", "layers", position, "meta") for position in DROPOUT_POSITIONS}}
        tests.append(behaviour_test(
            key, "training mode: dropout layers, keep_prob and seed", net_weights(shapes, input_shape),
            program(calls, outputs),
            [Check("custom", rule=dropout_net_rule(name, forward_kwargs), label="training-mode scores"),
             Check("custom", rule=same_seed_rule_of_nets, label="same seed, same masks")],
            requires=needs))
    return tests


NET_TESTS = [test for name, settings in NETS.items() for test in net_tests(name, *settings)]


# Optimizers -------------------------------------------------------------------------

OPTIMIZERS = {
    # class: (constructor kwargs, state dicts given initial values, scalar state read back)
    "SGDM": ({"lr": 1e-2, "momentum": 0.9}, ("velocity",), ()),
    # eps large enough that sqrt(cache) + eps and sqrt(cache + eps) differ beyond the tolerance.
    "RMSProp": ({"lr": 1e-2, "decay": 0.95, "eps": 1e-2}, ("cache",), ()),
    "Adam": ({"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "t": 5, "eps": 1e-8}, ("mt", "vt"), ("t",)),
}
PARAMS = ("fc1_w", "fc1_b")
OPTIMIZER_STEPS = 3


def optimizer_inputs(rng):
    arrays = {}
    for step in range(OPTIMIZER_STEPS):
        arrays.update({f"grad{step}_fc1_w": draw.normal(rng, 5, 4), f"grad{step}_fc1_b": draw.normal(rng, 4)})
    for state in ("value", "velocity", "cache", "mt", "vt"):
        positive = state in ("cache", "vt")
        arrays[f"{state}_fc1_w"] = np.abs(draw.normal(rng, 5, 4)) + 0.1 if positive else draw.normal(rng, 5, 4)
        arrays[f"{state}_fc1_b"] = np.abs(draw.normal(rng, 4)) + 0.1 if positive else draw.normal(rng, 4)
    return arrays


def optimizer_calls(name, kwargs, states, steps, layer_dtype):
    """An fc layer with given weights in a sequential, the optimizer with ``states`` given, ``steps`` steps."""
    calls = [call(f"{LAYERS}.fc", input_dim=5, output_dim=4, name="fc1", dtype=layer_dtype),
             call(f"{LAYERS}.sequential", res(0))]
    calls += [method(res(1), "assign", param, inp(f"value_{param}")) for param in PARAMS]
    calls.append(call(f"mlp.optim.{name}", res(1), **kwargs))
    optimizer = len(calls) - 1
    calls += [assign(res(optimizer), [state, param], inp(f"{state}_{param}")) for state in states for param in PARAMS]
    for step in range(steps):
        calls += [method(res(1), "assign_grads", param, inp(f"grad{step}_{param}")) for param in PARAMS]
        calls.append(method(res(optimizer), "step"))
    return calls, optimizer


def optimizer_test(name, kwargs, states, scalars):
    """Two steps of ``mlp.optim.<name>`` on one fc layer whose weights, gradients and state are given."""
    calls, optimizer = optimizer_calls(name, kwargs, states, 2, F64)
    outputs = {"params": res(1, "params"), **{state: res(optimizer, state) for state in (*states, *scalars)}}
    return forward_test(f"mlp.optim.{name}.step", optimizer_inputs, calls, outputs, tol=1e-6,
                        label="two steps: parameters and state", weight=2)


def fresh_optimizer_test(name, kwargs, states, scalars):
    """OPTIMIZER_STEPS steps of a new optimizer on a float32 layer: state starts as float32 zeros, grads stay."""
    calls, optimizer = optimizer_calls(name, kwargs, (), OPTIMIZER_STEPS, dtype("float32"))
    values = {"params": res(1, "params"), **{state: res(optimizer, state) for state in (*states, *scalars)}}
    unchanged = {f"grad{OPTIMIZER_STEPS - 1}_{param}": res(1, "grads", param) for param in PARAMS}
    outputs = {**values, **{f"{grad} after the step": ref for grad, ref in unchanged.items()}}
    checks = [Check("match", output, tol=FLOAT32_TOL) for output in values]
    checks += [dtype_check("params", *states)]
    checks += [unchanged_check(f"{grad} after the step", grad) for grad in unchanged]
    return behaviour_test(f"mlp.optim.{name}.step", f"new optimizer, float32 layer: {OPTIMIZER_STEPS} steps",
                          as_float32(optimizer_inputs), program(calls, outputs), checks)


# A new optimizer's hyperparameters: beta2 0.9 makes Adam's bias correction matter for several steps.
FRESH_OPTIMIZERS = {
    "SGDM": ({"lr": 1e-2, "momentum": 0.9}, ("velocity",), ()),
    "RMSProp": ({"lr": 1e-2, "decay": 0.9, "eps": 1e-2}, ("cache",), ()),
    "Adam": ({"lr": 1e-2, "beta1": 0.8, "beta2": 0.9, "eps": 1e-2}, ("mt", "vt"), ("t",)),
}


OPTIMIZER_TESTS = [test for name in OPTIMIZERS for test in (optimizer_test(name, *OPTIMIZERS[name]),
                                                              fresh_optimizer_test(name, *FRESH_OPTIMIZERS[name]))]


# Training ------------------------------------------------------------------------------

TRAIN_NET = {"input_dim": 4, "hidden_dim": 30, "num_classes": 3, "init_scale": 0.1}
TRAINING = {"batch_size": 20, "max_epochs": 10, "lr_decay": 0.9, "lr_decay_every": 5}
LEARNING_RATE = 0.2


def training_inputs(rng):
    X, y = draw.clusters(rng, 90, 4, 3)
    hidden, classes = TRAIN_NET["hidden_dim"], TRAIN_NET["num_classes"]
    # Given initial weights: the run depends on train_net alone, not on how the net drew its own.
    weights = {"fc1_w": draw.normal(rng, 4, hidden, scale=0.1), "fc1_b": np.zeros(hidden),
               "fc2_w": draw.normal(rng, hidden, classes, scale=0.1), "fc2_b": np.zeros(classes)}
    return {"data_train": X[:60], "labels_train": y[:60], "data_val": X[60:], "labels_val": y[60:], **weights}


def iterations():
    return TRAINING["max_epochs"] * max(60 // TRAINING["batch_size"], 1)


def history_rule(outputs, expected, inputs, reference):
    losses = outputs.get("loss_hist")
    if losses is None or losses.shape != (iterations(),):
        return False, f"loss_hist must hold one loss per iteration ({iterations()} here)"
    if not np.all(np.isfinite(losses)) or losses[-5:].mean() > 0.5 * losses[:5].mean():
        return False, "the loss did not decrease by half over training on an easy problem"
    for key in ("train_acc_hist", "val_acc_hist"):
        found = outputs.get(key)
        if found is None or found.shape != (TRAINING["max_epochs"],):
            return False, f"{key} must hold one accuracy per epoch ({TRAINING['max_epochs']} here)"
    return True, ""


def best_params_rule(outputs, expected, inputs, reference):
    model = reference.build("mlp.nets.SmallFullyConnectedNetwork", **TRAIN_NET)
    try:
        model.net.load({name: outputs[f"opt_params/{name}"] for name in ("fc1_w", "fc1_b", "fc2_w", "fc2_b")})
    except (KeyError, ValueError):
        return False, "opt_params must hold fc1_w, fc1_b, fc2_w, fc2_b with the network's shapes"
    scores = model.forward(inputs["data_val"], is_training=False)
    accuracy = float(np.mean(np.argmax(scores, axis=1) == inputs["labels_val"]))
    best = outputs.get("val_acc_hist")
    if accuracy < 0.9:
        return False, f"opt_params classify {accuracy:.0%} of an easy validation set (at least 90% expected)"
    if best is None or best.size == 0 or abs(accuracy - float(best.max())) > 1e-9:
        return False, "opt_params must be the parameters of the epoch with the best validation accuracy"
    return True, ""


TRAINED = ("fc1_w", "fc1_b", "fc2_w", "fc2_b")


def same_parameters(outputs, prefix):
    return all(np.array_equal(outputs[f"opt_params/{name}"], outputs[f"{prefix}{name}"]) for name in TRAINED)


def earliest_best_rule(outputs, expected, inputs, reference):
    history = outputs["val_acc_hist"]
    if int(np.argmax(history)) < len(history) - 1 and same_parameters(outputs, "last/param/"):
        return False, ("opt_params are the last epoch's parameters; keep those of the epoch with the best "
                       "validation accuracy (the earliest one on ties)")
    return True, ""


def copied_rule(outputs, expected, inputs, reference):
    if same_parameters(outputs, "after/"):
        return False, "opt_params changed when the network was trained further: store copies (value.copy())"
    return True, ""


def decay_rule(outputs, expected, inputs, reference):
    decays = (TRAINING["max_epochs"] - 1) // TRAINING["lr_decay_every"]
    wanted = LEARNING_RATE * TRAINING["lr_decay"] ** decays
    found = outputs.get("lr")
    if found is None or abs(float(found) - wanted) > 1e-12:
        return False, "the learning rate must be multiplied by lr_decay every lr_decay_every epochs"
    return True, ""


def train_net_test():
    data = {key: inp(key) for key in ("data_train", "labels_train", "data_val", "labels_val")}
    calls = [call("mlp.nets.SmallFullyConnectedNetwork", **TRAIN_NET, dtype=F64),
             method(res(0, "net"), "load", {name: inp(name) for name in TRAINED}),
             call(f"{LAYERS}.cross_entropy"),
             call("mlp.optim.SGD", res(0, "net"), lr=LEARNING_RATE),
             call("mlp.train.train_net", data, res(0), res(2), res(3), **TRAINING),
             # The last epoch's parameters, then one more step: best parameters that were not
             # copied would move with it.
             call("checkpoint.get_model_arrays", res(0)), method(res(3), "step")]
    outputs = {"opt_params": res(4, 0), "loss_hist": res(4, 1), "train_acc_hist": res(4, 2),
               "val_acc_hist": res(4, 3), "lr": res(3, "lr"), "last": res(5), "after": res(0, "net", "params")}
    needs = ["mlp.nets.SmallFullyConnectedNetwork.__init__", f"{LAYERS}.cross_entropy.forward",
             f"{LAYERS}.cross_entropy.backward"]
    needs += [f"{LAYERS}.{layer}.{step}" for layer in ("fc", "leaky_relu") for step in ("forward", "backward")]
    # The same run as the reference's from the same seed: one permutation of np.random per epoch.
    same_run = [Check("match", name, label=f"{name} (the reference's run from the same seed)")
                for name in ("loss_hist", "val_acc_hist", "opt_params")]
    return behaviour_test(
        "mlp.train.train_net", "trains a small net on an easy problem", training_inputs,
        program(calls, outputs, seed=0),
        [Check("custom", rule=history_rule, label="histories"),
         Check("custom", rule=best_params_rule, label="best parameters"),
         Check("custom", rule=earliest_best_rule, label="best epoch, not last"),
         Check("custom", rule=copied_rule, label="best parameters are copies"),
         Check("custom", rule=decay_rule, label="learning-rate decay"), *same_run],
        weight=2, requires=tuple(needs))


TESTS = LAYER_TESTS + NET_TESTS + OPTIMIZER_TESTS + [train_net_test()]
