"""Optimized integer convolutions and GEMMs: exact integer products on a float BLAS.

An int8 x int8 product is at most 2^14 in magnitude, so a float32 sum of up to 2^10
of them is exact: every partial sum is an integer below 2^24, whatever order the BLAS
adds them in. ``conv_gemm`` therefore turns a quantized convolution (or fully
connected layer) into OpenBLAS ``sgemm`` calls on float copies of the integers:

1. im2col a block of output pixels into float32 patches, input values shifted by
   ``xshift`` (0 for int8, 128 for uint8) so they stay within [-128, 128], padding
   taps holding the shifted input zero point;
2. multiply by the float32 weights (weight minus its zero point) in K-chunks short
   enough to stay exact (``chunk``), summing the chunks as int32;
3. requantize the int32 accumulators (_qepilogue.pxd), where the bias also carries
   the zero-point correction ``-(zx - xshift) * sum_k w[c, k]`` computed at prepare.

int16 activations would overflow float32 at once, so they take the same road with
float64 buffers and ``dgemm`` (exact for any realistic K). Blocks of output pixels
are spread over ``num_threads`` OpenMP threads, each with its own scratch rows, and
OpenBLAS is kept single-threaded by the caller.
"""

import numpy as np

from cython.parallel cimport prange, threadid
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint32_t

from ._qepilogue cimport RequantParams, requant_block, SRC_F32, SRC_I32, SRC_F64, SRC_I64
from ._threads cimport threads_for

ctypedef fused qint_t:
    int8_t
    uint8_t
    int16_t

ctypedef fused real_t:
    float
    double

ctypedef fused acc_t:
    float
    double
    int32_t
    int64_t

# cblas_sgemm / cblas_dgemm as numpy's OpenBLAS exports them (64- or 32-bit ints).
ctypedef void (*sgemm64_t)(int, int, int, long long, long long, long long, float,
                           const float*, long long, const float*, long long, float,
                           float*, long long) noexcept nogil
ctypedef void (*sgemm32_t)(int, int, int, int, int, int, float, const float*, int,
                           const float*, int, float, float*, int) noexcept nogil
ctypedef void (*dgemm64_t)(int, int, int, long long, long long, long long, double,
                           const double*, long long, const double*, long long, double,
                           double*, long long) noexcept nogil
ctypedef void (*dgemm32_t)(int, int, int, int, int, int, double, const double*, int,
                           const double*, int, double, double*, int) noexcept nogil

cdef enum:
    ROW_MAJOR = 101
    NO_TRANS = 111
    TRANS = 112


cdef struct Geometry:
    Py_ssize_t height, width, channels
    Py_ssize_t out_h, out_w
    Py_ssize_t kh, kw, sh, sw, dh, dw, pad_t, pad_l
    Py_ssize_t group_in, group_out, groups, k


cdef RequantParams _params(tuple epilogue, int kind) except *:
    # epilogue = (bias int32, bias int64, multiplier, shift, mode int8, real f64, zp, lo, hi)
    cdef const int32_t[::1] bias = epilogue[0]
    cdef const int64_t[::1] bias64 = epilogue[1]
    cdef const int32_t[::1] mult = epilogue[2]
    cdef const int32_t[::1] shift = epilogue[3]
    cdef const int8_t[::1] mode = epilogue[4]
    cdef const double[::1] real = epilogue[5]
    cdef RequantParams p
    cdef Py_ssize_t n = mult.shape[0]
    if shift.shape[0] != n or mode.shape[0] != n or real.shape[0] != n or n == 0:
        raise ValueError("epilogue arrays must have one entry per channel")
    if bias.shape[0] not in (0, n) or bias64.shape[0] not in (0, n):
        raise ValueError("bias must be empty or have one entry per channel")
    p.bias = &bias[0] if bias.shape[0] else NULL
    p.bias64 = &bias64[0] if bias64.shape[0] else NULL
    p.mult = &mult[0]
    p.shift = &shift[0]
    p.mode = &mode[0]
    p.real = &real[0]
    p.zp = epilogue[6]
    p.lo = epilogue[7]
    p.hi = epilogue[8]
    p.kind = kind
    return p


cdef RequantParams _offset(const RequantParams* p, Py_ssize_t c0) noexcept nogil:
    # The same parameters seen from channel c0 on (one group of a grouped conv).
    cdef RequantParams q = p[0]
    q.bias = p.bias + c0 if p.bias != NULL else NULL
    q.bias64 = p.bias64 + c0 if p.bias64 != NULL else NULL
    q.mult = p.mult + c0
    q.shift = p.shift + c0
    q.mode = p.mode + c0
    q.real = p.real + c0
    return q


cdef int _kind(qint_t* dummy) noexcept nogil:
    if qint_t is int8_t:
        return 0
    elif qint_t is uint8_t:
        return 1
    else:
        return 2


cdef void _patches(const qint_t* x, const Geometry* g, Py_ssize_t m0, Py_ssize_t m1,
                   Py_ssize_t c0, real_t* cols, real_t pad, int xshift) noexcept nogil:
    # Rows m0..m1-1 of the im2col matrix (output pixels over all images), taps in
    # (ky, kx, c) order like a TFLite filter row; outside the image: `pad`.
    cdef Py_ssize_t m, n, rest, oy, ox, ky, kx, iy, ix, ix0, j, cg = g.group_in
    cdef Py_ssize_t pixels = g.out_h * g.out_w, run = g.kw * cg
    cdef const qint_t* src
    cdef real_t* dst = cols
    # With dilation 1 and every channel, a filter row inside the image is one contiguous
    # run of kw * C input values (the few-channel first layers gain the most).
    cdef bint runs = g.dw == 1 and cg == g.channels
    for m in range(m0, m1):
        n = m // pixels
        rest = m - n * pixels
        oy = rest // g.out_w
        ox = rest - oy * g.out_w
        ix0 = ox * g.sw - g.pad_l
        for ky in range(g.kh):
            iy = oy * g.sh - g.pad_t + ky * g.dh
            if runs and iy >= 0 and iy < g.height and ix0 >= 0 and ix0 + g.kw <= g.width:
                src = x + ((n * g.height + iy) * g.width + ix0) * g.channels
                for j in range(run):
                    dst[j] = <real_t>(<int32_t>src[j] - xshift)
                dst += run
                continue
            for kx in range(g.kw):
                ix = ox * g.sw - g.pad_l + kx * g.dw
                if iy < 0 or iy >= g.height or ix < 0 or ix >= g.width:
                    for j in range(cg):
                        dst[j] = pad
                else:
                    src = x + ((n * g.height + iy) * g.width + ix) * g.channels + c0
                    for j in range(cg):
                        dst[j] = <real_t>(<int32_t>src[j] - xshift)
                dst += cg


cdef void _gemm(const real_t* a, const real_t* b, real_t* c, Py_ssize_t m, Py_ssize_t n,
                Py_ssize_t k, Py_ssize_t lda, Py_ssize_t ldb, size_t fn,
                bint int64) noexcept nogil:
    # c[m, n] = a[m, k] @ b[n, k]^T (row strides lda, ldb; c dense).
    if real_t is float:
        if int64:
            (<sgemm64_t>fn)(ROW_MAJOR, NO_TRANS, TRANS, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, n)
        else:
            (<sgemm32_t>fn)(ROW_MAJOR, NO_TRANS, TRANS, <int>m, <int>n, <int>k, 1.0, a,
                            <int>lda, b, <int>ldb, 0.0, c, <int>n)
    else:
        if int64:
            (<dgemm64_t>fn)(ROW_MAJOR, NO_TRANS, TRANS, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, n)
        else:
            (<dgemm32_t>fn)(ROW_MAJOR, NO_TRANS, TRANS, <int>m, <int>n, <int>k, 1.0, a,
                            <int>lda, b, <int>ldb, 0.0, c, <int>n)


cdef void _conv_block(const qint_t* x, const Geometry* g, Py_ssize_t m0, Py_ssize_t m1,
                      const real_t* w, real_t* cols, real_t* acc, int32_t* iacc,
                      const RequantParams* p, qint_t* out, real_t pad, int xshift,
                      Py_ssize_t chunk, size_t fn, bint int64) noexcept nogil:
    cdef Py_ssize_t rows = m1 - m0, og = g.group_out, k = g.k, grp, k0, kc, i
    cdef Py_ssize_t channels = og * g.groups
    cdef RequantParams pg
    cdef const void* src
    cdef int src_kind = SRC_F32 if real_t is float else SRC_F64
    for grp in range(g.groups):
        _patches(x, g, m0, m1, grp * g.group_in, cols, pad, xshift)
        if chunk >= k:
            _gemm(cols, w + grp * og * k, acc, rows, og, k, k, k, fn, int64)
            src = acc
        else:
            # Each chunk is exact in float; their sum is taken in int32 like the C kernels.
            k0 = 0
            while k0 < k:
                kc = min(chunk, k - k0)
                _gemm(cols + k0, w + grp * og * k + k0, acc, rows, og, kc, k, k, fn, int64)
                if k0 == 0:
                    for i in range(rows * og):
                        iacc[i] = <int32_t>acc[i]
                else:
                    for i in range(rows * og):
                        iacc[i] = <int32_t>(<uint32_t>iacc[i] + <uint32_t><int32_t>acc[i])
                k0 += kc
            src = iacc
            src_kind = SRC_I32
        pg = _offset(p, grp * og)
        requant_block(src, src_kind, og, rows, og, &pg, out + m0 * channels + grp * og, channels)


def conv_gemm(const qint_t[:, :, :, ::1] x, const real_t[:, ::1] w, qint_t[:, :, :, ::1] out,
              real_t[:, :, ::1] cols, real_t[:, :, ::1] acc, int32_t[:, :, ::1] iacc,
              tuple window, int groups, double pad, int xshift, Py_ssize_t chunk,
              tuple epilogue, size_t gemm, bint int64, int num_threads=1):
    """Quantized convolution (or fully connected layer) as exact float GEMMs.

    ``x`` [N, H, W, C] and ``out`` [N, oh, ow, O] share their integer type; ``w`` is
    [O, kh*kw*C/groups] (weights minus zero point, as float); ``window`` is
    (kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left). ``cols``,
    ``acc`` and ``iacc`` are per-thread scratch of shape [threads, block_rows, ...]
    (``iacc`` may be empty when ``chunk`` >= K). ``gemm`` is the address of
    cblas_sgemm (float32 buffers) or cblas_dgemm (float64), ``int64`` its int width.
    """
    cdef Geometry g
    cdef Py_ssize_t kh, kw, sh, sw, dh, dw, pad_t, pad_l
    kh, kw, sh, sw, dh, dw, pad_t, pad_l = window
    g.height, g.width, g.channels = x.shape[1], x.shape[2], x.shape[3]
    g.out_h, g.out_w = out.shape[1], out.shape[2]
    g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pad_t, g.pad_l = kh, kw, sh, sw, dh, dw, pad_t, pad_l
    g.groups = groups
    g.group_in = x.shape[3] // groups if groups > 0 else 0
    g.group_out = out.shape[3] // groups if groups > 0 else 0
    g.k = kh * kw * g.group_in
    cdef Py_ssize_t m = x.shape[0] * g.out_h * g.out_w
    cdef Py_ssize_t block = cols.shape[1], blocks, b, tid, m0
    cdef RequantParams p = _params(epilogue, _kind(<qint_t*>NULL))
    if groups <= 0 or x.shape[3] % groups or out.shape[3] % groups:
        raise ValueError(f"{groups} groups do not divide {x.shape[3]} / {out.shape[3]} channels")
    if out.shape[0] != x.shape[0] or w.shape[0] != out.shape[3] or w.shape[1] != g.k:
        raise ValueError(f"weights {w.shape[0]}x{w.shape[1]} do not match the convolution")
    if cols.shape[2] != g.k or acc.shape[1] != block or acc.shape[2] < g.group_out:
        raise ValueError("scratch buffers do not match the convolution")
    if chunk < g.k and (iacc.shape[1] != block or iacc.shape[2] < g.group_out):
        raise ValueError("a chunked GEMM needs its int32 scratch")
    if cols.shape[0] < 1 or acc.shape[0] < cols.shape[0] or block < 1 or chunk < 1:
        raise ValueError("empty scratch buffers")
    if gemm == 0:
        raise ValueError("no BLAS GEMM address")
    if m == 0 or out.shape[3] == 0:
        return
    blocks = (m + block - 1) // block
    num_threads = min(threads_for(<double>m * out.shape[3] * max(g.k, 1), num_threads),
                      <int>cols.shape[0])
    for b in prange(blocks, nogil=True, num_threads=num_threads, schedule="static"):
        tid = threadid()
        m0 = b * block
        _conv_block(&x[0, 0, 0, 0], &g, m0, min(m0 + block, m), &w[0, 0], &cols[tid, 0, 0],
                    &acc[tid, 0, 0], &iacc[tid, 0, 0] if chunk < g.k else NULL, &p,
                    &out[0, 0, 0, 0], <real_t>pad, xshift, chunk, gemm, int64)


def requant(const acc_t[:, ::1] acc, qint_t[:, ::1] out, tuple epilogue, int num_threads=1):
    """out[r, c] = requantized acc[r, c] (bias, multiplier, zero point, clamp) in place."""
    cdef Py_ssize_t rows = acc.shape[0], n = acc.shape[1], r0, step
    cdef RequantParams p = _params(epilogue, _kind(<qint_t*>NULL))
    cdef int src_kind
    if acc_t is float:
        src_kind = SRC_F32
    elif acc_t is double:
        src_kind = SRC_F64
    elif acc_t is int32_t:
        src_kind = SRC_I32
    else:
        src_kind = SRC_I64
    if out.shape[0] != rows or out.shape[1] != n or len(epilogue[2]) != n:
        raise ValueError(f"requant shapes do not match: {rows}x{n}")
    if rows == 0 or n == 0:
        return
    num_threads = threads_for(<double>rows * n * 8, num_threads)
    step = (rows + num_threads - 1) // num_threads
    for r0 in prange(0, rows, step, nogil=True, num_threads=num_threads, schedule="static"):
        requant_block(&acc[r0, 0], src_kind, n, min(step, rows - r0), n, &p, &out[r0, 0], n)


def shifted_float(const qint_t[::1] x, float[::1] out, int offset, int num_threads=1):
    """out[i] = float(x[i] - offset): integers to exact float32 for the float kernels."""
    cdef Py_ssize_t n = x.shape[0], i
    if out.shape[0] != n:
        raise ValueError(f"output has {out.shape[0]} values for {n}")
    num_threads = threads_for(<double>n, num_threads)
    for i in prange(n, nogil=True, num_threads=num_threads, schedule="static"):
        out[i] = <float>(<int32_t>x[i] - offset)


cdef void _qpool_pixel(const qint_t* x, qint_t* out, Py_ssize_t b, Py_ssize_t oy,
                       Py_ssize_t ox, const Geometry* g, bint is_max, int32_t* acc,
                       int32_t lo, int32_t hi) noexcept nogil:
    cdef Py_ssize_t c, ky, kx, iy, ix, count = 0, channels = g.channels
    cdef Py_ssize_t y0 = oy * g.sh - g.pad_t, x0 = ox * g.sw - g.pad_l
    cdef const qint_t* src
    cdef int32_t v
    for c in range(channels):
        acc[c] = -2147483647 - 1 if is_max else 0
    for ky in range(max(0, -y0), min(g.kh, g.height - y0)):
        iy = y0 + ky
        for kx in range(max(0, -x0), min(g.kw, g.width - x0)):
            ix = x0 + kx
            src = x + ((b * g.height + iy) * g.width + ix) * channels
            count += 1
            if is_max:
                for c in range(channels):
                    if src[c] > acc[c]:
                        acc[c] = src[c]
            else:
                for c in range(channels):
                    acc[c] += src[c]
    for c in range(channels):
        v = acc[c]
        if not is_max and count > 0:
            # TFLite: (sum +- count / 2) / count, truncating toward zero.
            v = (v + count // 2) // count if v > 0 else -((-v + count // 2) // count)
        out[c] = <qint_t>(lo if v < lo else (hi if v > hi else v))


def qpool2d(const qint_t[:, :, :, ::1] x, qint_t[:, :, :, ::1] out, bint is_max, tuple window,
            int lo, int hi, int num_threads=1):
    """Quantized max / average pooling on raw integers, clamped to [lo, hi].

    ``window`` is (filter_h, filter_w, stride_h, stride_w, pad_top, pad_left).
    """
    cdef Geometry g
    cdef Py_ssize_t row, b, oy, ox, batches = x.shape[0]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2]
    cdef int32_t[:, ::1] acc
    g.kh, g.kw, g.sh, g.sw, g.pad_t, g.pad_l = window
    g.height, g.width, g.channels = x.shape[1], x.shape[2], x.shape[3]
    if out.shape[0] != batches or out.shape[3] != g.channels:
        raise ValueError("pooling input and output shapes do not match")
    if batches == 0 or oh == 0 or ow == 0 or g.channels == 0:
        return
    num_threads = threads_for(<double>batches * oh * ow * g.channels * g.kh * g.kw, num_threads)
    acc = np.empty((num_threads, g.channels), np.int32)
    for row in prange(batches * oh, nogil=True, num_threads=num_threads, schedule="static"):
        b = row // oh
        oy = row % oh
        for ox in range(ow):
            _qpool_pixel(&x[0, 0, 0, 0], &out[b, oy, ox, 0], b, oy, ox, &g, is_max,
                         &acc[threadid(), 0], lo, hi)


cdef extern from *:
    """
    /* One depthwise filter tap over a run of output pixels:
       acc[p * C + c] += (x[p * step + c] - zx) * w[c], products in int32.
       Compiled for AVX2 and for the baseline, picked at load time (GCC ifunc). */
    #if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(__clang__)
    #define EDGELITE_CLONES __attribute__((target_clones("avx2", "default")))
    #else
    #define EDGELITE_CLONES
    #endif

    #define EDGELITE_DW_TAP(NAME, TYPE, PRODUCT)                                     \\
    EDGELITE_CLONES static void NAME(int32_t* acc, const TYPE* x, Py_ssize_t step,  \\
                                     const int16_t* w, int32_t zx, Py_ssize_t pixels, \\
                                     Py_ssize_t channels) {                         \\
        for (Py_ssize_t p = 0; p < pixels; ++p) {                                   \\
            const TYPE* xp = x + p * step;                                          \\
            int32_t* ap = acc + p * channels;                                       \\
            for (Py_ssize_t c = 0; c < channels; ++c) {                             \\
                ap[c] += (PRODUCT)(((int32_t)xp[c] - zx) * (int32_t)w[c]);          \\
            }                                                                       \\
        }                                                                           \\
    }
    /* int8: |x - zx| * |w| <= 255 * 128 fits int16 (cheaper vector multiplies);
       uint8 weights minus their zero point reach 255, so their products need int32. */
    EDGELITE_DW_TAP(edgelite_dw_tap_i8, int8_t, int16_t)
    EDGELITE_DW_TAP(edgelite_dw_tap_u8, uint8_t, int32_t)

    """

    void edgelite_dw_tap_i8(int32_t* acc, const int8_t* x, Py_ssize_t step, const int16_t* w,
                            int32_t zx, Py_ssize_t pixels, Py_ssize_t channels) noexcept nogil
    void edgelite_dw_tap_u8(int32_t* acc, const uint8_t* x, Py_ssize_t step, const int16_t* w,
                            int32_t zx, Py_ssize_t pixels, Py_ssize_t channels) noexcept nogil


ctypedef fused q8_t:
    int8_t
    uint8_t


cdef void _dw_row(const q8_t* x, const int16_t* w, int32_t* acc, const Geometry* g,
                  Py_ssize_t b, Py_ssize_t oy, int32_t zx, Py_ssize_t mult) noexcept nogil:
    # int32 sums of one output row [out_w, C * mult] over the filter taps inside the image.
    cdef Py_ssize_t ow = g.out_w, c_in = g.channels, c_out = g.channels * mult
    cdef Py_ssize_t ky, kx, iy, ox0, ox1, start, ox, c, j
    cdef const q8_t* src
    cdef const int16_t* wt
    for c in range(ow * c_out):
        acc[c] = 0
    for ky in range(g.kh):
        iy = oy * g.sh - g.pad_t + ky * g.dh
        if iy < 0 or iy >= g.height:
            continue
        for kx in range(g.kw):
            # Output columns whose tap kx lands inside the image.
            start = g.pad_l - kx * g.dw
            ox0 = (start + g.sw - 1) // g.sw if start > 0 else 0
            ox1 = (g.width - 1 + start) // g.sw + 1 if g.width - 1 + start >= 0 else 0
            ox1 = min(ox1, ow)
            if ox1 <= ox0:
                continue
            src = x + ((b * g.height + iy) * g.width + ox0 * g.sw - start) * c_in
            wt = w + (ky * g.kw + kx) * c_out
            if mult == 1:
                if q8_t is int8_t:
                    edgelite_dw_tap_i8(acc + ox0 * c_out, src, g.sw * c_in, wt, zx, ox1 - ox0,
                                       c_in)
                else:
                    edgelite_dw_tap_u8(acc + ox0 * c_out, src, g.sw * c_in, wt, zx, ox1 - ox0,
                                       c_in)
            else:
                for ox in range(ox1 - ox0):
                    for c in range(c_in):
                        for j in range(mult):
                            acc[(ox0 + ox) * c_out + c * mult + j] += (
                                (<int32_t>src[ox * g.sw * c_in + c] - zx) * wt[c * mult + j])


def depthwise_int8(const q8_t[:, :, :, ::1] x, const int16_t[:, :, ::1] w,
                   q8_t[:, :, :, ::1] out, int32_t[:, ::1] acc, tuple steps, int x_zero,
                   tuple epilogue, int num_threads=1):
    """Quantized depthwise convolution of int8 / uint8 images, integer sums, requantized.

    ``w`` is [kh, kw, C * mult] as int16 (weight minus its zero point), ``steps``
    (stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left), ``acc`` int32
    scratch of [threads, out_w * C * mult].
    """
    cdef Geometry g
    cdef Py_ssize_t row, b, oy, batches = x.shape[0], c_out = out.shape[3]
    cdef RequantParams p = _params(epilogue, _kind(<q8_t*>NULL))
    g.sh, g.sw, g.dh, g.dw, g.pad_t, g.pad_l = steps
    g.height, g.width, g.channels = x.shape[1], x.shape[2], x.shape[3]
    g.out_h, g.out_w = out.shape[1], out.shape[2]
    g.kh, g.kw = w.shape[0], w.shape[1]
    if g.channels == 0 or c_out % g.channels or w.shape[2] != c_out or out.shape[0] != batches:
        raise ValueError("depthwise shapes do not match")
    if acc.shape[1] < g.out_w * c_out or len(epilogue[2]) != c_out:
        raise ValueError("depthwise scratch or epilogue does not match")
    if batches == 0 or g.out_h == 0 or g.out_w == 0:
        return
    num_threads = min(threads_for(<double>batches * g.out_h * g.out_w * c_out * g.kh * g.kw,
                                  num_threads), <int>acc.shape[0])
    for row in prange(batches * g.out_h, nogil=True, num_threads=num_threads, schedule="static"):
        b = row // g.out_h
        oy = row % g.out_h
        _dw_row(&x[0, 0, 0, 0], &w[0, 0, 0], &acc[threadid(), 0], &g, b, oy, x_zero,
                c_out // g.channels)
        requant_block(&acc[threadid(), 0], SRC_I32, c_out, g.out_w, c_out, &p, &out[b, oy, 0, 0],
                      c_out)
