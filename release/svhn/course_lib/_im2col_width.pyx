# Included by _im2col.pyx (a Cython `include`, not a module of its own), after
# _im2col_direct.pyx, whose vector type and CPU check it shares.
#
# Winograd's minimal filtering along the width only, for wide filters at stride 1 on
# float32 images with few channels: the outputs go in pairs (columns 2u and 2u + 1),
# and each pair's sum over one filter row is split into parts of r taps (a 7-wide row:
# 4 + 3), each the product of r + 1 transformed inputs with r + 1 transformed weights
# (Toom-Cook F(2, r), 5 + 4 = 9 multiplications instead of 14). Every transform
# "point" p is then a direct convolution of its own: the sum over channels and filter
# rows of U[p] times the transformed input V[p], in registers as in _im2col_direct.pyx
# (4 filters x ROWS rows x 8 pairs), and the pairs come out as
# A[p, 0] * sum and A[p, 1] * sum added over the points. The Python side
# (course_lib._width_winograd) computes the matrices exactly and the weights U in float64.

cdef extern from *:
    """
    #if DIRECT_CONV_COMPILED
    /* out[f][r][2u + e] for 4 filters, ROWS rows and 8 pairs u: bias[f] + the sum over points p of
       A[2p + e] * (the sum over taps t of U[(p * taps + t) * 4 + f]
       * V[p * point_stride + tap_offsets[t] + r * pitch + u]). */
    #define WIDTH_MAX_GROUPS 16
    /* The sums of each group stay in registers over its taps, then go to `products` (L1):
       folding them into the outputs tap group by group kept 24 more vectors live, spilled. */
    #define WIDTH_TILE(NAME, ROWS)                                                                 \
    __attribute__((target("avx2,fma")))                                                           \
    static void NAME(const float *V, Py_ssize_t pitch, const Py_ssize_t *tap_offsets,             \
                     const Py_ssize_t *group_ends, Py_ssize_t groups,                             \
                     const float *U, const float *A, const float *bias,                           \
                     float *dst, Py_ssize_t filter_pitch, Py_ssize_t row_pitch) {                 \
        typedef int index_v8 __attribute__((vector_size(32)));                                    \
        const index_v8 first_half = {0, 8, 1, 9, 2, 10, 3, 11};                                   \
        const index_v8 second_half = {4, 12, 5, 13, 6, 14, 7, 15};                                \
        const direct_v8 zero = {0};                                                               \
        direct_v8 products[WIDTH_MAX_GROUPS][4][ROWS];                                            \
        for (Py_ssize_t p = 0, t = 0; p < groups; p++) {                                          \
            direct_v8 sums[4][ROWS];                                                              \
            for (int f = 0; f < 4; f++)                                                           \
                for (int r = 0; r < ROWS; r++)                                                    \
                    sums[f][r] = zero;                                                            \
            _Pragma("GCC unroll 7")                                                               \
            for (; t < group_ends[p]; t++) {                                                      \
                const float *src = V + tap_offsets[t];                                            \
                const float *w = U + 4 * t;                                                       \
                direct_v8 x[ROWS];                                                                \
                for (int r = 0; r < ROWS; r++)                                                    \
                    x[r] = *(const direct_v8 *)(src + r * pitch);                                 \
                for (int f = 0; f < 4; f++) {                                                     \
                    float weight = w[f];                                                          \
                    for (int r = 0; r < ROWS; r++)                                                \
                        sums[f][r] += weight * x[r];                                              \
                }                                                                                 \
            }                                                                                     \
            for (int f = 0; f < 4; f++)                                                           \
                for (int r = 0; r < ROWS; r++)                                                    \
                    products[p][f][r] = sums[f][r];                                               \
        }                                                                                         \
        /* Two filters at a time: 4 * ROWS independent sums hide the latency of their chains. */ \
        for (int pair = 0; pair < 4; pair += 2) {                                                 \
            direct_v8 even[2][ROWS], odd[2][ROWS];                                                \
            for (int g = 0; g < 2; g++)                                                           \
                for (int r = 0; r < ROWS; r++)                                                    \
                    even[g][r] = odd[g][r] = zero + bias[pair + g];                               \
            for (Py_ssize_t p = 0; p < groups; p++) {                                             \
                float to_even = A[2 * p], to_odd = A[2 * p + 1];                                  \
                for (int g = 0; g < 2; g++)                                                       \
                    for (int r = 0; r < ROWS; r++) {                                              \
                        even[g][r] += to_even * products[p][pair + g][r];                         \
                        odd[g][r] += to_odd * products[p][pair + g][r];                           \
                    }                                                                             \
            }                                                                                     \
            for (int g = 0; g < 2; g++)                                                           \
                for (int r = 0; r < ROWS; r++) {                                                  \
                    direct_v8 *out = (direct_v8 *)(dst + (pair + g) * filter_pitch + r * row_pitch); \
                    out[0] = __builtin_shuffle(even[g][r], odd[g][r], first_half);                \
                    out[1] = __builtin_shuffle(even[g][r], odd[g][r], second_half);               \
                }                                                                                 \
        }                                                                                         \
    }
    /* The transformed inputs of one zero-padded row, 8 pairs at a time: plane(p)[u] = the sum over
       j < WIDTH_COLUMNS of BT[p * WIDTH_COLUMNS + j] * row[2u + j], row[2u + j] read as
       halves[j % 2][j / 2 + u] (the row's even columns, then its odd ones), so that every
       term is a vector load; all the points' sums are independent (no chain of latencies).
       pitch is a multiple of 8. */
    #define WIDTH_COLUMNS 8
    __attribute__((target("avx2,fma")))
    static void width_transform_row(const float *even, const float *odd, const float *BT, Py_ssize_t points,
                                    float *V, Py_ssize_t point_stride, Py_ssize_t pitch) {
        for (Py_ssize_t u = 0; u < pitch; u += 8) {
            direct_v8 inputs[WIDTH_COLUMNS];
            for (int j = 0; j < WIDTH_COLUMNS; j++)
                inputs[j] = *(const direct_v8 *)((j % 2 ? odd : even) + j / 2 + u);
            for (Py_ssize_t p = 0; p < points; p++) {
                direct_v8 sum = {0};
                for (int j = 0; j < WIDTH_COLUMNS; j++)
                    sum += BT[p * WIDTH_COLUMNS + j] * inputs[j];
                *(direct_v8 *)(V + p * point_stride + u) = sum;
            }
        }
    }
    WIDTH_TILE(width_tile_1, 1)
    WIDTH_TILE(width_tile_2, 2)
    WIDTH_TILE(width_tile_3, 3)
    #define WIDTH_ROWS 3
    #define WIDTH_PAIRS 8
    typedef void (*width_tile_fn)(const float *, Py_ssize_t, const Py_ssize_t *, const Py_ssize_t *,
                                  Py_ssize_t, const float *, const float *, const float *, float *,
                                  Py_ssize_t, Py_ssize_t);
    static const width_tile_fn width_tiles[3] = {width_tile_1, width_tile_2, width_tile_3};
    #else
    #define WIDTH_MAX_GROUPS 0
    #define WIDTH_ROWS 1
    #define WIDTH_PAIRS 1
    typedef void (*width_tile_fn)(const float *, Py_ssize_t, const Py_ssize_t *, const Py_ssize_t *,
                                  Py_ssize_t, const float *, const float *, const float *, float *,
                                  Py_ssize_t, Py_ssize_t);
    static const width_tile_fn width_tiles[3] = {0, 0, 0};
    #define WIDTH_COLUMNS 8
    static void width_transform_row(const float *even, const float *odd, const float *BT, Py_ssize_t points,
                                    float *V, Py_ssize_t point_stride, Py_ssize_t pitch) {}
    #endif
    """
    int WIDTH_MAX_GROUPS
    int WIDTH_ROWS
    int WIDTH_PAIRS
    ctypedef void (*width_tile_fn)(const float *V, Py_ssize_t pitch, const Py_ssize_t *tap_offsets,
                                   const Py_ssize_t *group_ends, Py_ssize_t groups,
                                   const float *U, const float *A, const float *bias, float *dst,
                                   Py_ssize_t filter_pitch, Py_ssize_t row_pitch) noexcept nogil
    const width_tile_fn width_tiles[3]
    int WIDTH_COLUMNS
    void width_transform_row(const float *even, const float *odd, const float *BT, Py_ssize_t points,
                             float *V, Py_ssize_t point_stride, Py_ssize_t pitch) noexcept nogil


cdef void _width_transform_image(const float *image, float *V, float *line, float *halves, const float *BT,
                                 Py_ssize_t points, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t pad,
                                 Py_ssize_t padded_height, Py_ssize_t half_length, Py_ssize_t pitch) noexcept nogil:
    """V[p][c][h] of one image, row by row: each row zero padded into line, whose even and odd
    columns go to halves and halves + half_length."""
    cdef Py_ssize_t c, h, v
    cdef float *odd = halves + half_length
    memset(line, 0, 2 * half_length * sizeof(float))
    for c in range(C):
        for h in range(padded_height):
            if pad <= h < pad + H:
                memcpy(line + pad, image + (c * H + h - pad) * W, W * sizeof(float))
            else:
                memset(line + pad, 0, W * sizeof(float))
            for v in range(half_length):
                halves[v] = line[2 * v]
                odd[v] = line[2 * v + 1]
            width_transform_row(halves, odd, BT, points, V + (c * padded_height + h) * pitch,
                                C * padded_height * pitch, pitch)


def width_winograd_forward_into(const float[:, :, :, ::1] x, const float[:, ::1] BT, const float[:, ::1] U,
                                const Py_ssize_t[::1] tap_points, const Py_ssize_t[::1] tap_rows,
                                const Py_ssize_t[::1] group_ends, const float[:, ::1] A,
                                const float[::1] bias, float[:, :, :, ::1] out,
                                int pad, int filter_height, int filter_width):
    """out <- the stride-1 convolution of x plus bias (float32; only when direct_conv_available()).

    BT (points, filter_width + 1): each point's input transform over the filter_width + 1
    columns of an output pair's window. Taps t, in groups (group g ends before
    group_ends[g]): U[t] (F,) weights, read with the transformed input of point tap_points[t]
    in the filter row tap_rows[t] = c * filter_height + i. A (groups, 2): what each group's
    sum adds to the pair's first and second output.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t points = BT.shape[0], taps = U.shape[0], F = U.shape[1], groups = group_ends.shape[0]
    cdef Py_ssize_t H_out = H + 2 * pad - filter_height + 1, W_out = W + 2 * pad - filter_width + 1
    if (H_out < 1 or W_out < 1 or BT.shape[1] != filter_width + 1 or tap_points.shape[0] != taps
            or tap_rows.shape[0] != taps or tuple(A.shape)[:2] != (groups, 2) or bias.shape[0] != F
            or tuple(out.shape)[:4] != (N, F, H_out, W_out)):
        raise ValueError(f"x {tuple(x.shape)[:4]}, BT {tuple(BT.shape)[:2]}, U {tuple(U.shape)[:2]}, "
                         f"{tap_points.shape[0]} tap points, {tap_rows.shape[0]} tap rows, A {tuple(A.shape)[:2]}, "
                         f"bias ({bias.shape[0]},) and out {tuple(out.shape)[:4]} disagree for pad {pad} "
                         f"and a {filter_height}x{filter_width} filter")
    if groups > WIDTH_MAX_GROUPS or filter_width + 1 > WIDTH_COLUMNS:
        raise ValueError(f"{groups} groups of taps over {filter_width + 1} columns: at most "
                         f"{WIDTH_MAX_GROUPS} over {WIDTH_COLUMNS}")
    cdef Py_ssize_t g, t
    for g in range(groups):
        if not (group_ends[g - 1] if g else 0) <= group_ends[g] <= taps:
            raise ValueError(f"group ends {list(group_ends)} must rise to at most {taps}")
    if groups == 0 or group_ends[groups - 1] != taps:
        raise ValueError(f"group ends {list(group_ends)} must end at {taps} taps")
    for t in range(taps):
        if not (0 <= tap_points[t] < points and 0 <= tap_rows[t] < C * filter_height):
            raise ValueError(f"tap {t} reads point {tap_points[t]} of {points}, row {tap_rows[t]} "
                             f"of {C * filter_height}")
    if not direct_conv_available():
        raise RuntimeError("the direct convolution kernel needs an x86-64 CPU with AVX2 and FMA")
    cdef Py_ssize_t pairs = (W_out + 1) // 2, column_groups = (pairs + WIDTH_PAIRS - 1) // WIDTH_PAIRS
    cdef Py_ssize_t pitch = column_groups * WIDTH_PAIRS, padded_height = H + 2 * pad
    # Each half of a padded row covers the reads j / 2 + u (j < WIDTH_COLUMNS, u < pitch)
    # and the image's columns (pad + W <= 2 * pitch + filter_width - 1).
    cdef Py_ssize_t half_length = pitch + WIDTH_COLUMNS
    cdef Py_ssize_t point_stride = C * padded_height * pitch
    cdef Py_ssize_t blocks = (F + 3) // 4, n, f, p, j, row_tile, ho, rows, column_group, wo, columns, r, b
    cdef float *V = <float *> malloc(points * point_stride * sizeof(float))
    cdef float *line = <float *> malloc(4 * half_length * sizeof(float))
    cdef float *transform = <float *> calloc(points * WIDTH_COLUMNS, sizeof(float))
    cdef Py_ssize_t *tap_offsets = <Py_ssize_t *> malloc(taps * sizeof(Py_ssize_t))
    cdef Py_ssize_t *ends = <Py_ssize_t *> malloc(groups * sizeof(Py_ssize_t))
    # Filters in blocks of 4, then by tap, the 4 weights of one tap side by side.
    cdef float *packed = <float *> calloc(blocks * taps * 4, sizeof(float))
    cdef float *padded_bias = <float *> calloc(blocks * 4, sizeof(float))
    cdef float *coefficients = <float *> malloc(groups * 2 * sizeof(float))
    cdef float *scratch = <float *> malloc(4 * WIDTH_ROWS * 2 * WIDTH_PAIRS * sizeof(float))
    cdef float *destination
    cdef const float *inputs
    cdef width_tile_fn tile
    cdef Py_ssize_t plane_size = H_out * W_out, width = 2 * WIDTH_PAIRS
    try:
        if not (V and line and transform and tap_offsets and ends and packed and padded_bias
                and coefficients and scratch):
            raise MemoryError()
        with nogil:
            for p in range(points):
                for j in range(filter_width + 1):
                    transform[p * WIDTH_COLUMNS + j] = BT[p, j]
            for g in range(groups):
                ends[g] = group_ends[g]
                coefficients[2 * g] = A[g, 0]
                coefficients[2 * g + 1] = A[g, 1]
            for t in range(taps):
                tap_offsets[t] = (tap_points[t] * point_stride
                                  + ((tap_rows[t] // filter_height) * padded_height
                                     + tap_rows[t] % filter_height) * pitch)
            for f in range(F):
                padded_bias[f] = bias[f]
                for t in range(taps):
                    packed[((f // 4) * taps + t) * 4 + f % 4] = U[t, f]
            for n in range(N):
                _width_transform_image(&x[n, 0, 0, 0], V, line, line + 2 * half_length, transform, points,
                                       C, H, W, pad, padded_height, half_length, pitch)
                # Filter blocks innermost: the transformed rows of one row tile are read
                # by every block while they are in the L1 cache (all of V is not).
                for row_tile in range((H_out + WIDTH_ROWS - 1) // WIDTH_ROWS):
                    ho = row_tile * WIDTH_ROWS
                    rows = min(WIDTH_ROWS, H_out - ho)
                    tile = width_tiles[rows - 1]
                    for column_group in range(column_groups):
                        wo = column_group * width
                        columns = min(width, W_out - wo)
                        inputs = V + ho * pitch + column_group * WIDTH_PAIRS
                        for b in range(blocks):
                            destination = &out[n, 4 * b, ho, wo]
                            if 4 * b + 4 <= F and columns == width:
                                tile(inputs, pitch, tap_offsets, ends, groups, packed + b * taps * 4,
                                     coefficients, padded_bias + 4 * b, destination, plane_size, W_out)
                                continue
                            tile(inputs, pitch, tap_offsets, ends, groups, packed + b * taps * 4,
                                 coefficients, padded_bias + 4 * b, scratch, WIDTH_ROWS * width, width)
                            for f in range(min(4, F - 4 * b)):
                                for r in range(rows):
                                    memcpy(destination + f * plane_size + r * W_out,
                                           scratch + (f * WIDTH_ROWS + r) * width, columns * sizeof(float))
    finally:
        free(V)
        free(line)
        free(transform)
        free(tap_offsets)
        free(ends)
        free(packed)
        free(padded_bias)
        free(coefficients)
        free(scratch)
