"""course_lib.mlp.optim: update rules, in-place updates, state, Adam's step count and torch parity."""
import numpy as np
import pytest

from course_lib.mlp.layers import fc, leaky_relu, sequential
from course_lib.mlp.nets import SmallFullyConnectedNetwork
from course_lib.mlp.optim import SGD, SGDM, Adam, RMSProp
from tests.helpers import assert_close


def three_layer_net(dtype=np.float64):
    np.random.seed(0)
    return sequential(fc(4, 6, 0.5, name="fc1", dtype=dtype), leaky_relu(name="relu1"),
                      fc(6, 5, 0.5, name="fc2", dtype=dtype), fc(5, 3, 0.5, name="fc3", dtype=dtype))


def set_random_grads(net, rng):
    for name, value in net.params.items():
        net.assign_grads(name, rng.standard_normal(value.shape).astype(value.dtype))


def test_sgd_step():
    net = three_layer_net()
    set_random_grads(net, np.random.default_rng(0))
    before = {name: value.copy() for name, value in net.params.items()}
    SGD(net, lr=0.1).step()
    for name, value in net.params.items():
        assert_close(value, before[name] - 0.1 * net.get_grads(name), name=name)


def test_sgdm_with_zero_momentum_is_sgd_and_velocity_accumulates():
    plain, momentum = three_layer_net(), three_layer_net()
    rng = np.random.default_rng(1)
    set_random_grads(plain, rng)
    momentum.load(plain.params)
    for name, grad in plain.grads.items():
        momentum.assign_grads(name, grad)
    SGD(plain, lr=0.1).step()
    SGDM(momentum, lr=0.1, momentum=0.0).step()
    for name, value in plain.params.items():
        assert_close(momentum.get_params(name), value, name=name)
    optimizer = SGDM(momentum, lr=0.1, momentum=0.9)
    optimizer.step()
    optimizer.step()
    grad = momentum.get_grads("fc1_w")
    assert_close(optimizer.velocity["fc1_w"], -0.1 * grad * (1 + 0.9), name="velocity after two steps")


# Hyperparameters as a random search hands them out: NumPy scalars, which under NumPy 2
# promotion would turn float32 state into float64 if the optimizers used them as they are.
F64 = np.float64


@pytest.mark.parametrize("make_optimizer, state", [
    (lambda net: SGD(net, lr=F64(0.1)), ()),
    (lambda net: SGDM(net, lr=F64(0.1), momentum=F64(0.9)), ("velocity",)),
    (lambda net: RMSProp(net, lr=F64(1e-2), decay=F64(0.99), eps=F64(1e-8)), ("cache",)),
    (lambda net: Adam(net, lr=F64(1e-3), beta1=F64(0.9), beta2=F64(0.999), t=np.int64(0), eps=F64(1e-8)),
     ("mt", "vt")),
], ids=["SGD", "SGDM", "RMSProp", "Adam"])
def test_updates_are_in_place_and_keep_float32_with_numpy_hyperparameters(make_optimizer, state):
    model = SmallFullyConnectedNetwork()
    arrays = dict(model.net.params)
    set_random_grads(model.net, np.random.default_rng(2))
    optimizer = make_optimizer(model.net)
    optimizer.step()
    optimizer.lr *= F64(0.5)  # as train_net's decay by a NumPy factor would
    optimizer.step()
    for name, value in model.net.params.items():
        assert value is arrays[name], f"{name} was replaced, not updated in place"
        assert value.dtype == np.float32
    for attribute in state:
        assert {array.dtype for array in getattr(optimizer, attribute).values()} == {np.dtype(np.float32)}
    assert type(optimizer.lr) is float


def test_hyperparameter_that_is_not_a_number_is_named():
    with pytest.raises(TypeError, match="SGDM.momentum must be a number"):
        SGDM(three_layer_net(), lr=0.1, momentum="0.9")


def test_adam_counts_steps_not_layers():
    net = three_layer_net()
    optimizer = Adam(net, t=3)
    set_random_grads(net, np.random.default_rng(3))
    optimizer.step()
    optimizer.step()
    assert optimizer.t == 5


def test_adam_first_step_moves_every_weight_by_about_lr():
    """With bias correction, Adam's first step is lr * sign(dw) in every layer (for |dw| >> eps)."""
    net = three_layer_net()
    set_random_grads(net, np.random.default_rng(4))
    before = {name: value.copy() for name, value in net.params.items()}
    Adam(net, lr=1e-3).step()
    for name, value in net.params.items():
        assert_close(before[name] - value, 1e-3 * np.sign(net.get_grads(name)), tol=1e-4, name=name)


def torch_optimizer(torch, name, params):
    if name == "RMSProp":
        return torch.optim.RMSprop(params, lr=1e-2, alpha=0.9, eps=1e-8)
    return torch.optim.Adam(params, lr=1e-2, betas=(0.8, 0.95), eps=1e-8)


def course_optimizer(name, net):
    if name == "RMSProp":
        return RMSProp(net, lr=1e-2, decay=0.9, eps=1e-8)
    return Adam(net, lr=1e-2, beta1=0.8, beta2=0.95, eps=1e-8)


@pytest.mark.parametrize("name", ["RMSProp", "Adam"])
def test_matches_torch_optim_over_several_steps(name):
    torch = pytest.importorskip("torch")
    net = three_layer_net()
    tensors = {param: torch.tensor(value.copy(), requires_grad=True) for param, value in net.params.items()}
    ours, theirs = course_optimizer(name, net), torch_optimizer(torch, name, list(tensors.values()))
    rng = np.random.default_rng(5)
    for _ in range(4):
        set_random_grads(net, rng)
        for param, tensor in tensors.items():
            tensor.grad = torch.tensor(net.get_grads(param))
        ours.step()
        theirs.step()
        for param, tensor in tensors.items():
            assert_close(net.get_params(param), tensor.detach().numpy(), tol=1e-9, name=param)


def test_step_before_backward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no gradient for 'fc1_w'"):
        SGD(three_layer_net()).step()


def test_optimizer_needs_the_sequential_not_the_model():
    with pytest.raises(TypeError, match="pass model.net"):
        SGD(SmallFullyConnectedNetwork())
