"""Hidden tests of the convolutional layers and ThreeLayerConvNet (hw5).

Each function's contract, clause by clause, and the test that enforces each
clause: docs/contracts/hw5.md. Inputs are small: the naive layers loop in Python.
"""
import numpy as np

from autograder.suites import draw
from autograder.suites.functional import AFFINE, RELU
from autograder.suites.spec import (
    FLOAT32_TOL,
    NET,
    Check,
    Test,
    arg,
    assign,
    behaviour_test,
    call,
    dtype,
    dtype_check,
    forward_test,
    inp,
    layer_gradient_test,
    method,
    net_test,
    numeric,
    program,
    repeat_check,
    res,
    unchanged_check,
)

CONV_NET = "classifiers.cnn.ThreeLayerConvNet"
# spatial batchnorm reuses the vanilla layer: its forward, and the closed-form backward.
BATCHNORM = ("layers.batchnorm_forward", "layers.batchnorm_backward_alt")
def float32(arrays):
    return {name: value.astype(np.float32) for name, value in arrays.items()}


def float32_test(function, label, make_inputs, calls, values, unchanged, **options):
    """float32 inputs: ``values`` (outputs) match the reference at float32 precision and keep its dtype;
    every ``unchanged`` (output, input) pair is an argument read back after the call."""
    outputs = {**values, **{f"{name} after the call": ref for name, ref in unchanged.items()}}
    checks = [Check("match", name, tol=FLOAT32_TOL) for name in values]
    checks += [dtype_check(*values)]
    checks += [unchanged_check(f"{name} after the call", name) for name in unchanged]
    return behaviour_test(function, label, make_inputs, program(calls, outputs), checks, **options)


def backward_float32_test(function, forward, forward_args, make_inputs, grads, label, **options):
    """The backward of float32 inputs: gradients' values and dtypes, dout unchanged, a second backward equal."""
    calls = [call(forward, *forward_args), call(function, inp("dout"), res(0, 1)),
             call(function, inp("dout"), res(0, 1))]
    single = len(grads) == 1
    values = {name: res(1) if single else res(1, position) for position, name in enumerate(grads)}
    again = next(iter(grads))
    outputs = {**values, f"{again}_again": res(2) if single else res(2, 0), "dout after the call": arg(1, 0)}
    checks = [Check("match", name, tol=FLOAT32_TOL) for name in values]
    checks += [dtype_check(*values), unchanged_check("dout after the call", "dout"), repeat_check(again, f"{again}_again")]
    options.setdefault("requires", (forward,))
    return behaviour_test(function, label, make_inputs, program(calls, outputs), checks, **options)


# Convolution ----------------------------------------------------------------


def conv_inputs(rng):
    return {"x": draw.normal(rng, 2, 3, 7, 7), "w": draw.normal(rng, 4, 3, 3, 3), "b": draw.normal(rng, 4),
            "w_rect": draw.normal(rng, 3, 3, 3, 2), "b_rect": draw.normal(rng, 3),
            # A batch of one 5 x 9 image: 3 x 5 filters with pad 2 and stride 2, 2 x 3 ones with stride 3.
            "x_odd": draw.normal(rng, 1, 2, 5, 9), "w_odd": draw.normal(rng, 2, 2, 3, 5), "b_odd": draw.normal(rng, 2),
            "w_stride3": draw.normal(rng, 2, 2, 2, 3), "b_stride3": draw.normal(rng, 2)}


def conv_float32_inputs(rng):
    return float32({"x": draw.normal(rng, 2, 3, 5, 5), "w": draw.normal(rng, 3, 3, 3, 3), "b": draw.normal(rng, 3),
                    "dout": draw.normal(rng, 2, 3, 3, 3)})


def conv_gradient_inputs(stride):
    out_size = 5 if stride == 1 else 3

    def make(rng):
        return {"x": draw.normal(rng, 2, 3, 5, 5), "w": draw.normal(rng, 3, 3, 3, 3), "b": draw.normal(rng, 3),
                "dout": draw.normal(rng, 2, 3, out_size, out_size)}
    return make


def conv_pad0_inputs(rng):
    # One 5 x 6 image, 3 x 2 filters, stride 2, no padding: out is 2 x 3.
    return {"x": draw.normal(rng, 1, 2, 5, 6), "w": draw.normal(rng, 3, 2, 3, 2), "b": draw.normal(rng, 3),
            "dout": draw.normal(rng, 1, 3, 2, 3)}


def conv(x, w, b, stride, pad):
    return call("conv_layers.conv_forward_naive", inp(x), inp(w), inp(b), {"stride": stride, "pad": pad})


CONV_GRADS = {"dx": ("x", 0), "dw": ("w", 1), "db": ("b", 2)}

CONV_TESTS = [
    forward_test("conv_layers.conv_forward_naive", conv_inputs,
                 [conv("x", "w", "b", 2, 1), conv("x", "w_rect", "b_rect", 1, 0),
                  conv("x_odd", "w_odd", "b_odd", 2, 2), conv("x_odd", "w_stride3", "b_stride3", 3, 0)],
                 {"out_stride2_pad1": res(0, 0), "out_3x2_filters": res(1, 0),
                  "out_batch1_pad2_stride2": res(2, 0), "out_stride3_pad0": res(3, 0)},
                 label="forward output in four regimes", weight=3),
    float32_test("conv_layers.conv_forward_naive", "float32 inputs: dtype, values, inputs unchanged",
                 conv_float32_inputs, [conv("x", "w", "b", 2, 1)], {"out_float32": res(0, 0)},
                 {"x": arg(0, 0), "w": arg(0, 1), "b": arg(0, 2)}),
    *[layer_gradient_test("conv_layers.conv_backward_naive", "conv_layers.conv_forward_naive",
                          conv_gradient_inputs(stride),
                          [inp("x"), inp("w"), inp("b"), {"stride": stride, "pad": 1}],
                          CONV_GRADS, label=f"gradients, stride {stride}")
      for stride in (1, 2)],
    layer_gradient_test("conv_layers.conv_backward_naive", "conv_layers.conv_forward_naive", conv_pad0_inputs,
                        [inp("x"), inp("w"), inp("b"), {"stride": 2, "pad": 0}], CONV_GRADS,
                        label="gradients, batch of 1, pad 0, stride 2, 3x2 filters"),
    backward_float32_test("conv_layers.conv_backward_naive", "conv_layers.conv_forward_naive",
                          [inp("x"), inp("w"), inp("b"), {"stride": 2, "pad": 1}], conv_float32_inputs,
                          ["dx", "dw", "db"], "float32: dtypes, values, dout unchanged"),
]


# Max pooling ------------------------------------------------------------------


def pool_param(height, width, stride):
    return {"pool_height": height, "pool_width": width, "stride": stride}


def pool_inputs(rng):
    return {"x": draw.distinct(rng, 2, 3, 6, 6), "x_odd": draw.distinct(rng, 1, 2, 5, 7),
            "x_gaps": draw.distinct(rng, 2, 2, 8, 9),
            # Every window all negative: a running maximum started at 0 shows.
            "x_negative": draw.distinct(rng, 2, 2, 4, 4) - 10.0}


def pool_float32_inputs(rng):
    return float32({"x": draw.distinct(rng, 2, 2, 4, 4), "dout": draw.normal(rng, 2, 2, 3, 3)})


def pool_gradient_inputs(rng):
    # 2 x 2 windows at stride 1 overlap: an element that is the maximum of several windows
    # collects the gradient of each of them.
    return {"x": draw.distinct(rng, 2, 2, 4, 4), "dout": draw.normal(rng, 2, 2, 3, 3)}


def pool_rect_inputs(rng):
    # One 5 x 6 image, 3 x 2 windows, stride 2: out is 2 x 3.
    return {"x": draw.distinct(rng, 1, 2, 5, 6), "dout": draw.normal(rng, 1, 2, 2, 3)}


def pool_gaps_inputs(rng):
    # 2 x 3 windows at stride 3 on 8 x 9: the rows between windows belong to none of them.
    return {"x": draw.distinct(rng, 1, 2, 8, 9), "dout": draw.normal(rng, 1, 2, 3, 3)}


def pool_tie_inputs(rng):
    # Three distinct values only: most windows hold their maximum more than once.
    return {"x": rng.integers(0, 3, size=(2, 2, 4, 4)).astype(np.float64), "dout": draw.normal(rng, 2, 2, 2, 2)}


def pool(x, height, width, stride):
    return call("conv_layers.max_pool_forward_naive", inp(x), pool_param(height, width, stride))


POOL_TESTS = [
    forward_test("conv_layers.max_pool_forward_naive", pool_inputs,
                 [pool("x", 2, 2, 2), pool("x", 3, 2, 1), pool("x_gaps", 2, 3, 3), pool("x_odd", 3, 3, 2),
                  pool("x_negative", 2, 2, 2)],
                 {"out_2x2_stride2": res(0, 0), "out_3x2_stride1": res(1, 0), "out_2x3_stride3": res(2, 0),
                  "out_batch1_3x3_stride2": res(3, 0), "out_negative": res(4, 0)},
                 label="forward output in five regimes", weight=3),
    float32_test("conv_layers.max_pool_forward_naive", "float32 input: dtype, values, x unchanged",
                 pool_float32_inputs, [pool("x", 2, 2, 2)], {"out_float32": res(0, 0)}, {"x": arg(0, 0)}),
    layer_gradient_test("conv_layers.max_pool_backward_naive", "conv_layers.max_pool_forward_naive",
                        pool_gradient_inputs, [inp("x"), pool_param(2, 2, 1)], {"dx": ("x", 0)}),
    layer_gradient_test("conv_layers.max_pool_backward_naive", "conv_layers.max_pool_forward_naive",
                        pool_rect_inputs, [inp("x"), pool_param(3, 2, 2)], {"dx": ("x", 0)},
                        label="gradients, batch of 1, 3x2 windows, stride 2"),
    layer_gradient_test("conv_layers.max_pool_backward_naive", "conv_layers.max_pool_forward_naive",
                        pool_gaps_inputs, [inp("x"), pool_param(2, 3, 3)], {"dx": ("x", 0)},
                        label="gradients, 2x3 windows, stride 3"),
    forward_test("conv_layers.max_pool_backward_naive", pool_tie_inputs,
                 [pool("x", 2, 2, 2), call("conv_layers.max_pool_backward_naive", inp("dout"), res(0, 1))],
                 {"dx": res(1)}, label="repeated maxima: only the first takes the gradient",
                 requires=("conv_layers.max_pool_forward_naive",)),
    backward_float32_test("conv_layers.max_pool_backward_naive", "conv_layers.max_pool_forward_naive",
                          [inp("x"), pool_param(2, 2, 1)], pool_float32_inputs, ["dx"],
                          "float32: dtype, values, dout unchanged"),
]


# Spatial batch normalization -----------------------------------------------------


def channel_images(rng, n, channels, height, width):
    """Images whose channels have their own means and spreads, so that mixed-up channels show."""
    scale = 0.5 + 2.0 * rng.random(channels)[None, :, None, None]
    shift = 3.0 * rng.standard_normal(channels)[None, :, None, None]
    return shift + scale * rng.standard_normal((n, channels, height, width))


def spatial_batchnorm_inputs(rng):
    return {"x": channel_images(rng, 3, 4, 3, 3), "gamma": draw.normal(rng, 4, shift=1.0),
            "beta": draw.normal(rng, 4), "running_mean": draw.normal(rng, 4),
            "running_var": 0.5 + np.abs(draw.normal(rng, 4)), "dout": draw.normal(rng, 3, 4, 3, 3)}


def spatial_batch1_inputs(rng):
    # One image of 2 x 5 pixels: each channel's statistics come from its 10 pixels.
    return {"x": channel_images(rng, 1, 3, 2, 5), "gamma": draw.normal(rng, 3, shift=1.0),
            "beta": draw.normal(rng, 3), "dout": draw.normal(rng, 1, 3, 2, 5)}


def spatial_float32_inputs(rng):
    return float32({**spatial_batchnorm_inputs(rng), "x": channel_images(rng, 2, 4, 2, 3),
                    "dout": draw.normal(rng, 2, 4, 2, 3)})


def bn_param(mode, eps=1e-5):
    return {"mode": mode, "momentum": 0.7, "eps": eps,
            "running_mean": inp("running_mean"), "running_var": inp("running_var")}


def spatial(mode, eps=1e-5):
    return call("conv_layers.spatial_batchnorm_forward", inp("x"), inp("gamma"), inp("beta"), bn_param(mode, eps))


def running_averages(index, suffix=""):
    return {f"running_mean{suffix}": arg(index, 3, "running_mean"), f"running_var{suffix}": arg(index, 3, "running_var")}


# An eps this large changes every output far beyond the tolerance.
LARGE_EPS = 0.5
SPATIAL_ARGS = [inp("x"), inp("gamma"), inp("beta"), bn_param("train")]
SPATIAL_GRADS = {"dx": ("x", 0), "dgamma": ("gamma", 1), "dbeta": ("beta", 2)}
SPATIAL_NEEDS = ("layers.batchnorm_forward",)

SPATIAL_TESTS = [
    forward_test("conv_layers.spatial_batchnorm_forward", spatial_batchnorm_inputs,
                 [spatial("train"), spatial("train", LARGE_EPS)],
                 {"out": res(0, 0), **running_averages(0), "out_large_eps": res(1, 0),
                  "running_var_large_eps": arg(1, 3, "running_var")},
                 label="train mode: output and running averages", weight=2, requires=SPATIAL_NEEDS),
    forward_test("conv_layers.spatial_batchnorm_forward", spatial_batch1_inputs,
                 [call("conv_layers.spatial_batchnorm_forward", inp("x"), inp("gamma"), inp("beta"),
                       {"mode": "train"})],
                 {"out_batch1": res(0, 0), **running_averages(0, "_defaults")},
                 label="train mode: batch of 1, 2x5 images, default eps and momentum", requires=SPATIAL_NEEDS),
    forward_test("conv_layers.spatial_batchnorm_forward", spatial_batchnorm_inputs,
                 [spatial("test"), spatial("test", LARGE_EPS)],
                 {"out": res(0, 0), **running_averages(0), "out_large_eps": res(1, 0)},
                 label="test mode: output, running averages unchanged", requires=SPATIAL_NEEDS),
    float32_test("conv_layers.spatial_batchnorm_forward", "float32: dtypes, inputs unchanged",
                 spatial_float32_inputs, [spatial("train")], {"out_float32": res(0, 0), **running_averages(0)},
                 {"x": arg(0, 0), "gamma": arg(0, 1), "beta": arg(0, 2)}, requires=SPATIAL_NEEDS),
    layer_gradient_test("conv_layers.spatial_batchnorm_backward", "conv_layers.spatial_batchnorm_forward",
                        spatial_batchnorm_inputs, SPATIAL_ARGS, SPATIAL_GRADS,
                        requires=("conv_layers.spatial_batchnorm_forward", *BATCHNORM)),
    layer_gradient_test("conv_layers.spatial_batchnorm_backward", "conv_layers.spatial_batchnorm_forward",
                        spatial_batch1_inputs, [inp("x"), inp("gamma"), inp("beta"),
                                                {"mode": "train", "eps": LARGE_EPS}],
                        SPATIAL_GRADS, label=f"gradients, batch of 1, 2x5 images, eps {LARGE_EPS}",
                        requires=("conv_layers.spatial_batchnorm_forward", *BATCHNORM)),
    backward_float32_test("conv_layers.spatial_batchnorm_backward", "conv_layers.spatial_batchnorm_forward",
                          SPATIAL_ARGS, spatial_float32_inputs, ["dx", "dgamma", "dbeta"],
                          "float32: dtypes, values, dout unchanged",
                          requires=("conv_layers.spatial_batchnorm_forward", *BATCHNORM)),
]


# ThreeLayerConvNet ---------------------------------------------------------------

CONV_PARAMS = ["W1", "b1", "W2", "b2", "W3", "b3"]
BATCHNORM_PARAMS = [*CONV_PARAMS, "gamma1", "beta1", "gamma2", "beta2"]
# Images 3 x 6 x 6, 3 filters of 3 x 3 ("same" padding), pooled to 3 x 3, hidden 5, 4 classes.
CONV_NET_SIZES = {"input_dim": {"$tuple": [3, 6, 6]}, "num_filters": 3, "filter_size": 3, "hidden_dim": 5,
                  "num_classes": 4, "weight_scale": 0.1, "dtype": dtype("float64")}
# Images 3 x 4 x 4, 2 filters of 3 x 3, pooled to 2 x 2, hidden 5, 4 classes (the batchnorm net).
BATCHNORM_NET_SIZES = {**CONV_NET_SIZES, "input_dim": {"$tuple": [3, 4, 4]}, "num_filters": 2, "use_batchnorm": True}
# One 4 x 6 image, 2 filters of 5 x 5 (pad 2), pooled to 2 x 3, hidden 5, 3 classes.
RECT_NET_SIZES = {"input_dim": {"$tuple": [3, 4, 6]}, "num_filters": 2, "filter_size": 5, "hidden_dim": 5,
                  "num_classes": 3, "weight_scale": 0.1, "dtype": dtype("float64")}


def net_arrays(rng, images, filters, filter_size, pooled, hidden, classes):
    n, channels = images[:2]
    return {"X": draw.normal(rng, *images), "y": draw.labels(rng, n, classes),
            "W1": draw.normal(rng, filters, channels, filter_size, filter_size, scale=0.3),
            "b1": draw.normal(rng, filters, scale=0.1),
            "W2": draw.normal(rng, filters * pooled, hidden, scale=0.3), "b2": draw.normal(rng, hidden, scale=0.1),
            "W3": draw.normal(rng, hidden, classes, scale=0.3), "b3": draw.normal(rng, classes, scale=0.1),
            "gamma1": draw.normal(rng, filters, scale=0.2, shift=1.0), "beta1": draw.normal(rng, filters, scale=0.2),
            "gamma2": draw.normal(rng, hidden, scale=0.2, shift=1.0), "beta2": draw.normal(rng, hidden, scale=0.2),
            "running_mean1": draw.normal(rng, filters), "running_var1": 0.5 + np.abs(draw.normal(rng, filters)),
            "running_mean2": draw.normal(rng, hidden), "running_var2": 0.5 + np.abs(draw.normal(rng, hidden))}


def conv_net_inputs(rng):
    return net_arrays(rng, (2, 3, 6, 6), 3, 3, 9, 5, 4)


def batchnorm_net_inputs(rng):
    # With 2 images the hidden batchnorm outputs about +-1 whatever comes before it, so that
    # the gradients of the conv layer vanish into rounding error: 5 images carry them.
    # 4 x 4 images and 2 filters keep the numerical gradients cheap.
    return net_arrays(rng, (5, 3, 4, 4), 2, 3, 4, 5, 4)


def rect_net_inputs(rng):
    return net_arrays(rng, (1, 3, 4, 6), 2, 5, 6, 5, 3)


def conv_net_float32_inputs(rng):
    arrays = conv_net_inputs(rng)
    return {**arrays, **float32({name: arrays[name] for name in CONV_PARAMS})}


def running_statistics_calls():
    return [assign_running(layer, stat) for layer in (1, 2) for stat in ("running_mean", "running_var")]


def assign_running(layer, stat):
    return assign(res(0), ["bn_params", layer - 1, stat], inp(f"{stat}{layer}"))


def model_calls(sizes, params):
    calls = [call(CONV_NET, **sizes)]
    return calls + [assign(res(0), ["params", name], inp(name)) for name in params]


def init_program():
    """The statistics case, non-square and odd images, 5 x 5 and 4 x 4 filters, batchnorm, the default dtype."""
    models = {
        "params": {"input_dim": {"$tuple": [3, 8, 8]}, "num_filters": 6, "filter_size": 3, "hidden_dim": 40,
                   "num_classes": 10, "weight_scale": 0.1, "dtype": dtype("float64")},
        "params_non_square": {"input_dim": {"$tuple": [2, 4, 8]}, "num_filters": 3, "filter_size": 5,
                              "hidden_dim": 7, "num_classes": 4, "weight_scale": 0.05, "dtype": dtype("float64")},
        # Odd sizes: the pool rounds down (7 x 5 to 3 x 2); an even filter size pads (K - 1) // 2.
        "params_odd": {"input_dim": {"$tuple": [2, 7, 5]}, "num_filters": 2, "filter_size": 3, "hidden_dim": 6,
                       "num_classes": 3, "weight_scale": 0.1, "dtype": dtype("float64")},
        "params_even_filter": {"input_dim": {"$tuple": [2, 7, 9]}, "num_filters": 2, "filter_size": 4,
                               "hidden_dim": 6, "num_classes": 3, "weight_scale": 0.1, "dtype": dtype("float64")},
        "params_batchnorm": {"input_dim": {"$tuple": [3, 6, 6]}, "num_filters": 4, "filter_size": 3, "hidden_dim": 9,
                             "num_classes": 5, "weight_scale": 0.1, "use_batchnorm": True, "dtype": dtype("float64")},
        "params_float32": {"input_dim": {"$tuple": [3, 6, 6]}, "num_filters": 4, "filter_size": 3, "hidden_dim": 9,
                           "num_classes": 5, "weight_scale": 0.1},
    }
    calls = [call(CONV_NET, **kwargs) for kwargs in models.values()]
    outputs = {name: res(index, "params") for index, name in enumerate(models)}
    return program(calls, outputs, seed=0), [Check("init", name) for name in models]


CONV_NET_NEEDS = (f"{CONV_NET}.__init__", *AFFINE, *RELU)
BATCHNORM_NET_NEEDS = (*CONV_NET_NEEDS, "conv_layers.spatial_batchnorm_forward",
                       "conv_layers.spatial_batchnorm_backward", *BATCHNORM)


def running_averages_program():
    """A train-mode loss (updates the running averages), then a test-mode one (must leave them)."""
    calls = model_calls(BATCHNORM_NET_SIZES, BATCHNORM_PARAMS)
    calls += [method(res(0), "loss", inp("X"), inp("y")), method(res(0), "loss", inp("X"))]
    outputs = {f"{stat}{layer}": res(0, "bn_params", layer - 1, stat)
               for layer in (1, 2) for stat in ("running_mean", "running_var")}
    return program(calls, outputs, seed=0)


def float32_net_program():
    sizes = {key: value for key, value in CONV_NET_SIZES.items() if key != "dtype"}
    calls = model_calls(sizes, CONV_PARAMS)
    scores, train = len(calls), len(calls) + 1
    calls += [method(res(0), "loss", inp("X")), method(res(0), "loss", inp("X"), inp("y"))]
    outputs = {"scores_float32": res(scores), "grads_float32": res(train, 1), "X after the call": arg(scores, 0)}
    return program(calls, outputs, seed=0)


def batchnorm_gradient_test():
    """Train-mode loss and gradients with batchnorm.

    A bias followed by batchnorm has gradient 0: b1 and b2 are compared with the
    reference's only, since a numerical gradient of 0 is rounding noise.
    """
    calls = model_calls({**BATCHNORM_NET_SIZES, "reg": 0.5}, BATCHNORM_PARAMS)
    calls.append(method(res(0), "loss", inp("X"), inp("y")))
    last = len(calls) - 1
    numerical = [name for name in BATCHNORM_PARAMS if name not in ("b1", "b2")]
    outputs = {"loss": res(last, 0), **{name: res(last, 1, name) for name in BATCHNORM_PARAMS}}
    body = program(calls, outputs, [numeric(last, last, {name: res(0, "params", name) for name in numerical},
                                            output=[0])], seed=0)
    checks = [Check("match", "loss")] + [Check("gradient" if name in numerical else "match", name)
                                         for name in BATCHNORM_PARAMS]
    return Test(f"{CONV_NET}.loss", "batchnorm, train mode: loss and gradients, reg 0.5", NET, body,
                batchnorm_net_inputs, tuple(checks), weight=2, requires=BATCHNORM_NET_NEEDS)


_init_body, _init_checks = init_program()

NET_TESTS = [
    behaviour_test(f"{CONV_NET}.__init__", "initial parameters", lambda rng: {}, _init_body, _init_checks),
    net_test(f"{CONV_NET}.loss", CONV_NET, CONV_NET_SIZES, CONV_PARAMS, conv_net_inputs, [inp("X")], "scores",
             grads=False, requires=CONV_NET_NEEDS),
    net_test(f"{CONV_NET}.loss", CONV_NET, RECT_NET_SIZES, CONV_PARAMS, rect_net_inputs, [inp("X")],
             "scores: batch of 1, 4x6 images, 5x5 filters", grads=False, requires=CONV_NET_NEEDS),
    net_test(f"{CONV_NET}.loss", CONV_NET, {**CONV_NET_SIZES, "reg": 0.5}, CONV_PARAMS, conv_net_inputs,
             [inp("X"), inp("y")], "loss and gradients, reg 0.5", weight=2, requires=CONV_NET_NEEDS),
    batchnorm_gradient_test(),
    net_test(f"{CONV_NET}.loss", CONV_NET, BATCHNORM_NET_SIZES, BATCHNORM_PARAMS,
             batchnorm_net_inputs, [inp("X")], "batchnorm, test mode: scores from the running averages", grads=False,
             setup=running_statistics_calls(), requires=BATCHNORM_NET_NEEDS),
    behaviour_test(f"{CONV_NET}.loss", "batchnorm: running averages after a train-mode and a test-mode loss",
                   batchnorm_net_inputs, running_averages_program(),
                   [Check("match", f"{stat}{layer}") for layer in (1, 2) for stat in ("running_mean", "running_var")],
                   requires=BATCHNORM_NET_NEEDS),
    behaviour_test(f"{CONV_NET}.loss", "float32 model: scores, gradients' dtypes, X unchanged",
                   conv_net_float32_inputs, float32_net_program(),
                   [Check("match", "scores_float32", tol=FLOAT32_TOL), dtype_check("scores_float32", "grads_float32"),
                    unchanged_check("X after the call", "X")],
                   requires=CONV_NET_NEEDS),
]

TESTS = CONV_TESTS + POOL_TESTS + SPATIAL_TESTS + NET_TESTS
