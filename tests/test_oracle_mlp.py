"""The checks the original courses published (oracle.md) for the object API, course_lib.mlp.

The USC notebook's flatten + fc and leaky_relu outputs, and the momentum
numbers UCLA published for sgd_momentum, which the object SGDM reproduces on
an fc layer. RMSProp and Adam share their formulas with the functional rules,
so the functional published numbers must hold for them as well.
"""
import numpy as np
import pytest

from course_lib.mlp.layers import fc, flatten, leaky_relu, sequential
from course_lib.mlp.optim import SGDM, Adam, RMSProp
from tests.helpers import assert_close, lin
from tests.test_oracle_layers import (
    ADAM_FIRST_MOMENT,
    ADAM_NEXT_W,
    ADAM_SECOND_MOMENT,
    MOMENTUM_NEXT_W,
    MOMENTUM_VELOCITY,
    OPTIM_DW,
    OPTIM_W,
    RMSPROP_NEXT_W,
    RMSPROP_SECOND_MOMENT,
)


def test_flatten_fc_published_output():
    net = sequential(flatten(name="flat"), fc(168, 4, name="fc1"))
    net.assign("fc1_w", lin(-0.2, 0.2, 168, 4))
    net.assign("fc1_b", lin(-0.3, 0.3, 4))
    expected = [
        [0.63910291, 0.83740057, 1.03569824, 1.23399591],
        [0.61401587, 0.82903823, 1.04406058, 1.25908294],
        [0.58892884, 0.82067589, 1.05242293, 1.28416997],
    ]
    assert_close(net.forward(lin(-0.1, 0.4, 3, 7, 6, 4)), expected, name="flatten + fc")


def test_leaky_relu_published_output():
    expected = [
        [-0.015, -0.0122727273, -0.0095454545, -0.0068181818],
        [-0.0040909091, -0.0013636364, 0.1363636364, 0.4090909091],
        [0.6818181818, 0.9545454545, 1.2272727273, 1.5],
    ]
    out = leaky_relu(negative_slope=0.01).forward(lin(-1.5, 1.5, 3, 4))
    assert_close(out, expected, name="leaky_relu")


def fc_with_gradient(name="opt_fc"):
    """A sequential holding one fc(4, 5) with the published weights and weight gradient (bias gradient 0)."""
    net = sequential(fc(4, 5, name=name))
    net.assign(f"{name}_w", OPTIM_W)
    net.assign_grads(f"{name}_w", OPTIM_DW)
    net.assign_grads(f"{name}_b", np.zeros(5))
    return net


def sgdm_case(net):
    optimizer = SGDM(net, 1e-3, 0.9)
    optimizer.velocity = {"opt_fc_w": lin(0.6, 0.9, 4, 5)}
    return optimizer, {"velocity": MOMENTUM_VELOCITY}, MOMENTUM_NEXT_W, 1e-7


def rmsprop_case(net):
    optimizer = RMSProp(net, lr=1e-2)
    optimizer.cache = {"opt_fc_w": lin(0.6, 0.9, 4, 5)}
    return optimizer, {"cache": RMSPROP_SECOND_MOMENT}, RMSPROP_NEXT_W, 1e-6


def adam_case(net):
    optimizer = Adam(net, lr=1e-2, t=5)
    optimizer.mt = {"opt_fc_w": lin(0.6, 0.9, 4, 5)}
    optimizer.vt = {"opt_fc_w": lin(0.7, 0.5, 4, 5)}
    return optimizer, {"mt": ADAM_FIRST_MOMENT, "vt": ADAM_SECOND_MOMENT}, ADAM_NEXT_W, 1e-6


@pytest.mark.parametrize("make_case", [sgdm_case, rmsprop_case, adam_case], ids=["SGDM", "RMSProp", "Adam"])
def test_object_optimizers_reproduce_the_published_numbers(make_case):
    net = fc_with_gradient()
    optimizer, expected_state, expected_w, next_w_tol = make_case(net)
    optimizer.step()
    assert_close(net.get_params("opt_fc_w"), expected_w, tol=next_w_tol, name="next_w")
    for attribute, expected in expected_state.items():
        assert_close(getattr(optimizer, attribute)["opt_fc_w"], expected, name=attribute)
