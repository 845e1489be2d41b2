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

``requant`` is the epilogue alone, for accumulators computed elsewhere. The integer
kernels that need no BLAS (depthwise, pooling, matrix-vector) are in _qdirect.pyx.
"""

from cython.parallel cimport prange, threadid
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint32_t

from ._qepilogue cimport (
    Geometry, RequantParams, epilogue_params, offset_params, requant_block, SRC_F32, SRC_I32,
    SRC_F64, SRC_I64,
)
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
        pg = offset_params(p, grp * og)
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
    cdef RequantParams p = epilogue_params(epilogue, _kind(<qint_t*>NULL))
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
    cdef RequantParams p = epilogue_params(epilogue, _kind(<qint_t*>NULL))
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
