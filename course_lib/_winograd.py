"""The Python side of course_lib.fast_layers' Winograd F(2x2, 3x3) convolution.

3x3 filters at stride 1: every 2x2 block of outputs comes from a 4x4 input
patch through 16 multiplications instead of 36 (the transforms are compiled
kernels of course_lib._im2col, which explains them). Images are processed a
cache-sized group at a time, as 16 matrix products over channels per group.
Needs the compiled extension: fast_layers calls this module only when it is built.
"""
import numpy as np

from course_lib._numpy_kernels import image_chunks, images_per_chunk

try:
    from course_lib import _im2col
except ImportError:
    _im2col = None

# Winograd's filter transform: G g G^T turns each 3x3 filter into a 4x4 block.
_WINOGRAD_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def _winograd_tiles(geometry):
    return ((geometry.out_height + 1) // 2) * ((geometry.out_width + 1) // 2)


def _block_buffer(rows, columns, dtype):
    """A (16, rows * columns) work array whose 16 planes do not start 4 KiB apart.

    The transform kernels write one element to each of the 16 planes per tile; at
    a multiple of 4 KiB apart those 16 streams fall into one set of the L1 cache
    and evict each other (4x slower on the CPUs measured).
    """
    itemsize = np.dtype(dtype).itemsize
    length = rows * columns + 64 // itemsize
    while not 512 <= (length * itemsize) % 4096 <= 3584:
        length += 64 // itemsize
    return np.empty((16, length), dtype=dtype)


def _winograd_groups(geometry, dtype, chunk_bytes):
    """Yield (n0, n1, blocks_in, blocks_out): image groups with work arrays of shapes
    (16, channels, tiles) and (16, filters, tiles), reused between groups."""
    tiles = _winograd_tiles(geometry)
    per_image = 16 * (geometry.channels + geometry.filters) * tiles * np.dtype(dtype).itemsize
    group = images_per_chunk(geometry.n, per_image, chunk_bytes)
    in_buffer = _block_buffer(geometry.channels, group * tiles, dtype)
    out_buffer = _block_buffer(geometry.filters, group * tiles, dtype)
    for n0, n1 in image_chunks(geometry.n, group):
        count = (n1 - n0) * tiles
        yield (n0, n1, in_buffer[:, :geometry.channels * count].reshape(16, -1, count),
               out_buffer[:, :geometry.filters * count].reshape(16, -1, count))


def _winograd_filters(w, dtype):
    """(16, F, C): G g G^T of every filter, one (F, C) matrix per element of the 4x4 block."""
    g = _WINOGRAD_G.astype(dtype)
    blocks = g @ w.astype(dtype, copy=False) @ g.T
    return np.ascontiguousarray(blocks.transpose(2, 3, 0, 1)).reshape(16, *w.shape[:2])


def winograd_forward(x, w, bias, geometry, chunk_bytes):
    """3x3, stride 1 convolution by Winograd F(2x2, 3x3): 16 matrix products per group of images."""
    filters = _winograd_filters(w, x.dtype)
    out = np.empty(geometry.out_shape, dtype=x.dtype)
    for n0, n1, inputs, products in _winograd_groups(geometry, x.dtype, chunk_bytes):
        _im2col.winograd_input_into(x, inputs, n0, n1, geometry.pad)
        np.matmul(filters, inputs, out=products)
        _im2col.winograd_output_into(products, bias, out, n0, n1, geometry.pad)
    return out


def winograd_backward(dout, x, w, geometry, chunk_bytes, input_gradient=True):
    """dx (None unless input_gradient) and dw of winograd_forward, through the adjoints of
    its transforms."""
    filters = _winograd_filters(w, x.dtype)
    dfilters = np.zeros_like(filters)
    dx = np.empty_like(x) if input_gradient else None
    for n0, n1, inputs, grads in _winograd_groups(geometry, x.dtype, chunk_bytes):
        _im2col.winograd_input_into(x, inputs, n0, n1, geometry.pad)
        _im2col.winograd_output_adjoint_into(dout, grads, n0, n1, geometry.pad)
        dfilters += np.matmul(grads, inputs.transpose(0, 2, 1))
        if input_gradient:
            # The transformed inputs are no longer needed: their buffer receives their gradient.
            np.matmul(filters.transpose(0, 2, 1), grads, out=inputs)
            _im2col.winograd_input_adjoint_into(inputs, dx, n0, n1, geometry.pad)
    g = _WINOGRAD_G.astype(x.dtype)
    # The adjoint of the filter transform: G^T dU G for every (filter, channel) pair.
    blocks = dfilters.reshape(4, 4, *w.shape[:2]).transpose(2, 3, 0, 1)
    return dx, g.T @ blocks @ g
