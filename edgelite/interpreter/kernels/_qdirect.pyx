"""Integer kernels that need no BLAS: depthwise convolution, pooling, matrix-vector.

``depthwise_int8`` sums one output row at a time in int32 (the tap loop over channels
is plain C that compilers vectorize; on x86-64 glibc with GCC it is compiled for AVX2
and for the baseline and the CPU picks at load time) and requantizes the row while it
is in cache. ``qpool2d`` pools raw values (TFLite's quantized pooling does not
rescale). ``gemv_int8`` multiplies a few int8 rows by int8 weights (the fully
connected layer of a classifier on one sample), a quarter of a float GEMM's memory
traffic. All of them end in the epilogue of _qepilogue.pxd.
"""

import numpy as np

from cython.parallel cimport prange, threadid
from libc.stdint cimport int8_t, int16_t, int32_t, uint8_t

from ._qepilogue cimport (
    Geometry, RequantParams, epilogue_params, requant_block, SRC_I32,
)
from ._threads cimport threads_for

ctypedef fused qint_t:
    int8_t
    uint8_t
    int16_t

ctypedef fused qdw_t:
    int8_t
    uint8_t
    int16_t


cdef extern from *:
    """
    #if defined(__x86_64__) && defined(__GNUC__) && defined(__GLIBC__) && !defined(__clang__)
    #define EDGELITE_CLONES __attribute__((target_clones("avx2", "default")))
    #else
    #define EDGELITE_CLONES
    #endif
    """
    pass


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
    /* int16 (16x8): products reach 2^22, summed in int32 (the caller bounds the taps). */
    EDGELITE_DW_TAP(edgelite_dw_tap_i16, int16_t, int32_t)
    """
    void edgelite_dw_tap_i8(int32_t* acc, const int8_t* x, Py_ssize_t step, const int16_t* w,
                            int32_t zx, Py_ssize_t pixels, Py_ssize_t channels) noexcept nogil
    void edgelite_dw_tap_u8(int32_t* acc, const uint8_t* x, Py_ssize_t step, const int16_t* w,
                            int32_t zx, Py_ssize_t pixels, Py_ssize_t channels) noexcept nogil
    void edgelite_dw_tap_i16(int32_t* acc, const int16_t* x, Py_ssize_t step, const int16_t* w,
                             int32_t zx, Py_ssize_t pixels, Py_ssize_t channels) noexcept nogil


cdef int _kind(qdw_t* dummy) noexcept nogil:
    if qdw_t is int8_t:
        return 0
    elif qdw_t is uint8_t:
        return 1
    else:
        return 2


cdef void _dw_row(const qdw_t* x, const int16_t* w, int32_t* acc, const Geometry* g,
                  Py_ssize_t b, Py_ssize_t oy, int32_t zx, Py_ssize_t mult) noexcept nogil:
    # int32 sums of one output row [out_w, C * mult] over the filter taps inside the image.
    cdef Py_ssize_t ow = g.out_w, c_in = g.channels, c_out = g.channels * mult
    cdef Py_ssize_t ky, kx, iy, ox0, ox1, start, ox, c, j
    cdef const qdw_t* src
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
                if qdw_t is int8_t:
                    edgelite_dw_tap_i8(acc + ox0 * c_out, src, g.sw * c_in, wt, zx, ox1 - ox0,
                                       c_in)
                elif qdw_t is uint8_t:
                    edgelite_dw_tap_u8(acc + ox0 * c_out, src, g.sw * c_in, wt, zx, ox1 - ox0,
                                       c_in)
                else:
                    edgelite_dw_tap_i16(acc + ox0 * c_out, src, g.sw * c_in, wt, zx, ox1 - ox0,
                                        c_in)
            else:
                for ox in range(ox1 - ox0):
                    for c in range(c_in):
                        for j in range(mult):
                            acc[(ox0 + ox) * c_out + c * mult + j] += (
                                (<int32_t>src[ox * g.sw * c_in + c] - zx) * wt[c * mult + j])


def depthwise_int8(const qdw_t[:, :, :, ::1] x, const int16_t[:, :, ::1] w,
                   qdw_t[:, :, :, ::1] out, int32_t[:, ::1] acc, tuple steps, int x_zero,
                   tuple epilogue, int num_threads=1):
    """Quantized depthwise convolution (int8 / uint8 / int16 images), int32 sums, requantized.

    ``w`` is [kh, kw, C * mult] as int16 (weight minus its zero point), ``steps``
    (stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left), ``acc`` int32
    scratch of [threads, out_w * C * mult].
    """
    cdef Geometry g
    cdef Py_ssize_t row, b, oy, batches = x.shape[0], c_out = out.shape[3]
    cdef RequantParams p = epilogue_params(epilogue, _kind(<qdw_t*>NULL))
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


cdef extern from *:
    """
    /* out[u] = sum_j x[j] * w[u * k + j] for int8 rows: a dot-product idiom compilers
       turn into vpmaddwd (AVX2 clone) or pmaddwd (baseline). */
    EDGELITE_CLONES static void edgelite_gemv_i8(const int8_t* x, const int8_t* w,
                                                 Py_ssize_t k, Py_ssize_t n, int32_t* out) {
        for (Py_ssize_t u = 0; u < n; ++u) {
            const int8_t* row = w + u * k;
            int32_t sum = 0;
            for (Py_ssize_t j = 0; j < k; ++j) {
                sum += (int32_t)(int16_t)x[j] * (int32_t)(int16_t)row[j];
            }
            out[u] = sum;
        }
    }
    """
    void edgelite_gemv_i8(const int8_t* x, const int8_t* w, Py_ssize_t k, Py_ssize_t n,
                          int32_t* out) noexcept nogil


def gemv_int8(const int8_t[:, ::1] x, const int8_t[:, ::1] w, int8_t[:, ::1] out,
              int32_t[:, ::1] acc, tuple epilogue):
    """A few rows of int8 x int8^T (a fully connected layer on one sample), requantized.

    The raw int8 products sum in int32 (the epilogue's bias carries the input zero-point
    correction); the weights stay int8, a quarter of the float GEMM's memory traffic.
    """
    cdef Py_ssize_t rows = x.shape[0], k = x.shape[1], n = w.shape[0], r
    cdef RequantParams p = epilogue_params(epilogue, 0)
    if w.shape[1] != k or out.shape[0] != rows or out.shape[1] != n or len(epilogue[2]) != n:
        raise ValueError(f"gemv shapes do not match: {rows}x{k} @ {n}x{w.shape[1]}")
    if acc.shape[0] < rows or acc.shape[1] < n:
        raise ValueError("gemv scratch is too small")
    if rows == 0 or n == 0:
        return
    with nogil:
        for r in range(rows):
            edgelite_gemv_i8(&x[r, 0] if k else NULL, &w[0, 0] if k else NULL, k, n, &acc[r, 0])
        requant_block(&acc[0, 0], SRC_I32, acc.shape[1], rows, n, &p, &out[0, 0], n)
