"""Hidden tests of the object API's networks, optimizers and train_net (svhn).

Each function's contract, clause by clause: docs/contracts/svhn.md.
"""
import numpy as np

from autograder.suites import draw
from autograder.suites.spec import (FLOAT32_TOL, Check, as_float32, assign, behaviour_test, call, dtype, dtype_check,
                                    forward_test, gated, inp, method, printed, program, res, unchanged_check)

F64 = dtype("float64")
LAYERS = "mlp.layers"


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
# Layers read back from a net: more than any net of the tests has.
MAX_LAYERS = 10


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
    """The training-mode scores are the documented layers' with the masks the net's dropout layers drew.

    The net's dropout layers are those with a keep_prob; where they sit among
    the other layers is free (before or after an activation is the same
    function), but there must be as many as documented, each with the net's keep_prob.
    """
    keep_prob = kwargs["keep_prob"]

    def rule(found, expected, inputs, reference):
        model = reference.build(f"mlp.nets.{name}", **in_python(kwargs))
        model.net.load({key: inputs[key] for key in model.net.params})
        others = [layer for layer in model.net.layers if not getattr(layer, "depends_on_mode", False)]
        documented = len(model.net.layers) - len(others)
        positions = [i for i in range(MAX_LAYERS) if f"layer{i}_meta" in found]
        dropouts = [i for i in positions if f"layer{i}_keep_prob" in found]
        if len(dropouts) != documented:
            return False, f"the net has {len(dropouts)} dropout layers, the documented layers {documented}"
        wrong = [i for i in dropouts if not np.isclose(float(found[f"layer{i}_keep_prob"]), keep_prob)]
        if wrong:
            return False, f"every dropout layer needs the net's keep_prob={keep_prob} (layer {wrong[0]} has another)"
        x, remaining = inputs["x"], iter(others)
        for i in positions:
            if i in dropouts:
                x = x * np.broadcast_to(found[f"layer{i}_meta"], x.shape)
            else:
                layer = next(remaining, None)
                if layer is None:
                    return False, "the net has more layers than documented"
                x = layer.forward(x)
        scores = found["train"]
        if next(remaining, None) is not None or scores.shape != x.shape or not np.allclose(scores, x, rtol=1e-7,
                                                                                             atol=1e-9):
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
        outputs = {"seeded_a": res(4), "seeded_b": res(5), "train": res(6)}
        for i in range(MAX_LAYERS):
            outputs.update({f"layer{i}_meta": res(0, "net", "layers", i, "meta"),
                            f"layer{i}_keep_prob": res(0, "net", "layers", i, "keep_prob")})
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
SLOW_LEARNING_RATE = 0.02


def given_weights(rng):
    """Initial weights of TRAIN_NET: the run depends on train_net alone, not on how the net drew its own."""
    hidden, classes = TRAIN_NET["hidden_dim"], TRAIN_NET["num_classes"]
    return {"fc1_w": draw.normal(rng, 4, hidden, scale=0.1), "fc1_b": np.zeros(hidden),
            "fc2_w": draw.normal(rng, hidden, classes, scale=0.1), "fc2_b": np.zeros(classes)}


def training_inputs(rng):
    X, y = draw.clusters(rng, 90, 4, 3)
    return {"data_train": X[:60], "labels_train": y[:60], "data_val": X[60:], "labels_val": y[60:],
            **given_weights(rng)}


# course_lib.mlp.train.TRAIN_ACC_SAMPLES: train_net scores the training accuracy on a random sample of that
# many training examples (compute_acc's draw from np.random, which every later permutation follows).
# 1030 examples in batches of 500: an epoch is two iterations, the 30 examples left over wait for the next one.
TRAIN_ACC_SAMPLES = 1000
SAMPLED_TRAINING = {"batch_size": 500, "max_epochs": 3, "lr_decay": 1.0, "lr_decay_every": 1000}


def sampled_accuracy_inputs(rng):
    """More training examples than TRAIN_ACC_SAMPLES, in blobs that overlap (accuracies below 100%)."""
    X, y = draw.clusters(rng, TRAIN_ACC_SAMPLES + 60, 4, 3, spread=1.5)
    train = TRAIN_ACC_SAMPLES + 30
    return {"data_train": X[:train], "labels_train": y[:train], "data_val": X[train:], "labels_val": y[train:],
            **given_weights(rng)}


def iterations():
    return TRAINING["max_epochs"] * max(60 // TRAINING["batch_size"], 1)


UNTRAINED = "this counts only for a net that was really trained (see 'best parameters')"


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


def train_net_calls(learning_rate, first=0, training=TRAINING):
    """Build the net (given weights), the loss and SGD, and train; ``first``: the index of the first call."""
    data = {key: inp(key) for key in ("data_train", "labels_train", "data_val", "labels_val")}
    return [call("mlp.nets.SmallFullyConnectedNetwork", **TRAIN_NET, dtype=F64),
            method(res(first, "net"), "load", {name: inp(name) for name in TRAINED}),
            call(f"{LAYERS}.cross_entropy"),
            call("mlp.optim.SGD", res(first, "net"), lr=learning_rate),
            call("mlp.train.train_net", data, res(first), res(first + 2), res(first + 3), **training)]


TRAIN_NET_NEEDS = ("mlp.nets.SmallFullyConnectedNetwork.__init__", f"{LAYERS}.cross_entropy.forward",
                   f"{LAYERS}.cross_entropy.backward",
                   *(f"{LAYERS}.{layer}.{step}" for layer in ("fc", "leaky_relu") for step in ("forward", "backward")))
# The same run as the reference's from the same seed: one permutation of np.random per epoch.
SAME_RUN = [Check("match", name, label=f"{name} (the reference's run from the same seed)")
            for name in ("loss_hist", "val_acc_hist", "opt_params")]


def train_net_test():
    calls = train_net_calls(LEARNING_RATE)
    # The last epoch's parameters, then one more step: best parameters that were not
    # copied would move with it.
    calls += [call("checkpoint.get_model_arrays", res(0)), method(res(3), "step")]
    outputs = {"opt_params": res(4, 0), "loss_hist": res(4, 1), "train_acc_hist": res(4, 2),
               "val_acc_hist": res(4, 3), "lr": res(3, "lr"), "last": res(5), "after": res(0, "net", "params")}
    return behaviour_test(
        "mlp.train.train_net", "trains a small net on an easy problem", training_inputs,
        program(calls, outputs, seed=0),
        [Check("custom", rule=gated(history_rule, best_params_rule, UNTRAINED), label="histories"),
         Check("custom", rule=best_params_rule, label="best parameters"),
         Check("custom", rule=gated(earliest_best_rule, best_params_rule, UNTRAINED), label="best epoch, not last"),
         Check("custom", rule=gated(copied_rule, best_params_rule, UNTRAINED), label="best parameters are copies"),
         Check("custom", rule=gated(decay_rule, best_params_rule, UNTRAINED), label="learning-rate decay"),
         *SAME_RUN, Check("match", "train_acc_hist", label="train_acc_hist (the reference's run from the same seed)")],
        weight=2, requires=TRAIN_NET_NEEDS)


def slow_train_net_test():
    """At learning rate 0.02 the validation accuracy climbs over several epochs: the best one is not the first."""
    calls = train_net_calls(SLOW_LEARNING_RATE)
    outputs = {"opt_params": res(4, 0), "loss_hist": res(4, 1), "val_acc_hist": res(4, 3)}
    return behaviour_test("mlp.train.train_net", "slower learning: the best epoch", training_inputs,
                          program(calls, outputs, seed=0), SAME_RUN, requires=TRAIN_NET_NEEDS)


def misleading_validation_inputs(rng):
    """Overlapping blobs (the training accuracy rises over several epochs) and validation labels shifted to
    another class (the validation accuracy falls meanwhile): the two best epochs differ (199 seeds in 200)."""
    X, y = draw.clusters(rng, 90, 4, 3, spread=1.0)
    return {"data_train": X[:60], "labels_train": y[:60], "data_val": X[60:], "labels_val": (y[60:] + 1) % 3,
            **given_weights(rng)}


def best_validation_epoch_train_net_test():
    """train_net.5: opt_params come from the best VALIDATION epoch, not from the best training one."""
    return behaviour_test("mlp.train.train_net", "training accuracy rising, validation accuracy falling",
                          misleading_validation_inputs, program(train_net_calls(SLOW_LEARNING_RATE),
                                                                {"opt_params": res(4, 0)}, seed=0),
                          [Check("match", "opt_params", label="opt_params of the best validation epoch")],
                          weight=0.5, requires=TRAIN_NET_NEEDS)


def sampled_accuracy_train_net_test():
    """train_net.2-.3: the training accuracy of TRAIN_ACC_SAMPLES random training examples, not of all of them."""
    calls = train_net_calls(SLOW_LEARNING_RATE, training=SAMPLED_TRAINING)
    outputs = {"train_acc_hist": res(4, 2), "loss_hist": res(4, 1)}
    checks = [Check("match", name, label=f"{name} (the reference's run from the same seed)") for name in outputs]
    return behaviour_test("mlp.train.train_net", f"more than {TRAIN_ACC_SAMPLES} training examples: a sampled "
                          "training accuracy", sampled_accuracy_inputs, program(calls, outputs, seed=0), checks,
                          weight=0.5, requires=TRAIN_NET_NEEDS)


# Verbose mode prints the loss every show_every iterations and the accuracies after every epoch (the
# docstring); the wording, the numbering and the phase of those lines are free (counting iterations from 0
# or 1, over the run or within each epoch). The lines verbose adds, over a quiet run from the same seed
# (which cancels whatever else the code prints), must number at least a loss line per show_every
# iterations of each epoch (rounded down) plus one line per epoch, and at most one per show_every
# iterations of each epoch (rounded up) plus three lines per epoch (the accuracies on two lines, a
# learning-rate message) and two more (a header, a summary).
VERBOSE_TRAINING = {"batch_size": 6, "max_epochs": 3, "show_every": 4}
VERBOSE_ITERATIONS = 60 // VERBOSE_TRAINING["batch_size"]  # per epoch; 10 is no multiple of show_every


def progress_bounds():
    epochs, every = VERBOSE_TRAINING["max_epochs"], VERBOSE_TRAINING["show_every"]
    return (epochs * (VERBOSE_ITERATIONS // every) + epochs,
            epochs * -(-VERBOSE_ITERATIONS // every) + 3 * epochs + 2)


def progress_rule(outputs, expected, inputs, reference):
    added = int(outputs["lines printed (verbose)"]) - int(outputs["lines printed (quiet)"])
    low, high = progress_bounds()
    every, epochs = VERBOSE_TRAINING["show_every"], VERBOSE_TRAINING["max_epochs"]
    if low <= added <= high:
        return True, ""
    return False, (f"verbose=True printed {added} lines more than verbose=False, expected {low} to {high}: "
                   f"with verbose, print the loss every show_every={every} iterations ({epochs} epochs of "
                   f"{VERBOSE_ITERATIONS} iterations) and the accuracies after every epoch, and only with verbose")


def trained_rule(outputs, expected, inputs, reference):
    losses = outputs.get("loss_hist")
    if losses is None or losses.shape != (VERBOSE_TRAINING["max_epochs"] * VERBOSE_ITERATIONS,):
        return False, "loss_hist must hold one loss per iteration"
    return True, ""


def verbose_train_net_test():
    """train_net.7: the progress verbose prints, counted in lines (both runs from seed 0)."""
    quiet = train_net_calls(LEARNING_RATE, training={**VERBOSE_TRAINING, "verbose": False})
    first = len(quiet) + 1
    loud = train_net_calls(LEARNING_RATE, first, training={**VERBOSE_TRAINING, "verbose": True})
    calls = quiet + [{"seed": 0}] + loud
    outputs = {"lines printed (quiet)": printed(len(quiet) - 1), "lines printed (verbose)": printed(len(calls) - 1),
               "loss_hist": res(len(calls) - 1, 1)}
    return behaviour_test(
        "mlp.train.train_net", "verbose: progress lines", training_inputs, program(calls, outputs, seed=0),
        [Check("custom", rule=gated(progress_rule, trained_rule, "progress counts only beside a trained net "
                                    "(one loss per iteration in loss_hist)"), label="progress lines")],
        weight=0.5, requires=TRAIN_NET_NEEDS, shows_printed=False)


# A second run at the edges: a batch larger than the training set (one iteration per epoch on all of
# it), decay every epoch, dropout in training, and a validation accuracy of 0 at every epoch.
EDGE_NET = {"keep_prob": 0.5, "seed": 1, "dtype": F64}
EDGE_TRAINING = {"batch_size": 20, "max_epochs": 3, "lr_decay": 0.5, "lr_decay_every": 1}
# So small a learning rate leaves every prediction as it was: the validation labels stay wrong.
EDGE_LEARNING_RATE = 1e-12
EDGE_SHAPES = {"fc1": (15, 20), "fc2": (20, 30), "fc3": (30, 10)}


def leaky(values):
    return np.where(values > 0, values, 0.01 * values)


def edge_inputs(rng):
    arrays = net_weights(EDGE_SHAPES, (18, 15))(rng)
    x = arrays.pop("x")
    hidden = leaky(leaky(x @ arrays["fc1_w"] + arrays["fc1_b"]) @ arrays["fc2_w"] + arrays["fc2_b"])
    predicted = np.argmax(hidden @ arrays["fc3_w"] + arrays["fc3_b"], axis=1)
    return {**arrays, "data_train": x[:12], "labels_train": draw.labels(rng, 12, 10), "data_val": x[12:],
            "labels_val": (predicted[12:] + 1) % 10}


def training_mode_rule(found, expected, inputs, reference):
    losses = found.get("loss_hist")
    if losses is None or losses.shape != (EDGE_TRAINING["max_epochs"],):
        return False, ("loss_hist must hold one loss per iteration: with batch_size larger than the training set "
                       "an epoch is one iteration on all of it")
    model = reference.build("mlp.nets.DropoutNet", **in_python(EDGE_NET))
    model.net.load({key: inputs[key] for key in model.net.params})
    scores = model.forward(inputs["data_train"], is_training=False)
    test_loss = reference.build("mlp.layers.cross_entropy").forward(scores, inputs["labels_train"])
    if np.allclose(losses, test_loss, rtol=1e-9, atol=0):
        return False, "the training losses are the test-mode losses: run the model with is_training=True"
    return True, ""


def edge_train_net_test():
    data = {key: inp(key) for key in ("data_train", "labels_train", "data_val", "labels_val")}
    calls = [call("mlp.nets.DropoutNet", **EDGE_NET),
             method(res(0, "net"), "load", {f"{layer}_{kind}": inp(f"{layer}_{kind}")
                                            for layer in EDGE_SHAPES for kind in "wb"}),
             call(f"{LAYERS}.cross_entropy"), call("mlp.optim.SGD", res(0, "net"), lr=EDGE_LEARNING_RATE),
             call("mlp.train.train_net", data, res(0), res(2), res(3), **EDGE_TRAINING)]
    outputs = {"opt_params": res(4, 0), "loss_hist": res(4, 1), "val_acc_hist": res(4, 3), "lr": res(3, "lr")}
    needs = ["mlp.nets.DropoutNet.__init__", f"{LAYERS}.cross_entropy.forward", f"{LAYERS}.cross_entropy.backward"]
    needs += [f"{LAYERS}.{layer}.{step}" for layer in ("flatten", "fc", "leaky_relu", "dropout")
              for step in ("forward", "backward")]
    return behaviour_test(
        "mlp.train.train_net", "batch larger than the data, decay every epoch, dropout, accuracy 0", edge_inputs,
        program(calls, outputs, seed=0),
        [Check("custom", rule=training_mode_rule, label="training mode, one iteration per epoch"),
         Check("match", "lr", label="learning rate decayed at the start of epochs 1 and 2"),
         Check("match", "val_acc_hist"), Check("match", "opt_params", label="opt_params: the first epoch's")],
        requires=tuple(needs))


TRAIN_TESTS = [train_net_test(), slow_train_net_test(), best_validation_epoch_train_net_test(),
               sampled_accuracy_train_net_test(), edge_train_net_test(), verbose_train_net_test()]
