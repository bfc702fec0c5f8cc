"""Naive convolution, max pooling and spatial batch normalization, images in NCHW layout.

These versions loop explicitly over output positions, to make the arithmetic
visible; course_lib.fast_layers computes the same results quickly.
"""
import numpy as np

from course_lib._checks import check_image_batch, check_shape, int_setting
from course_lib.layers import batchnorm_backward_alt, batchnorm_forward


def conv_forward_naive(x, w, b, conv_param):
    """Convolution (cross-correlation) of N images with F filters.

    Inputs:
    - x: images of shape (N, C, H, W).
    - w: filters of shape (F, C, HH, WW).
    - b: biases of shape (F,).
    - conv_param: dict with
      - 'stride': int, step between neighbouring receptive fields, both directions;
      - 'pad': int, zeros added on every side of the height and width axes.
      (H + 2 * pad - HH) and (W + 2 * pad - WW) must be multiples of stride.

    Returns:
    - out: array of shape (N, F, H_out, W_out), of x's dtype, where
      H_out = 1 + (H + 2 * pad - HH) // stride and W_out = 1 + (W + 2 * pad - WW) // stride.
    - cache: what conv_backward_naive needs.
    """
    _check_conv_inputs(x, w, b, conv_param)
    # YOUR CODE HERE
    raise NotImplementedError("conv_layers.conv_forward_naive: not implemented yet")
    return out, cache


def conv_backward_naive(dout, cache):
    """Backward pass of conv_forward_naive.

    Inputs:
    - dout: upstream gradient of shape (N, F, H_out, W_out).
    - cache: from conv_forward_naive.

    Returns:
    - dx: gradient with respect to x, of shape (N, C, H, W).
    - dw: gradient with respect to w, of shape (F, C, HH, WW).
    - db: gradient with respect to b, of shape (F,).
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv_layers.conv_backward_naive: not implemented yet")
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """Max pooling over (pool_height, pool_width) windows of each channel.

    Inputs:
    - x: array of shape (N, C, H, W).
    - pool_param: dict with int keys 'pool_height', 'pool_width' and 'stride';
      (H - pool_height) and (W - pool_width) must be multiples of stride.

    Returns:
    - out: array of shape (N, C, H_out, W_out), of x's dtype, where
      H_out = 1 + (H - pool_height) // stride and W_out = 1 + (W - pool_width) // stride.
    - cache: what max_pool_backward_naive needs.
    """
    _check_pool_inputs(x, pool_param)
    # YOUR CODE HERE
    raise NotImplementedError("conv_layers.max_pool_forward_naive: not implemented yet")
    return out, cache


def max_pool_backward_naive(dout, cache):
    """Backward pass of max_pool_forward_naive.

    The gradient of each window goes to the position of its maximum (the first
    one if the maximum is repeated).

    Inputs:
    - dout: upstream gradient of shape (N, C, H_out, W_out).
    - cache: from max_pool_forward_naive.

    Returns:
    - dx: gradient with respect to x, of shape (N, C, H, W).
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv_layers.max_pool_backward_naive: not implemented yet")
    return dx


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of each channel over the batch and both spatial axes.

    Inputs:
    - x: array of shape (N, C, H, W).
    - gamma: scale of shape (C,).
    - beta: shift of shape (C,).
    - bn_param: as for layers.batchnorm_forward ('mode' required; 'eps',
      'momentum', 'running_mean' and 'running_var' of shape (C,)).

    Returns:
    - out: array of shape (N, C, H, W), of x's dtype.
    - cache: what spatial_batchnorm_backward needs.
    """
    check_image_batch(x, "spatial_batchnorm_forward")
    # YOUR CODE HERE
    raise NotImplementedError("conv_layers.spatial_batchnorm_forward: not implemented yet")
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial_batchnorm_forward (train mode).

    Inputs:
    - dout: upstream gradient of shape (N, C, H, W).
    - cache: from spatial_batchnorm_forward.

    Returns:
    - dx: gradient with respect to x, of shape (N, C, H, W).
    - dgamma: gradient with respect to gamma, of shape (C,).
    - dbeta: gradient with respect to beta, of shape (C,).
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv_layers.spatial_batchnorm_backward: not implemented yet")
    return dx, dgamma, dbeta


def _check_window_fits(layer, axis, size, pad, window, stride):
    """Windows of length `window` stepped by `stride` must tile the padded axis exactly."""
    span = size + 2 * pad - window
    sizes = f"{axis} {size} + 2*pad {pad} - window {window} = {span}"
    if span < 0:
        raise ValueError(f"{layer}: the window does not fit: {sizes} is negative")
    if span % stride != 0:
        raise ValueError(f"{layer}: {sizes} is not a multiple of stride {stride}")


def _check_conv_inputs(x, w, b, conv_param):
    check_image_batch(x, "conv_forward_naive")
    if w.ndim != 4:
        raise ValueError(f"conv_forward_naive expects w of shape (F, C, HH, WW), got {w.shape}")
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"conv_forward_naive: x has {x.shape[1]} channels (shape {x.shape}) "
            f"but w expects {w.shape[1]} (shape {w.shape})"
        )
    check_shape("conv_forward_naive: b", b, (w.shape[0],), f" for w {w.shape}")
    stride = int_setting(conv_param, "conv_param", "stride", 1)
    pad = int_setting(conv_param, "conv_param", "pad", 0)
    _check_window_fits("conv_forward_naive", "height", x.shape[2], pad, w.shape[2], stride)
    _check_window_fits("conv_forward_naive", "width", x.shape[3], pad, w.shape[3], stride)


def _check_pool_inputs(x, pool_param):
    check_image_batch(x, "max_pool_forward_naive")
    pool_height = int_setting(pool_param, "pool_param", "pool_height", 1)
    pool_width = int_setting(pool_param, "pool_param", "pool_width", 1)
    stride = int_setting(pool_param, "pool_param", "stride", 1)
    _check_window_fits("max_pool_forward_naive", "height", x.shape[2], 0, pool_height, stride)
    _check_window_fits("max_pool_forward_naive", "width", x.shape[3], 0, pool_width, stride)
