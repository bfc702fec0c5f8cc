"""Hidden tests of the numpy nets: neural_net.TwoLayerNet (hw3) and fc_net's nets (hw3, hw4).

The clauses each test enforces are numbered in docs/contracts/hw3.md and hw4.md.
"""
from dataclasses import replace

import numpy as np

from autograder.suites import draw
from autograder.suites.masks import dropout_net_gradient
from autograder.suites.functional import (
    AFFINE,
    FLOAT32_TOL,
    RELU,
    as_float32,
    entries_of,
    kept_dtype,
    left_unchanged,
    with_checks,
)
from autograder.suites.spec import (
    Check,
    gated,
    assign,
    behaviour_test,
    call,
    dtype,
    forward_test,
    init_test,
    inp,
    method,
    net_test,
    numeric,
    program,
    res,
)

FC_NET = "classifiers.fc_net.FullyConnectedNet"


def with_params_unchanged(test, names):
    outputs = {f"{name} after the call": res(0, "params", name) for name in names}
    return with_checks(test, outputs, [left_unchanged({f"{name} after the call": name for name in names})])


def spread_rows(X, scales):
    """X with its rows multiplied by ``scales``: rows whose scores differ by orders of magnitude."""
    return X * np.asarray(scales).reshape(-1, *[1] * (X.ndim - 1))


# neural_net.TwoLayerNet (weights stored as (outputs, inputs)) -------------------------

TWO_LAYER = "classifiers.neural_net.TwoLayerNet"
TWO_LAYER_SIZES = {"input_size": 4, "hidden_size": 10, "output_size": 3, "std": 0.1}
TWO_LAYER_PARAMS = ["W1", "b1", "W2", "b2"]
# Row scales of the stability tests: with positive inputs and first-layer weights and a shared
# offset in the last layer's weights, the largest row's scores are in the thousands (exp overflows)
# and the smallest row's near 0 (a shift by the batch's maximum underflows every exp of that row).
ROW_SCALES = [1e-2, 1.0, 3.0, 30.0]


def two_layer_inputs(rng, n=5):
    return {"X": draw.normal(rng, n, 4), "y": draw.labels(rng, n, 3),
            "W1": draw.normal(rng, 10, 4, scale=0.5), "b1": draw.normal(rng, 10, scale=0.1),
            "W2": draw.normal(rng, 3, 10, scale=0.5), "b2": draw.normal(rng, 3, scale=0.1)}


def predict_inputs(rng):
    arrays = two_layer_inputs(rng, n=30)
    arrays["X1"] = draw.normal(rng, 1, 4)
    return arrays


def two_layer_spread_inputs(rng):
    """ROW_SCALES, and one more row whose scores span thousands; its label is its top class, so that
    its loss stays finite (log of a probability near 1) while exp(max - min) overflows."""
    arrays = two_layer_inputs(rng, n=len(ROW_SCALES) + 1)
    arrays.update(X=spread_rows(np.abs(arrays["X"]), [*ROW_SCALES, 1e3]), W1=np.abs(arrays["W1"]),
                  W2=arrays["W2"] + 10.0)

    def last_scores():
        hidden = np.maximum(0, arrays["X"][-1] @ arrays["W1"].T + arrays["b1"])
        return hidden @ arrays["W2"].T + arrays["b2"]
    while np.ptp(last_scores()) < 2000:  # scores grow linearly with the row's scale
        arrays["X"][-1] *= 2.0
    arrays["y"][-1] = np.argmax(last_scores())
    return arrays


def training_inputs(rng):
    X, y = draw.clusters(rng, 90, 4, 3)
    return {"X": X[:60], "y": y[:60], "X_val": X[60:], "y_val": y[60:]}


def small_training_inputs(rng):
    X, y = draw.clusters(rng, 16, 4, 3)
    return {"X": X[:10], "y": y[:10], "X_val": X[10:], "y_val": y[10:]}


TRAIN_SETTINGS = {"learning_rate": 0.5, "learning_rate_decay": 0.95, "reg": 1e-5, "num_iters": 100,
                  "batch_size": 20}
LARGE_BATCH_SETTINGS = {"learning_rate": 0.3, "learning_rate_decay": 0.5, "reg": 1e-2, "num_iters": 6,
                        "batch_size": 16}


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


def integer_labels_rule(outputs, expected, inputs, reference):
    labels = [outputs.get(name) for name in ("labels", "labels (batch of 1)")]
    if any(found is not None and found.dtype.kind not in "iu" for found in labels):
        return False, "predict must return integer class indices (argmax), not floats"
    return True, ""


def single_label_beside_the_batch(test):
    """One label is right by chance for a constant prediction: it counts only beside a right batch."""
    checks = tuple(replace(check, bookkeeping=True) if check.output == "labels (batch of 1)" else check
                   for check in test.checks)
    return replace(test, checks=checks)


def two_layer_model(*extra):
    calls = [call(TWO_LAYER, **TWO_LAYER_SIZES)]
    return calls + [assign(res(0), ["params", name], inp(name)) for name in TWO_LAYER_PARAMS] + list(extra)


UNTRAINED = "histories count only for a net that was really trained (see 'trained weights')"
# The SGD run is the reference's from the same np.random seed: batches drawn with replacement by
# np.random.choice(num_train, batch_size), one step on every parameter.
SAME_RUN = "as the reference's run from the same np.random seed"


def train_test():
    settings_program = program(
        [call(TWO_LAYER, **TWO_LAYER_SIZES),
         method(res(0), "train", inp("X"), inp("y"), inp("X_val"), inp("y_val"), **TRAIN_SETTINGS)],
        {"stats": res(1), "params": res(0, "params")}, seed=0)
    checks = [Check("custom", rule=gated(train_history_rule, train_result_rule, UNTRAINED), label="loss_history"),
              Check("custom", rule=gated(train_epochs_rule, train_result_rule, UNTRAINED),
                    label="accuracy histories"),
              Check("custom", rule=train_result_rule, label="trained weights"),
              Check("custom", rule=gated(every_parameter_trained_rule, train_result_rule, UNTRAINED),
                    label="every parameter trained"),
              Check("match", "stats/loss_history", label=f"loss_history {SAME_RUN}"),
              Check("match", "params", label=f"trained weights {SAME_RUN}")]
    return behaviour_test(f"{TWO_LAYER}.train", "learns an easy problem", training_inputs, settings_program,
                          checks, requires=(f"{TWO_LAYER}.loss", f"{TWO_LAYER}.predict"))


def large_batch_train_test():
    """train.2: batches larger than the training set (drawn with replacement) and the epoch bookkeeping."""
    body = program([call(TWO_LAYER, **TWO_LAYER_SIZES),
                    method(res(0), "train", inp("X"), inp("y"), inp("X_val"), inp("y_val"), **LARGE_BATCH_SETTINGS)],
                   {"stats": res(1), "params": res(0, "params")}, seed=1)
    checks = [Check("match", "stats/loss_history", label=f"loss_history {SAME_RUN}"),
              Check("match", "params", label=f"trained weights {SAME_RUN}"),
              Check("exact", "stats/val_acc_history", label="val_acc_history")]
    return behaviour_test(f"{TWO_LAYER}.train", "batches larger than the training set", small_training_inputs,
                          body, checks, requires=(f"{TWO_LAYER}.loss", f"{TWO_LAYER}.predict"))


NEURAL_NET_TESTS = [
    net_test(f"{TWO_LAYER}.loss", TWO_LAYER, TWO_LAYER_SIZES, TWO_LAYER_PARAMS, two_layer_inputs,
             [inp("X")], "scores", grads=False),
    with_params_unchanged(
        net_test(f"{TWO_LAYER}.loss", TWO_LAYER, TWO_LAYER_SIZES, TWO_LAYER_PARAMS, two_layer_inputs,
                 [inp("X"), inp("y"), 0.05], "loss and gradients, reg 0.05", weight=2),
        TWO_LAYER_PARAMS),
    net_test(f"{TWO_LAYER}.loss", TWO_LAYER, TWO_LAYER_SIZES, TWO_LAYER_PARAMS, two_layer_spread_inputs,
             [inp("X"), inp("y"), 0.1], "loss and gradients, rows of very different magnitudes, reg 0.1"),
    net_test(f"{TWO_LAYER}.loss", TWO_LAYER, TWO_LAYER_SIZES, TWO_LAYER_PARAMS, lambda rng: two_layer_inputs(rng, 1),
             [inp("X"), inp("y")], "loss and gradients, a batch of one, default reg"),
    single_label_beside_the_batch(with_checks(
        forward_test(f"{TWO_LAYER}.predict", predict_inputs,
                     two_layer_model(method(res(0), "predict", inp("X")), method(res(0), "predict", inp("X1"))),
                     {"labels": res(5), "labels (batch of 1)": res(6)},
                     label="labels with given weights", exact=True, requires=(f"{TWO_LAYER}.loss",)),
        checks=[Check("custom", rule=integer_labels_rule, label="integer labels", bookkeeping=True)])),
    train_test(),
    large_batch_train_test(),
]


# fc_net: TwoLayerNet and FullyConnectedNet (weights stored as (inputs, outputs)) -------------

FC_TWO_LAYER = "classifiers.fc_net.TwoLayerNet"
FC_PARAMS = ["W1", "b1", "W2", "b2"]
FC_TWO_LAYER_NEEDS = (f"{FC_TWO_LAYER}.__init__", *AFFINE, *RELU)


def fc_two_layer_inputs(rng):
    return {"X": draw.normal(rng, 5, 2, 3), "y": draw.labels(rng, 5, 4),
            "W1": draw.normal(rng, 6, 8, scale=0.5), "b1": draw.normal(rng, 8, scale=0.1),
            "W2": draw.normal(rng, 8, 4, scale=0.5), "b2": draw.normal(rng, 4, scale=0.1)}


def fc_two_layer_spread_inputs(rng):
    arrays = fc_two_layer_inputs(rng)
    arrays.update(X=spread_rows(np.abs(arrays["X"][:len(ROW_SCALES)]), ROW_SCALES), y=arrays["y"][:len(ROW_SCALES)],
                  W1=np.abs(arrays["W1"]), W2=arrays["W2"] + 10.0)
    return arrays


def fc_two_layer_test(label, reg, loss_args, grads, make_inputs=fc_two_layer_inputs):
    sizes = {"input_dim": 6, "hidden_dims": 8, "num_classes": 4, "weight_scale": 0.1, "reg": reg}
    return net_test(f"{FC_TWO_LAYER}.loss", FC_TWO_LAYER, sizes, FC_PARAMS, make_inputs, loss_args,
                    label, grads=grads, requires=FC_TWO_LAYER_NEEDS)


HIDDEN_DIMS = [6, 5]


def fc_net_params(batchnorm=False, hidden_dims=HIDDEN_DIMS):
    names = []
    for layer in range(1, len(hidden_dims) + 2):
        names += [f"W{layer}", f"b{layer}"]
        if batchnorm and layer <= len(hidden_dims):
            names += [f"gamma{layer}", f"beta{layer}"]
    return names


def fc_net_arrays(rng, n, input_shape, hidden_dims, num_classes=3):
    sizes = [int(np.prod(input_shape)), *hidden_dims, num_classes]
    arrays = {"X": draw.normal(rng, n, *input_shape), "y": draw.labels(rng, n, num_classes)}
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        arrays[f"W{layer}"] = draw.normal(rng, fan_in, fan_out, scale=0.7)
        arrays[f"b{layer}"] = draw.normal(rng, fan_out, scale=0.1)
        if layer < len(sizes) - 1:
            arrays[f"gamma{layer}"] = draw.normal(rng, fan_out, scale=0.2, shift=1.0)
            arrays[f"beta{layer}"] = draw.normal(rng, fan_out, scale=0.2)
            arrays[f"running_mean{layer}"] = draw.normal(rng, fan_out)
            arrays[f"running_var{layer}"] = 0.5 + np.abs(draw.normal(rng, fan_out))
    return arrays


def fc_net_inputs(rng):
    return fc_net_arrays(rng, 6, (2, 2), HIDDEN_DIMS)


DEEP_DIMS = [5, 4, 6]


def fc_net_deep_inputs(rng):
    """Three hidden layers of odd sizes, a batch of one, float32."""
    return as_float32(lambda rng: fc_net_arrays(rng, 1, (3, 1, 3), DEEP_DIMS, num_classes=5))(rng)


def fc_net_shallow_inputs(rng):
    """One hidden layer; rows whose scores differ by orders of magnitude."""
    arrays = fc_net_arrays(rng, len(ROW_SCALES), (5,), [7], num_classes=4)
    arrays.update(X=spread_rows(np.abs(arrays["X"]), ROW_SCALES), W1=np.abs(arrays["W1"]), W2=arrays["W2"] + 10.0)
    return arrays


def fc_net_bn_sequence_inputs(rng):
    arrays = as_float32(lambda rng: fc_net_arrays(rng, 7, (4,), DEEP_DIMS))(rng)
    arrays["X_test"] = draw.normal(rng, 3, 4).astype(np.float32)
    return arrays


def fc_net_sizes(hidden_dims=HIDDEN_DIMS, input_dim=4, num_classes=3, dtype_name="float64", **extra):
    return {"hidden_dims": hidden_dims, "input_dim": input_dim, "num_classes": num_classes, "weight_scale": 0.1,
            "dtype": dtype(dtype_name), **extra}


FC_NET_LAYERS = (f"{FC_NET}.__init__", *AFFINE, *RELU)
FC_NET_BASE = (*FC_NET_LAYERS, f"{FC_NET}.loss")
FC_NET_BATCHNORM = (*FC_NET_BASE, f"{FC_NET}.__init__[batchnorm]", "layers.batchnorm_forward",
                    "layers.batchnorm_backward_alt")
FC_NET_DROPOUT = (*FC_NET_BASE, "layers.dropout_forward", "layers.dropout_backward")


def running_statistics_calls(hidden_dims=HIDDEN_DIMS):
    return [assign(res(0), ["bn_params", layer - 1, stat], inp(f"{stat}{layer}"))
            for layer in range(1, len(hidden_dims) + 1) for stat in ("running_mean", "running_var")]


def running_statistics_outputs(hidden_dims=HIDDEN_DIMS, suffix=""):
    return {f"{stat}{layer}{suffix}": res(0, "bn_params", layer - 1, stat)
            for layer in range(1, len(hidden_dims) + 1) for stat in ("running_mean", "running_var")}


def dropout_net_rule(outputs, expected, inputs, reference):
    with_dropout, without = outputs.get("loss"), outputs.get("loss_without_dropout")
    if with_dropout is None or without is None:
        return False, "the loss is missing"
    if abs(float(with_dropout) - float(without)) <= 1e-9 * max(1.0, abs(float(without))):
        return False, "the training loss is the same with and without dropout: is dropout applied?"
    return True, ""


def relative_error(actual, expected):
    scale = max(float(np.max(np.abs(expected), initial=0.0)), float(np.max(np.abs(actual), initial=0.0)), 1e-8)
    return float(np.max(np.abs(actual - expected), initial=0.0)) / scale


def seeded_dropout_run_rule(outputs, expected, inputs, reference):
    """Where the student's dropout_forward draws the contract's masks, the seeded net run is the reference's."""
    probes = entries_of(expected, "mask probe")
    if any(key not in outputs or outputs[key].shape != want.shape or relative_error(outputs[key], want) > 1e-12
           for key, want in probes.items()):
        return True, ""  # other masks: the numerical gradients alone judge the gradients
    for name in ["loss", *fc_net_params(hidden_dims=DEEP_DIMS)]:
        got, want = outputs.get(name), expected[name]
        if got is None or got.shape != want.shape or not relative_error(got, want) <= 1e-7:
            return False, (f"{name} differs from the reference's with the same seed and the same masks: "
                           f"dropout goes after each hidden ReLU, never on the input or the scores")
    return True, ""


def dropout_net_program():
    """Train-mode loss and gradients with dropout (fixed seed), test-mode scores, the loss without dropout,
    and the masks the student's dropout_forward draws for that seed (to know whether the runs can agree).
    Three hidden layers, so that every layer's dropout cache must be the right one."""
    params = fc_net_params(hidden_dims=DEEP_DIMS)
    model = [call(FC_NET, **fc_net_sizes(DEEP_DIMS, dropout=0.3, seed=7))]
    model += [assign(res(0), ["params", name], inp(name)) for name in params]
    first = len(model)
    plain = [call(FC_NET, **fc_net_sizes(DEEP_DIMS))]
    plain += [assign(res(first + 2), ["params", name], inp(name)) for name in params]
    calls = model + [method(res(0), "loss", inp("X"), inp("y")), method(res(0), "loss", inp("X"))]
    calls += plain + [method(res(first + 2), "loss", inp("X"), inp("y"))]
    probes = len(calls)
    calls += [call("layers.dropout_forward", inp(f"ones{layer}"), {"mode": "train", "p": 0.3, "seed": 7})
              for layer in range(1, len(DEEP_DIMS) + 1)]
    outputs = {"loss": res(first, 0), "scores": res(first + 1), "loss_without_dropout": res(probes - 1, 0),
               **{name: res(first, 1, name) for name in params},
               **{f"mask probe/{layer}": res(probes + layer - 1, 0) for layer in range(1, len(DEEP_DIMS) + 1)}}
    wrt = {name: res(0, "params", name) for name in params}
    return program(calls, outputs, [numeric(first, first, wrt, output=[0])], seed=0)


def dropout_net_inputs(rng):
    arrays = fc_net_arrays(rng, 6, (2, 2), DEEP_DIMS)
    arrays.update({f"ones{layer}": np.ones((len(arrays["y"]), size)) for layer, size in enumerate(DEEP_DIMS, 1)})
    return arrays


def init_shapes_test(key, use_batchnorm=False):
    """__init__.2-.3: one and three hidden layers, and the float32 default dtype."""
    shapes = {"one hidden layer": {"hidden_dims": [50], "input_dim": 30, "num_classes": 12},
              "three hidden layers": {"hidden_dims": [25, 31, 17], "input_dim": 20, "num_classes": 9,
                                      "dtype": dtype("float64")}}
    calls = [call(FC_NET, weight_scale=0.05, use_batchnorm=use_batchnorm, **kwargs) for kwargs in shapes.values()]
    outputs = {name: res(index, "params") for index, name in enumerate(shapes)}
    return behaviour_test(key, "one and three hidden layers, default dtype float32", lambda rng: {},
                          program(calls, outputs, seed=0), [Check("init", name) for name in shapes],
                          requires=() if not use_batchnorm else (f"{FC_NET}.__init__",))


def fc_net_deep_test():
    """FullyConnectedNet.loss.4-.6: three hidden layers, a batch of one, float32 scores and gradients."""
    params = fc_net_params(hidden_dims=DEEP_DIMS)
    sizes = fc_net_sizes(DEEP_DIMS, input_dim=9, num_classes=5, dtype_name="float32", reg=0.3)
    calls = [call(FC_NET, **sizes)] + [assign(res(0), ["params", name], inp(name)) for name in params]
    calls += [method(res(0), "loss", inp("X"), inp("y")), method(res(0), "loss", inp("X"))]
    loss_call = len(calls) - 2
    outputs = {"loss": res(loss_call, 0), "grads": res(loss_call, 1), "scores": res(loss_call + 1)}
    outputs.update({f"{name} after the call": res(0, "params", name) for name in params})
    checks = [Check("match", name, tol=FLOAT32_TOL) for name in ("scores", "loss", "grads")]
    checks += [kept_dtype("scores"), kept_dtype("grads"),
               left_unchanged({f"{name} after the call": name for name in params})]
    return behaviour_test(f"{FC_NET}.loss", "three hidden layers, a batch of one, float32", fc_net_deep_inputs,
                          program(calls, outputs, seed=0), checks, requires=FC_NET_LAYERS)


def batchnorm_sequence_test():
    """loss[batchnorm].3-.5: a train step updates every layer's running averages, then test mode uses them."""
    params = fc_net_params(batchnorm=True, hidden_dims=DEEP_DIMS)
    sizes = fc_net_sizes(DEEP_DIMS, dtype_name="float32", use_batchnorm=True)
    calls = [call(FC_NET, **sizes)] + [assign(res(0), ["params", name], inp(name)) for name in params]
    calls += [method(res(0), "loss", inp("X"), inp("y")), method(res(0), "loss", inp("X_test"))]
    outputs = {"scores": res(len(calls) - 1), **running_statistics_outputs(DEEP_DIMS)}
    checks = [Check("match", name, tol=FLOAT32_TOL) for name in outputs] + [kept_dtype(name) for name in outputs]
    return behaviour_test(f"{FC_NET}.loss[batchnorm]", "float32, three hidden layers: a train step, then test mode",
                          fc_net_bn_sequence_inputs, program(calls, outputs, seed=0), checks,
                          requires=FC_NET_BATCHNORM)


def batchnorm_net_test_mode_test():
    """loss[batchnorm].3-.4: test-mode scores from the running averages, which stay as they were."""
    test = net_test(f"{FC_NET}.loss[batchnorm]", FC_NET, fc_net_sizes(use_batchnorm=True),
                    fc_net_params(batchnorm=True), fc_net_inputs, [inp("X")],
                    "test mode: scores from the running averages", grads=False, setup=running_statistics_calls(),
                    requires=FC_NET_BATCHNORM)
    outputs = running_statistics_outputs(suffix=" after the call")
    return with_checks(test, outputs, [left_unchanged({name: name.split(" ")[0] for name in outputs})])


FC_NET_TESTS = [
    init_test(f"{FC_TWO_LAYER}.__init__", FC_TWO_LAYER,
              {"input_dim": 40, "hidden_dims": 30, "num_classes": 20, "weight_scale": 0.1}),
    fc_two_layer_test("scores", 0.0, [inp("X")], grads=False),
    fc_two_layer_test("loss and gradients, reg 0", 0.0, [inp("X"), inp("y")], grads=True),
    with_params_unchanged(fc_two_layer_test("loss and gradients, reg 0.7", 0.7, [inp("X"), inp("y")], grads=True),
                          FC_PARAMS),
    fc_two_layer_test("loss and gradients, rows of very different magnitudes, reg 0.2", 0.2, [inp("X"), inp("y")],
                      grads=True, make_inputs=fc_two_layer_spread_inputs),
    init_test(f"{FC_NET}.__init__", FC_NET,
              {"hidden_dims": [30, 20], "input_dim": 40, "num_classes": 15, "weight_scale": 0.1,
               "dtype": dtype("float64")}),
    init_shapes_test(f"{FC_NET}.__init__"),
    net_test(f"{FC_NET}.loss", FC_NET, fc_net_sizes(), fc_net_params(), fc_net_inputs, [inp("X")], "scores",
             grads=False, requires=FC_NET_LAYERS),
    net_test(f"{FC_NET}.loss", FC_NET, fc_net_sizes(), fc_net_params(), fc_net_inputs, [inp("X"), inp("y")],
             "loss and gradients, reg 0", requires=FC_NET_LAYERS),
    with_params_unchanged(
        net_test(f"{FC_NET}.loss", FC_NET, fc_net_sizes(reg=3.14), fc_net_params(), fc_net_inputs,
                 [inp("X"), inp("y")], "loss and gradients, reg 3.14", requires=FC_NET_LAYERS),
        fc_net_params()),
    net_test(f"{FC_NET}.loss", FC_NET, fc_net_sizes([7], input_dim=5, num_classes=4, reg=0.2), fc_net_params(
        hidden_dims=[7]), fc_net_shallow_inputs, [inp("X"), inp("y")],
        "one hidden layer, rows of very different magnitudes, reg 0.2", requires=FC_NET_LAYERS),
    fc_net_deep_test(),
    init_test(f"{FC_NET}.__init__[batchnorm]", FC_NET,
              {"hidden_dims": [30, 20], "input_dim": 40, "num_classes": 15, "weight_scale": 0.1,
               "use_batchnorm": True, "dtype": dtype("float64")},
              requires=(f"{FC_NET}.__init__",)),
    init_shapes_test(f"{FC_NET}.__init__[batchnorm]", use_batchnorm=True),
    # The running averages a train step stores are checked by the float32 sequence below: here the
    # numerical gradients re-run the train step, which may update them in place after they are read.
    net_test(f"{FC_NET}.loss[batchnorm]", FC_NET, fc_net_sizes(use_batchnorm=True, reg=0.5),
             fc_net_params(batchnorm=True), fc_net_inputs, [inp("X"), inp("y")],
             "train mode: loss and gradients, reg 0.5", weight=2, requires=FC_NET_BATCHNORM,
             zero_gradients=[f"b{layer}" for layer in range(1, len(HIDDEN_DIMS) + 1)]),
    batchnorm_net_test_mode_test(),
    batchnorm_sequence_test(),
    behaviour_test(
        f"{FC_NET}.loss[dropout]", "three hidden layers: gradients with dropout, scores without", dropout_net_inputs,
        dropout_net_program(),
        [Check("numeric", name, expect=dropout_net_gradient(name, len(DEEP_DIMS), 0.7, mask_prefix="mask probe/"))
         for name in fc_net_params(hidden_dims=DEEP_DIMS)]
        + [Check("match", "scores", label="test mode scores (no dropout)"),
           Check("custom", rule=dropout_net_rule, label="dropout changes the training loss"),
           Check("custom", rule=seeded_dropout_run_rule, label="same run as the reference for the same masks")],
        requires=FC_NET_DROPOUT,
    ),
]

TESTS = NEURAL_NET_TESTS + FC_NET_TESTS
