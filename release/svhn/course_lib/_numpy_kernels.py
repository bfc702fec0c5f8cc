"""The NumPy kernels of course_lib.fast_layers: used when the compiled extension is not built.

Each does what the matching kernel of ``course_lib._im2col`` does, with the
same arguments, writing into the arrays it is given. The sizing helpers
(output_size, image_chunks, images_per_chunk) serve the compiled path too.
"""
import types

import numpy as np
from numpy.lib.stride_tricks import as_strided


def output_size(size, pad, window, stride):
    return (size + 2 * pad - window) // stride + 1


def image_chunks(total, size):
    """[start, end) ranges of at most size images covering 0..total."""
    for start in range(0, total, size):
        yield start, min(total, start + size)


def images_per_chunk(n, bytes_per_image, chunk_bytes):
    """How many images to process at once; chunk_bytes None means the whole batch."""
    if chunk_bytes is None:
        return max(1, n)
    return max(1, min(n, chunk_bytes // bytes_per_image))


def tap_slice(offset, stride, count):
    """Every stride-th index from offset, count of them."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


def _split_view(array, shape):
    """array reshaped to shape without copying (writes through the result must reach array)."""
    view = array.reshape(shape)
    if not np.shares_memory(view, array):
        raise ValueError(f"cannot view an array of shape {array.shape} and strides {array.strides} "
                         f"as {shape} without copying")
    return view


def _numpy_im2col_into(x, cols, n0, n1, filter_height, filter_width, pad, stride):
    """Columns of images x[n0:n1] into cols, through a strided view of the padded images."""
    padded = np.pad(x[n0:n1], ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    count, channels, height, width = padded.shape
    out_height = (height - filter_height) // stride + 1
    out_width = (width - filter_width) // stride + 1
    s_n, s_c, s_h, s_w = padded.strides
    taps = as_strided(
        padded,
        shape=(count, channels, filter_height, filter_width, out_height, out_width),
        strides=(s_n, s_c, s_h, s_w, s_h * stride, s_w * stride),
        writeable=False,
    )
    _split_view(cols, taps.shape)[...] = taps


def _numpy_col2im_into(cols, dx, n0, n1, filter_height, filter_width, pad, stride):
    """Overwrite dx[n0:n1] with the column entries summed back onto their input positions."""
    _, channels, height, width = dx.shape
    out_height = output_size(height, pad, filter_height, stride)
    out_width = output_size(width, pad, filter_width, stride)
    taps = _split_view(cols, (n1 - n0, channels, filter_height, filter_width, out_height, out_width))
    padded = np.zeros((n1 - n0, channels, height + 2 * pad, width + 2 * pad), dtype=dx.dtype)
    for i in range(filter_height):
        for j in range(filter_width):
            rows, columns = tap_slice(i, stride, out_height), tap_slice(j, stride, out_width)
            padded[:, :, rows, columns] += taps[:, :, i, j]
    dx[n0:n1] = padded[:, :, pad:pad + height, pad:pad + width]


def _numpy_max_pool_forward_into(x, out, winner, pool_height, pool_width, stride):
    """Window maxima and their positions, one window offset at a time."""
    out_height, out_width = out.shape[2:]
    out[...] = x[:, :, tap_slice(0, stride, out_height), tap_slice(0, stride, out_width)]
    winner[...] = 0
    for i in range(pool_height):
        for j in range(pool_width):
            value = x[:, :, tap_slice(i, stride, out_height), tap_slice(j, stride, out_width)]
            # NaN wins, like np.argmax; strict > keeps the first of equal maxima.
            better = (value > out) | (np.isnan(value) & ~np.isnan(out))
            np.copyto(out, value, where=better)
            winner[better] = i * pool_width + j


def _numpy_max_pool_backward_into(dout, winner, dx, pool_height, pool_width, stride):
    """Route dout to the winning positions, summing where windows overlap."""
    out_height, out_width = dout.shape[2:]
    dx[...] = 0
    for i in range(pool_height):
        for j in range(pool_width):
            routed = np.where(winner == i * pool_width + j, dout, 0)
            dx[:, :, tap_slice(i, stride, out_height), tap_slice(j, stride, out_width)] += routed


KERNELS = types.SimpleNamespace(
    im2col_into=_numpy_im2col_into,
    col2im_into=_numpy_col2im_into,
    max_pool_forward_into=_numpy_max_pool_forward_into,
    max_pool_backward_into=_numpy_max_pool_backward_into,
)
