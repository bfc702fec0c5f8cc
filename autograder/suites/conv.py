"""Hidden tests of the convolutional layers and ThreeLayerConvNet (hw5)."""
import numpy as np

from autograder.suites import draw
from autograder.suites.functional import AFFINE, RELU
from autograder.suites.spec import (
    arg,
    call,
    dtype,
    forward_test,
    init_test,
    inp,
    layer_gradient_test,
    net_test,
    res,
)

CONV_NET = "classifiers.cnn.ThreeLayerConvNet"
# spatial batchnorm reuses the vanilla layer: its forward, and the closed-form backward.
BATCHNORM = ("layers.batchnorm_forward", "layers.batchnorm_backward_alt")


def conv_inputs(rng):
    return {"x": draw.normal(rng, 2, 3, 7, 7), "w": draw.normal(rng, 4, 3, 3, 3), "b": draw.normal(rng, 4),
            "w_rect": draw.normal(rng, 3, 3, 3, 2), "b_rect": draw.normal(rng, 3)}


def conv_gradient_inputs(stride):
    out_size = 5 if stride == 1 else 3

    def make(rng):
        return {"x": draw.normal(rng, 2, 3, 5, 5), "w": draw.normal(rng, 3, 3, 3, 3), "b": draw.normal(rng, 3),
                "dout": draw.normal(rng, 2, 3, out_size, out_size)}
    return make


def pool_inputs(rng):
    return {"x": draw.distinct(rng, 2, 3, 6, 6)}


def pool_gradient_inputs(rng):
    # 2 x 2 windows at stride 1 overlap: an element that is the maximum of several windows
    # collects the gradient of each of them.
    return {"x": draw.distinct(rng, 2, 2, 4, 4), "dout": draw.normal(rng, 2, 2, 3, 3)}


def pool_tie_inputs(rng):
    # Three distinct values only: most windows hold their maximum more than once.
    return {"x": rng.integers(0, 3, size=(2, 2, 4, 4)).astype(np.float64), "dout": draw.normal(rng, 2, 2, 2, 2)}


def spatial_batchnorm_inputs(rng):
    return {"x": draw.normal(rng, 3, 4, 3, 3, scale=2.0, shift=1.5), "gamma": draw.normal(rng, 4, shift=1.0),
            "beta": draw.normal(rng, 4), "running_mean": draw.normal(rng, 4),
            "running_var": 0.5 + np.abs(draw.normal(rng, 4)), "dout": draw.normal(rng, 3, 4, 3, 3)}


def bn_param(mode):
    return {"mode": mode, "momentum": 0.7, "eps": 1e-5,
            "running_mean": inp("running_mean"), "running_var": inp("running_var")}


def pool_param(height, width, stride):
    return {"pool_height": height, "pool_width": width, "stride": stride}


SPATIAL_ARGS = [inp("x"), inp("gamma"), inp("beta"), bn_param("train")]
CONV_PARAMS = ["W1", "b1", "W2", "b2", "W3", "b3"]
# Images 3 x 6 x 6, 3 filters of 3 x 3 ("same" padding), pooled to 3 x 3, hidden 5, 4 classes.
CONV_NET_SIZES = {"input_dim": {"$tuple": [3, 6, 6]}, "num_filters": 3, "filter_size": 3, "hidden_dim": 5,
                  "num_classes": 4, "weight_scale": 0.1, "dtype": dtype("float64")}


def conv_net_inputs(rng):
    return {"X": draw.normal(rng, 2, 3, 6, 6), "y": draw.labels(rng, 2, 4),
            "W1": draw.normal(rng, 3, 3, 3, 3, scale=0.3), "b1": draw.normal(rng, 3, scale=0.1),
            "W2": draw.normal(rng, 27, 5, scale=0.3), "b2": draw.normal(rng, 5, scale=0.1),
            "W3": draw.normal(rng, 5, 4, scale=0.3), "b3": draw.normal(rng, 4, scale=0.1)}


CONV_NET_NEEDS = (f"{CONV_NET}.__init__", *AFFINE, *RELU)

TESTS = [
    forward_test("conv_layers.conv_forward_naive", conv_inputs,
                 [call("conv_layers.conv_forward_naive", inp("x"), inp("w"), inp("b"), {"stride": 2, "pad": 1}),
                  call("conv_layers.conv_forward_naive", inp("x"), inp("w_rect"), inp("b_rect"),
                       {"stride": 1, "pad": 0})],
                 {"out_stride2_pad1": res(0, 0), "out_3x2_filters": res(1, 0)}),
    *[layer_gradient_test("conv_layers.conv_backward_naive", "conv_layers.conv_forward_naive",
                          conv_gradient_inputs(stride),
                          [inp("x"), inp("w"), inp("b"), {"stride": stride, "pad": 1}],
                          {"dx": ("x", 0), "dw": ("w", 1), "db": ("b", 2)}, label=f"gradients, stride {stride}")
      for stride in (1, 2)],
    forward_test("conv_layers.max_pool_forward_naive", pool_inputs,
                 [call("conv_layers.max_pool_forward_naive", inp("x"), pool_param(2, 2, 2)),
                  call("conv_layers.max_pool_forward_naive", inp("x"), pool_param(3, 2, 1))],
                 {"out_2x2_stride2": res(0, 0), "out_3x2_stride1": res(1, 0)}),
    layer_gradient_test("conv_layers.max_pool_backward_naive", "conv_layers.max_pool_forward_naive",
                        pool_gradient_inputs, [inp("x"), pool_param(2, 2, 1)], {"dx": ("x", 0)}),
    forward_test("conv_layers.max_pool_backward_naive", pool_tie_inputs,
                 [call("conv_layers.max_pool_forward_naive", inp("x"), pool_param(2, 2, 2)),
                  call("conv_layers.max_pool_backward_naive", inp("dout"), res(0, 1))],
                 {"dx": res(1)}, label="repeated maxima: only the first takes the gradient",
                 requires=("conv_layers.max_pool_forward_naive",)),
    forward_test("conv_layers.spatial_batchnorm_forward", spatial_batchnorm_inputs,
                 [call("conv_layers.spatial_batchnorm_forward", *SPATIAL_ARGS)],
                 {"out": res(0, 0), "running_mean": arg(0, 3, "running_mean"),
                  "running_var": arg(0, 3, "running_var")},
                 label="train mode: output and running averages", weight=2, requires=("layers.batchnorm_forward",)),
    forward_test("conv_layers.spatial_batchnorm_forward", spatial_batchnorm_inputs,
                 [call("conv_layers.spatial_batchnorm_forward", inp("x"), inp("gamma"), inp("beta"),
                       bn_param("test"))],
                 {"out": res(0, 0)}, label="test mode output", requires=("layers.batchnorm_forward",)),
    layer_gradient_test("conv_layers.spatial_batchnorm_backward", "conv_layers.spatial_batchnorm_forward",
                        spatial_batchnorm_inputs, SPATIAL_ARGS,
                        {"dx": ("x", 0), "dgamma": ("gamma", 1), "dbeta": ("beta", 2)},
                        requires=("conv_layers.spatial_batchnorm_forward", *BATCHNORM)),
    init_test(f"{CONV_NET}.__init__", CONV_NET,
              {"input_dim": {"$tuple": [3, 8, 8]}, "num_filters": 6, "filter_size": 3, "hidden_dim": 40,
               "num_classes": 10, "weight_scale": 0.1, "dtype": dtype("float64")}),
    net_test(f"{CONV_NET}.loss", CONV_NET, CONV_NET_SIZES, CONV_PARAMS, conv_net_inputs, [inp("X")], "scores",
             grads=False, requires=CONV_NET_NEEDS),
    net_test(f"{CONV_NET}.loss", CONV_NET, {**CONV_NET_SIZES, "reg": 0.5}, CONV_PARAMS, conv_net_inputs,
             [inp("X"), inp("y")], "loss and gradients, reg 0.5", weight=2, requires=CONV_NET_NEEDS),
]
