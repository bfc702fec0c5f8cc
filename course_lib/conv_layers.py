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
    ### BEGIN SOLUTION
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, _, height, width = x.shape
    num_filters, _, filter_height, filter_width = w.shape
    out_height = 1 + (height + 2 * pad - filter_height) // stride
    out_width = 1 + (width + 2 * pad - filter_width) // stride
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((n, num_filters, out_height, out_width), dtype=x.dtype)
    for i in range(out_height):
        rows = slice(i * stride, i * stride + filter_height)
        for j in range(out_width):
            cols = slice(j * stride, j * stride + filter_width)
            field = x_padded[:, :, rows, cols]
            # (N, C, HH, WW) against (F, C, HH, WW): sum over C, HH, WW for each image-filter pair.
            out[:, :, i, j] = np.tensordot(field, w, axes=([1, 2, 3], [1, 2, 3])) + b
    cache = (x, w, conv_param)
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    x, w, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, height, width = x.shape
    _, _, filter_height, filter_width = w.shape
    _, _, out_height, out_width = dout.shape
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_padded = np.zeros_like(x_padded)
    dw = np.zeros_like(w)
    for i in range(out_height):
        rows = slice(i * stride, i * stride + filter_height)
        for j in range(out_width):
            cols = slice(j * stride, j * stride + filter_width)
            grad = dout[:, :, i, j]  # (N, F)
            dw += np.tensordot(grad, x_padded[:, :, rows, cols], axes=([0], [0]))
            dx_padded[:, :, rows, cols] += np.tensordot(grad, w, axes=([1], [0]))
    dx = dx_padded[:, :, pad:pad + height, pad:pad + width]
    db = dout.sum(axis=(0, 2, 3))
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    pool_height, pool_width = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    n, channels, height, width = x.shape
    out_height = 1 + (height - pool_height) // stride
    out_width = 1 + (width - pool_width) // stride
    out = np.empty((n, channels, out_height, out_width), dtype=x.dtype)
    for i in range(out_height):
        rows = slice(i * stride, i * stride + pool_height)
        for j in range(out_width):
            cols = slice(j * stride, j * stride + pool_width)
            out[:, :, i, j] = x[:, :, rows, cols].max(axis=(2, 3))
    cache = (x, pool_param)
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    x, pool_param = cache
    pool_height, pool_width = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    n, channels, _, _ = x.shape
    _, _, out_height, out_width = dout.shape
    dx = np.zeros_like(x)
    for i in range(out_height):
        rows = slice(i * stride, i * stride + pool_height)
        for j in range(out_width):
            cols = slice(j * stride, j * stride + pool_width)
            window = x[:, :, rows, cols].reshape(n, channels, -1)
            winner = window.argmax(axis=2)[:, :, None]
            window_grad = np.zeros_like(window)
            np.put_along_axis(window_grad, winner, dout[:, :, i, j, None], axis=2)
            # += because windows overlap when stride < pool size.
            dx[:, :, rows, cols] += window_grad.reshape(n, channels, pool_height, pool_width)
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    n, channels, height, width = x.shape
    # Move channels last so that each row of the (N*H*W, C) matrix is one pixel.
    x_rows = x.transpose(0, 2, 3, 1).reshape(-1, channels)
    out_rows, cache = batchnorm_forward(x_rows, gamma, beta, bn_param)
    out = out_rows.reshape(n, height, width, channels).transpose(0, 3, 1, 2)
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    n, channels, height, width = dout.shape
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, channels)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(dout_rows, cache)
    dx = dx_rows.reshape(n, height, width, channels).transpose(0, 3, 1, 2)
    ### END SOLUTION
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
