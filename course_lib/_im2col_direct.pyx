# Included by _im2col.pyx (a Cython `include`, not a module of its own): it shares that
# file's helpers and is built into the same extension, course_lib._im2col.
#
# Direct convolution of float32 images with few channels. With C * HH * WW small
# (27 for 3x3 filters on RGB images), im2col's matrix product is thin, so BLAS
# runs it well below its peak and the columns cost as much as the product.
# Here every output is summed in registers straight from the zero-padded phase
# planes of one image (the layout of im2col_grouped_into, see phase_shape): a
# tile of 3 filters x 2 output rows x 16 columns keeps 12 vectors of 8 sums,
# and each filter tap adds one broadcast weight times 4 input vectors. The
# kernel is C with GCC vector types, compiled for AVX2 and FMA and used only
# when the CPU has both (checked at run time); elsewhere the caller keeps im2col.
# fast_layers also runs it backwards: at stride 1, dx is the convolution of
# dout with the flipped filters (channel axes swapped), zero padded by HH - 1 - pad.

cdef extern from *:
    """
    #if defined(__GNUC__) && defined(__x86_64__)
    #define DIRECT_CONV_COMPILED 1
    #define DIRECT_FILTERS 3
    #define DIRECT_ROWS 2
    #define DIRECT_VECTORS 2
    #define DIRECT_COLUMNS (8 * DIRECT_VECTORS)
    /* aligned(4): the input and output vectors start at any float. */
    typedef float direct_v8 __attribute__((vector_size(32), aligned(4)));

    static int direct_conv_supported(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }

    /* dst[f * filter_pitch + r * row_pitch + column] <- bias[f] + the sum over taps t of
       weights[t * DIRECT_FILTERS + f] * input[tap_offsets[t] + r * input_pitch + column],
       summed in registers partial_taps taps at a time (each partial sum then added in dst):
       one float32 chain over thousands of taps loses accuracy. */
    __attribute__((target("avx2,fma")))
    static void direct_conv_tile(const float *input, Py_ssize_t input_pitch,
                                 const Py_ssize_t *tap_offsets, Py_ssize_t taps, Py_ssize_t partial_taps,
                                 const float *weights, const float *bias,
                                 float *dst, Py_ssize_t filter_pitch, Py_ssize_t row_pitch) {
        direct_v8 sums[DIRECT_FILTERS][DIRECT_ROWS][DIRECT_VECTORS];
        const direct_v8 zero = {0};
        for (Py_ssize_t first = 0; first < taps; first += partial_taps) {
            Py_ssize_t last = first + partial_taps < taps ? first + partial_taps : taps;
            for (int f = 0; f < DIRECT_FILTERS; f++)
                for (int r = 0; r < DIRECT_ROWS; r++)
                    for (int v = 0; v < DIRECT_VECTORS; v++)
                        sums[f][r][v] = zero + (first == 0 ? bias[f] : 0.0f);
            for (Py_ssize_t t = first; t < last; t++) {
                const float *src = input + tap_offsets[t];
                const float *w = weights + t * DIRECT_FILTERS;
                for (int r = 0; r < DIRECT_ROWS; r++)
                    for (int v = 0; v < DIRECT_VECTORS; v++) {
                        direct_v8 x = *(const direct_v8 *)(src + r * input_pitch + 8 * v);
                        for (int f = 0; f < DIRECT_FILTERS; f++)
                            sums[f][r][v] += w[f] * x;
                    }
            }
            for (int f = 0; f < DIRECT_FILTERS; f++)
                for (int r = 0; r < DIRECT_ROWS; r++)
                    for (int v = 0; v < DIRECT_VECTORS; v++) {
                        direct_v8 *out = (direct_v8 *)(dst + f * filter_pitch + r * row_pitch + 8 * v);
                        *out = first == 0 ? sums[f][r][v] : *out + sums[f][r][v];
                    }
        }
    }
    #else
    #define DIRECT_CONV_COMPILED 0
    #define DIRECT_FILTERS 1
    #define DIRECT_ROWS 1
    #define DIRECT_COLUMNS 1
    static int direct_conv_supported(void) { return 0; }
    static void direct_conv_tile(const float *input, Py_ssize_t input_pitch,
                                 const Py_ssize_t *tap_offsets, Py_ssize_t taps, Py_ssize_t partial_taps,
                                 const float *weights, const float *bias,
                                 float *dst, Py_ssize_t filter_pitch, Py_ssize_t row_pitch) {}
    #endif
    """
    int DIRECT_CONV_COMPILED
    int DIRECT_FILTERS
    int DIRECT_ROWS
    int DIRECT_COLUMNS
    int direct_conv_supported() noexcept nogil
    void direct_conv_tile(const float *input, Py_ssize_t input_pitch, const Py_ssize_t *tap_offsets,
                          Py_ssize_t taps, Py_ssize_t partial_taps, const float *weights,
                          const float *bias, float *dst,
                          Py_ssize_t filter_pitch, Py_ssize_t row_pitch) noexcept nogil


def direct_conv_available():
    """True when direct_conv_forward_into can run here (x86-64 with AVX2 and FMA, built by GCC or clang)."""
    return bool(DIRECT_CONV_COMPILED and direct_conv_supported())


cdef void _direct_conv_image(const float *phases, Py_ssize_t pitch, const Py_ssize_t *tap_offsets,
                             Py_ssize_t taps, const float *packed, const float *bias, float *out,
                             Py_ssize_t F, Py_ssize_t H_out, Py_ssize_t W_out, float *scratch) noexcept nogil:
    """out (F x H_out x W_out) of one image, tile by tile; tiles that cross an edge of out go
    through scratch and only their inside is copied."""
    cdef Py_ssize_t block, ho, wo, f, r, filters, rows, columns, row_tile, column_tile
    cdef Py_ssize_t plane = H_out * W_out
    # Up to 256 taps (7x7 filters on 5 channels) in one chain, as accurate as im2col's
    # products; longer sums (the input gradient of many filters) in partial sums of 64.
    cdef Py_ssize_t partial_taps = taps if taps <= 256 else 64
    for block in range((F + DIRECT_FILTERS - 1) // DIRECT_FILTERS):
        filters = min(DIRECT_FILTERS, F - block * DIRECT_FILTERS)
        for row_tile in range((H_out + DIRECT_ROWS - 1) // DIRECT_ROWS):
            ho = row_tile * DIRECT_ROWS
            rows = min(DIRECT_ROWS, H_out - ho)
            for column_tile in range((W_out + DIRECT_COLUMNS - 1) // DIRECT_COLUMNS):
                wo = column_tile * DIRECT_COLUMNS
                columns = min(DIRECT_COLUMNS, W_out - wo)
                if filters == DIRECT_FILTERS and rows == DIRECT_ROWS and columns == DIRECT_COLUMNS:
                    direct_conv_tile(phases + ho * pitch + wo, pitch, tap_offsets, taps, partial_taps,
                                     packed + block * taps * DIRECT_FILTERS, bias + block * DIRECT_FILTERS,
                                     out + (block * DIRECT_FILTERS * H_out + ho) * W_out + wo, plane, W_out)
                    continue
                direct_conv_tile(phases + ho * pitch + wo, pitch, tap_offsets, taps, partial_taps,
                                 packed + block * taps * DIRECT_FILTERS, bias + block * DIRECT_FILTERS,
                                 scratch, DIRECT_ROWS * DIRECT_COLUMNS, DIRECT_COLUMNS)
                for f in range(filters):
                    for r in range(rows):
                        memcpy(out + ((block * DIRECT_FILTERS + f) * H_out + ho + r) * W_out + wo,
                               scratch + (f * DIRECT_ROWS + r) * DIRECT_COLUMNS, columns * sizeof(float))


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
    cdef Py_ssize_t H_out = shape[0], W_out = shape[1]
    # Phase planes with room for the reads of tiles that cross the bottom or right edge:
    # DIRECT_ROWS - 1 rows more, and a row pitch covering whole tiles plus the filter's reach.
    cdef Py_ssize_t rows = shape[2] + DIRECT_ROWS - 1
    cdef Py_ssize_t tiles_across = (W_out + DIRECT_COLUMNS - 1) // DIRECT_COLUMNS
    cdef Py_ssize_t pitch = max(shape[3], tiles_across * DIRECT_COLUMNS + (WW - 1) // s)
    cdef Py_ssize_t image_size = C * s * s * rows * pitch, taps = C * HH * WW
    cdef Py_ssize_t blocks = (F + DIRECT_FILTERS - 1) // DIRECT_FILTERS
    cdef Py_ssize_t n, c, i, j, f, t
    cdef float *phases = <float *> malloc(image_size * sizeof(float))
    cdef Py_ssize_t *tap_offsets = <Py_ssize_t *> malloc(taps * sizeof(Py_ssize_t))
    # Filters in blocks of DIRECT_FILTERS, the weights of one tap side by side; zero past F.
    cdef float *packed = <float *> calloc(blocks * DIRECT_FILTERS * taps, sizeof(float))
    cdef float *padded_bias = <float *> calloc(blocks * DIRECT_FILTERS, sizeof(float))
    cdef float *scratch = <float *> malloc(DIRECT_FILTERS * DIRECT_ROWS * DIRECT_COLUMNS * sizeof(float))
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
                            packed[((f // DIRECT_FILTERS) * taps + t) * DIRECT_FILTERS
                                   + f % DIRECT_FILTERS] = w[f, c, i, j]
            for f in range(F):
                padded_bias[f] = bias[f]
            for n in range(N):
                memset(phases, 0, image_size * sizeof(float))
                _split_phases(&x[n, 0, 0, 0], phases, C, H, W, pad, s, rows, pitch)
                _direct_conv_image(phases, pitch, tap_offsets, taps, packed, padded_bias,
                                   &out[n, 0, 0, 0], F, H_out, W_out, scratch)
    finally:
        free(phases)
        free(tap_offsets)
        free(packed)
        free(padded_bias)
        free(scratch)
