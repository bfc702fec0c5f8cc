"""Sandwich layers: common sequences of fully connected layers, composed from course_lib.layers.

Each forward returns ``(out, cache)`` where cache holds the caches of its parts;
each backward returns the gradients of the forward's array inputs, in order.
"""
from course_lib.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    relu_backward,
    relu_forward,
)


def affine_relu_forward(x, w, b):
    """Affine layer followed by a ReLU.

    Inputs:
    - x: array of shape (N, d_1, ..., d_k), flattened to (N, D).
    - w: weights of shape (D, M).
    - b: biases of shape (M,).

    Returns:
    - out: array of shape (N, M).
    - cache: (affine cache, relu cache).
    """
    scores, affine_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(scores)
    return out, (affine_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward pass of affine_relu_forward.

    Inputs:
    - dout: upstream gradient of shape (N, M).
    - cache: from affine_relu_forward.

    Returns:
    - dx of x's shape (N, d_1, ..., d_k), dw of shape (D, M), db of shape (M,).
    """
    affine_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), affine_cache)


def affine_batchnorm_relu_forward(x, w, b, gamma, beta, bn_param):
    """Affine layer, batch normalization, then ReLU.

    Inputs:
    - x: array of shape (N, d_1, ..., d_k), flattened to (N, D).
    - w: weights of shape (D, M).
    - b: biases of shape (M,).
    - gamma, beta: batchnorm scale and shift, each of shape (M,).
    - bn_param: as for layers.batchnorm_forward ('mode' required); its running
      statistics are updated in place in train mode.

    Returns:
    - out: array of shape (N, M).
    - cache: (affine cache, batchnorm cache, relu cache).
    """
    scores, affine_cache = affine_forward(x, w, b)
    normalized, bn_cache = batchnorm_forward(scores, gamma, beta, bn_param)
    out, relu_cache = relu_forward(normalized)
    return out, (affine_cache, bn_cache, relu_cache)


def affine_batchnorm_relu_backward(dout, cache):
    """Backward pass of affine_batchnorm_relu_forward (train mode).

    Inputs:
    - dout: upstream gradient of shape (N, M).
    - cache: from affine_batchnorm_relu_forward.

    Returns:
    - dx of x's shape, dw of shape (D, M), db, dgamma and dbeta of shape (M,).
    """
    affine_cache, bn_cache, relu_cache = cache
    dnormalized = relu_backward(dout, relu_cache)
    dscores, dgamma, dbeta = batchnorm_backward_alt(dnormalized, bn_cache)
    dx, dw, db = affine_backward(dscores, affine_cache)
    return dx, dw, db, dgamma, dbeta
