"""Sandwich layers for convolutional networks, built on the fast layers.

Each forward returns ``(out, cache)`` where cache holds the caches of its parts;
each backward returns the gradients of the forward's array inputs, in order.
Images are (N, C, H, W); w is (F, C, HH, WW); see conv_layers for conv_param
and pool_param.
"""
from course_lib.conv_layers import spatial_batchnorm_backward, spatial_batchnorm_forward
from course_lib.fast_layers import (
    _conv_weight_gradients_fast,
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from course_lib.layers import relu_backward, relu_forward


def conv_relu_forward(x, w, b, conv_param):
    """Convolution followed by a ReLU.

    Inputs:
    - x: images of shape (N, C, H, W).
    - w: filters of shape (F, C, HH, WW).
    - b: biases of shape (F,).
    - conv_param: dict with 'stride' and 'pad'.

    Returns:
    - out: array of shape (N, F, H_out, W_out).
    - cache: (conv cache, relu cache).
    """
    conv_out, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(conv_out)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    """Backward pass of conv_relu_forward.

    Inputs:
    - dout: upstream gradient of shape (N, F, H_out, W_out).
    - cache: from conv_relu_forward.

    Returns:
    - dx of shape (N, C, H, W), dw of shape (F, C, HH, WW), db of shape (F,).
    """
    conv_cache, relu_cache = cache
    return conv_backward_fast(relu_backward(dout, relu_cache), conv_cache)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """Convolution, ReLU, then max pooling.

    Inputs:
    - x, w, b, conv_param: as conv_relu_forward.
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride'.

    Returns:
    - out: array of shape (N, F, H_pool, W_pool).
    - cache: (conv_relu cache, pool cache).
    """
    activations, conv_relu_cache = conv_relu_forward(x, w, b, conv_param)
    out, pool_cache = max_pool_forward_fast(activations, pool_param)
    return out, (conv_relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """Backward pass of conv_relu_pool_forward.

    Inputs:
    - dout: upstream gradient of shape (N, F, H_pool, W_pool).
    - cache: from conv_relu_pool_forward.

    Returns:
    - dx of shape (N, C, H, W), dw of shape (F, C, HH, WW), db of shape (F,).
    """
    conv_relu_cache, pool_cache = cache
    return conv_relu_backward(max_pool_backward_fast(dout, pool_cache), conv_relu_cache)


def _conv_relu_pool_weight_gradients(dout, cache):
    """dw and db of conv_relu_pool_backward, without dx: for a network's first layer, whose
    input gradient (the images') nobody uses."""
    (conv_cache, relu_cache), pool_cache = cache
    dactivations = relu_backward(max_pool_backward_fast(dout, pool_cache), relu_cache)
    return _conv_weight_gradients_fast(dactivations, conv_cache)


def conv_batchnorm_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """Convolution, spatial batch normalization, then ReLU.

    Inputs:
    - x, w, b, conv_param: as conv_relu_forward.
    - gamma, beta: spatial batchnorm scale and shift, each of shape (F,).
    - bn_param: as for layers.batchnorm_forward ('mode' required).

    Returns:
    - out: array of shape (N, F, H_out, W_out).
    - cache: (conv cache, batchnorm cache, relu cache).
    """
    conv_out, conv_cache = conv_forward_fast(x, w, b, conv_param)
    normalized, bn_cache = spatial_batchnorm_forward(conv_out, gamma, beta, bn_param)
    out, relu_cache = relu_forward(normalized)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_batchnorm_relu_backward(dout, cache):
    """Backward pass of conv_batchnorm_relu_forward (train mode).

    Inputs:
    - dout: upstream gradient of shape (N, F, H_out, W_out).
    - cache: from conv_batchnorm_relu_forward.

    Returns:
    - dx of shape (N, C, H, W), dw of shape (F, C, HH, WW), and db, dgamma,
      dbeta of shape (F,).
    """
    conv_cache, bn_cache, relu_cache = cache
    dnormalized = relu_backward(dout, relu_cache)
    dconv, dgamma, dbeta = spatial_batchnorm_backward(dnormalized, bn_cache)
    dx, dw, db = conv_backward_fast(dconv, conv_cache)
    return dx, dw, db, dgamma, dbeta


def conv_batchnorm_relu_pool_forward(x, w, b, gamma, beta, conv_param, bn_param, pool_param):
    """Convolution, spatial batch normalization, ReLU, then max pooling.

    Inputs: as conv_batchnorm_relu_forward, plus pool_param as conv_relu_pool_forward.

    Returns:
    - out: array of shape (N, F, H_pool, W_pool).
    - cache: (conv_batchnorm_relu cache, pool cache).
    """
    activations, conv_bn_relu_cache = conv_batchnorm_relu_forward(
        x, w, b, gamma, beta, conv_param, bn_param
    )
    out, pool_cache = max_pool_forward_fast(activations, pool_param)
    return out, (conv_bn_relu_cache, pool_cache)


def conv_batchnorm_relu_pool_backward(dout, cache):
    """Backward pass of conv_batchnorm_relu_pool_forward (train mode).

    Inputs:
    - dout: upstream gradient of shape (N, F, H_pool, W_pool).
    - cache: from conv_batchnorm_relu_pool_forward.

    Returns:
    - dx, dw, db, dgamma, dbeta as conv_batchnorm_relu_backward.
    """
    conv_bn_relu_cache, pool_cache = cache
    dactivations = max_pool_backward_fast(dout, pool_cache)
    return conv_batchnorm_relu_backward(dactivations, conv_bn_relu_cache)


def _conv_batchnorm_relu_pool_weight_gradients(dout, cache):
    """dw, db, dgamma and dbeta of conv_batchnorm_relu_pool_backward, without dx: for a
    network's first layer, whose input gradient (the images') nobody uses."""
    (conv_cache, bn_cache, relu_cache), pool_cache = cache
    dnormalized = relu_backward(max_pool_backward_fast(dout, pool_cache), relu_cache)
    dconv, dgamma, dbeta = spatial_batchnorm_backward(dnormalized, bn_cache)
    return (*_conv_weight_gradients_fast(dconv, conv_cache), dgamma, dbeta)
