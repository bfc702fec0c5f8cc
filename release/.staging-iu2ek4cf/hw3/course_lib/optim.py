"""First-order update rules.

Every rule has the signature ``update(w, dw, config=None) -> (next_w, config)``:

- w: current weights, an array of any shape;
- dw: gradient of the loss with respect to w, same shape;
- config: dict of hyperparameters and of the rule's state (moments, step
  count). Missing keys get their defaults; the state is stored back into the
  same dict, which the caller passes to the next update of this w;
- next_w: the updated weights, of w's shape.

Moment arrays start as zeros of w's dtype, and hyperparameters are stored back
as Python numbers, so float32 weights get float32 updates and state even when a
hyperparameter came in as a NumPy float64. The state keys are the UCLA ones:
'velocity' for momentum, 'a' for the second moment (RMSProp and Adam), 'v' for
Adam's first moment. The Stanford/Berkeley names ('cache', 'm') are not read:
their 'v' is Adam's second moment, which would clash with 'v' here.
"""
import numpy as np

from course_lib._checks import python_number


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: next_w = w - learning_rate * dw.

    config:
    - 'learning_rate': default 1e-2.
    """
    config = _configured(config, w, learning_rate=1e-2)
    next_w = w - config["learning_rate"] * dw
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum.

        velocity = momentum * velocity - learning_rate * dw
        next_w = w + velocity

    config:
    - 'learning_rate': default 1e-2.
    - 'momentum': in [0, 1), default 0.9.
    - 'velocity': array of w's shape, zeros at first.

    Compute the new velocity as `v` and the update as `next_w`; the velocity is
    stored back into config for the next step.
    """
    config = _configured(config, w, ("velocity",), learning_rate=1e-2, momentum=0.9)
    # YOUR CODE HERE
    raise NotImplementedError("optim.sgd_momentum: not implemented yet")
    config["velocity"] = v
    return next_w, config


def sgd_nesterov_momentum(w, dw, config=None):
    """SGD with Nesterov momentum, in the form that keeps w at the look-ahead point.

        v_prev = velocity
        velocity = momentum * velocity - learning_rate * dw
        next_w = w + velocity + momentum * (velocity - v_prev)

    config: as sgd_momentum ('learning_rate' 1e-2, 'momentum' 0.9, 'velocity').

    Compute the new velocity as `v` and the update as `next_w`; the velocity is
    stored back into config for the next step.
    """
    config = _configured(config, w, ("velocity",), learning_rate=1e-2, momentum=0.9)
    # YOUR CODE HERE
    raise NotImplementedError("optim.sgd_nesterov_momentum: not implemented yet")
    config["velocity"] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """RMSProp: scale each step by a running average of squared gradients.

        a = decay_rate * a + (1 - decay_rate) * dw**2
        next_w = w - learning_rate * dw / (sqrt(a) + epsilon)

    config:
    - 'learning_rate': default 1e-2.
    - 'decay_rate': default 0.99.
    - 'epsilon': default 1e-8.
    - 'a': running average of dw**2, array of w's shape, zeros at first.

    Compute the new average as `a` and the update as `next_w`; `a` is stored
    back into config for the next step.
    """
    config = _configured(config, w, ("a",), learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
    # YOUR CODE HERE
    raise NotImplementedError("optim.rmsprop: not implemented yet")
    config["a"] = a
    return next_w, config


def adam(w, dw, config=None):
    """Adam: momentum on the gradient and RMSProp-style scaling, both bias-corrected.

    The step count t is incremented FIRST, so the first update uses t = 1:

        t = t + 1
        v = beta1 * v + (1 - beta1) * dw
        a = beta2 * a + (1 - beta2) * dw**2
        next_w = w - learning_rate * (v / (1 - beta1**t)) / (sqrt(a / (1 - beta2**t)) + epsilon)

    config:
    - 'learning_rate': default 1e-3.
    - 'beta1': decay of the first moment, default 0.9.
    - 'beta2': decay of the second moment, default 0.999.
    - 'epsilon': default 1e-8.
    - 'v': first moment (average of dw), array of w's shape, zeros at first.
    - 'a': second moment (average of dw**2), array of w's shape, zeros at first.
    - 't': number of updates made so far, default 0.

    Compute `t`, `v`, `a` and `next_w`; t, v and a are stored back into config.
    """
    config = _configured(config, w, ("v", "a"), learning_rate=1e-3, beta1=0.9, beta2=0.999,
                         epsilon=1e-8, t=0)
    # YOUR CODE HERE
    raise NotImplementedError("optim.adam: not implemented yet")
    config["t"], config["v"], config["a"] = t, v, a
    return next_w, config


def _configured(config, w, state=(), **defaults):
    """The caller's config (a new dict for None) with every hyperparameter and state array in place.

    Missing hyperparameters get the defaults given as keywords, missing state
    arrays (the keys in state) zeros like w. Hyperparameters are stored back as
    Python numbers, so that float32 weights stay float32 whatever scalars the
    caller passed (see _checks.python_number).
    """
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise TypeError(
            f"config must be a dict of hyperparameters and state, got {type(config).__name__}"
        )
    for key, default in defaults.items():
        config[key] = python_number(f"config[{key!r}]", config.get(key, default), type(default))
    for key in state:
        config.setdefault(key, np.zeros_like(w))
    return config
