"""What a hidden test is: a worker program, its inputs, and the checks that score it.

A test never holds expected values: the builder runs the same program on the
reference ``course_lib`` (from the per-build seed) and stores the results as
fixtures; the harness runs it on the submission in a worker and compares.

Programs are written with the small helpers below (``call``, ``method``,
``inp``, ``res``...), which produce the JSON that ``autograder.worker`` reads.
"""
from dataclasses import dataclass, field
from collections.abc import Callable

import numpy as np

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@dataclass(frozen=True)
class Kind:
    """A kind of hidden test: its name in results.json (``extra_data["kind"]``) and how it is scored.

    A kind that runs a program in a worker is judged by its checks against
    fixtures; one that ``scores_upload`` is scored from files of the upload
    (a checkpoint, experiment logs), each on its own, by the grader that
    ``autograder.harness.pipeline.UPLOAD_GRADERS`` holds for it.
    """

    name: str
    scores_upload: bool = False


FORWARD = Kind("forward")
GRADIENT = Kind("gradient")
NET = Kind("net")
BEHAVIOUR = Kind("behaviour")
CHECKPOINT = Kind("accuracy", scores_upload=True)
EXPERIMENT = Kind("log", scores_upload=True)


@dataclass(frozen=True)
class Check:
    """One scored item of a test.

    kind:
    - "match": the output (an array, or a dict of arrays) equals the reference's within ``tol``;
    - "gradient": an analytic gradient equals the reference's AND the
      numerical gradient of the student's own code (within ``numeric_tol``);
    - "numeric": where the reference's gradient cannot be compared (random
      masks), an analytic gradient equals ``expect(outputs, inputs, reference)``,
      computed in the grading process from what the student's forward
      produced (e.g. its mask), AND the numerical gradient of the student's own
      code; without ``expect`` it is a "gradient" check;
    - "exact": integer outputs (labels) equal the reference's;
    - "init": a dict of initial parameters has the reference's names, shapes,
      dtypes and statistics (constant entries exactly, random ones in mean and spread);
    - "custom": ``rule(outputs, expected, inputs)`` returns ``(ok, message)``.
    """

    kind: str
    output: str = ""
    tol: float = 1e-7
    numeric_tol: float = 1e-6
    weight: float = 1.0
    rule: Callable | None = None
    label: str = ""
    expect: Callable | None = None
    # Dtypes, inputs left unchanged, repeatable calls: credit only beside a value check that passes
    # (zeros keep their dtype and leave the inputs alone).
    bookkeeping: bool = False

    @property
    def name(self):
        return self.label or self.output


def gated(rule, gate, reason):
    """A custom rule that passes only when ``gate`` (the rule showing the work was done) passes too:
    histories and bookkeeping earn nothing beside an untrained net."""
    def checked(outputs, expected, inputs, reference):
        ok, message = rule(outputs, expected, inputs, reference)
        if ok and not gate(outputs, expected, inputs, reference)[0]:
            return False, reason
        return ok, message
    return checked


@dataclass(frozen=True)
class Test:
    """A hidden test of one student function (a manifest key) or of one checkpoint."""

    function: str
    label: str
    kind: Kind
    program: dict = field(default_factory=dict)
    make_inputs: Callable | None = None
    checks: tuple = ()
    weight: float = 1.0
    requires: tuple = ()
    visibility: str = "visible"
    timeout: float | None = None
    checkpoint: dict | None = None
    experiment: str = ""
    # False where printing is the behaviour under test (verbose progress): the feedback then only counts
    # what was printed, since the student's progress lines are values of the hidden run.
    shows_printed: bool = True

    def __post_init__(self):
        if not isinstance(self.kind, Kind):
            raise TypeError(f"test {self.id!r}: kind must be a spec.Kind (FORWARD, CHECKPOINT, ...), "
                            f"not {self.kind!r}")

    @property
    def id(self):
        return f"{self.function} | {self.label}"

    @property
    def scores_upload(self):
        """True for a checkpoint or experiment test: scored from uploaded files, with no fixtures."""
        return self.kind.scores_upload

    @property
    def title(self):
        return f"{self.function}: {self.label}"


# Building programs ----------------------------------------------------------


def inp(name):
    """A fresh copy of the input array ``name``."""
    return {"$in": name}


def shared(name):
    """The input array ``name`` itself, not a copy: large read-only data used by several calls."""
    return {"$shared": name}


def res(*path):
    """Part of an earlier call's result: res(0, 1) is the second item returned by call 0."""
    return {"$r": list(path)}


def arg(*path):
    """Part of an earlier call's arguments after the call: arg(0, 3, "running_mean")."""
    return {"$a": list(path)}


def printed(k):
    """The number of lines call k printed (its own prints and those of the code it ran)."""
    return {"$printed": k}


def dtype(name):
    return {"$dtype": name}


def job_file(name):
    return {"$file": name}


def call(fn, *args, **kwargs):
    """Call ``course_lib.<fn>`` (a function or a class)."""
    return {"fn": fn, "args": list(args), "kwargs": kwargs}


def method(on, name, *args, **kwargs):
    return {"method": name, "on": on, "args": list(args), "kwargs": kwargs}


def assign(on, path, value):
    return {"assign": on, "path": list(path), "value": value}


def numeric(first, last, wrt, output=(), dout=None, h=1e-6):
    """Numerical gradients of calls first..last with respect to each ``wrt`` array."""
    return {"calls": [first, last], "output": list(output), "dout": dout, "wrt": wrt, "h": h}


def program(calls, outputs, numerics=(), seed=None):
    body = {"calls": list(calls), "outputs": outputs, "numeric": list(numerics)}
    if seed is not None:
        body["seed"] = seed
    return body


# One builder per kind of test -----------------------------------------------


def forward_test(function, make_inputs, calls, outputs, tol=1e-7, label="forward output", exact=False,
                 **options):
    """Outputs of ``calls`` against the reference's, one scored item per output (``exact`` for labels)."""
    checks = tuple(Check("exact" if exact else "match", name, tol=tol) for name in outputs)
    return Test(function, label, FORWARD, program(calls, outputs), make_inputs, checks, **options)


def layer_gradient_test(function, forward, make_inputs, forward_args, grads, tol=1e-7,
                        label="gradients", **options):
    """Backward of a functional layer: ``grads`` maps a gradient name to (input name, position).

    The forward runs on ``forward_args`` (inputs by name) and the backward
    (``function``) on the input ``dout`` and the forward's cache; each gradient
    is compared with the reference's (the numerical gradient of the student's
    own forward only tells the feedback whether to blame the forward).
    """
    calls = [call(forward, *forward_args), call(function, inp("dout"), res(0, 1))]
    single = len(grads) == 1
    outputs = {name: res(1) if single else res(1, position) for name, (_, position) in grads.items()}
    wrt = {name: inp(source) for name, (source, _) in grads.items()}
    checks = tuple(Check("gradient", name, tol=tol) for name in grads)
    body = program(calls, outputs, [numeric(0, 0, wrt, output=[0], dout="dout")])
    options.setdefault("requires", (forward,))
    return Test(function, label, GRADIENT, body, make_inputs, checks, **options)


def net_test(function, model_class, model_kwargs, params, make_inputs, loss_args, label,
             grads=True, tol=1e-7, seed=0, setup=(), zero_gradients=(), **options):
    """A functional net with injected weights: scores, or loss and gradients.

    The model is built from ``model_kwargs``, every name in ``params`` is set
    from the input of that name, the ``setup`` calls run (e.g. setting running
    averages), then ``loss(*loss_args)`` runs. With
    ``grads`` the loss and every gradient are scored against the reference's
    (a wrong gradient that agrees with the numerical gradient of the student's
    own loss is told to check the forward pass); otherwise the scores.
    ``zero_gradients``: parameters whose true gradient is 0 (a bias followed by
    batchnorm): their numerical gradient is rounding noise, so it is not computed.
    """
    calls = [call(model_class, **model_kwargs)]
    calls += [assign(res(0), ["params", name], inp(name)) for name in params]
    calls += list(setup)
    calls.append(method(res(0), "loss", *loss_args))
    last = len(calls) - 1
    if grads:
        outputs = {"loss": res(last, 0), **{name: res(last, 1, name) for name in params}}
        wrt = {name: res(0, "params", name) for name in params if name not in zero_gradients}
        numerics = [numeric(last, last, wrt, output=[0])]
        checks = (Check("match", "loss", tol=tol),) + tuple(
            Check("match" if name in zero_gradients else "gradient", name, tol=tol) for name in params)
    else:
        outputs, numerics = {"scores": res(last)}, []
        checks = (Check("match", "scores", tol=tol),)
    body = program(calls, outputs, numerics, seed=seed)
    return Test(function, label, NET, body, make_inputs, checks, **options)


def init_test(function, model_class, model_kwargs, params_path=("params",), label="initial parameters",
              seed=0, **options):
    """A constructor: parameter names, shapes, dtypes and initial statistics against the reference's."""
    calls = [call(model_class, **model_kwargs)]
    body = program(calls, {"params": res(0, *params_path)}, seed=seed)
    return Test(function, label, BEHAVIOUR, body, lambda rng: {}, (Check("init", "params"),), **options)


def behaviour_test(function, label, make_inputs, body, checks, **options):
    """Anything else: a program and checks (usually ``custom`` rules) on what it returns."""
    return Test(function, label, BEHAVIOUR, body, make_inputs, tuple(checks), **options)


def accuracy_test(checkpoint, visibility="visible"):
    """A submission checkpoint's accuracy on held-out data, scored with the manifest's lo/hi."""
    return Test(f"checkpoint {checkpoint['name']}", "held-out accuracy", CHECKPOINT,
                visibility=visibility, checkpoint=dict(checkpoint), timeout=checkpoint.get("timeout"))


# Contract checks shared by the conv and mlp suites -------------------------------

# float32 results are compared at float32's precision; float64 ones keep the default 1e-7.
FLOAT32_TOL = 1e-5


def as_float32(make_inputs):
    """The same inputs with every float array in float32 (labels stay integers)."""
    def make(rng):
        return {name: value.astype(np.float32) if value.dtype.kind == "f" else value
                for name, value in make_inputs(rng).items()}
    return make


def dtype_check(*outputs, label="dtypes"):
    """Each output (an array, or every entry of a dict output) has the reference's dtype.

    The ``match`` check only notes a dtype difference; this one scores it.
    """
    def rule(found, expected, inputs, reference):
        wrong = []
        for name in outputs:
            for key, want in sorted(expected.items()):
                if (key == name or key.startswith(name + "/")) and key in found and found[key].dtype != want.dtype:
                    wrong.append(f"{key} has dtype {found[key].dtype}, expected {want.dtype}")
        return not wrong, "; ".join(wrong[:3]) + " (keep the inputs' dtype)"
    return Check("custom", rule=rule, label=label, bookkeeping=True)


def unchanged_check(output, input_name):
    """Output ``output`` (an argument read back after the call) still equals the input ``input_name``."""
    def rule(found, expected, inputs, reference):
        if found[output].shape == inputs[input_name].shape and np.array_equal(found[output], inputs[input_name]):
            return True, ""
        return False, f"your code changed {input_name} in place; work on a copy or build a new array"
    return Check("custom", rule=rule, label=f"{input_name} unchanged", bookkeeping=True)


def repeat_check(first, again):
    """A second backward on the same cache gives what the first gave: backward leaves its cache intact."""
    def rule(found, expected, inputs, reference):
        if np.array_equal(found[first], found[again]):
            return True, ""
        return False, f"a second backward on the same cache gave another {first}: do not modify the cache"
    return Check("custom", rule=rule, label=f"{first} again", bookkeeping=True)
