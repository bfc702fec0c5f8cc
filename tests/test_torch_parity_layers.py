"""Parity with PyTorch CPU (float64) for batchnorm (both backward passes), cross entropy,
naive conv/pool and the optimizers."""

import numpy as np
import pytest

from course_lib import optim
from course_lib.conv_layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from course_lib.layers import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    softmax_loss,
)
from tests.helpers import assert_close, assert_torch_gradients

torch = pytest.importorskip("torch")
F = torch.nn.functional


def tensor(array, requires_grad=False):
    return torch.tensor(np.asarray(array), dtype=torch.float64, requires_grad=requires_grad)


def test_batchnorm_train_and_eval_match_torch_with_running_statistics():
    # Mapping: torch's momentum weighs the NEW batch statistic, ours the OLD running value,
    # so torch_momentum = 1 - ours. torch also folds the UNBIASED batch variance (N / (N - 1)
    # times ours) into running_var, so after each step
    #     ours = torch - (1 - ours_momentum) * batch_var / (N - 1)
    # when both start that step from the same running statistics.
    rng = np.random.default_rng(0)
    n, d, momentum, eps = 8, 4, 0.7, 1e-5
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    bn_param = {"mode": "train", "momentum": momentum, "eps": eps}
    running_mean, running_var = tensor(np.zeros(d)), tensor(np.ones(d))
    for _ in range(3):
        x = 3 * rng.standard_normal((n, d)) + 1
        running_mean.copy_(tensor(bn_param.get("running_mean", np.zeros(d))))
        running_var.copy_(tensor(bn_param.get("running_var", np.zeros(d))))
        x_t, gamma_t, beta_t = tensor(x, True), tensor(gamma, True), tensor(beta, True)
        expected = F.batch_norm(
            x_t,
            running_mean,
            running_var,
            gamma_t,
            beta_t,
            training=True,
            momentum=1 - momentum,
            eps=eps,
        )
        out, cache = batchnorm_forward(x, gamma, beta, bn_param)
        assert_close(out, expected.detach().numpy(), name="train output")
        assert_close(bn_param["running_mean"], running_mean.numpy(), name="running_mean")
        unbiased_excess = (1 - momentum) * x.var(axis=0) / (n - 1)
        assert_close(
            bn_param["running_var"], running_var.numpy() - unbiased_excess, name="running_var"
        )

        dout = rng.standard_normal((n, d))
        expected.backward(tensor(dout))
        for backward in (batchnorm_backward, batchnorm_backward_alt):
            names = [f"{backward.__name__} {name}" for name in ("dx", "dgamma", "dbeta")]
            assert_torch_gradients(backward(dout, cache), (x_t, gamma_t, beta_t), names, tol=1e-6)

    bn_param["mode"] = "test"
    x = rng.standard_normal((5, d))
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    expected = F.batch_norm(
        tensor(x),
        tensor(bn_param["running_mean"]),
        tensor(bn_param["running_var"]),
        tensor(gamma),
        tensor(beta),
        training=False,
        eps=eps,
    )
    assert_close(out, expected.numpy(), name="eval output")


def test_softmax_loss_matches_cross_entropy():
    rng = np.random.default_rng(1)
    x, y = 5 * rng.standard_normal((7, 4)), rng.integers(4, size=7)
    loss, dx = softmax_loss(x, y)
    x_t = tensor(x, True)
    expected = F.cross_entropy(x_t, torch.tensor(y))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    assert_close(dx, x_t.grad.numpy(), tol=1e-9, name="dx")


@pytest.mark.parametrize(
    "stride, pad, w_shape", [(1, 1, (4, 3, 3, 3)), (2, 2, (2, 3, 5, 3)), (3, 0, (3, 3, 4, 3))]
)
def test_conv_naive_matches_conv2d(stride, pad, w_shape):
    rng = np.random.default_rng(2)
    x, w, b = (
        rng.standard_normal((2, 3, 7, 9)),
        rng.standard_normal(w_shape),
        rng.standard_normal(w_shape[0]),
    )
    out, cache = conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
    x_t, w_t, b_t = tensor(x, True), tensor(w, True), tensor(b, True)
    expected = F.conv2d(x_t, w_t, b_t, stride=stride, padding=pad)
    assert_close(out, expected.detach().numpy(), tol=1e-9, name="conv out")
    dout = rng.standard_normal(out.shape)
    expected.backward(tensor(dout))
    assert_torch_gradients(conv_backward_naive(dout, cache), (x_t, w_t, b_t), ("dx", "dw", "db"), tol=1e-9)


@pytest.mark.parametrize("height, width, stride", [(2, 2, 2), (3, 3, 1), (2, 3, 1)])
def test_max_pool_naive_matches_max_pool2d(height, width, stride):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 8))
    out, cache = max_pool_forward_naive(
        x, {"pool_height": height, "pool_width": width, "stride": stride}
    )
    x_t = tensor(x, True)
    expected = F.max_pool2d(x_t, (height, width), stride=stride)
    assert_close(out, expected.detach().numpy(), name="pool out")
    dout = rng.standard_normal(out.shape)
    expected.backward(tensor(dout))
    assert_close(max_pool_backward_naive(dout, cache), x_t.grad.numpy(), name="dx")


# Mappings to torch.optim (dampening 0, weight decay 0, constant learning rate):
# - SGD momentum: torch keeps b = mu*b + g and steps p -= lr*b; ours keeps v = mu*v - lr*g,
#   which is v = -lr*b, so the steps agree. With nesterov=True torch steps p -= lr*(g + mu*b),
#   which expands to our w + v + mu*(v - v_prev).
# - RMSprop: alpha is our decay_rate, and torch also adds eps outside the square root.
# - Adam: the same bias-corrected update, eps outside the square root, step count t from 1.
OPTIMIZERS = {
    "sgd_momentum": (
        {"learning_rate": 0.05, "momentum": 0.8},
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8),
    ),
    "sgd_nesterov_momentum": (
        {"learning_rate": 0.05, "momentum": 0.8},
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    ),
    "rmsprop": (
        {"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 1e-6},
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6),
    ),
    "adam": (
        {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6},
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    ),
}


@pytest.mark.parametrize("rule", OPTIMIZERS)
def test_five_steps_match_torch_optim(rule):
    config, make_torch_optimizer = OPTIMIZERS[rule]
    rng = np.random.default_rng(4)
    w = rng.standard_normal((3, 5))
    param = tensor(w, True)
    torch_optimizer = make_torch_optimizer([param])
    config = dict(config)
    for step in range(5):
        dw = rng.standard_normal(w.shape)
        w, config = getattr(optim, rule)(w, dw, config)
        param.grad = tensor(dw)
        torch_optimizer.step()
        assert_close(w, param.detach().numpy(), tol=1e-10, name=f"{rule} step {step + 1}")
