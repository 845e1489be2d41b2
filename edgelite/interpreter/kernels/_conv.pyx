"""Optimized float32 building blocks for the convolution kernels.

Everything here works on C-contiguous NHWC float32 arrays and is held equal to the
numpy reference kernels by the tests. The GEMMs themselves stay in numpy's BLAS;
these helpers do the memory-bound parts around them (im2col, col2im, the fused
bias + activation epilogue) and the whole depthwise convolution, which has too
little arithmetic per byte for a GEMM to pay off.
"""

from cython.parallel cimport prange

from ._simd cimport f32x4, f32x4_add, f32x4_clamp, f32x4_load, f32x4_splat, f32x4_store
from ._threads cimport threads_for


cdef inline float32_t _clamp(float32_t v, float32_t lo, float32_t hi) noexcept nogil:
    # max/min written as comparisons so NaN passes through like std::min/std::max
    # in TFLite's ActivationFunctionWithMinMax.
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


cdef void _bias_act_rows(float32_t* out, const float32_t* bias, Py_ssize_t rows,
                         Py_ssize_t cols, float32_t lo, float32_t hi) noexcept nogil:
    cdef Py_ssize_t r, c
    cdef float32_t* row
    cdef f32x4 vlo = f32x4_splat(lo), vhi = f32x4_splat(hi), v
    for r in range(rows):
        row = out + r * cols
        c = 0
        while c + 4 <= cols:
            v = f32x4_load(row + c)
            if bias != NULL:
                v = f32x4_add(v, f32x4_load(bias + c))
            f32x4_store(row + c, f32x4_clamp(v, vlo, vhi))
            c += 4
        while c < cols:
            row[c] = _clamp(row[c] + bias[c] if bias != NULL else row[c], lo, hi)
            c += 1


def bias_act(float32_t[:, ::1] out, const float32_t[::1] bias, float lo, float hi,
             int num_threads=1):
    """out[r, :] = clamp(out[r, :] + bias, lo, hi) in one pass (bias may be empty)."""
    cdef Py_ssize_t rows = out.shape[0], cols = out.shape[1]
    cdef const float32_t* b = NULL
    cdef Py_ssize_t r0, step
    if bias.shape[0] not in (0, cols):
        raise ValueError(f"bias has {bias.shape[0]} values for {cols} channels")
    if rows == 0 or cols == 0:
        return
    if bias.shape[0]:
        b = &bias[0]
    num_threads = threads_for(<double>rows * cols, num_threads)
    step = (rows + num_threads - 1) // num_threads
    for r0 in prange(0, rows, step, nogil=True, num_threads=num_threads, schedule="static"):
        _bias_act_rows(&out[r0, 0], b, min(step, rows - r0), cols, lo, hi)


cdef void _im2col_row(const float32_t* x, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                      float32_t* dst, Py_ssize_t oy, Py_ssize_t ow, Py_ssize_t kh,
                      Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh,
                      Py_ssize_t dw, Py_ssize_t pad_t, Py_ssize_t pad_l, Py_ssize_t c0,
                      Py_ssize_t cg) noexcept nogil:
    # One output row of an [h, w, c] image: ow patches of kh*kw*cg values each, ordered
    # (ky, kx, c) like a TFLite filter row [kh, kw, in]; taps outside the image are zero.
    cdef Py_ssize_t ox, ky, kx, j, iy, ix, ix0, run
    cdef const float32_t* src
    # With dilation 1 and every channel, a filter row is one contiguous run of kw*c
    # input values: copy it in one loop instead of kw short ones.
    cdef bint runs = dw == 1 and cg == c
    for ox in range(ow):
        ix0 = ox * sw - pad_l
        for ky in range(kh):
            iy = oy * sh - pad_t + ky * dh
            if iy < 0 or iy >= h:
                for j in range(kw * cg):
                    dst[j] = 0
                dst += kw * cg
            elif runs and ix0 >= 0 and ix0 + kw <= w:
                src = x + (iy * w + ix0) * c
                run = kw * cg
                for j in range(run):
                    dst[j] = src[j]
                dst += run
            else:
                for kx in range(kw):
                    ix = ix0 + kx * dw
                    if ix < 0 or ix >= w:
                        for j in range(cg):
                            dst[j] = 0
                    else:
                        src = x + (iy * w + ix) * c + c0
                        for j in range(cg):
                            dst[j] = src[j]
                    dst += cg


def im2col(const float32_t[:, :, ::1] x, float32_t[:, ::1] cols, int oy0, int oy1, int ow,
           tuple window, int c0, int cg, int num_threads=1):
    """Patches of output rows oy0..oy1-1 of one HWC image into cols[(oy-oy0)*ow + ox, :].

    ``window`` is (kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left);
    channels c0..c0+cg-1 are gathered (one group of a grouped convolution).
    """
    cdef Py_ssize_t kh, kw, sh, sw, dh, dw, pad_t, pad_l
    kh, kw, sh, sw, dh, dw, pad_t, pad_l = window
    cdef Py_ssize_t k = kh * kw * cg, oy
    if cols.shape[0] < (oy1 - oy0) * ow or cols.shape[1] != k:
        raise ValueError(f"im2col buffer {cols.shape[0]}x{cols.shape[1]} too small")
    if c0 < 0 or cg <= 0 or c0 + cg > x.shape[2]:
        raise ValueError(f"channel slice {c0}:{c0 + cg} outside {x.shape[2]} channels")
    if ow <= 0 or oy1 <= oy0:
        return
    cdef Py_ssize_t h = x.shape[0], w = x.shape[1]
    # An empty image has every tap in the padding: the pointer is never read.
    cdef const float32_t* image = &x[0, 0, 0] if h and w else NULL
    num_threads = threads_for(<double>(oy1 - oy0) * ow * k, num_threads)
    for oy in prange(oy0, oy1, nogil=True, num_threads=num_threads, schedule="static"):
        _im2col_row(image, h, w, x.shape[2], &cols[(oy - oy0) * ow, 0], oy, ow, kh, kw, sh,
                    sw, dh, dw, pad_t, pad_l, c0, cg)


cdef void _col2im_row(const float32_t* src, float32_t[:, :, ::1] out, Py_ssize_t iy,
                      Py_ssize_t in_w, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                      Py_ssize_t sw, Py_ssize_t pad_t, Py_ssize_t pad_l) noexcept nogil:
    # Scatter-add one input row's GEMM products into the output (transpose conv).
    cdef Py_ssize_t oh = out.shape[0], ow = out.shape[1], oc = out.shape[2]
    cdef Py_ssize_t ix, ky, kx, c, oy, ox
    cdef float32_t* dst
    for ix in range(in_w):
        for ky in range(kh):
            oy = iy * sh - pad_t + ky
            for kx in range(kw):
                ox = ix * sw - pad_l + kx
                if 0 <= oy < oh and 0 <= ox < ow:
                    dst = &out[oy, ox, 0]
                    for c in range(oc):
                        dst[c] += src[c]
                src += oc


def col2im_add(const float32_t[:, ::1] cols, float32_t[:, :, ::1] out, int in_h, int in_w,
               int kh, int kw, int sh, int sw, int pad_t, int pad_l):
    """out[iy*sh - pad_t + ky, ix*sw - pad_l + kx, :] += cols[iy*in_w + ix, (ky, kx, :)]."""
    cdef Py_ssize_t iy
    if cols.shape[0] != in_h * in_w or cols.shape[1] != kh * kw * out.shape[2]:
        raise ValueError(f"col2im buffer {cols.shape[0]}x{cols.shape[1]} does not match")
    if in_h == 0 or in_w == 0 or out.shape[2] == 0:
        return
    # Rows overlap in the output when stride < filter, so this stays sequential.
    with nogil:
        for iy in range(in_h):
            _col2im_row(&cols[iy * in_w, 0], out, iy, in_w, kh, kw, sh, sw, pad_t, pad_l)


# cblas_sgemm as numpy's OpenBLAS exports it (64-bit or 32-bit integer builds).
ctypedef void (*sgemm64_t)(int, int, int, long long, long long, long long, float,
                           const float32_t*, long long, const float32_t*, long long, float,
                           float32_t*, long long) noexcept nogil
ctypedef void (*sgemm32_t)(int, int, int, int, int, int, float, const float32_t*, int,
                           const float32_t*, int, float, float32_t*, int) noexcept nogil

cdef enum:
    ROW_MAJOR = 101
    NO_TRANS = 111
    TRANS = 112


cdef void _gemm_rows(const float32_t* a, const float32_t* b, const float32_t* bias,
                     float32_t* out, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t k,
                     Py_ssize_t ldb, int trans_b, float32_t lo, float32_t hi, bint clamp,
                     size_t sgemm, bint int64) noexcept nogil:
    # out = bias (or 0), then out += a @ b (beta = 1: OpenBLAS would otherwise spend the
    # same pass zero-filling for beta = 0), then clamp while the rows are in cache.
    cdef Py_ssize_t r, c
    for r in range(rows):
        for c in range(n):
            out[r * n + c] = bias[c] if bias != NULL else 0
    if k > 0:
        if int64:
            (<sgemm64_t>sgemm)(ROW_MAJOR, NO_TRANS, trans_b, rows, n, k, 1.0, a, k, b, ldb,
                               1.0, out, n)
        else:
            (<sgemm32_t>sgemm)(ROW_MAJOR, NO_TRANS, trans_b, <int>rows, <int>n, <int>k, 1.0,
                               a, <int>k, b, <int>ldb, 1.0, out, <int>n)
    if clamp:
        _bias_act_rows(out, NULL, rows, n, lo, hi)


def gemm_bias_act(const float32_t[:, ::1] a, const float32_t[:, ::1] b, bint b_transposed,
                  const float32_t[::1] bias, float32_t[:, ::1] out, float lo, float hi,
                  size_t sgemm, bint int64, int num_threads=1):
    """out = clamp(a @ b + bias, lo, hi) (a @ b^T with ``b_transposed``), no GIL.

    ``sgemm`` is the address of numpy's OpenBLAS ``cblas_sgemm`` (``int64``: its
    integers are 64-bit), which must be set to one thread: with ``num_threads`` > 1
    the rows are split across this module's OpenMP threads, each calling the
    single-threaded GEMM on its own rows, so only one thread pool is ever busy.
    """
    cdef Py_ssize_t m = a.shape[0], k = a.shape[1], n = out.shape[1], r0, step
    cdef Py_ssize_t b_k = b.shape[1] if b_transposed else b.shape[0]
    cdef Py_ssize_t b_n = b.shape[0] if b_transposed else b.shape[1]
    cdef const float32_t* bias_ptr = NULL
    cdef const float32_t* b_ptr = NULL
    cdef int trans_b = TRANS if b_transposed else NO_TRANS
    cdef bint clamp = lo > -3.4e38 or hi < 3.4e38
    if sgemm == 0:
        raise ValueError("no cblas_sgemm address")
    if out.shape[0] != m or b_k != k or b_n != n:
        raise ValueError(f"GEMM shapes do not match: {m}x{k} @ {b_k}x{b_n} -> {m}x{n}")
    if bias.shape[0] not in (0, n):
        raise ValueError(f"bias has {bias.shape[0]} values for {n} columns")
    if not int64 and max(m, n, k) >= 2 ** 31:
        raise ValueError("matrix too large for a 32-bit BLAS")
    if m == 0 or n == 0:
        return
    if bias.shape[0]:
        bias_ptr = &bias[0]
    if k > 0:
        b_ptr = &b[0, 0]
    num_threads = threads_for(<double>m * n * max(k, 1), num_threads)
    step = (m + num_threads - 1) // num_threads
    for r0 in prange(0, m, step, nogil=True, num_threads=num_threads, schedule="static"):
        _gemm_rows(&a[r0, 0] if k > 0 else NULL, b_ptr, bias_ptr, &out[r0, 0],
                   min(step, m - r0), n, k, b.shape[1], trans_b, lo, hi, clamp, sgemm, int64)
