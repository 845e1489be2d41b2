"""Optimized float32 AVERAGE/MAX/L2_POOL_2D (NHWC), held equal to the numpy reference.

Each output pixel clips its window to the image once (padding taps are left out, and
AVERAGE/L2 divide by the number of taps inside the image, as TFLite does), then
reduces its channels 16 at a time in four independent 4-lane vector accumulators
(``_simd.pxd``): the reductions are latency bound, so independent chains matter.
Output rows are split across ``num_threads``.
"""

from cython.parallel cimport prange
from libc.math cimport sqrtf

from ._simd cimport (
    f32x4,
    f32x4_add,
    f32x4_clamp,
    f32x4_load,
    f32x4_madd,
    f32x4_max,
    f32x4_mul,
    f32x4_splat,
    f32x4_store,
)

from ._threads cimport threads_for

ctypedef float float32_t

cdef enum:
    MAX_POOL = 0
    AVERAGE_POOL = 1
    L2_POOL = 2

# The value a max-pool accumulator starts from (std::numeric_limits<float>::lowest()).
cdef float32_t LOWEST = -3.4028234663852886e38


cdef inline float32_t _clamp(float32_t v, float32_t lo, float32_t hi) noexcept nogil:
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


cdef inline f32x4 _step(f32x4 acc, f32x4 v, int kind) noexcept nogil:
    if kind == MAX_POOL:
        return f32x4_max(acc, v)
    if kind == AVERAGE_POOL:
        return f32x4_add(acc, v)
    return f32x4_madd(acc, v, v)


cdef inline f32x4 _finish(f32x4 acc, int kind, float32_t count, f32x4 scale) noexcept nogil:
    # AVERAGE divides by the taps inside the image, L2 also takes the square root.
    cdef float32_t tmp[4]
    cdef int j
    if kind == AVERAGE_POOL:
        return f32x4_mul(acc, scale)
    if kind == L2_POOL:
        f32x4_store(tmp, acc)
        for j in range(4):
            tmp[j] = sqrtf(tmp[j] / count)
        return f32x4_load(tmp)
    return acc


cdef inline void _block16(const float32_t* x, float32_t* o, Py_ssize_t row, Py_ssize_t col,
                          Py_ssize_t ny, Py_ssize_t nx, int kind, float32_t count,
                          f32x4 scale, f32x4 lo, f32x4 hi) noexcept nogil:
    # 16 channels in four independent accumulators (the reductions are latency bound).
    cdef f32x4 a0, a1, a2, a3
    cdef Py_ssize_t ky, kx
    cdef const float32_t* p
    a0 = a1 = a2 = a3 = f32x4_splat(LOWEST if kind == MAX_POOL else 0)
    for ky in range(ny):
        for kx in range(nx):
            p = x + ky * row + kx * col
            a0 = _step(a0, f32x4_load(p), kind)
            a1 = _step(a1, f32x4_load(p + 4), kind)
            a2 = _step(a2, f32x4_load(p + 8), kind)
            a3 = _step(a3, f32x4_load(p + 12), kind)
    f32x4_store(o, f32x4_clamp(_finish(a0, kind, count, scale), lo, hi))
    f32x4_store(o + 4, f32x4_clamp(_finish(a1, kind, count, scale), lo, hi))
    f32x4_store(o + 8, f32x4_clamp(_finish(a2, kind, count, scale), lo, hi))
    f32x4_store(o + 12, f32x4_clamp(_finish(a3, kind, count, scale), lo, hi))


cdef inline f32x4 _reduce4(const float32_t* x, Py_ssize_t row, Py_ssize_t col,
                           Py_ssize_t ny, Py_ssize_t nx, int kind) noexcept nogil:
    # max, sum or sum of squares of 4 channels over an ny x nx window.
    cdef f32x4 acc = f32x4_splat(LOWEST if kind == MAX_POOL else 0)
    cdef Py_ssize_t ky, kx
    for ky in range(ny):
        for kx in range(nx):
            acc = _step(acc, f32x4_load(x + ky * row + kx * col), kind)
    return acc


cdef inline float32_t _reduce1(const float32_t* x, Py_ssize_t row, Py_ssize_t col,
                               Py_ssize_t ny, Py_ssize_t nx, int kind) noexcept nogil:
    cdef float32_t acc = LOWEST if kind == MAX_POOL else 0
    cdef float32_t v
    cdef Py_ssize_t ky, kx
    for ky in range(ny):
        for kx in range(nx):
            v = x[ky * row + kx * col]
            if kind == MAX_POOL:
                acc = v if v > acc else acc
            elif kind == AVERAGE_POOL:
                acc = acc + v
            else:
                acc = acc + v * v
    return acc


cdef void _pixel(const float32_t* x, float32_t* o, Py_ssize_t oy, Py_ssize_t ox,
                 Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, Py_ssize_t fh, Py_ssize_t fw,
                 Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_t, Py_ssize_t pad_l, int kind,
                 float32_t lo, float32_t hi) noexcept nogil:
    cdef Py_ssize_t iy0 = oy * sh - pad_t, ix0 = ox * sw - pad_l
    cdef Py_ssize_t ky0 = max(0, -iy0), ky1 = min(fh, h - iy0)
    cdef Py_ssize_t kx0 = max(0, -ix0), kx1 = min(fw, w - ix0)
    cdef Py_ssize_t ny = max(0, ky1 - ky0), nx = max(0, kx1 - kx0), cb
    cdef const float32_t* src = x + ((iy0 + ky0) * w + ix0 + kx0) * c
    cdef float32_t count = ny * nx
    cdef f32x4 vlo = f32x4_splat(lo), vhi = f32x4_splat(hi)
    cdef f32x4 scale = f32x4_splat(1 / count if count > 0 else 0)
    cdef f32x4 acc
    cdef float32_t s
    cb = 0
    while cb + 16 <= c:
        _block16(src + cb, o + cb, w * c, c, ny, nx, kind, count, scale, vlo, vhi)
        cb += 16
    while cb + 4 <= c:
        acc = _finish(_reduce4(src + cb, w * c, c, ny, nx, kind), kind, count, scale)
        f32x4_store(o + cb, f32x4_clamp(acc, vlo, vhi))
        cb += 4
    while cb < c:
        s = _reduce1(src + cb, w * c, c, ny, nx, kind)
        if kind == AVERAGE_POOL:
            s = s / count
        elif kind == L2_POOL:
            s = sqrtf(s / count)
        o[cb] = _clamp(s, lo, hi)
        cb += 1


def pool2d(const float32_t[:, :, :, ::1] x, float32_t[:, :, :, ::1] out, int kind,
           tuple window, float lo, float hi, int num_threads=1):
    """kind 0 = max, 1 = average, 2 = L2 pooling of x into out, clamped to [lo, hi].

    ``window`` is (filter_h, filter_w, stride_h, stride_w, pad_top, pad_left).
    """
    cdef Py_ssize_t batches = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2], row, b, oy, ox
    cdef Py_ssize_t fh, fw, sh, sw, pad_t, pad_l
    fh, fw, sh, sw, pad_t, pad_l = window
    if out.shape[0] != batches or out.shape[3] != c:
        raise ValueError(f"pool output {out.shape[0]}x{out.shape[3]} does not match input")
    if kind not in (MAX_POOL, AVERAGE_POOL, L2_POOL):
        raise ValueError(f"unknown pooling kind {kind}")
    if batches == 0 or oh == 0 or ow == 0 or c == 0:
        return
    num_threads = threads_for(<double>batches * oh * ow * c * fh * fw, num_threads)
    for row in prange(batches * oh, nogil=True, num_threads=num_threads, schedule="static"):
        b = row // oh
        oy = row % oh
        for ox in range(ow):
            _pixel(&x[b, 0, 0, 0], &out[b, oy, ox, 0], oy, ox, h, w, c, fh, fw, sh, sw,
                   pad_t, pad_l, kind, lo, hi)
