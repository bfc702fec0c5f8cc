"""Hidden tests of the object API ``course_lib.mlp`` (svhn)."""
import numpy as np

from autograder.suites import draw
from autograder.suites.masks import inverted_dropout_gradient
from autograder.suites.spec import (
    Check,
    assign,
    behaviour_test,
    call,
    dtype,
    forward_test,
    gated,
    init_test,
    inp,
    method,
    numeric,
    program,
    res,
)

F64 = dtype("float64")
LAYERS = "mlp.layers"


# Layers ---------------------------------------------------------------------


def layer_tests(layer, constructor, make_inputs, params=(), forward_tol=1e-7):
    """A forward test and a backward test of ``mlp.layers.<layer>`` built with ``constructor`` kwargs.

    The backward test scores dx and the gradient of every parameter, each
    against the reference's and the numerical gradient of the student's forward.
    """
    build = [call(f"{LAYERS}.{layer}", **constructor)]
    build += [assign(res(0), ["params", name], inp(name)) for name in params]
    forward = method(res(0), "forward", inp("x"))
    first = len(build)
    forward_calls = build + [forward]
    backward_calls = forward_calls + [method(res(0), "backward", inp("dout"))]
    grads = {"dx": res(first + 1), **{name: res(0, "grads", name) for name in params}}
    wrt = {"dx": inp("x"), **{name: res(0, "params", name) for name in params}}
    checks = tuple(Check("gradient", name) for name in grads)
    return [
        forward_test(f"{LAYERS}.{layer}.forward", make_inputs, forward_calls, {"out": res(first)},
                     tol=forward_tol),
        behaviour_test(f"{LAYERS}.{layer}.backward", "gradients", make_inputs,
                       program(backward_calls, grads, [numeric(first, first, wrt, dout="dout")]), checks,
                       requires=(f"{LAYERS}.{layer}.forward",)),
    ]


def flatten_inputs(rng):
    return {"x": draw.normal(rng, 4, 2, 3, 2), "dout": draw.normal(rng, 4, 12)}


def fc_inputs(rng):
    return {"x": draw.normal(rng, 5, 6), "fc1_w": draw.normal(rng, 6, 4), "fc1_b": draw.normal(rng, 4),
            "dout": draw.normal(rng, 5, 4)}


def leaky_relu_inputs(rng):
    return {"x": draw.away_from_zero(rng, 4, 5), "dout": draw.normal(rng, 4, 5)}


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


NO_DROPOUT = "equal masks count only for a dropout that works (see keep_prob=0.6)"


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
    forward = behaviour_test(
        f"{LAYERS}.dropout.forward", "statistics, seeds, test mode and keep_prob 0", dropout_inputs,
        program(layers + forwards + extra, outputs),
        [Check("custom", rule=keep_rule(p), label=f"training, keep_prob={p}") for p in KEEP_PROBABILITIES]
        + [Check("custom", rule=gated(same_seed_rule, keep_rule(0.6), NO_DROPOUT), label="same seed, same mask"),
           Check("match", "out_test", label="test mode returns x"),
           Check("match", "out_off", label="keep_prob 0 returns x")])
    backward = behaviour_test(
        f"{LAYERS}.dropout.backward", "gradients in training and test mode", small_dropout_inputs,
        program([call(f"{LAYERS}.dropout", keep_prob=0.6, name="dropout1"),
                 method(res(0), "forward", inp("x"), True, 5), method(res(0), "backward", inp("dout")),
                 method(res(0), "forward", inp("x"), False), method(res(0), "backward", inp("dout"))],
                {"dx": res(2), "dx_test": res(4), "out": res(1)}, [numeric(1, 1, {"dx": inp("x")}, dout="dout")]),
        [Check("numeric", "dx", expect=inverted_dropout_gradient("out", 0.6)),
         Check("custom", rule=dropout_mask_rule, label="dx uses the mask"),
         Check("match", "dx_test", label="test mode: dx")],
        requires=(f"{LAYERS}.dropout.forward",))
    return [forward, backward]


def scores_inputs(rng):
    return {"x": draw.normal(rng, 6, 5, scale=3.0), "y": draw.labels(rng, 6, 5)}


def cross_entropy_tests():
    calls = [call(f"{LAYERS}.cross_entropy", size_average=True), method(res(0), "forward", inp("x"), inp("y")),
             call(f"{LAYERS}.cross_entropy", size_average=False), method(res(2), "forward", inp("x"), inp("y"))]
    backward_calls = calls + [method(res(0), "backward"), method(res(2), "backward")]
    return [
        forward_test(f"{LAYERS}.cross_entropy.forward", scores_inputs, calls,
                     {"loss_mean": res(1), "loss_sum": res(3)}, label="loss, averaged and summed"),
        behaviour_test(f"{LAYERS}.cross_entropy.backward", "gradients, averaged and summed", scores_inputs,
                       program(backward_calls, {"dx": res(4), "dx_summed": res(5)},
                               [numeric(1, 1, {"dx": inp("x")})]),
                       [Check("gradient", "dx"), Check("match", "dx_summed")],
                       requires=(f"{LAYERS}.cross_entropy.forward",)),
    ]


def softmax_inputs(rng):
    x = draw.normal(rng, 6, 5, scale=3.0)
    return {"x": x, "x_large": x + 1000.0}


LAYER_TESTS = [
    *layer_tests("flatten", {"name": "flat"}, flatten_inputs),
    *layer_tests("fc", {"input_dim": 6, "output_dim": 4, "name": "fc1", "dtype": F64}, fc_inputs,
                 params=("fc1_w", "fc1_b")),
    *layer_tests("leaky_relu", {"negative_slope": 0.1, "name": "relu1"}, leaky_relu_inputs),
    *dropout_tests(),
    *cross_entropy_tests(),
    forward_test(f"{LAYERS}.softmax", softmax_inputs,
                 [call(f"{LAYERS}.softmax", inp("x")), call(f"{LAYERS}.softmax", inp("x_large"))],
                 {"probs": res(0), "probs_large_scores": res(1)}, label="probabilities, also for large scores"),
]


# Networks -----------------------------------------------------------------------

NETS = {
    # class: (constructor for the statistics test, constructor for the forward test, layer shapes, input shape)
    "TestFCReLU": ({"input_dim": 40, "output_dim": 30}, {"input_dim": 8, "output_dim": 5, "dtype": F64},
                   {"fc1": (8, 5)}, (6, 8)),
    "SmallFullyConnectedNetwork": ({"input_dim": 20, "hidden_dim": 30, "num_classes": 20},
                                   {"input_dim": 6, "hidden_dim": 9, "num_classes": 7, "dtype": F64},
                                   {"fc1": (6, 9), "fc2": (9, 7)}, (5, 6)),
    "DropoutNet": ({}, {"keep_prob": 0.5, "seed": 3, "dtype": F64},
                   {"fc1": (15, 20), "fc2": (20, 30), "fc3": (30, 10)}, (4, 3, 5)),
    "TinyNet": ({"hidden_dims": [40, 20], "input_dim": 48},
                {"hidden_dims": [7, 6], "input_dim": 48, "num_classes": 5, "dtype": F64},
                {"fc1": (48, 7), "fc2": (7, 6), "fc3": (6, 5)}, (3, 4, 4, 3)),
}


def net_weights(shapes, input_shape):
    def make(rng):
        arrays = {"x": draw.normal(rng, *input_shape)}
        for layer, (fan_in, fan_out) in shapes.items():
            arrays[f"{layer}_w"] = draw.normal(rng, fan_in, fan_out, scale=0.5)
            arrays[f"{layer}_b"] = draw.normal(rng, fan_out, scale=0.1)
        return arrays
    return make


def dropout_active_rule(outputs, expected, inputs, reference):
    if np.allclose(outputs["train"], outputs["test"]):
        return False, "training-mode scores equal test-mode scores with keep_prob 0.5: do the dropout layers get keep_prob?"
    return True, ""


def net_tests(name, statistics_kwargs, forward_kwargs, shapes, input_shape):
    key, model = f"mlp.nets.{name}.__init__", f"mlp.nets.{name}"
    weights = {f"{layer}_{kind}": inp(f"{layer}_{kind}") for layer in shapes for kind in "wb"}
    built = [call(model, **forward_kwargs), method(res(0, "net"), "load", weights)]
    # DropoutNet and TinyNet pass their inputs through dropout layers, in test mode too.
    layers = ("flatten", "fc", "leaky_relu") + (("dropout",) if name in ("DropoutNet", "TinyNet") else ())
    needs = tuple(f"{LAYERS}.{layer}.forward" for layer in layers)
    tests = [
        init_test(key, model, statistics_kwargs, params_path=("net", "params")),
        forward_test(key, net_weights(shapes, input_shape), built + [method(res(0), "forward", inp("x"), False)],
                     {"scores": res(2)}, label="test-mode scores with given weights", requires=needs),
    ]
    if forward_kwargs.get("keep_prob"):
        tests.append(behaviour_test(
            key, "dropout is active in training", net_weights(shapes, input_shape),
            program(built + [method(res(0), "forward", inp("x"), True, 7), method(res(0), "forward", inp("x"), False)],
                    {"train": res(2), "test": res(3)}),
            [Check("custom", rule=dropout_active_rule, label="training-mode scores")], requires=needs))
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


def optimizer_inputs(rng):
    arrays = {}
    for step in range(2):
        arrays.update({f"grad{step}_fc1_w": draw.normal(rng, 5, 4), f"grad{step}_fc1_b": draw.normal(rng, 4)})
    for state in ("value", "velocity", "cache", "mt", "vt"):
        positive = state in ("cache", "vt")
        arrays[f"{state}_fc1_w"] = np.abs(draw.normal(rng, 5, 4)) + 0.1 if positive else draw.normal(rng, 5, 4)
        arrays[f"{state}_fc1_b"] = np.abs(draw.normal(rng, 4)) + 0.1 if positive else draw.normal(rng, 4)
    return arrays


def optimizer_test(name, kwargs, states, scalars):
    """Two steps of ``mlp.optim.<name>`` on one fc layer whose weights, gradients and state are given."""
    calls = [call(f"{LAYERS}.fc", input_dim=5, output_dim=4, name="fc1", dtype=F64), call(f"{LAYERS}.sequential", res(0))]
    calls += [method(res(1), "assign", param, inp(f"value_{param}")) for param in PARAMS]
    calls.append(call(f"mlp.optim.{name}", res(1), **kwargs))
    optimizer = len(calls) - 1
    calls += [assign(res(optimizer), [state, param], inp(f"{state}_{param}")) for state in states for param in PARAMS]
    for step in range(2):
        calls += [method(res(1), "assign_grads", param, inp(f"grad{step}_{param}")) for param in PARAMS]
        calls.append(method(res(optimizer), "step"))
    outputs = {"params": res(1, "params"), **{state: res(optimizer, state) for state in (*states, *scalars)}}
    return forward_test(f"mlp.optim.{name}.step", optimizer_inputs, calls, outputs, tol=1e-6,
                        label="two steps: parameters and state")


OPTIMIZER_TESTS = [optimizer_test(name, *settings) for name, settings in OPTIMIZERS.items()]


# Training ------------------------------------------------------------------------------

TRAIN_NET = {"input_dim": 4, "hidden_dim": 30, "num_classes": 3, "init_scale": 0.1}
TRAINING = {"batch_size": 20, "max_epochs": 10, "lr_decay": 0.9, "lr_decay_every": 5}
LEARNING_RATE = 0.2


def training_inputs(rng):
    X, y = draw.clusters(rng, 90, 4, 3)
    return {"data_train": X[:60], "labels_train": y[:60], "data_val": X[60:], "labels_val": y[60:]}


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


UNTRAINED = "this counts only for a net that was really trained (see 'best parameters')"


def train_net_test():
    data = {key: inp(key) for key in ("data_train", "labels_train", "data_val", "labels_val")}
    calls = [call("mlp.nets.SmallFullyConnectedNetwork", **TRAIN_NET, dtype=F64),
             call(f"{LAYERS}.cross_entropy"),
             call("mlp.optim.SGD", res(0, "net"), lr=LEARNING_RATE),
             call("mlp.train.train_net", data, res(0), res(1), res(2), **TRAINING),
             # The last epoch's parameters, then one more step: best parameters that were not
             # copied would move with it.
             call("checkpoint.get_model_arrays", res(0)), method(res(2), "step")]
    outputs = {"opt_params": res(3, 0), "loss_hist": res(3, 1), "train_acc_hist": res(3, 2),
               "val_acc_hist": res(3, 3), "lr": res(2, "lr"), "last": res(4), "after": res(0, "net", "params")}
    needs = ["mlp.nets.SmallFullyConnectedNetwork.__init__", f"{LAYERS}.cross_entropy.forward",
             f"{LAYERS}.cross_entropy.backward"]
    needs += [f"{LAYERS}.{layer}.{step}" for layer in ("fc", "leaky_relu") for step in ("forward", "backward")]
    return behaviour_test(
        "mlp.train.train_net", "trains a small net on an easy problem", training_inputs,
        program(calls, outputs, seed=0),
        [Check("custom", rule=gated(history_rule, best_params_rule, UNTRAINED), label="histories"),
         Check("custom", rule=best_params_rule, label="best parameters"),
         Check("custom", rule=gated(earliest_best_rule, best_params_rule, UNTRAINED), label="best epoch, not last"),
         Check("custom", rule=gated(copied_rule, best_params_rule, UNTRAINED), label="best parameters are copies"),
         Check("custom", rule=gated(decay_rule, best_params_rule, UNTRAINED), label="learning-rate decay")],
        requires=tuple(needs))


TESTS = LAYER_TESTS + NET_TESTS + OPTIMIZER_TESTS + [train_net_test()]
