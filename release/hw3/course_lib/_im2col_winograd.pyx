# Included by _im2col.pyx (a Cython `include`, not a module of its own): it shares that
# file's fused type and is built into the same extension, course_lib._im2col.

# Winograd F(2x2, 3x3) for 3x3 filters at stride 1 (Lavin and Gray, 2016). Each 2x2
# block of outputs ("tile") comes from a 4x4 input patch d as
#     Y = A^T [ (G g G^T) * (B^T d B) ] A,
# so the 9 multiplies per output of a direct convolution become 16 per 4 outputs,
# done as 16 matrix products over channels. The constant matrices are
#     B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
#     A^T = [[1, 1, 1, 0], [0, 1, -1, -1]],
# and G (applied to the filters in fast_layers). Transformed arrays have shape
# (16, channels or filters, tiles) with tile index (n - n0) * tiles_h * tiles_w
# + th * tiles_w + tw, and element index e = 4 * row + column of the 4x4 block.

cdef inline void _bt_columns(real d[4][4]) noexcept nogil:
    """d <- B^T d: combine rows."""
    cdef int k
    cdef real d0, d1, d2, d3
    for k in range(4):
        d0, d1, d2, d3 = d[0][k], d[1][k], d[2][k], d[3][k]
        d[0][k] = d0 - d2
        d[1][k] = d1 + d2
        d[2][k] = d2 - d1
        d[3][k] = d1 - d3


cdef inline void _b_columns(real d[4][4]) noexcept nogil:
    """d <- B d: combine rows (the adjoint of _bt_columns)."""
    cdef int k
    cdef real d0, d1, d2, d3
    for k in range(4):
        d0, d1, d2, d3 = d[0][k], d[1][k], d[2][k], d[3][k]
        d[0][k] = d0
        d[1][k] = d1 - d2 + d3
        d[2][k] = d1 + d2 - d0
        d[3][k] = -d3


cdef inline void _transpose4(real d[4][4]) noexcept nogil:
    cdef int r, k
    cdef real t
    for r in range(4):
        for k in range(r + 1, 4):
            t = d[r][k]
            d[r][k] = d[k][r]
            d[k][r] = t


def _check_winograd(tuple images_shape, blocks, Py_ssize_t n0, Py_ssize_t n1, int pad,
                    Py_ssize_t channels):
    """Tiling of a 3x3, stride 1 convolution; blocks must be (16, channels, tiles) with unit
    stride along tiles (the other strides are free, so that callers can pad them)."""
    n, _, height, width = images_shape[:4]
    if pad < 0 or not 0 <= n0 <= n1 <= n:
        raise ValueError(f"need pad >= 0 and 0 <= n0 <= n1 <= {n}, got pad={pad}, [{n0}, {n1})")
    out_height, out_width = height + 2 * pad - 2, width + 2 * pad - 2
    if out_height < 1 or out_width < 1:
        raise ValueError(f"a 3x3 filter does not fit {height}x{width} images with pad {pad}")
    tiles_h, tiles_w = (out_height + 1) // 2, (out_width + 1) // 2
    expected = (16, channels, (n1 - n0) * tiles_h * tiles_w)
    if tuple(blocks.shape[:3]) != expected or blocks.strides[2] != blocks.itemsize:
        raise ValueError(f"transformed blocks have shape {tuple(blocks.shape[:3])} and strides "
                         f"{tuple(blocks.strides[:3])}, expected shape {expected} with unit "
                         f"stride along the last axis")
    return tiles_h, tiles_w


def winograd_input_into(const real[:, :, :, ::1] x, real[:, :, :] V, Py_ssize_t n0,
                        Py_ssize_t n1, int pad):
    """V[:, c, tile] <- B^T d B for the 4x4 patch d of every tile of images x[n0:n1]."""
    tiles_h, tiles_w = _check_winograd(tuple(x.shape), V, n0, n1, pad, x.shape[1])
    cdef Py_ssize_t C = x.shape[1], H = x.shape[2], W = x.shape[3], TH = tiles_h, TW = tiles_w
    cdef Py_ssize_t e_step = V.strides[0] // sizeof(real), c_step = V.strides[1] // sizeof(real)
    cdef Py_ssize_t n, c, th, tw, r, k, h0, w0
    cdef real d[4][4]
    cdef const real *image
    cdef real *dst
    with nogil:
        for n in range(n0, n1):
            for c in range(C):
                image = &x[n, c, 0, 0]
                dst = &V[0, 0, 0] + c * c_step + (n - n0) * TH * TW
                for th in range(TH):
                    h0 = 2 * th - pad
                    for tw in range(TW):
                        w0 = 2 * tw - pad
                        if h0 >= 0 and h0 + 4 <= H and w0 >= 0 and w0 + 4 <= W:
                            for r in range(4):
                                for k in range(4):
                                    d[r][k] = image[(h0 + r) * W + w0 + k]
                        else:
                            for r in range(4):
                                for k in range(4):
                                    if 0 <= h0 + r < H and 0 <= w0 + k < W:
                                        d[r][k] = image[(h0 + r) * W + w0 + k]
                                    else:
                                        d[r][k] = 0
                        _bt_columns(d)
                        _transpose4(d)
                        _bt_columns(d)
                        # d now holds (B^T d B)^T: block element (r, k) is d[k][r].
                        for r in range(4):
                            for k in range(4):
                                dst[(4 * r + k) * e_step] = d[k][r]
                        dst += 1


def winograd_input_adjoint_into(const real[:, :, :] dV, real[:, :, :, ::1] dx, Py_ssize_t n0,
                                Py_ssize_t n1, int pad):
    """Overwrite dx[n0:n1] with B dV B^T of every tile, summed over the overlapping patches."""
    tiles_h, tiles_w = _check_winograd(tuple(dx.shape), dV, n0, n1, pad, dx.shape[1])
    cdef Py_ssize_t C = dx.shape[1], H = dx.shape[2], W = dx.shape[3], TH = tiles_h, TW = tiles_w
    cdef Py_ssize_t e_step = dV.strides[0] // sizeof(real), c_step = dV.strides[1] // sizeof(real)
    cdef Py_ssize_t n, c, th, tw, r, k, h0, w0
    cdef real d[4][4]
    cdef real *image
    cdef const real *src
    with nogil:
        for n in range(n0, n1):
            for c in range(C):
                image = &dx[n, c, 0, 0]
                memset(image, 0, H * W * sizeof(real))
                src = &dV[0, 0, 0] + c * c_step + (n - n0) * TH * TW
                for th in range(TH):
                    h0 = 2 * th - pad
                    for tw in range(TW):
                        w0 = 2 * tw - pad
                        for r in range(4):
                            for k in range(4):
                                d[k][r] = src[(4 * r + k) * e_step]
                        src += 1
                        _b_columns(d)
                        _transpose4(d)
                        _b_columns(d)
                        if h0 >= 0 and h0 + 4 <= H and w0 >= 0 and w0 + 4 <= W:
                            for r in range(4):
                                for k in range(4):
                                    image[(h0 + r) * W + w0 + k] += d[r][k]
                        else:
                            for r in range(4):
                                for k in range(4):
                                    if 0 <= h0 + r < H and 0 <= w0 + k < W:
                                        image[(h0 + r) * W + w0 + k] += d[r][k]


def winograd_output_into(const real[:, :, :] M, const real[::1] bias, real[:, :, :, ::1] out,
                         Py_ssize_t n0, Py_ssize_t n1, int pad):
    """out[n0:n1] <- A^T m A + bias for the 4x4 block m of every tile and filter.

    out has the shape of the convolution output; pad is the convolution's padding
    (it fixes the tiling of the input).
    """
    cdef Py_ssize_t F = out.shape[1], H_out = out.shape[2], W_out = out.shape[3]
    tiles_h, tiles_w = _check_winograd(
        (out.shape[0], F, H_out + 2 - 2 * pad, W_out + 2 - 2 * pad), M, n0, n1, pad, F)
    if bias.shape[0] != F:
        raise ValueError(f"bias has {bias.shape[0]} entries for {F} filters")
    cdef Py_ssize_t TH = tiles_h, TW = tiles_w
    cdef Py_ssize_t e_step = M.strides[0] // sizeof(real), f_step = M.strides[1] // sizeof(real)
    cdef Py_ssize_t n, f, th, tw, k, h, w
    cdef real m[16]
    cdef real row0[4]
    cdef real row1[4]
    cdef real y00, y01, y10, y11, offset
    cdef const real *src
    cdef real *image
    with nogil:
        for n in range(n0, n1):
            for f in range(F):
                image = &out[n, f, 0, 0]
                src = &M[0, 0, 0] + f * f_step + (n - n0) * TH * TW
                offset = bias[f]
                for th in range(TH):
                    h = 2 * th
                    for tw in range(TW):
                        w = 2 * tw
                        for k in range(16):
                            m[k] = src[k * e_step]
                        src += 1
                        for k in range(4):
                            row0[k] = m[k] + m[4 + k] + m[8 + k]
                            row1[k] = m[4 + k] - m[8 + k] - m[12 + k]
                        y00 = row0[0] + row0[1] + row0[2] + offset
                        y01 = row0[1] - row0[2] - row0[3] + offset
                        y10 = row1[0] + row1[1] + row1[2] + offset
                        y11 = row1[1] - row1[2] - row1[3] + offset
                        image[h * W_out + w] = y00
                        if w + 1 < W_out:
                            image[h * W_out + w + 1] = y01
                        if h + 1 < H_out:
                            image[(h + 1) * W_out + w] = y10
                            if w + 1 < W_out:
                                image[(h + 1) * W_out + w + 1] = y11


def winograd_output_adjoint_into(const real[:, :, :, ::1] dout, real[:, :, :] dM,
                                 Py_ssize_t n0, Py_ssize_t n1, int pad):
    """dM[:, f, tile] <- A dy A^T for the 2x2 block dy of dout of every tile (zero past the edge)."""
    cdef Py_ssize_t F = dout.shape[1], H_out = dout.shape[2], W_out = dout.shape[3]
    tiles_h, tiles_w = _check_winograd(
        (dout.shape[0], F, H_out + 2 - 2 * pad, W_out + 2 - 2 * pad), dM, n0, n1, pad, F)
    cdef Py_ssize_t TH = tiles_h, TW = tiles_w
    cdef Py_ssize_t e_step = dM.strides[0] // sizeof(real), f_step = dM.strides[1] // sizeof(real)
    cdef Py_ssize_t n, f, th, tw, k, h, w
    cdef real y00, y01, y10, y11
    cdef real a0[4]
    cdef real a1[4]
    cdef const real *image
    cdef real *dst
    with nogil:
        for n in range(n0, n1):
            for f in range(F):
                image = &dout[n, f, 0, 0]
                dst = &dM[0, 0, 0] + f * f_step + (n - n0) * TH * TW
                for th in range(TH):
                    h = 2 * th
                    for tw in range(TW):
                        w = 2 * tw
                        y00 = image[h * W_out + w]
                        y01 = image[h * W_out + w + 1] if w + 1 < W_out else 0
                        y10 = image[(h + 1) * W_out + w] if h + 1 < H_out else 0
                        y11 = image[(h + 1) * W_out + w + 1] if h + 1 < H_out and w + 1 < W_out else 0
                        # Columns: A (y0, y1) = (y0, y0 + y1, y0 - y1, -y1), for both rows.
                        a0[0], a0[1], a0[2], a0[3] = y00, y00 + y01, y00 - y01, -y01
                        a1[0], a1[1], a1[2], a1[3] = y10, y10 + y11, y10 - y11, -y11
                        for k in range(4):
                            dst[k * e_step] = a0[k]
                            dst[(4 + k) * e_step] = a0[k] + a1[k]
                            dst[(8 + k) * e_step] = a0[k] - a1[k]
                            dst[(12 + k) * e_step] = -a1[k]
                        dst += 1
