"""Optimizers of the object API: each updates a ``sequential``'s parameters in place.

An optimizer is built on a network's ``sequential`` (``SGD(model.net, lr)``);
``step()`` applies one update to every parameter of every layer, using the
gradients the last backward pass stored in the layers' ``grads``. State (the
velocity, caches and moments) lives in dicts keyed by parameter name, created
as zeros of the parameter's shape and dtype on first use. Hyperparameters are
kept as Python numbers, so that float32 parameters get float32 state.
"""
import numpy as np

from course_lib._checks import python_number


class Hyperparameter:
    """An optimizer attribute stored as a Python number, whatever number it is set to.

    A NumPy float64 learning rate (from a random search, or decayed by a NumPy
    factor) would otherwise turn float32 optimizer state into float64.
    """

    def __init__(self, kind=float):
        self.kind = kind

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, optimizer, owner=None):
        if optimizer is None:
            return self
        return optimizer.__dict__[self.name]

    def __set__(self, optimizer, value):
        optimizer.__dict__[self.name] = python_number(f"{type(optimizer).__name__}.{self.name}", value, self.kind)


class Optimizer:
    """Shared bookkeeping: the network and the learning rate ``lr`` (train_net decays it)."""

    lr = Hyperparameter()

    def __init__(self, net, lr=1e-4):
        if not hasattr(net, "layers"):
            raise TypeError(
                f"an optimizer needs a sequential with .layers, got {type(net).__name__}; "
                "pass model.net rather than the model"
            )
        self.net = net
        self.lr = lr

    def params_and_grads(self):
        """Yield (name, param, grad) for every parameter; param is the layer's array, updated in place."""
        for layer in self.net.layers:
            for name, param in layer.params.items():
                grad = layer.grads.get(name)
                if grad is None:
                    raise RuntimeError(f"no gradient for {name!r}: run the backward pass before step()")
                if np.shape(grad) != np.shape(param):
                    raise ValueError(f"gradient of {name!r} has shape {np.shape(grad)}, the parameter {np.shape(param)}")
                yield name, param, grad

    def step(self):
        """Apply one update to every parameter."""
        raise NotImplementedError(f"{type(self).__name__} does not define step()")


def state_of(store, name, param):
    """The state array ``store[name]``, created as zeros like ``param`` on first use."""
    if name not in store:
        store[name] = np.zeros_like(param)
    return store[name]


class SGD(Optimizer):
    """Vanilla stochastic gradient descent: w -= lr * dw."""

    def step(self):
        """Apply one update to every parameter."""
        for _, param, grad in self.params_and_grads():
            param -= self.lr * grad


class SGDM(Optimizer):
    """SGD with momentum: v = momentum * v - lr * dw; w += v.

    self.velocity maps each parameter name to its velocity (zeros at first).
    """

    momentum = Hyperparameter()

    def __init__(self, net, lr=1e-4, momentum=0.0):
        super().__init__(net, lr)
        self.momentum = momentum
        self.velocity = {}

    def step(self):
        """Apply one update to every parameter in place (see params_and_grads and state_of)."""
        # YOUR CODE HERE
        raise NotImplementedError("mlp.optim.SGDM.step: not implemented yet")


class RMSProp(Optimizer):
    """RMSProp: cache = decay * cache + (1 - decay) * dw^2; w -= lr * dw / (sqrt(cache) + eps).

    self.cache maps each parameter name to its running mean of squared gradients (zeros at first).
    """

    decay = Hyperparameter()
    eps = Hyperparameter()

    def __init__(self, net, lr=1e-2, decay=0.99, eps=1e-8):
        super().__init__(net, lr)
        self.decay = decay
        self.eps = eps
        self.cache = {}

    def step(self):
        """Apply one update to every parameter in place (see params_and_grads and state_of)."""
        # YOUR CODE HERE
        raise NotImplementedError("mlp.optim.RMSProp.step: not implemented yet")


class Adam(Optimizer):
    """Adam with bias correction.

    One step: t += 1 (once per step, shared by all parameters), then for each
    parameter mt = beta1 * mt + (1 - beta1) * dw, vt = beta2 * vt + (1 - beta2) * dw^2,
    w -= lr * mt_hat / (sqrt(vt_hat) + eps) with mt_hat = mt / (1 - beta1^t) and
    vt_hat = vt / (1 - beta2^t). self.mt and self.vt map parameter names to
    the moments (zeros at first).
    """

    beta1 = Hyperparameter()
    beta2 = Hyperparameter()
    eps = Hyperparameter()
    t = Hyperparameter(int)

    def __init__(self, net, lr=1e-3, beta1=0.9, beta2=0.999, t=0, eps=1e-8):
        super().__init__(net, lr)
        self.beta1, self.beta2 = beta1, beta2
        self.t = t
        self.eps = eps
        self.mt = {}
        self.vt = {}

    def step(self):
        """Apply one update to every parameter in place (see params_and_grads and state_of)."""
        # YOUR CODE HERE
        raise NotImplementedError("mlp.optim.Adam.step: not implemented yet")
