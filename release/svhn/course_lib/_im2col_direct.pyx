# Included by _im2col.pyx (a Cython `include`, not a module of its own): it shares that
# file's helpers and is built into the same extension, course_lib._im2col.
#
# Direct convolution of float32 images with few channels. With C * HH * WW small
# (27 for 3x3 filters on RGB images), im2col's matrix product is thin, so BLAS
# runs it well below its peak and the columns cost as much as the product.
# Here every output is summed in registers straight from the zero-padded phase
# planes of one image (the layout of im2col_grouped_into, see phase_shape), a tile
# of outputs at a time: either 3 filters x 2 output rows x 16 columns or 4 filters
# x 3 rows x 8 columns, 12 vectors of 8 sums either way (of the 16 AVX2 registers),
# whichever wastes fewer filter slots on F (the last block of filters is padded).
# Rows left over below the last whole tile get a tile with fewer rows of the same
# kind; columns left over, and a padded block of filters, go through a scratch tile.
# The kernel is C with GCC vector types, compiled for AVX2 and FMA and used only
# when the CPU has both (checked at run time); elsewhere the caller keeps im2col.
# fast_layers also runs it backwards: at stride 1, dx is the convolution of
# dout with the flipped filters (channel axes swapped), zero padded by HH - 1 - pad.

cdef extern from *:
    """
    #if defined(__GNUC__) && defined(__x86_64__)
    #define DIRECT_CONV_COMPILED 1
    /* aligned(4): the input and output vectors start at any float. */
    typedef float direct_v8 __attribute__((vector_size(32), aligned(4)));
    typedef void (*direct_tile_fn)(const float *, Py_ssize_t, const Py_ssize_t *, Py_ssize_t, Py_ssize_t,
                                   const float *, const float *, float *, Py_ssize_t, Py_ssize_t);

    static int direct_conv_supported(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }

    /* NAME(...): dst[f * filter_pitch + r * row_pitch + column] <- bias[f] + the sum over taps t
       of weights[t * FILTERS + f] * input[tap_offsets[t] + r * input_pitch + column], for FILTERS
       filters, ROWS rows and 8 * VECTORS columns; summed in registers partial_taps taps at a time
       (each partial sum then added in dst): one float32 chain over thousands of taps loses
       accuracy. With one vector per row, a tap's input vectors are loaded first and each
       weight is broadcast once (12 sums + 3 inputs + 1 weight fill the 16 registers); with
       two, each input vector meets the FILTERS weights held in registers. */
    #define DIRECT_TILE(NAME, FILTERS, ROWS, VECTORS)                                             \
    __attribute__((target("avx2,fma")))                                                          \
    static void NAME(const float *input, Py_ssize_t input_pitch, const Py_ssize_t *tap_offsets,  \
                     Py_ssize_t taps, Py_ssize_t partial_taps, const float *weights,             \
                     const float *bias, float *dst, Py_ssize_t filter_pitch, Py_ssize_t row_pitch) { \
        direct_v8 sums[FILTERS][ROWS][VECTORS];                                                  \
        const direct_v8 zero = {0};                                                              \
        for (Py_ssize_t first = 0; first < taps; first += partial_taps) {                        \
            Py_ssize_t last = first + partial_taps < taps ? first + partial_taps : taps;         \
            for (int f = 0; f < FILTERS; f++)                                                    \
                for (int r = 0; r < ROWS; r++)                                                   \
                    for (int v = 0; v < VECTORS; v++)                                            \
                        sums[f][r][v] = zero + (first == 0 ? bias[f] : 0.0f);                    \
            for (Py_ssize_t t = first; t < last; t++) {                                          \
                const float *src = input + tap_offsets[t];                                       \
                const float *w = weights + t * FILTERS;                                          \
                if (VECTORS == 1) {                                                              \
                    direct_v8 x[ROWS];                                                           \
                    for (int r = 0; r < ROWS; r++)                                               \
                        x[r] = *(const direct_v8 *)(src + r * input_pitch);                      \
                    for (int f = 0; f < FILTERS; f++) {                                          \
                        float weight = w[f];                                                     \
                        for (int r = 0; r < ROWS; r++)                                           \
                            sums[f][r][0] += weight * x[r];                                      \
                    }                                                                            \
                } else {                                                                         \
                    for (int r = 0; r < ROWS; r++)                                               \
                        for (int v = 0; v < VECTORS; v++) {                                      \
                            direct_v8 x = *(const direct_v8 *)(src + r * input_pitch + 8 * v);   \
                            for (int f = 0; f < FILTERS; f++)                                    \
                                sums[f][r][v] += w[f] * x;                                       \
                        }                                                                        \
                }                                                                                \
            }                                                                                    \
            for (int f = 0; f < FILTERS; f++)                                                    \
                for (int r = 0; r < ROWS; r++)                                                   \
                    for (int v = 0; v < VECTORS; v++) {                                          \
                        direct_v8 *out = (direct_v8 *)(dst + f * filter_pitch + r * row_pitch + 8 * v); \
                        *out = first == 0 ? sums[f][r][v] : *out + sums[f][r][v];                \
                    }                                                                            \
        }                                                                                        \
    }
    DIRECT_TILE(direct_tile_3x2x16, 3, 2, 2)
    DIRECT_TILE(direct_tile_3x1x16, 3, 1, 2)
    DIRECT_TILE(direct_tile_4x3x8, 4, 3, 1)
    DIRECT_TILE(direct_tile_4x2x8, 4, 2, 1)
    DIRECT_TILE(direct_tile_4x1x8, 4, 1, 1)

    /* The two kinds of tile, by their number of filters: tiles[rows - 1] has that many rows. */
    typedef struct {
        int filters, rows, columns;
        direct_tile_fn tiles[3];
    } direct_tiling;
    static const direct_tiling direct_tiling_3 = {3, 2, 16, {direct_tile_3x1x16, direct_tile_3x2x16, 0}};
    static const direct_tiling direct_tiling_4 = {4, 3, 8,
                                                  {direct_tile_4x1x8, direct_tile_4x2x8, direct_tile_4x3x8}};
    #else
    #define DIRECT_CONV_COMPILED 0
    typedef void (*direct_tile_fn)(const float *, Py_ssize_t, const Py_ssize_t *, Py_ssize_t, Py_ssize_t,
                                   const float *, const float *, float *, Py_ssize_t, Py_ssize_t);
    typedef struct {
        int filters, rows, columns;
        direct_tile_fn tiles[3];
    } direct_tiling;
    static const direct_tiling direct_tiling_3 = {1, 1, 1, {0, 0, 0}};
    static const direct_tiling direct_tiling_4 = {1, 1, 1, {0, 0, 0}};
    static int direct_conv_supported(void) { return 0; }
    #endif
    """
    int DIRECT_CONV_COMPILED
    ctypedef void (*direct_tile_fn)(const float *input, Py_ssize_t input_pitch, const Py_ssize_t *tap_offsets,
                                    Py_ssize_t taps, Py_ssize_t partial_taps, const float *weights,
                                    const float *bias, float *dst,
                                    Py_ssize_t filter_pitch, Py_ssize_t row_pitch) noexcept nogil
    ctypedef struct direct_tiling:
        int filters
        int rows
        int columns
        direct_tile_fn tiles[3]
    const direct_tiling direct_tiling_3
    const direct_tiling direct_tiling_4
    int direct_conv_supported() noexcept nogil


def direct_conv_available():
    """True when direct_conv_forward_into can run here (x86-64 with AVX2 and FMA, built by GCC or clang)."""
    return bool(DIRECT_CONV_COMPILED and direct_conv_supported())


cdef void _direct_conv_image(const direct_tiling *tiling, const float *phases, Py_ssize_t pitch,
                             const Py_ssize_t *tap_offsets, Py_ssize_t taps, const float *packed,
                             const float *bias, float *out, Py_ssize_t F, Py_ssize_t H_out, Py_ssize_t W_out,
                             float *scratch) noexcept nogil:
    """out (F x H_out x W_out) of one image, tile by tile; tiles that cross the right edge of out
    or hold padding filters go through scratch and only their inside is copied."""
    cdef Py_ssize_t block, ho, wo, f, r, filters, rows, columns, row_tile, column_tile
    cdef Py_ssize_t plane = H_out * W_out, block_size = tiling.filters, width = tiling.columns
    cdef direct_tile_fn tile
    cdef const float *weights
    # Up to 256 taps (7x7 filters on 5 channels) in one chain, as accurate as im2col's
    # products; longer sums (the input gradient of many filters) in partial sums of 64.
    cdef Py_ssize_t partial_taps = taps if taps <= 256 else 64
    for block in range((F + block_size - 1) // block_size):
        filters = min(block_size, F - block * block_size)
        weights = packed + block * taps * block_size
        for row_tile in range((H_out + tiling.rows - 1) // tiling.rows):
            ho = row_tile * tiling.rows
            rows = min(tiling.rows, H_out - ho)
            tile = tiling.tiles[rows - 1]
            for column_tile in range((W_out + width - 1) // width):
                wo = column_tile * width
                columns = min(width, W_out - wo)
                if filters == block_size and columns == width:
                    tile(phases + ho * pitch + wo, pitch, tap_offsets, taps, partial_taps, weights,
                         bias + block * block_size, out + (block * block_size * H_out + ho) * W_out + wo,
                         plane, W_out)
                    continue
                tile(phases + ho * pitch + wo, pitch, tap_offsets, taps, partial_taps, weights,
                     bias + block * block_size, scratch, tiling.rows * width, width)
                for f in range(filters):
                    for r in range(rows):
                        memcpy(out + ((block * block_size + f) * H_out + ho + r) * W_out + wo,
                               scratch + (f * tiling.rows + r) * width, columns * sizeof(float))


def direct_conv_forward_into(const float[:, :, :, ::1] x, const float[:, :, :, ::1] w,
                             const float[::1] bias, float[:, :, :, ::1] out, int pad, int stride):
    """out <- the convolution of x with filters w plus bias, computed directly (float32 only;
    call only when direct_conv_available())."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t F = w.shape[0], HH = w.shape[2], WW = w.shape[3], s = stride
    shape = phase_shape(H, W, HH, WW, pad, stride)
    if (w.shape[1] != C or bias.shape[0] != F
            or tuple(out.shape)[:4] != (N, F, shape[0], shape[1])):
        raise ValueError(f"x {tuple(x.shape)[:4]}, w {tuple(w.shape)[:4]}, bias ({bias.shape[0]},) and "
                         f"out {tuple(out.shape)[:4]} disagree for pad {pad}, stride {stride}")
    if not direct_conv_available():
        raise RuntimeError("the direct convolution kernel needs an x86-64 CPU with AVX2 and FMA")
    # Blocks of 4 filters when they pad F less than blocks of 3 (32 filters: 32 against 33).
    cdef const direct_tiling *tiling = &direct_tiling_3
    if (F + 3) // 4 * 4 < (F + 2) // 3 * 3:
        tiling = &direct_tiling_4
    cdef Py_ssize_t block_size = tiling.filters
    cdef Py_ssize_t H_out = shape[0], W_out = shape[1], rows = shape[2]
    # Phase planes whose rows cover the reads of the tiles that cross the right edge:
    # whole tiles plus the filter's reach.
    cdef Py_ssize_t tiles_across = (W_out + tiling.columns - 1) // tiling.columns
    cdef Py_ssize_t pitch = max(shape[3], tiles_across * tiling.columns + (WW - 1) // s)
    cdef Py_ssize_t image_size = C * s * s * rows * pitch, taps = C * HH * WW
    cdef Py_ssize_t blocks = (F + block_size - 1) // block_size
    cdef Py_ssize_t n, c, i, j, f, t
    cdef float *phases = <float *> malloc(image_size * sizeof(float))
    cdef Py_ssize_t *tap_offsets = <Py_ssize_t *> malloc(taps * sizeof(Py_ssize_t))
    # Filters in blocks, the weights of one tap side by side; zero past F.
    cdef float *packed = <float *> calloc(blocks * block_size * taps, sizeof(float))
    cdef float *padded_bias = <float *> calloc(blocks * block_size, sizeof(float))
    cdef float *scratch = <float *> malloc(block_size * tiling.rows * tiling.columns * sizeof(float))
    try:
        if not (phases and tap_offsets and packed and padded_bias and scratch):
            raise MemoryError()
        with nogil:
            for c in range(C):
                for i in range(HH):
                    for j in range(WW):
                        t = (c * HH + i) * WW + j
                        tap_offsets[t] = (((c * s + i % s) * s + j % s) * rows + i // s) * pitch + j // s
                        for f in range(F):
                            packed[((f // block_size) * taps + t) * block_size + f % block_size] = w[f, c, i, j]
            for f in range(F):
                padded_bias[f] = bias[f]
            for n in range(N):
                memset(phases, 0, image_size * sizeof(float))
                _split_phases(&x[n, 0, 0, 0], phases, C, H, W, pad, s, rows, pitch)
                _direct_conv_image(tiling, phases, pitch, tap_offsets, taps, packed, padded_bias,
                                   &out[n, 0, 0, 0], F, H_out, W_out, scratch)
    finally:
        free(phases)
        free(tap_offsets)
        free(packed)
        free(padded_bias)
        free(scratch)
