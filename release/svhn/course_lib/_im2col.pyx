# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Compiled kernels behind course_lib.fast_layers: im2col and col2im here; max pooling
(_im2col_pool.pyx), the Winograd transforms (_im2col_winograd.pyx), the direct float32
convolution (_im2col_direct.pyx) and its width-only Winograd variant (_im2col_width.pyx)
are included at the end, into this same extension.

Every kernel writes into an output array the caller allocated, so that the
Python side decides the memory layout and can reuse buffers between calls.
Images are NCHW and C-contiguous; float32 and float64 are both compiled
(a fused type), and each kernel releases the GIL while it runs.

Per-image column layout of im2col_into and col2im_into (shared with the NumPy
fallback in _numpy_kernels): for images n0..n1-1, cols has shape
(n1 - n0, C * HH * WW, H_out * W_out); cols[m, k] holds, for image n0 + m and
every output position, the input value under filter tap
k = (c * HH + i) * WW + j, zero where the tap falls in the padding. So the
convolution of image n0 + m is w.reshape(F, -1) @ cols[m]. The convolution
layers use the grouped layout of im2col_grouped_into instead (see the comment
before phase_shape), which puts a group of images into one matrix product.
"""
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memset

ctypedef fused real:
    float
    double


cdef inline Py_ssize_t _ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    # Only called with b > 0; rounds towards +infinity for either sign of a.
    if a <= 0:
        return -((-a) // b)
    return (a + b - 1) // b


cdef inline void _valid_range(Py_ssize_t tap, Py_ssize_t pad, Py_ssize_t stride,
                              Py_ssize_t size, Py_ssize_t out_size,
                              Py_ssize_t *lo, Py_ssize_t *hi) noexcept nogil:
    """Output indices o with 0 <= o * stride + tap - pad < size, as [lo, hi)."""
    cdef Py_ssize_t first = _ceil_div(pad - tap, stride)
    cdef Py_ssize_t last = _ceil_div(size + pad - tap, stride)
    lo[0] = min(max(first, 0), out_size)
    hi[0] = min(max(last, lo[0]), out_size)


def _check_geometry(tuple x_shape, tuple cols_shape, Py_ssize_t n0, Py_ssize_t n1,
                    int filter_height, int filter_width, int pad, int stride):
    """Shapes the kernels rely on (bounds are not checked inside the loops)."""
    n, channels, height, img_width = x_shape[:4]
    if stride < 1 or pad < 0 or filter_height < 1 or filter_width < 1:
        raise ValueError(f"need stride >= 1, pad >= 0 and a filter of at least 1x1, got "
                         f"stride={stride}, pad={pad}, filter {filter_height}x{filter_width}")
    if not 0 <= n0 <= n1 <= n:
        raise ValueError(f"image range [{n0}, {n1}) is outside a batch of {n}")
    out_height = (height + 2 * pad - filter_height) // stride + 1
    out_width = (img_width + 2 * pad - filter_width) // stride + 1
    if out_height < 1 or out_width < 1:
        raise ValueError(f"a {filter_height}x{filter_width} filter does not fit "
                         f"{height}x{img_width} images with pad {pad}")
    expected = (n1 - n0, channels * filter_height * filter_width, out_height * out_width)
    if cols_shape[:3] != expected:
        raise ValueError(f"columns have shape {cols_shape[:3]}, expected {expected}")
    return out_height, out_width


def im2col_into(const real[:, :, :, ::1] x, real[:, :, ::1] cols, Py_ssize_t n0, Py_ssize_t n1,
                int filter_height, int filter_width, int pad, int stride):
    """Write the columns of images x[n0:n1] into cols (layout in the module docstring)."""
    out_height, out_width = _check_geometry(
        tuple(x.shape), tuple(cols.shape), n0, n1, filter_height, filter_width, pad, stride)
    cdef Py_ssize_t H_out = out_height, W_out = out_width
    cdef Py_ssize_t C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t c, i, j, n, ho, wo, row, w_lo, w_hi, h_lo, h_hi
    cdef const real *src
    cdef real *dst
    with nogil:
        for n in range(n0, n1):
            for c in range(C):
                for i in range(filter_height):
                    _valid_range(i, pad, stride, H, H_out, &h_lo, &h_hi)
                    for j in range(filter_width):
                        _valid_range(j, pad, stride, W, W_out, &w_lo, &w_hi)
                        row = (c * filter_height + i) * filter_width + j
                        dst = &cols[n - n0, row, 0]
                        for ho in range(H_out):
                            if ho < h_lo or ho >= h_hi:
                                memset(dst, 0, W_out * sizeof(real))
                            else:
                                src = &x[n, c, ho * stride + i - pad, 0]
                                for wo in range(w_lo):
                                    dst[wo] = 0
                                if stride == 1:
                                    memcpy(dst + w_lo, src + w_lo + j - pad, (w_hi - w_lo) * sizeof(real))
                                else:
                                    for wo in range(w_lo, w_hi):
                                        dst[wo] = src[wo * stride + j - pad]
                                for wo in range(w_hi, W_out):
                                    dst[wo] = 0
                            dst += W_out


def col2im_into(const real[:, :, ::1] cols, real[:, :, :, ::1] dx, Py_ssize_t n0, Py_ssize_t n1,
                int filter_height, int filter_width, int pad, int stride):
    """Overwrite dx[n0:n1] with the sum of every column entry at the input position it came from."""
    out_height, out_width = _check_geometry(
        tuple(dx.shape), tuple(cols.shape), n0, n1, filter_height, filter_width, pad, stride)
    cdef Py_ssize_t H_out = out_height, W_out = out_width
    cdef Py_ssize_t C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t c, i, j, n, ho, wo, row, h_lo, h_hi, w_lo, w_hi
    cdef const real *src
    cdef real *dst
    with nogil:
        for n in range(n0, n1):
            for c in range(C):
                # One image channel at a time, so the plane being summed into stays in L1.
                memset(&dx[n, c, 0, 0], 0, H * W * sizeof(real))
                for i in range(filter_height):
                    _valid_range(i, pad, stride, H, H_out, &h_lo, &h_hi)
                    for j in range(filter_width):
                        _valid_range(j, pad, stride, W, W_out, &w_lo, &w_hi)
                        row = (c * filter_height + i) * filter_width + j
                        for ho in range(h_lo, h_hi):
                            src = &cols[n - n0, row, ho * W_out]
                            dst = &dx[n, c, ho * stride + i - pad, 0]
                            if stride == 1:
                                for wo in range(w_lo, w_hi):
                                    dst[wo + j - pad] += src[wo]
                            else:
                                for wo in range(w_lo, w_hi):
                                    dst[wo * stride + j - pad] += src[wo]


# Grouped columns for the compiled convolution: one matrix product covers a group
# of images. cols has shape (C * HH * WW, count * H_out * W_out): row
# (c * HH + i) * WW + j, column m * H_out * W_out + ho * W_out + wo holds the input
# under tap (c, i, j) of output (ho, wo) of image n0 + m. To fill it without bounds
# checks, each image is first zero padded and split into its stride x stride
# phases: phase (p, q) holds the padded pixels at rows p, p + stride, ... and
# columns q, q + stride, ..., as an Hph x Wph plane. Tap (c, i, j) of output
# (ho, wo) is then pixel (ho + i // stride, wo + j // stride) of phase
# (i % stride, j % stride), so every output row of every tap is one contiguous
# run of W_out pixels.

def phase_shape(Py_ssize_t height, Py_ssize_t width, int filter_height, int filter_width,
                int pad, int stride):
    """(H_out, W_out, Hph, Wph); checks that the filter fits."""
    if stride < 1 or pad < 0 or filter_height < 1 or filter_width < 1:
        raise ValueError(f"need stride >= 1, pad >= 0 and a filter of at least 1x1, got "
                         f"stride={stride}, pad={pad}, filter {filter_height}x{filter_width}")
    out_height = (height + 2 * pad - filter_height) // stride + 1
    out_width = (width + 2 * pad - filter_width) // stride + 1
    if out_height < 1 or out_width < 1:
        raise ValueError(f"a {filter_height}x{filter_width} filter does not fit "
                         f"{height}x{width} images with pad {pad}")
    return (out_height, out_width, _ceil_div(height + 2 * pad, stride),
            _ceil_div(width + 2 * pad, stride))


def _check_grouped(tuple images_shape, tuple cols_shape, Py_ssize_t n0, Py_ssize_t n1,
                   int filter_height, int filter_width, int pad, int stride):
    n, channels, height, width = images_shape[:4]
    shape = phase_shape(height, width, filter_height, filter_width, pad, stride)
    if not 0 <= n0 <= n1 <= n:
        raise ValueError(f"image range [{n0}, {n1}) is outside a batch of {n}")
    expected = (channels * filter_height * filter_width, (n1 - n0) * shape[0] * shape[1])
    if cols_shape[:2] != expected:
        raise ValueError(f"grouped columns have shape {cols_shape[:2]}, expected {expected}")
    return shape


cdef inline Py_ssize_t _phase_offset(Py_ssize_t c, Py_ssize_t h, Py_ssize_t w, Py_ssize_t stride,
                                     Py_ssize_t Hph, Py_ssize_t Wph) noexcept nogil:
    """Where padded pixel (h, w) of channel c lies in the phase planes of one image."""
    return (((c * stride + h % stride) * stride + w % stride) * Hph + h // stride) * Wph + w // stride


cdef inline Py_ssize_t _first_in_phase(Py_ssize_t phase, Py_ssize_t pad, Py_ssize_t s) noexcept nogil:
    """The smallest index k >= 0 with k + pad = phase (mod s)."""
    return ((phase - pad) % s + s) % s


cdef void _split_phases(const real *image, real *phases, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                        Py_ssize_t pad, Py_ssize_t s, Py_ssize_t Hph, Py_ssize_t Wph) noexcept nogil:
    """Copy one C x H x W image into its zeroed phase planes (no division per pixel)."""
    cdef Py_ssize_t c, p, q, h, k, k_lo, k_hi
    cdef const real *src
    cdef real *dst
    for c in range(C):
        if s == 1:
            for h in range(H):
                memcpy(phases + (c * Hph + h + pad) * Wph + pad, image + (c * H + h) * W, W * sizeof(real))
            continue
        for p in range(s):
            for q in range(s):
                # Pixel (h, w) with h + pad = p (mod s) and w + pad = q (mod s).
                # Column k of phase q holds pixel w = k * s + q - pad, for k in [k_lo, k_hi).
                _valid_range(q, pad, s, W, Wph, &k_lo, &k_hi)
                h = _first_in_phase(p, pad, s)
                while h < H:
                    src = image + (c * H + h) * W + q - pad
                    dst = phases + _phase_offset(c, h + pad, 0, s, Hph, Wph) + q * Hph * Wph
                    for k in range(k_lo, k_hi):
                        dst[k] = src[k * s]
                    h += s


cdef void _merge_phases(const real *phases, real *image, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                        Py_ssize_t pad, Py_ssize_t s, Py_ssize_t Hph, Py_ssize_t Wph) noexcept nogil:
    """The inverse of _split_phases: the image pixels out of the phase planes."""
    cdef Py_ssize_t c, p, q, h, k, k_lo, k_hi
    cdef const real *src
    cdef real *dst
    for c in range(C):
        if s == 1:
            for h in range(H):
                memcpy(image + (c * H + h) * W, phases + (c * Hph + h + pad) * Wph + pad, W * sizeof(real))
            continue
        for p in range(s):
            for q in range(s):
                _valid_range(q, pad, s, W, Wph, &k_lo, &k_hi)
                h = _first_in_phase(p, pad, s)
                while h < H:
                    dst = image + (c * H + h) * W + q - pad
                    src = phases + _phase_offset(c, h + pad, 0, s, Hph, Wph) + q * Hph * Wph
                    for k in range(k_lo, k_hi):
                        dst[k * s] = src[k]
                    h += s


def im2col_grouped_into(const real[:, :, :, ::1] x, real[:, ::1] cols, Py_ssize_t n0, Py_ssize_t n1,
                        int filter_height, int filter_width, int pad, int stride):
    """Write the grouped columns of images x[n0:n1] into cols (layout above)."""
    shape = _check_grouped(tuple(x.shape), tuple(cols.shape), n0, n1,
                           filter_height, filter_width, pad, stride)
    cdef Py_ssize_t H_out = shape[0], W_out = shape[1], Hph = shape[2], Wph = shape[3]
    cdef Py_ssize_t C = x.shape[1], H = x.shape[2], W = x.shape[3], s = stride
    cdef Py_ssize_t image_size = C * s * s * Hph * Wph
    cdef Py_ssize_t n, c, h, w, i, j, ho, wo
    cdef const real *src
    cdef real *dst
    cdef real *phases = <real *> malloc(image_size * sizeof(real))
    if phases == NULL:
        raise MemoryError()
    try:
        with nogil:
            for n in range(n0, n1):
                memset(phases, 0, image_size * sizeof(real))
                _split_phases(&x[n, 0, 0, 0], phases, C, H, W, pad, s, Hph, Wph)
                dst = &cols[0, (n - n0) * H_out * W_out]
                for c in range(C):
                    for i in range(filter_height):
                        for j in range(filter_width):
                            src = phases + _phase_offset(c, i, j, s, Hph, Wph)
                            for ho in range(H_out):
                                for wo in range(W_out):
                                    dst[ho * W_out + wo] = src[ho * Wph + wo]
                            dst += cols.shape[1]
    finally:
        free(phases)


def grouped_to_images(const real[:, :, ::1] products, const real[::1] bias, real[:, :, ::1] out,
                      Py_ssize_t n0):
    """out[n0 + m, f] <- products[f, m] + bias[f]: the group's matrix product, back in image order."""
    cdef Py_ssize_t F = products.shape[0], count = products.shape[1], P = products.shape[2]
    if (bias.shape[0] != F or out.shape[1] != F or out.shape[2] != P
            or not 0 <= n0 <= n0 + count <= out.shape[0]):
        raise ValueError(f"products {tuple(products.shape)}, bias {tuple(bias.shape)} and output "
                         f"{tuple(out.shape)} disagree from image {n0}")
    cdef Py_ssize_t m, f, p
    cdef real offset
    cdef const real *src
    cdef real *dst
    with nogil:
        for m in range(count):
            for f in range(F):
                offset = bias[f]
                src = &products[f, m, 0]
                dst = &out[n0 + m, f, 0]
                for p in range(P):
                    dst[p] = src[p] + offset

def col2im_grouped_into(const real[:, ::1] cols, real[:, :, :, ::1] dx, Py_ssize_t n0, Py_ssize_t n1,
                        int filter_height, int filter_width, int pad, int stride):
    """Overwrite dx[n0:n1] with the grouped columns summed back onto their input pixels."""
    shape = _check_grouped(tuple(dx.shape), tuple(cols.shape), n0, n1,
                           filter_height, filter_width, pad, stride)
    cdef Py_ssize_t H_out = shape[0], W_out = shape[1], Hph = shape[2], Wph = shape[3]
    cdef Py_ssize_t C = dx.shape[1], H = dx.shape[2], W = dx.shape[3], s = stride
    cdef Py_ssize_t image_size = C * s * s * Hph * Wph
    cdef Py_ssize_t n, c, h, w, i, j, ho, wo
    cdef real *dst
    cdef const real *src
    cdef real *phases = <real *> malloc(image_size * sizeof(real))
    if phases == NULL:
        raise MemoryError()
    try:
        with nogil:
            for n in range(n0, n1):
                memset(phases, 0, image_size * sizeof(real))
                src = &cols[0, (n - n0) * H_out * W_out]
                for c in range(C):
                    for i in range(filter_height):
                        for j in range(filter_width):
                            dst = phases + _phase_offset(c, i, j, s, Hph, Wph)
                            for ho in range(H_out):
                                for wo in range(W_out):
                                    dst[ho * Wph + wo] += src[ho * W_out + wo]
                            src += cols.shape[1]
                _merge_phases(phases, &dx[n, 0, 0, 0], C, H, W, pad, s, Hph, Wph)
    finally:
        free(phases)


# One extension, several files: the packaging (setup.py, the autograder's build) compiles
# this file, and Cython pastes these in here.
include "_im2col_pool.pyx"
include "_im2col_winograd.pyx"
include "_im2col_direct.pyx"
include "_im2col_width.pyx"
