"""Hidden tests of the functional API: layers, update rules and the numpy nets (hw3, hw4)."""
import numpy as np

from autograder.suites import draw
from autograder.suites.masks import dropout_net_gradient, inverted_dropout_gradient
from autograder.suites.spec import (
    Check,
    arg,
    assign,
    behaviour_test,
    call,
    dtype,
    forward_test,
    init_test,
    inp,
    layer_gradient_test,
    gated,
    method,
    net_test,
    numeric,
    program,
    res,
)

AFFINE = ["layers.affine_forward", "layers.affine_backward"]
RELU = ["layers.relu_forward", "layers.relu_backward"]
FC_NET = "classifiers.fc_net.FullyConnectedNet"


# Layers ---------------------------------------------------------------------


def affine_inputs(rng):
    return {"x": draw.normal(rng, 4, 2, 3), "w": draw.normal(rng, 6, 5), "b": draw.normal(rng, 5),
            "dout": draw.normal(rng, 4, 5)}


def relu_inputs(rng):
    return {"x": draw.away_from_zero(rng, 5, 6), "dout": draw.normal(rng, 5, 6)}


def batchnorm_inputs(rng):
    return {
        "x": draw.normal(rng, 10, 5, scale=3.0, shift=2.0),
        "gamma": draw.normal(rng, 5, shift=1.0),
        "beta": draw.normal(rng, 5),
        "running_mean": draw.normal(rng, 5),
        "running_var": 0.5 + np.abs(draw.normal(rng, 5)),
        "dout": draw.normal(rng, 10, 5),
    }


def bn_param(mode):
    return {"mode": mode, "momentum": 0.8, "eps": 1e-5,
            "running_mean": inp("running_mean"), "running_var": inp("running_var")}


BN_ARGS = [inp("x"), inp("gamma"), inp("beta"), bn_param("train")]
BN_GRADS = {"dx": ("x", 0), "dgamma": ("gamma", 1), "dbeta": ("beta", 2)}
DROP_PROBABILITIES = (0.3, 0.6, 0.75)


def dropout_inputs(rng):
    return {"x": draw.normal(rng, 400, 50, shift=1.0), "dout": draw.normal(rng, 400, 50)}


def small_dropout_inputs(rng):
    return {"x": draw.normal(rng, 20, 10, shift=1.0), "dout": draw.normal(rng, 20, 10)}


def dropout_param(mode, p, seed=None):
    param = {"mode": mode, "p": p}
    if seed is not None:
        param["seed"] = seed
    return param


def dropout_rule(p):
    def rule(outputs, expected, inputs, reference):
        x, out = inputs["x"], outputs[f"out_{p}"]
        dropped = float(np.mean(out == 0))
        if abs(dropped - p) > 0.02:
            return False, f"p={p}: {dropped:.1%} of the units were dropped, expected about {p:.0%}"
        kept = out != 0
        if not np.allclose(out[kept], x[kept] / (1 - p), rtol=1e-6, atol=0):
            return False, f"p={p}: the kept units must be scaled by 1 / (1 - p) (inverted dropout)"
        return True, ""
    return rule


def same_mask_rule(outputs, expected, inputs, reference):
    if np.array_equal(outputs["out_again"], outputs["out_0.6"]):
        return True, ""
    return False, "two calls with the same dropout_param['seed'] dropped different units"


NO_DROPOUT = "equal masks count only for a dropout that works (see p=0.6)"


def dropout_backward_rule(outputs, expected, inputs, reference):
    kept = float(np.mean(outputs["dx"] != 0))
    if abs(kept - 0.6) > 0.15:
        return False, f"dx is nonzero for {kept:.1%} of the units; with p=0.4 about 60% are kept"
    return True, ""


LAYER_TESTS = [
    forward_test("layers.affine_forward", affine_inputs,
                 [call("layers.affine_forward", inp("x"), inp("w"), inp("b"))], {"out": res(0, 0)}),
    layer_gradient_test("layers.affine_backward", "layers.affine_forward", affine_inputs,
                        [inp("x"), inp("w"), inp("b")], {"dx": ("x", 0), "dw": ("w", 1), "db": ("b", 2)}),
    forward_test("layers.relu_forward", relu_inputs, [call("layers.relu_forward", inp("x"))], {"out": res(0, 0)}),
    layer_gradient_test("layers.relu_backward", "layers.relu_forward", relu_inputs, [inp("x")], {"dx": ("x", 0)}),
    forward_test("layers.batchnorm_forward", batchnorm_inputs,
                 [call("layers.batchnorm_forward", *BN_ARGS)],
                 {"out": res(0, 0), "running_mean": arg(0, 3, "running_mean"),
                  "running_var": arg(0, 3, "running_var")},
                 label="train mode: output and running averages", weight=2),
    forward_test("layers.batchnorm_forward", batchnorm_inputs,
                 [call("layers.batchnorm_forward", inp("x"), inp("gamma"), inp("beta"), bn_param("test"))],
                 {"out": res(0, 0)}, label="test mode output"),
    layer_gradient_test("layers.batchnorm_backward", "layers.batchnorm_forward", batchnorm_inputs,
                        BN_ARGS, BN_GRADS),
    layer_gradient_test("layers.batchnorm_backward_alt", "layers.batchnorm_forward", batchnorm_inputs,
                        BN_ARGS, BN_GRADS),
    behaviour_test(
        "layers.dropout_forward", "statistics, seeds and test mode", dropout_inputs,
        program(
            [call("layers.dropout_forward", inp("x"), dropout_param("train", p, seed=11 + i))
             for i, p in enumerate(DROP_PROBABILITIES)]
            + [call("layers.dropout_forward", inp("x"), dropout_param("train", 0.6, seed=12)),
               call("layers.dropout_forward", inp("x"), dropout_param("test", 0.6))],
            {**{f"out_{p}": res(i, 0) for i, p in enumerate(DROP_PROBABILITIES)},
             "out_again": res(3, 0), "out_test": res(4, 0)}),
        [Check("custom", rule=dropout_rule(p), label=f"train mode, p={p}") for p in DROP_PROBABILITIES]
        + [Check("custom", rule=gated(same_mask_rule, dropout_rule(0.6), NO_DROPOUT), label="same seed, same mask"),
           Check("match", "out_test", label="test mode returns x")],
    ),
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
]


# Update rules -----------------------------------------------------------------

OPTIMIZER_STEPS = 3


def optimizer_inputs(rng):
    arrays = {"w": draw.normal(rng, 4, 5), "velocity": draw.normal(rng, 4, 5, scale=0.1),
              "a": 0.1 + np.abs(draw.normal(rng, 4, 5)), "v": draw.normal(rng, 4, 5, scale=0.1)}
    arrays.update({f"dw{step}": draw.normal(rng, 4, 5) for step in range(OPTIMIZER_STEPS)})
    return arrays


def update_rule_test(rule, config, state, tol=1e-7):
    """``rule`` takes OPTIMIZER_STEPS steps from ``config``; next_w and the state are scored."""
    calls = [call(f"optim.{rule}", inp("w"), inp("dw0"), config)]
    for step in range(1, OPTIMIZER_STEPS):
        calls.append(call(f"optim.{rule}", res(step - 1, 0), inp(f"dw{step}"), res(step - 1, 1)))
    last = OPTIMIZER_STEPS - 1
    outputs = {"next_w": res(last, 0), **{key: res(last, 1, key) for key in state}}
    return forward_test(f"optim.{rule}", optimizer_inputs, calls, outputs, tol=tol,
                        label=f"{OPTIMIZER_STEPS} steps: next_w and config state")


OPTIMIZER_TESTS = [
    update_rule_test("sgd_momentum", {"learning_rate": 1e-2, "momentum": 0.8, "velocity": inp("velocity")},
                     ["velocity"]),
    update_rule_test("sgd_nesterov_momentum",
                     {"learning_rate": 1e-2, "momentum": 0.8, "velocity": inp("velocity")}, ["velocity"]),
    # An epsilon this large makes sqrt(a) + epsilon and sqrt(a + epsilon) differ beyond the tolerance.
    update_rule_test("rmsprop", {"learning_rate": 1e-2, "decay_rate": 0.95, "epsilon": 1e-2, "a": inp("a")},
                     ["a"], tol=1e-6),
    update_rule_test("adam", {"learning_rate": 1e-2, "v": inp("v"), "a": inp("a"), "t": 5},
                     ["v", "a", "t"], tol=1e-6),
]


# neural_net.TwoLayerNet (weights stored as (outputs, inputs)) -------------------------

TWO_LAYER = "classifiers.neural_net.TwoLayerNet"
TWO_LAYER_SIZES = {"input_size": 4, "hidden_size": 10, "output_size": 3, "std": 0.1}
TWO_LAYER_PARAMS = ["W1", "b1", "W2", "b2"]


def two_layer_inputs(rng, n=5):
    return {"X": draw.normal(rng, n, 4), "y": draw.labels(rng, n, 3),
            "W1": draw.normal(rng, 10, 4, scale=0.5), "b1": draw.normal(rng, 10, scale=0.1),
            "W2": draw.normal(rng, 3, 10, scale=0.5), "b2": draw.normal(rng, 3, scale=0.1)}


def training_inputs(rng):
    X, y = draw.clusters(rng, 90, 4, 3)
    return {"X": X[:60], "y": y[:60], "X_val": X[60:], "y_val": y[60:]}


TRAIN_SETTINGS = {"learning_rate": 0.5, "learning_rate_decay": 0.95, "reg": 1e-5, "num_iters": 100,
                  "batch_size": 20}


def train_history_rule(outputs, expected, inputs, reference):
    losses = outputs.get("stats/loss_history")
    if losses is None or losses.shape != (TRAIN_SETTINGS["num_iters"],):
        return False, f"loss_history must hold one loss per iteration ({TRAIN_SETTINGS['num_iters']})"
    if not np.all(np.isfinite(losses)) or losses[-10:].mean() > 0.5 * losses[:10].mean():
        return False, "the loss did not decrease by half over training on an easy problem"
    return True, ""


def every_parameter_trained_rule(outputs, expected, inputs, reference):
    frozen = [name for name in ("b1", "b2") if not np.any(outputs.get(f"params/{name}", np.zeros(1)) != 0)]
    if frozen:
        return False, f"{', '.join(frozen)} never moved from its initial zeros: update every parameter"
    return True, ""


def train_epochs_rule(outputs, expected, inputs, reference):
    epochs = TRAIN_SETTINGS["num_iters"] // max(len(inputs["y"]) // TRAIN_SETTINGS["batch_size"], 1)
    for key in ("train_acc_history", "val_acc_history"):
        found = outputs.get(f"stats/{key}")
        if found is None or found.shape != (epochs,):
            return False, f"{key} must hold one accuracy per epoch ({epochs} here)"
    return True, ""


def train_result_rule(outputs, expected, inputs, reference):
    net = reference.build(TWO_LAYER, **TWO_LAYER_SIZES)
    try:
        net.params.update({name: outputs[f"params/{name}"] for name in TWO_LAYER_PARAMS})
        accuracy = float(np.mean(net.predict(inputs["X"]) == inputs["y"]))
    except (KeyError, ValueError):
        return False, "the trained parameters W1, b1, W2, b2 are missing or have the wrong shapes"
    if accuracy < 0.9:
        return False, f"the trained net classifies {accuracy:.0%} of an easy training set (at least 90% expected)"
    return True, ""


UNTRAINED = "histories count only for a net that was really trained (see 'trained weights')"


def two_layer_model(*extra):
    calls = [call(TWO_LAYER, **TWO_LAYER_SIZES)]
    return calls + [assign(res(0), ["params", name], inp(name)) for name in TWO_LAYER_PARAMS] + list(extra)


NEURAL_NET_TESTS = [
    net_test(f"{TWO_LAYER}.loss", TWO_LAYER, TWO_LAYER_SIZES, TWO_LAYER_PARAMS, two_layer_inputs,
             [inp("X")], "scores", grads=False),
    net_test(f"{TWO_LAYER}.loss", TWO_LAYER, TWO_LAYER_SIZES, TWO_LAYER_PARAMS, two_layer_inputs,
             [inp("X"), inp("y"), 0.05], "loss and gradients, reg 0.05", weight=2),
    forward_test(f"{TWO_LAYER}.predict", lambda rng: two_layer_inputs(rng, n=30),
                 two_layer_model(method(res(0), "predict", inp("X"))), {"labels": res(5)},
                 label="labels with given weights", exact=True, requires=(f"{TWO_LAYER}.loss",)),
    behaviour_test(
        f"{TWO_LAYER}.train", "learns an easy problem", training_inputs,
        program([call(TWO_LAYER, **TWO_LAYER_SIZES),
                 method(res(0), "train", inp("X"), inp("y"), inp("X_val"), inp("y_val"), **TRAIN_SETTINGS)],
                {"stats": res(1), "params": res(0, "params")}, seed=0),
        [Check("custom", rule=gated(train_history_rule, train_result_rule, UNTRAINED), label="loss_history"),
         Check("custom", rule=gated(train_epochs_rule, train_result_rule, UNTRAINED), label="accuracy histories"),
         Check("custom", rule=train_result_rule, label="trained weights"),
         Check("custom", rule=gated(every_parameter_trained_rule, train_result_rule, UNTRAINED),
               label="every parameter trained")],
        requires=(f"{TWO_LAYER}.loss", f"{TWO_LAYER}.predict"),
    ),
]


# fc_net: TwoLayerNet and FullyConnectedNet (weights stored as (inputs, outputs)) -------------

FC_TWO_LAYER = "classifiers.fc_net.TwoLayerNet"
FC_PARAMS = ["W1", "b1", "W2", "b2"]


def fc_two_layer_inputs(rng):
    return {"X": draw.normal(rng, 5, 2, 3), "y": draw.labels(rng, 5, 4),
            "W1": draw.normal(rng, 6, 8, scale=0.5), "b1": draw.normal(rng, 8, scale=0.1),
            "W2": draw.normal(rng, 8, 4, scale=0.5), "b2": draw.normal(rng, 4, scale=0.1)}


def fc_two_layer_test(label, reg, loss_args, grads):
    sizes = {"input_dim": 6, "hidden_dims": 8, "num_classes": 4, "weight_scale": 0.1, "reg": reg}
    return net_test(f"{FC_TWO_LAYER}.loss", FC_TWO_LAYER, sizes, FC_PARAMS, fc_two_layer_inputs, loss_args,
                    label, grads=grads, requires=(f"{FC_TWO_LAYER}.__init__", *AFFINE, *RELU))


HIDDEN_DIMS = [6, 5]


def fc_net_params(batchnorm=False):
    names = []
    for layer in range(1, len(HIDDEN_DIMS) + 2):
        names += [f"W{layer}", f"b{layer}"]
        if batchnorm and layer <= len(HIDDEN_DIMS):
            names += [f"gamma{layer}", f"beta{layer}"]
    return names


def fc_net_inputs(rng):
    sizes = [4, *HIDDEN_DIMS, 3]
    arrays = {"X": draw.normal(rng, 6, 2, 2), "y": draw.labels(rng, 6, 3)}
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        arrays[f"W{layer}"] = draw.normal(rng, fan_in, fan_out, scale=0.7)
        arrays[f"b{layer}"] = draw.normal(rng, fan_out, scale=0.1)
        if layer < len(sizes) - 1:
            arrays[f"gamma{layer}"] = draw.normal(rng, fan_out, scale=0.2, shift=1.0)
            arrays[f"beta{layer}"] = draw.normal(rng, fan_out, scale=0.2)
            arrays[f"running_mean{layer}"] = draw.normal(rng, fan_out)
            arrays[f"running_var{layer}"] = 0.5 + np.abs(draw.normal(rng, fan_out))
    return arrays


def fc_net_sizes(**extra):
    return {"hidden_dims": HIDDEN_DIMS, "input_dim": 4, "num_classes": 3, "weight_scale": 0.1,
            "dtype": dtype("float64"), **extra}


FC_NET_LAYERS = (f"{FC_NET}.__init__", *AFFINE, *RELU)
FC_NET_BASE = (*FC_NET_LAYERS, f"{FC_NET}.loss")
FC_NET_BATCHNORM = (*FC_NET_BASE, f"{FC_NET}.__init__[batchnorm]", "layers.batchnorm_forward",
                    "layers.batchnorm_backward_alt")


def running_statistics_calls():
    return [assign(res(0), ["bn_params", layer - 1, stat], inp(f"{stat}{layer}"))
            for layer in range(1, len(HIDDEN_DIMS) + 1) for stat in ("running_mean", "running_var")]


def dropout_net_rule(outputs, expected, inputs, reference):
    with_dropout, without = outputs.get("loss"), outputs.get("loss_without_dropout")
    if with_dropout is None or without is None:
        return False, "the loss is missing"
    if abs(float(with_dropout) - float(without)) <= 1e-9 * max(1.0, abs(float(without))):
        return False, "the training loss is the same with and without dropout: is dropout applied?"
    return True, ""


def dropout_net_inputs(rng):
    arrays = fc_net_inputs(rng)
    arrays.update({f"mask{layer}": np.ones((len(arrays["X"]), size)) for layer, size in enumerate(HIDDEN_DIMS, 1)})
    return arrays


def dropout_net_program():
    """Train-mode loss and gradients with dropout (fixed seed), test-mode scores, and the loss without dropout."""
    params = fc_net_params()
    model = [call(FC_NET, **fc_net_sizes(dropout=0.3, seed=7))]
    model += [assign(res(0), ["params", name], inp(name)) for name in params]
    first = len(model)
    plain = [call(FC_NET, **fc_net_sizes())]
    plain += [assign(res(first + 2), ["params", name], inp(name)) for name in params]
    calls = model + [method(res(0), "loss", inp("X"), inp("y")), method(res(0), "loss", inp("X"))]
    calls += plain + [method(res(first + 2), "loss", inp("X"), inp("y"))]
    # The masks the student's dropout draws with the net's seed, for the expected gradients.
    masks = {f"mask{layer}": len(calls) + layer - 1 for layer in range(1, len(HIDDEN_DIMS) + 1)}
    calls += [call("layers.dropout_forward", inp(name), dropout_param("train", 0.3, seed=7)) for name in masks]
    outputs = {"loss": res(first, 0), "scores": res(first + 1), "loss_without_dropout": res(first + 2 + len(plain), 0),
               **{name: res(first, 1, name) for name in params}, **{name: res(at, 0) for name, at in masks.items()}}
    wrt = {name: res(0, "params", name) for name in params}
    return program(calls, outputs, [numeric(first, first, wrt, output=[0])], seed=0)


FC_NET_TESTS = [
    init_test(f"{FC_TWO_LAYER}.__init__", FC_TWO_LAYER,
              {"input_dim": 40, "hidden_dims": 30, "num_classes": 20, "weight_scale": 0.1}),
    fc_two_layer_test("scores", 0.0, [inp("X")], grads=False),
    fc_two_layer_test("loss and gradients, reg 0", 0.0, [inp("X"), inp("y")], grads=True),
    fc_two_layer_test("loss and gradients, reg 0.7", 0.7, [inp("X"), inp("y")], grads=True),
    init_test(f"{FC_NET}.__init__", FC_NET,
              {"hidden_dims": [30, 20], "input_dim": 40, "num_classes": 15, "weight_scale": 0.1,
               "dtype": dtype("float64")}),
    net_test(f"{FC_NET}.loss", FC_NET, fc_net_sizes(), fc_net_params(), fc_net_inputs, [inp("X")], "scores",
             grads=False, requires=FC_NET_LAYERS),
    net_test(f"{FC_NET}.loss", FC_NET, fc_net_sizes(), fc_net_params(), fc_net_inputs, [inp("X"), inp("y")],
             "loss and gradients, reg 0", requires=FC_NET_LAYERS),
    net_test(f"{FC_NET}.loss", FC_NET, fc_net_sizes(reg=3.14), fc_net_params(), fc_net_inputs,
             [inp("X"), inp("y")], "loss and gradients, reg 3.14", requires=FC_NET_LAYERS),
    init_test(f"{FC_NET}.__init__[batchnorm]", FC_NET,
              {"hidden_dims": [30, 20], "input_dim": 40, "num_classes": 15, "weight_scale": 0.1,
               "use_batchnorm": True, "dtype": dtype("float64")},
              requires=(f"{FC_NET}.__init__",)),
    net_test(f"{FC_NET}.loss[batchnorm]", FC_NET, fc_net_sizes(use_batchnorm=True, reg=0.5),
             fc_net_params(batchnorm=True), fc_net_inputs, [inp("X"), inp("y")],
             "train mode: loss and gradients, reg 0.5", weight=2, requires=FC_NET_BATCHNORM),
    net_test(f"{FC_NET}.loss[batchnorm]", FC_NET, fc_net_sizes(use_batchnorm=True),
             fc_net_params(batchnorm=True), fc_net_inputs, [inp("X")],
             "test mode: scores from the running averages", grads=False, setup=running_statistics_calls(),
             requires=FC_NET_BATCHNORM),
    behaviour_test(
        f"{FC_NET}.loss[dropout]", "gradients with dropout, scores without", dropout_net_inputs,
        dropout_net_program(),
        [Check("numeric", name, expect=dropout_net_gradient(name, len(HIDDEN_DIMS), 0.7)) for name in fc_net_params()]
        + [Check("match", "scores", label="test mode scores (no dropout)"),
           Check("custom", rule=dropout_net_rule, label="dropout changes the training loss")],
        requires=(*FC_NET_BASE, "layers.dropout_forward", "layers.dropout_backward"),
    ),
]

TESTS = LAYER_TESTS + OPTIMIZER_TESTS + NEURAL_NET_TESTS + FC_NET_TESTS
