"""Fast convolution and max pooling with the same results as course_lib.conv_layers.

Convolution is im2col followed by matrix products: the input values under
every filter position are gathered into columns, so that the convolution of
an image becomes ``w.reshape(F, -1) @ cols``. 3x3 filters at stride 1 use
Winograd's F(2x2, 3x3) algorithm instead, which needs 2.25 times fewer
multiplications. In float32, images with at most DIRECT_MAX_CHANNELS channels
are convolved directly instead, in registers, on CPUs with AVX2 and FMA: their
im2col products are too thin to run at BLAS speed; 7-wide filters at stride 1
apply Winograd's algorithm along the width only (course_lib._width_winograd: 9
multiplications per pair of outputs and filter row instead of 14). The
gathering (im2col), its adjoint (col2im), the Winograd transforms, the direct
convolutions and max pooling are compiled kernels from the Cython extension
``course_lib._im2col``, built by ``pip install -e .``. When the extension is
missing, NumPy kernels run instead (im2col for every convolution), after one
warning that says how to build it.

Every function keeps the input dtype (float32 or float64) end to end. Unlike
the naive layers, sizes need not divide exactly: like PyTorch, the output has
H_out = 1 + (H + 2 * pad - HH) // stride rows, and trailing input rows that no
window reaches get zero gradient.

Caches are small and interchangeable between the variants of one layer: a
convolution cache is (x, w, b, conv_param), a pooling cache is
(x, pool_param, winner) with winner the row-major position of each window's
maximum (the first one on ties, as np.argmax).
"""
import warnings

import numpy as np

from course_lib._checks import check_image_batch, check_shape, check_window_fits, float_array, int_setting
from course_lib._numpy_kernels import KERNELS as NUMPY_KERNELS
from course_lib._numpy_kernels import image_chunks, images_per_chunk, output_size
from course_lib._width_winograd import WIDTH_PARTS, width_winograd_forward
from course_lib._winograd import winograd_backward, winograd_forward

try:
    from course_lib import _im2col as _compiled
except ImportError:
    _compiled = None
_DIRECT_CONV = _compiled is not None and _compiled.direct_conv_available()
# Up to this many input channels the direct kernel beat im2col and Winograd (float32,
# 1 thread, 3x3 to 7x7 filters); at 32 and 64 channels Winograd's fewer products win.
DIRECT_MAX_CHANNELS = 16

EXTENSION_MISSING = (
    "course_lib._im2col, the compiled part of course_lib.fast_layers, is not built, so "
    "convolution and pooling run on slower pure-NumPy kernels. Build it by running "
    "`pip install -e .` in the folder that holds pyproject.toml (the repository or your "
    "assignment's release folder), then restart Python."
)
_fallback_warned = False

# Images are convolved in groups whose columns take about this many bytes, so
# that the columns stay in the CPU cache between im2col and the matrix product.
CHUNK_BYTES = 1 << 21


def _kernels():
    """The compiled kernels, or the NumPy ones after a single warning if the extension is missing."""
    global _fallback_warned
    if _compiled is not None:
        return _compiled
    if not _fallback_warned:
        _fallback_warned = True
        warnings.warn(EXTENSION_MISSING, RuntimeWarning, stacklevel=3)
    return NUMPY_KERNELS


def _conv_settings(x, w, b, conv_param, layer):
    """(stride, pad) after checking every shape the convolution relies on."""
    check_image_batch(x, layer)
    if w.ndim != 4:
        raise ValueError(f"{layer} expects w of shape (F, C, HH, WW), got {w.shape}")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"{layer}: x has {x.shape[1]} channels (shape {x.shape}) but w expects "
                         f"{w.shape[1]} (shape {w.shape})")
    if b.shape != (w.shape[0],):
        raise ValueError(f"{layer}: b has shape {b.shape}, expected ({w.shape[0]},) for w {w.shape}")
    stride = int_setting(conv_param, "conv_param", "stride", 1)
    pad = int_setting(conv_param, "conv_param", "pad", 0)
    check_window_fits(layer, "height", x.shape[2], pad, w.shape[2])
    check_window_fits(layer, "width", x.shape[3], pad, w.shape[3])
    return stride, pad


def _pool_settings(x, pool_param, layer):
    """(pool_height, pool_width, stride) after checking them against x."""
    check_image_batch(x, layer)
    pool_height = int_setting(pool_param, "pool_param", "pool_height", 1)
    pool_width = int_setting(pool_param, "pool_param", "pool_width", 1)
    stride = int_setting(pool_param, "pool_param", "stride", 1)
    check_window_fits(layer, "height", x.shape[2], 0, pool_height)
    check_window_fits(layer, "width", x.shape[3], 0, pool_width)
    return pool_height, pool_width, stride


class _ConvGeometry:
    """Checked sizes of one convolution: x (N, C, H, W), w (F, C, HH, WW)."""

    def __init__(self, x, w, b, conv_param, layer):
        self.stride, self.pad = _conv_settings(x, w, b, conv_param, layer)
        self.n, self.channels, height, width = x.shape
        self.filters, _, self.filter_height, self.filter_width = w.shape
        self.out_height = output_size(height, self.pad, self.filter_height, self.stride)
        self.out_width = output_size(width, self.pad, self.filter_width, self.stride)
        self.out_shape = (self.n, self.filters, self.out_height, self.out_width)
        self.window = (self.filter_height, self.filter_width, self.pad, self.stride)

    def winograd_suits(self, kernels):
        """Winograd F(2x2, 3x3) needs the compiled kernels, 3x3 filters and stride 1."""
        return (kernels is _compiled and _compiled is not None
                and (self.filter_height, self.filter_width, self.stride) == (3, 3, 1))

    def direct_suits(self, kernels, dtype):
        """The direct kernel: compiled for this CPU, float32 and few input channels."""
        return (kernels is _compiled and _DIRECT_CONV and dtype == np.float32
                and self.channels <= DIRECT_MAX_CHANNELS)

    def width_winograd_suits(self, kernels, dtype):
        """The direct kernel's variant with Winograd along the width: stride 1, 7-wide filters."""
        return (self.direct_suits(kernels, dtype) and self.stride == 1
                and self.filter_width in WIDTH_PARTS)

    def direct_input_gradient_suits(self, kernels, dtype):
        """dx by the direct kernel too: stride 1, square filters and pad < HH (dout is then
        padded by HH - 1 - pad >= 0 on every side)."""
        return (self.direct_suits(kernels, dtype) and self.stride == 1
                and self.filter_height == self.filter_width and self.pad < self.filter_height)


def _im2col_forward(x, weights, bias, geometry, kernels, chunk_bytes):
    """out = weights @ columns + bias, one matrix product per image (NumPy kernels) or per
    group of images (compiled kernels), a cache-sized group at a time."""
    if kernels is not NUMPY_KERNELS:
        return _grouped_forward(x, weights, bias, geometry, chunk_bytes)
    plane = geometry.out_height * geometry.out_width
    group = images_per_chunk(geometry.n, weights.size // geometry.filters * plane * x.itemsize, chunk_bytes)
    cols_buffer = np.empty((group, weights.shape[1], plane), dtype=x.dtype)
    out = np.empty((geometry.n, geometry.filters, plane), dtype=x.dtype)
    for n0, n1 in image_chunks(geometry.n, group):
        cols = cols_buffer[:n1 - n0]
        kernels.im2col_into(x, cols, n0, n1, *geometry.window)
        # The bias is added while this group's output is still in the cache.
        np.add(np.matmul(weights, cols, out=out[n0:n1]), bias[:, None], out=out[n0:n1])
    return out.reshape(geometry.out_shape)


def _im2col_backward(dout, x, weights, geometry, kernels, chunk_bytes, input_gradient=True):
    """dx (None unless input_gradient) and dw (as weights' shape); the columns are recomputed
    group by group, not cached."""
    if kernels is not NUMPY_KERNELS:
        return _grouped_backward(dout, x, weights, geometry, chunk_bytes, input_gradient)
    plane = geometry.out_height * geometry.out_width
    dout = dout.reshape(geometry.n, geometry.filters, plane)
    group = images_per_chunk(geometry.n, weights.size // geometry.filters * plane * x.itemsize, chunk_bytes)
    cols_buffer = np.empty((group, weights.shape[1], plane), dtype=x.dtype)
    dw_buffer = np.empty((group,) + weights.shape, dtype=x.dtype)
    dw = np.zeros_like(weights)
    dx = np.empty_like(x) if input_gradient else None
    for n0, n1 in image_chunks(geometry.n, group):
        cols = cols_buffer[:n1 - n0]
        kernels.im2col_into(x, cols, n0, n1, *geometry.window)
        dw += np.matmul(dout[n0:n1], cols.transpose(0, 2, 1), out=dw_buffer[:n1 - n0]).sum(axis=0)
        if input_gradient:
            # The columns are no longer needed: their buffer receives their gradient.
            np.matmul(weights.T, dout[n0:n1], out=cols)
            kernels.col2im_into(cols, dx, n0, n1, *geometry.window)
    return dx, dw


def _column_groups(x, rows, geometry, chunk_bytes):
    """Yield (n0, n1, cols, products): image groups with work arrays for the grouped
    columns of _im2col.pyx, cols (rows, count * plane) and products (F, count, plane),
    reused between groups."""
    plane = geometry.out_height * geometry.out_width
    group = images_per_chunk(geometry.n, (rows + geometry.filters) * plane * x.itemsize, chunk_bytes)
    cols_buffer = np.empty(rows * group * plane, dtype=x.dtype)
    products_buffer = np.empty(geometry.filters * group * plane, dtype=x.dtype)
    for n0, n1 in image_chunks(geometry.n, group):
        count = n1 - n0
        yield (n0, n1, cols_buffer[:rows * count * plane].reshape(rows, count * plane),
               products_buffer[:geometry.filters * count * plane].reshape(geometry.filters, count, plane))


def _grouped_forward(x, weights, bias, geometry, chunk_bytes):
    out = np.empty((geometry.n, geometry.filters, geometry.out_height * geometry.out_width), dtype=x.dtype)
    for n0, n1, cols, products in _column_groups(x, weights.shape[1], geometry, chunk_bytes):
        _compiled.im2col_grouped_into(x, cols, n0, n1, *geometry.window)
        np.matmul(weights, cols, out=products.reshape(geometry.filters, -1))
        _compiled.grouped_to_images(products, bias, out, n0)
    return out.reshape(geometry.out_shape)


def _grouped_backward(dout, x, weights, geometry, chunk_bytes, input_gradient=True):
    """dx (None unless input_gradient) and dw, from the grouped columns."""
    dout = dout.reshape(geometry.n, geometry.filters, geometry.out_height * geometry.out_width)
    # dw transposed: OpenBLAS ran cols @ grads.T 6% faster than grads @ cols.T (7x7, 3 channels).
    dw_t = np.zeros_like(weights.T)
    dx = np.empty_like(x) if input_gradient else None
    for n0, n1, cols, grads in _column_groups(x, weights.shape[1], geometry, chunk_bytes):
        _compiled.im2col_grouped_into(x, cols, n0, n1, *geometry.window)
        np.copyto(grads, dout[n0:n1].transpose(1, 0, 2))
        grads = grads.reshape(geometry.filters, -1)
        dw_t += cols @ grads.T
        if input_gradient:
            # The columns are no longer needed: their buffer receives their gradient.
            np.matmul(weights.T, grads, out=cols)
            _compiled.col2im_grouped_into(cols, dx, n0, n1, *geometry.window)
    return dx, dw_t.T


def _direct_input_gradient(dout, w, x_shape, geometry):
    """dx of a stride-1 convolution, by the direct kernel: the convolution of dout, zero padded
    by HH - 1 - pad, with the filters flipped and their two channel axes swapped."""
    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3), dtype=dout.dtype)
    dx = np.empty(x_shape, dtype=dout.dtype)
    _compiled.direct_conv_forward_into(dout, flipped, np.zeros(x_shape[1], dtype=dout.dtype), dx,
                                       geometry.filter_height - 1 - geometry.pad, 1)
    return dx


def _conv_inputs(x, w, b, layer):
    x = float_array(x, layer, "x")
    return np.ascontiguousarray(x), np.asarray(w), np.asarray(b)


def _conv_forward(x, w, b, conv_param, kernels, chunk_bytes, layer, fastest):
    x, w, b = _conv_inputs(x, w, b, layer)
    geometry = _ConvGeometry(x, w, b, conv_param, layer)
    bias = b.astype(x.dtype, copy=False)
    if fastest and geometry.width_winograd_suits(kernels, x.dtype):
        out = width_winograd_forward(_compiled, x, w, bias, geometry)
    elif fastest and geometry.direct_suits(kernels, x.dtype):
        out = np.empty(geometry.out_shape, dtype=x.dtype)
        _compiled.direct_conv_forward_into(x, np.ascontiguousarray(w, dtype=x.dtype),
                                           np.ascontiguousarray(bias), out, geometry.pad, geometry.stride)
    elif fastest and geometry.winograd_suits(kernels):
        out = winograd_forward(x, w, bias, geometry, chunk_bytes)
    else:
        weights = w.reshape(geometry.filters, -1).astype(x.dtype, copy=False)
        out = _im2col_forward(x, weights, bias, geometry, kernels, chunk_bytes)
    return out, (x, w, b, conv_param)


def _conv_backward(dout, cache, kernels, chunk_bytes, layer, fastest, input_gradient=True):
    """dx, dw, db; dx is None unless input_gradient."""
    x, w, b, conv_param = cache
    geometry = _ConvGeometry(x, w, b, conv_param, layer)
    dout = np.asarray(dout)
    check_shape(f"{layer}: dout", dout, geometry.out_shape)
    dout = np.ascontiguousarray(dout, dtype=x.dtype)
    weights = w.reshape(geometry.filters, -1).astype(x.dtype, copy=False)
    if fastest and geometry.direct_input_gradient_suits(kernels, x.dtype):
        _, dw = _grouped_backward(dout, x, weights, geometry, chunk_bytes, input_gradient=False)
        dx = _direct_input_gradient(dout, w, x.shape, geometry) if input_gradient else None
    elif fastest and geometry.winograd_suits(kernels):
        dx, dw = winograd_backward(dout, x, w, geometry, chunk_bytes, input_gradient)
    else:
        dx, dw = _im2col_backward(dout, x, weights, geometry, kernels, chunk_bytes, input_gradient)
    return dx, dw.reshape(w.shape).astype(w.dtype, copy=False), _bias_gradient(dout).astype(b.dtype, copy=False)


def _bias_gradient(dout):
    """dout summed over images and positions: a matrix-vector product per plane runs 1.5 to 2
    times faster than dout.sum(axis=(0, 2, 3))."""
    n, filters, height, width = dout.shape
    planes = dout.reshape(n * filters, height * width)
    return (planes @ np.ones(height * width, dtype=dout.dtype)).reshape(n, filters).sum(axis=0)


def conv_forward_fast(x, w, b, conv_param):
    """Convolution by the fastest method available for its shape.

    float32 images with few channels are convolved directly (compiled kernel,
    CPUs with AVX2 and FMA; with Winograd along the width for 7-wide filters at
    stride 1); otherwise 3x3 filters at stride 1 use Winograd's
    F(2x2, 3x3) algorithm (2.25 times fewer multiplications; needs the compiled
    extension); everything else uses im2col and matrix products, as
    conv_forward_im2col.

    Inputs:
    - x: images of shape (N, C, H, W), float32 or float64.
    - w: filters of shape (F, C, HH, WW).
    - b: biases of shape (F,).
    - conv_param: dict with int 'stride' (>= 1) and 'pad' (>= 0, zeros on every side).

    Returns:
    - out: array of shape (N, F, H_out, W_out) and x's dtype, where
      H_out = 1 + (H + 2 * pad - HH) // stride and W_out = 1 + (W + 2 * pad - WW) // stride.
    - cache: (x, w, b, conv_param).
    """
    return _conv_forward(x, w, b, conv_param, _kernels(), CHUNK_BYTES, "conv_forward_fast", True)


def conv_backward_fast(dout, cache):
    """Backward pass of conv_forward_fast (or of any forward of this module).

    Inputs:
    - dout: upstream gradient of shape (N, F, H_out, W_out).
    - cache: (x, w, b, conv_param) from the forward pass.

    Returns:
    - dx: gradient of shape (N, C, H, W), x's dtype.
    - dw: gradient of shape (F, C, HH, WW), w's dtype.
    - db: gradient of shape (F,), b's dtype.
    """
    return _conv_backward(dout, cache, _kernels(), CHUNK_BYTES, "conv_backward_fast", True)


def _conv_weight_gradients_fast(dout, cache):
    """dw and db of conv_backward_fast, without dx: for a network's first layer, whose input
    is the data and whose input gradient nobody uses (dx is 40% of the backward pass of the
    course's 7x7 convolution of RGB images)."""
    _, dw, db = _conv_backward(dout, cache, _kernels(), CHUNK_BYTES, "conv_backward_fast", True,
                               input_gradient=False)
    return dw, db


def conv_forward_im2col(x, w, b, conv_param):
    """Convolution through im2col and a matrix product per image, a cache-sized group at a time.

    Inputs, outputs and cache as conv_forward_fast.
    """
    return _conv_forward(x, w, b, conv_param, _kernels(), CHUNK_BYTES, "conv_forward_im2col", False)


def conv_backward_im2col(dout, cache):
    """Backward pass of conv_forward_im2col; as conv_backward_fast."""
    return _conv_backward(dout, cache, _kernels(), CHUNK_BYTES, "conv_backward_im2col", False)


def conv_forward_strides(x, w, b, conv_param):
    """Convolution with the columns of the whole batch built from a strided NumPy view.

    Needs no compiled code. Inputs, outputs and cache as conv_forward_fast.
    """
    return _conv_forward(x, w, b, conv_param, NUMPY_KERNELS, None, "conv_forward_strides", False)


def conv_backward_strides(dout, cache):
    """Backward pass of conv_forward_strides, in NumPy only; as conv_backward_fast."""
    return _conv_backward(dout, cache, NUMPY_KERNELS, None, "conv_backward_strides", False)


def _pool_output_shape(x, pool_height, pool_width, stride):
    n, channels, height, width = x.shape
    return (n, channels, output_size(height, 0, pool_height, stride),
            output_size(width, 0, pool_width, stride))


def _pool_backward_setup(dout, cache, layer):
    """(x, settings, winner, dout) after checking dout against the cache."""
    x, pool_param, winner = cache
    settings = _pool_settings(x, pool_param, layer)
    dout = np.asarray(dout)
    check_shape(f"{layer}: dout", dout, winner.shape)
    return x, settings, winner, np.ascontiguousarray(dout, dtype=x.dtype)


def max_pool_forward_fast(x, pool_param):
    """Max pooling for any window and stride, one pass over x.

    Inputs:
    - x: array of shape (N, C, H, W), float32 or float64.
    - pool_param: dict with int 'pool_height', 'pool_width' and 'stride' (all >= 1).

    Returns:
    - out: array of shape (N, C, H_out, W_out) and x's dtype, where
      H_out = 1 + (H - pool_height) // stride and W_out = 1 + (W - pool_width) // stride.
    - cache: (x, pool_param, winner), winner of shape (N, C, H_out, W_out) holding
      i * pool_width + j for the maximum at row i, column j of each window.
    """
    x = float_array(x, "max_pool_forward_fast", "x")
    settings = _pool_settings(x, pool_param, "max_pool_forward_fast")
    x = np.ascontiguousarray(x)
    shape = _pool_output_shape(x, *settings)
    out = np.empty(shape, dtype=x.dtype)
    winner = np.empty(shape, dtype=np.int32)
    _kernels().max_pool_forward_into(x, out, winner, *settings)
    return out, (x, pool_param, winner)


def max_pool_backward_fast(dout, cache):
    """Backward pass of max pooling: each window's gradient goes to its maximum.

    Inputs:
    - dout: upstream gradient of shape (N, C, H_out, W_out).
    - cache: (x, pool_param, winner) from any max_pool_forward_* of this module.

    Returns:
    - dx: gradient of shape (N, C, H, W), x's dtype (sums where windows overlap).
    """
    x, settings, winner, dout = _pool_backward_setup(dout, cache, "max_pool_backward_fast")
    dx = np.empty_like(x)
    _kernels().max_pool_backward_into(dout, winner, dx, *settings)
    return dx


def _check_tiling(settings, layer):
    pool_height, pool_width, stride = settings
    if not pool_height == pool_width == stride:
        raise ValueError(
            f"{layer} needs windows that tile the image (pool_height == pool_width == stride), "
            f"got {pool_height}x{pool_width} with stride {stride}; use max_pool_forward_fast"
        )
    return stride


def _tiles(x, size, out_height, out_width):
    """(N, C, H_out, W_out, size * size) view of the non-overlapping windows, as a reshape-able copy."""
    n, channels = x.shape[:2]
    cropped = x[:, :, :out_height * size, :out_width * size]
    blocks = cropped.reshape(n, channels, out_height, size, out_width, size)
    return blocks.transpose(0, 1, 2, 4, 3, 5).reshape(n, channels, out_height, out_width, size * size)


def max_pool_forward_reshape(x, pool_param):
    """Max pooling by reshaping x into its tiles; only for pool_height == pool_width == stride.

    Inputs, outputs and cache as max_pool_forward_fast.
    """
    x = float_array(x, "max_pool_forward_reshape", "x")
    settings = _pool_settings(x, pool_param, "max_pool_forward_reshape")
    size = _check_tiling(settings, "max_pool_forward_reshape")
    _, _, out_height, out_width = _pool_output_shape(x, *settings)
    tiles = _tiles(x, size, out_height, out_width)
    winner = tiles.argmax(axis=-1)
    out = np.take_along_axis(tiles, winner[..., None], axis=-1)[..., 0]
    return out, (x, pool_param, winner.astype(np.int32))


def max_pool_backward_reshape(dout, cache):
    """Backward pass of max_pool_forward_reshape (tiling windows only); as max_pool_backward_fast."""
    x, settings, winner, dout = _pool_backward_setup(dout, cache, "max_pool_backward_reshape")
    size = _check_tiling(settings, "max_pool_backward_reshape")
    n, channels, out_height, out_width = winner.shape
    tile_grads = np.zeros((n, channels, out_height, out_width, size * size), dtype=x.dtype)
    np.put_along_axis(tile_grads, winner[..., None], dout[..., None], axis=-1)
    dx = np.zeros_like(x)
    dx[:, :, :out_height * size, :out_width * size] = (
        tile_grads.reshape(n, channels, out_height, out_width, size, size)
        .transpose(0, 1, 2, 4, 3, 5)
        .reshape(n, channels, out_height * size, out_width * size)
    )
    return dx


def max_pool_forward_im2col(x, pool_param):
    """Max pooling for any window and stride, as an argmax over im2col columns.

    Every channel is treated as a one-channel image. Inputs, outputs and cache
    as max_pool_forward_fast.
    """
    x = float_array(x, "max_pool_forward_im2col", "x")
    pool_height, pool_width, stride = _pool_settings(x, pool_param, "max_pool_forward_im2col")
    shape = _pool_output_shape(x, pool_height, pool_width, stride)
    n, channels, height, width = x.shape
    planes = np.ascontiguousarray(x).reshape(n * channels, 1, height, width)
    cols = np.empty((n * channels, pool_height * pool_width, shape[2] * shape[3]), dtype=x.dtype)
    _kernels().im2col_into(planes, cols, 0, n * channels, pool_height, pool_width, 0, stride)
    winner = cols.argmax(axis=1)[:, None]
    out = np.take_along_axis(cols, winner, axis=1)
    return out.reshape(shape), (x, pool_param, winner.reshape(shape).astype(np.int32))


def max_pool_backward_im2col(dout, cache):
    """Backward pass of max_pool_forward_im2col, through col2im; as max_pool_backward_fast."""
    x, (pool_height, pool_width, stride), winner, dout = _pool_backward_setup(
        dout, cache, "max_pool_backward_im2col")
    n, channels, height, width = x.shape
    plane = dout.shape[2] * dout.shape[3]
    dcols = np.zeros((n * channels, pool_height * pool_width, plane), dtype=x.dtype)
    np.put_along_axis(dcols, winner.reshape(n * channels, 1, plane), dout.reshape(n * channels, 1, plane), axis=1)
    dx = np.empty((n * channels, 1, height, width), dtype=x.dtype)
    _kernels().col2im_into(dcols, dx, 0, n * channels, pool_height, pool_width, 0, stride)
    return dx.reshape(x.shape)
