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
from tests.helpers import assert_close


def lin(lo, hi, *shape):
    """np.linspace(lo, hi) over as many points as the shape holds, reshaped: how the courses build inputs."""
    return np.linspace(lo, hi, num=int(np.prod(shape))).reshape(shape)


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
    """A sequential holding one fc(4, 5) whose weights are w and weight gradient dw (bias gradient 0)."""
    net = sequential(fc(4, 5, name=name))
    net.assign(f"{name}_w", lin(-0.4, 0.6, 4, 5))
    net.assign_grads(f"{name}_w", lin(-0.6, 0.4, 4, 5))
    net.assign_grads(f"{name}_b", np.zeros(5))
    return net


def test_sgdm_published_momentum_numbers():
    net = fc_with_gradient()
    optimizer = SGDM(net, 1e-3, 0.9)
    optimizer.velocity = {"opt_fc_w": lin(0.6, 0.9, 4, 5)}
    optimizer.step()
    expected_w = [
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
    ]
    expected_velocity = [
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
    ]
    assert_close(net.get_params("opt_fc_w"), expected_w, name="next_w")
    assert_close(optimizer.velocity["opt_fc_w"], expected_velocity, name="velocity")


RMSPROP_W = [
    [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
    [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
    [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
    [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
]
RMSPROP_CACHE = [
    [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
    [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
    [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
    [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
]
ADAM_W = [
    [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
    [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
    [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
    [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
]
ADAM_SECOND_MOMENT = [
    [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
    [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
    [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
    [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
]
ADAM_FIRST_MOMENT = [
    [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
    [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
    [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
    [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
]


def rmsprop_case(net):
    optimizer = RMSProp(net, lr=1e-2)
    optimizer.cache = {"opt_fc_w": lin(0.6, 0.9, 4, 5)}
    return optimizer, {"cache": RMSPROP_CACHE}, RMSPROP_W


def adam_case(net):
    optimizer = Adam(net, lr=1e-2, t=5)
    optimizer.mt = {"opt_fc_w": lin(0.6, 0.9, 4, 5)}
    optimizer.vt = {"opt_fc_w": lin(0.7, 0.5, 4, 5)}
    return optimizer, {"mt": ADAM_FIRST_MOMENT, "vt": ADAM_SECOND_MOMENT}, ADAM_W


@pytest.mark.parametrize("make_case", [rmsprop_case, adam_case], ids=["RMSProp", "Adam"])
def test_object_optimizers_reproduce_the_functional_published_numbers(make_case):
    net = fc_with_gradient()
    optimizer, expected_state, expected_w = make_case(net)
    optimizer.step()
    assert_close(net.get_params("opt_fc_w"), expected_w, tol=1e-6, name="next_w")
    for attribute, expected in expected_state.items():
        assert_close(getattr(optimizer, attribute)["opt_fc_w"], expected, name=attribute)
