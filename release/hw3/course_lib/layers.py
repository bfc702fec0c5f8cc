"""Fully connected layers, activations, losses, batch normalization and dropout.

Every layer is a pair of pure functions: ``*_forward`` returns ``(out, cache)``
and ``*_backward(dout, cache)`` returns the gradients with respect to the
forward's inputs, in the order the forward takes them. A layer's outputs have
its input's dtype; running statistics and dropout masks have the dtype of the
array they belong to.
"""
import numpy as np

from course_lib._checks import check_scores_and_labels, check_shape

MODES = ("train", "test")


def affine_forward(x, w, b):
    """Fully connected layer: out = flatten(x) @ w + b.

    Inputs:
    - x: array of shape (N, d_1, ..., d_k); each example is flattened to a row
      of D = d_1 * ... * d_k features.
    - w: weights of shape (D, M).
    - b: biases of shape (M,).

    Returns:
    - out: array of shape (N, M).
    - cache: what affine_backward needs.
    """
    _check_affine_shapes(x, w, b)
    # YOUR CODE HERE
    raise NotImplementedError("layers.affine_forward: not implemented yet")
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of affine_forward.

    Inputs:
    - dout: upstream gradient of shape (N, M).
    - cache: from affine_forward.

    Returns:
    - dx: gradient with respect to x, of x's shape (N, d_1, ..., d_k).
    - dw: gradient with respect to w, of shape (D, M).
    - db: gradient with respect to b, of shape (M,).
    """
    # YOUR CODE HERE
    raise NotImplementedError("layers.affine_backward: not implemented yet")
    return dx, dw, db


def relu_forward(x):
    """Rectified linear unit: out = max(0, x), elementwise.

    Input:
    - x: array of any shape.

    Returns:
    - out: array of x's shape.
    - cache: what relu_backward needs.
    """
    # YOUR CODE HERE
    raise NotImplementedError("layers.relu_forward: not implemented yet")
    return out, cache


def relu_backward(dout, cache):
    """Backward pass of relu_forward.

    Inputs:
    - dout: upstream gradient, of the shape of relu_forward's input.
    - cache: from relu_forward.

    Returns:
    - dx: gradient with respect to x, of the same shape.
    """
    # YOUR CODE HERE
    raise NotImplementedError("layers.relu_backward: not implemented yet")
    return dx


def leaky_relu_forward(x, negative_slope=0.01):
    """Leaky ReLU: x where x > 0, negative_slope * x elsewhere.

    Inputs:
    - x: array of any shape.
    - negative_slope: slope for negative inputs.

    Returns:
    - out: array of x's shape.
    - cache: (x, negative_slope).
    """
    out = np.where(x > 0, x, negative_slope * x)
    return out, (x, negative_slope)


def leaky_relu_backward(dout, cache):
    """Backward pass of leaky_relu_forward.

    Inputs:
    - dout: upstream gradient, of the shape of the forward's input.
    - cache: from leaky_relu_forward.

    Returns:
    - dx: gradient with respect to x, of the same shape.
    """
    x, negative_slope = cache
    return np.where(x > 0, dout, negative_slope * dout)


def softmax_loss(x, y):
    """Softmax cross-entropy loss, averaged over the minibatch.

    Inputs:
    - x: class scores of shape (N, C).
    - y: integer labels of shape (N,), each in 0 .. C-1.

    Returns:
    - loss: scalar, mean of -log softmax(x)[i, y[i]].
    - dx: gradient of the loss with respect to x, of shape (N, C).
    """
    check_scores_and_labels(x, y, "softmax_loss")
    n = x.shape[0]
    # Subtracting the row maximum leaves softmax unchanged and keeps exp() finite.
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    dx /= n
    return loss, dx


def svm_loss(x, y):
    """Multiclass hinge (SVM) loss with margin 1, averaged over the minibatch.

    Inputs:
    - x: class scores of shape (N, C).
    - y: integer labels of shape (N,), each in 0 .. C-1.

    Returns:
    - loss: scalar, mean over i of sum over j != y[i] of max(0, x[i, j] - x[i, y[i]] + 1).
    - dx: gradient of the loss with respect to x, of shape (N, C).
    """
    check_scores_and_labels(x, y, "svm_loss")
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / n
    violated = (margins > 0).astype(x.dtype)
    violated[rows, y] = -violated.sum(axis=1)
    dx = violated / n
    return loss, dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization over the minibatch, feature by feature.

    In 'train' mode each feature is normalized with the minibatch mean and
    (biased) variance, which also update the running averages
        running = momentum * running + (1 - momentum) * batch_statistic.
    In 'test' mode the running averages are used instead and left unchanged.

    Inputs:
    - x: array of shape (N, D).
    - gamma: scale of shape (D,).
    - beta: shift of shape (D,).
    - bn_param: dict with keys
      - 'mode': 'train' or 'test' (required);
      - 'eps': added to the variance for numerical stability, default 1e-5;
      - 'momentum': weight of the old running averages, default 0.9;
      - 'running_mean', 'running_var': arrays of shape (D,), zeros of x's dtype
        when absent. The updated averages are stored back into bn_param.

    Returns:
    - out: array of shape (N, D), of x's dtype.
    - cache: what batchnorm_backward and batchnorm_backward_alt need (train mode).
    """
    mode = _mode_of(bn_param, "bn_param")
    _check_batchnorm_shapes(x, gamma, beta)
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1], dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(x.shape[1], dtype=x.dtype))
    # YOUR CODE HERE
    raise NotImplementedError("layers.batchnorm_forward: not implemented yet")
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass of batchnorm_forward (train mode), node by node through its computation graph.

    Inputs:
    - dout: upstream gradient of shape (N, D).
    - cache: from batchnorm_forward in train mode.

    Returns:
    - dx: gradient with respect to x, of shape (N, D).
    - dgamma: gradient with respect to gamma, of shape (D,).
    - dbeta: gradient with respect to beta, of shape (D,).
    """
    # YOUR CODE HERE
    raise NotImplementedError("layers.batchnorm_backward: not implemented yet")
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Backward pass of batchnorm_forward (train mode) from a closed form of dx.

    Derive dx on paper, simplify it, and compute it in a few vectorized lines;
    it should be noticeably faster than batchnorm_backward.

    Inputs and returns: as batchnorm_backward, same shapes.
    """
    # YOUR CODE HERE
    raise NotImplementedError("layers.batchnorm_backward_alt: not implemented yet")
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Inverted dropout.

    In 'train' mode each unit is dropped (set to zero) with probability p and
    the kept units are scaled by 1 / (1 - p), so the expected output equals x.
    Draw the mask's uniform numbers from rng, set up below (keeping, for
    instance, the units whose draw is >= p): a fresh np.random.default_rng(seed)
    when a seed is given, so that the same seed always drops the same units;
    the global np.random state otherwise, so that np.random.seed makes a
    training run reproducible. In 'test' mode the output is x.

    Inputs:
    - x: array of any shape.
    - dropout_param: dict with keys
      - 'p': probability of DROPPING a unit, 0 <= p < 1 (required);
      - 'mode': 'train' or 'test' (required);
      - 'seed': optional seed making the mask reproducible (for gradient checks).

    Returns:
    - out: array of x's shape and dtype.
    - cache: (dropout_param, mask); mask has x's shape and dtype in train mode
      and is None in test mode.
    """
    mode = _mode_of(dropout_param, "dropout_param")
    p = _drop_probability(dropout_param)
    seed = dropout_param.get("seed")
    rng = np.random if seed is None else np.random.default_rng(seed)
    # YOUR CODE HERE
    raise NotImplementedError("layers.dropout_forward: not implemented yet")
    return out, cache


def dropout_backward(dout, cache):
    """Backward pass of dropout_forward.

    Inputs:
    - dout: upstream gradient, of the shape of the forward's input.
    - cache: (dropout_param, mask) from dropout_forward.

    Returns:
    - dx: gradient with respect to x, of the same shape.
    """
    # YOUR CODE HERE
    raise NotImplementedError("layers.dropout_backward: not implemented yet")
    return dx


def _mode_of(param, param_name):
    """Return param['mode']; a ValueError names the key when it is missing or unknown."""
    if not isinstance(param, dict):
        raise TypeError(f"{param_name} must be a dict, got {type(param).__name__}")
    if "mode" not in param:
        raise ValueError(
            f"{param_name} has no 'mode' key; set {param_name}['mode'] to one of {MODES}"
        )
    mode = param["mode"]
    if mode not in MODES:
        raise ValueError(f"{param_name}['mode'] is {mode!r}; it must be one of {MODES}")
    return mode


def _drop_probability(dropout_param):
    if "p" not in dropout_param:
        raise ValueError("dropout_param has no 'p' key (the probability of dropping a unit)")
    p = dropout_param["p"]
    if not 0 <= p < 1:
        raise ValueError(f"dropout_param['p'] is {p}; the drop probability must satisfy 0 <= p < 1")
    return p


def _check_affine_shapes(x, w, b):
    if x.ndim < 1 or w.ndim != 2 or b.ndim != 1:
        raise ValueError(
            f"affine_forward expects x (N, d_1, ..., d_k), w (D, M), b (M,); "
            f"got x {x.shape}, w {w.shape}, b {b.shape}"
        )
    features = int(np.prod(x.shape[1:]))
    if features != w.shape[0]:
        raise ValueError(
            f"affine_forward: x of shape {x.shape} has {features} features per example "
            f"but w of shape {w.shape} expects {w.shape[0]}"
        )
    check_shape("affine_forward: b", b, (w.shape[1],), f" to match w {w.shape}")


def _check_batchnorm_shapes(x, gamma, beta):
    if x.ndim != 2:
        raise ValueError(f"batchnorm_forward expects x of shape (N, D), got {x.shape}")
    for name, value in (("gamma", gamma), ("beta", beta)):
        check_shape(f"batchnorm_forward: {name}", value, (x.shape[1],), f" for x {x.shape}")
