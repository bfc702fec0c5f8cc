# Included by _im2col.pyx (a Cython `include`, not a module of its own): max pooling,
# forward and backward, for any window and stride, with unrolled kernels for the common
# 2x2 window at stride 2.

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
