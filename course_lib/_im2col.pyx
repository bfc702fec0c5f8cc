# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Compiled kernels behind course_lib.fast_layers: im2col, col2im and max pooling here;
the Winograd transforms (_im2col_winograd.pyx) and the direct float32 convolution
(_im2col_direct.pyx) are included at the end, into this same extension.

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


cdef void _window_maxima_nan_aware(const real *rows, Py_ssize_t W, real *best, int *best_at,
                                   Py_ssize_t W_out, int pool_height, int pool_width,
                                   int stride) noexcept nogil:
    """Slow path for a row of windows holding a NaN: NaN wins, the first one stays."""
    cdef Py_ssize_t wo, i, j
    cdef real value
    for wo in range(W_out):
        best[wo] = rows[wo * stride]
        best_at[wo] = 0
        for i in range(pool_height):
            for j in range(pool_width):
                value = rows[i * W + wo * stride + j]
                if value > best[wo] or (value != value and best[wo] == best[wo]):
                    best[wo] = value
                    best_at[wo] = i * pool_width + j


cdef bint _max_pool_2x2(const real *x, real *out, int *winner, Py_ssize_t planes, Py_ssize_t H,
                        Py_ssize_t W, Py_ssize_t H_out, Py_ssize_t W_out) noexcept nogil:
    """The common 2x2, stride 2 pooling, written so that the compiler vectorizes it (selects,
    no branches); True if x holds a NaN (then the general loop redoes the work, with NaN winning).

    Each window is split into its left and right columns: the larger of each column (the
    upper one on ties), then the larger column, the left one on ties unless the right
    column's best is its upper pixel (position 1 comes before position 2).
    """
    cdef Py_ssize_t plane, ho, wo
    cdef const real *top
    cdef const real *bottom
    cdef real a, b, c, d, left, right
    cdef int left_lower, right_lower, take_right, nans = 0
    for plane in range(planes):
        for ho in range(H_out):
            top = x + (plane * H + 2 * ho) * W
            bottom = top + W
            for wo in range(W_out):
                a = top[2 * wo]
                b = top[2 * wo + 1]
                c = bottom[2 * wo]
                d = bottom[2 * wo + 1]
                left_lower = c > a
                left = c if left_lower else a
                right_lower = d > b
                right = d if right_lower else b
                take_right = (right > left) | ((right == left) & left_lower & (1 - right_lower))
                out[wo] = right if take_right else left
                winner[wo] = take_right + 2 * (right_lower if take_right else left_lower)
                # A NaN fails every comparison, so it would never be chosen here.
                nans += (a != a) + (b != b) + (c != c) + (d != d)
            out += W_out
            winner += W_out
    return nans != 0


def max_pool_forward_into(const real[:, :, :, ::1] x, real[:, :, :, ::1] out,
                          int[:, :, :, ::1] winner, int pool_height, int pool_width, int stride):
    """Window maxima into out and their positions (i * pool_width + j) into winner.

    Ties go to the first position in row-major order and NaN wins, like np.argmax.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t H_out = out.shape[2], W_out = out.shape[3]
    if (stride < 1 or pool_height < 1 or pool_width < 1
            or out.shape[0] != N or out.shape[1] != C
            or winner.shape[0] != N or winner.shape[1] != C
            or winner.shape[2] != H_out or winner.shape[3] != W_out
            or H_out != (x.shape[2] - pool_height) // stride + 1
            or W_out != (W - pool_width) // stride + 1 or H_out < 1 or W_out < 1):
        raise ValueError(f"pooling shapes disagree: x {tuple(x.shape)}, out {tuple(out.shape)}, "
                         f"winner {tuple(winner.shape)}, window {pool_height}x{pool_width}, "
                         f"stride {stride}")
    cdef Py_ssize_t n, c, ho, wo, i, j, offset, best_offset
    cdef int best_at
    cdef bint saw_nan, greater
    cdef real value
    cdef const real *rows
    cdef const real *window
    # The unrolled 2x2 kernel leaves NaN inputs to the general loop.
    cdef bint general = (not pool_height == pool_width == stride == 2
                         or _max_pool_2x2(&x[0, 0, 0, 0], &out[0, 0, 0, 0], &winner[0, 0, 0, 0],
                                          N * C, x.shape[2], W, H_out, W_out))
    with nogil:
        for n in range(N if general else 0):
            for c in range(C):
                for ho in range(H_out):
                    rows = &x[n, c, ho * stride, 0]
                    saw_nan = False
                    for wo in range(W_out):
                        window = rows + wo * stride
                        best_offset = 0
                        best_at = 0
                        for i in range(pool_height):
                            for j in range(pool_width):
                                offset = i * W + j
                                value = window[offset]
                                # Selection by arithmetic, not a branch: on random data a
                                # branch here mispredicts half the time.
                                greater = value > window[best_offset]
                                best_offset += greater * (offset - best_offset)
                                best_at += greater * (i * pool_width + j - best_at)
                                saw_nan = saw_nan | (value != value)
                        out[n, c, ho, wo] = window[best_offset]
                        winner[n, c, ho, wo] = best_at
                    if saw_nan:
                        _window_maxima_nan_aware(rows, W, &out[n, c, ho, 0], &winner[n, c, ho, 0],
                                                 W_out, pool_height, pool_width, stride)


cdef extern from *:
    """
    #include <stdint.h>
    /* One row pair of 2x2, stride 2 windows: every pixel gets its window's gradient where
       the winner is, zero elsewhere, by masking the gradient's bits (no branch, no multiply
       that would turn an infinite gradient into NaN), so that the compiler vectorizes it. */
    #define POOL_2X2_BACKWARD_ROWS(NAME, REAL, BITS)                                          \
        typedef BITS __attribute__((may_alias)) NAME##_bits;                                  \
        static unsigned int NAME(const REAL *dout, const int *winner, REAL *top, REAL *bottom, \
                                 Py_ssize_t W_out) {                                          \
            const NAME##_bits *gradients = (const NAME##_bits *)dout;                         \
            NAME##_bits *upper = (NAME##_bits *)top, *lower = (NAME##_bits *)bottom;          \
            unsigned int bad = 0;                                                             \
            for (Py_ssize_t wo = 0; wo < W_out; wo++) {                                       \
                unsigned int at = (unsigned int)winner[wo];                                   \
                BITS gradient = gradients[wo];                                                \
                bad |= at;                                                                    \
                upper[2 * wo] = gradient & -(BITS)(at == 0);                                  \
                upper[2 * wo + 1] = gradient & -(BITS)(at == 1);                              \
                lower[2 * wo] = gradient & -(BITS)(at == 2);                                  \
                lower[2 * wo + 1] = gradient & -(BITS)(at == 3);                              \
            }                                                                                 \
            return bad;                                                                       \
        }
    POOL_2X2_BACKWARD_ROWS(pool_2x2_backward_rows_float, float, uint32_t)
    POOL_2X2_BACKWARD_ROWS(pool_2x2_backward_rows_double, double, uint64_t)
    """
    unsigned int pool_2x2_backward_rows_float(const float *dout, const int *winner, float *top,
                                              float *bottom, Py_ssize_t W_out) noexcept nogil
    unsigned int pool_2x2_backward_rows_double(const double *dout, const int *winner, double *top,
                                               double *bottom, Py_ssize_t W_out) noexcept nogil


cdef bint _max_pool_2x2_backward(const real *dout, const int *winner, real *dx, Py_ssize_t planes,
                                Py_ssize_t H, Py_ssize_t W, Py_ssize_t H_out, Py_ssize_t W_out) noexcept nogil:
    """The common 2x2, stride 2 case in one pass that writes every element of dx once
    (zeroing dx first, then storing each gradient at its winner, took two passes over it);
    True if a winner lies outside [0, 4)."""
    cdef Py_ssize_t plane, ho, wo
    cdef real *top
    cdef unsigned int bad = 0
    for plane in range(planes):
        for ho in range(H_out):
            top = dx + 2 * ho * W
            if real is float:
                bad |= pool_2x2_backward_rows_float(dout, winner, top, top + W, W_out)
            else:
                bad |= pool_2x2_backward_rows_double(dout, winner, top, top + W, W_out)
            # An odd width leaves a last column that no window reaches.
            for wo in range(2 * W_out, W):
                top[wo] = 0
                top[W + wo] = 0
            dout += W_out
            winner += W_out
        # So does an odd height's last row.
        memset(dx + 2 * H_out * W, 0, (H - 2 * H_out) * W * sizeof(real))
        dx += H * W
    return bad > 3


def max_pool_backward_into(const real[:, :, :, ::1] dout, const int[:, :, :, ::1] winner,
                           real[:, :, :, ::1] dx, int pool_height, int pool_width, int stride):
    """Overwrite dx with dout routed to each window's winning position (summed where windows overlap)."""
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t H_out = dout.shape[2], W_out = dout.shape[3]
    if (stride < 1 or pool_width < 1 or tuple(dout.shape) != tuple(winner.shape)
            or dout.shape[0] != N or dout.shape[1] != C
            or H_out != (H - pool_height) // stride + 1 or W_out != (W - pool_width) // stride + 1):
        raise ValueError(f"pooling shapes disagree: dout {tuple(dout.shape)}, "
                         f"winner {tuple(winner.shape)}, dx {tuple(dx.shape)}, "
                         f"window {pool_height}x{pool_width}, stride {stride}")
    cdef Py_ssize_t n, c, ho, wo, at, window_size = pool_height * pool_width
    cdef bint bad_winner = False
    cdef bint disjoint = pool_height <= stride and pool_width <= stride
    cdef real *target
    cdef const real *gradients
    cdef const int *positions
    cdef real *plane
    # Where each window position lies relative to the window's corner, computed once
    # instead of a division per output.
    cdef Py_ssize_t *offsets = <Py_ssize_t *> malloc(window_size * sizeof(Py_ssize_t))
    if offsets == NULL:
        raise MemoryError()
    for at in range(window_size):
        offsets[at] = (at // pool_width) * W + at % pool_width
    if pool_height == pool_width == stride == 2:
        free(offsets)
        if _max_pool_2x2_backward(&dout[0, 0, 0, 0], &winner[0, 0, 0, 0], &dx[0, 0, 0, 0],
                                  N * C, H, W, H_out, W_out):
            raise ValueError("winner positions must lie in [0, 4): the cache is corrupt")
        return
    try:
        with nogil:
            for n in range(N):
                for c in range(C):
                    plane = &dx[n, c, 0, 0]
                    memset(plane, 0, H * W * sizeof(real))
                    gradients = &dout[n, c, 0, 0]
                    positions = &winner[n, c, 0, 0]
                    for ho in range(H_out):
                        for wo in range(W_out):
                            at = positions[ho * W_out + wo]
                            if at < 0 or at >= window_size:
                                bad_winner = True
                                at = 0
                            target = plane + ho * stride * W + wo * stride + offsets[at]
                            if disjoint:
                                # Windows do not overlap: a store, without reading dx first.
                                target[0] = gradients[ho * W_out + wo]
                            else:
                                target[0] += gradients[ho * W_out + wo]
    finally:
        free(offsets)
    if bad_winner:
        raise ValueError(f"winner positions must lie in [0, {window_size}): the cache is corrupt")


# One extension, several files: the packaging (setup.py, the autograder's build) compiles
# this file, and Cython pastes these in here.
include "_im2col_winograd.pyx"
include "_im2col_direct.pyx"
include "_im2col_width.pyx"
