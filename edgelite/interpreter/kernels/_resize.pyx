"""Optimized RESIZE_BILINEAR (float32) and RESIZE_NEAREST_NEIGHBOR (any dtype), NHWC.

The source coordinates and weights are computed once per op by the Python module
with TFLite's exact float32 formulas and passed in as small per-axis tables; these
loops only gather. Output rows are split across ``num_threads``.
"""

from cython.parallel cimport prange
from libc.string cimport memcpy

from ._simd cimport f32x4, f32x4_add, f32x4_load, f32x4_mul, f32x4_splat, f32x4_store
from ._threads cimport threads_for

ctypedef float float32_t
ctypedef int int32_t
ctypedef unsigned char uint8_t


cdef void _bilinear_row(const float32_t* top, const float32_t* bottom, float32_t* o,
                        const int32_t[::1] x0, const int32_t[::1] x1,
                        const float32_t[::1] dx, float32_t dy, Py_ssize_t c) noexcept nogil:
    # TFLite's weighting: tl*(1-dy)*(1-dx) + bl*dy*(1-dx) + tr*(1-dy)*dx + br*dy*dx.
    cdef Py_ssize_t ox, k, ow = x0.shape[0]
    cdef float32_t w_tl, w_bl, w_tr, w_br, fx
    cdef const float32_t* tl
    cdef const float32_t* tr
    cdef const float32_t* bl
    cdef const float32_t* br
    cdef f32x4 acc
    for ox in range(ow):
        fx = dx[ox]
        w_tl = (1 - dy) * (1 - fx)
        w_bl = dy * (1 - fx)
        w_tr = (1 - dy) * fx
        w_br = dy * fx
        tl, tr = top + x0[ox] * c, top + x1[ox] * c
        bl, br = bottom + x0[ox] * c, bottom + x1[ox] * c
        k = 0
        while k + 4 <= c:
            acc = f32x4_mul(f32x4_load(tl + k), f32x4_splat(w_tl))
            acc = f32x4_add(acc, f32x4_mul(f32x4_load(bl + k), f32x4_splat(w_bl)))
            acc = f32x4_add(acc, f32x4_mul(f32x4_load(tr + k), f32x4_splat(w_tr)))
            acc = f32x4_add(acc, f32x4_mul(f32x4_load(br + k), f32x4_splat(w_br)))
            f32x4_store(o + k, acc)
            k += 4
        while k < c:
            o[k] = tl[k] * w_tl + bl[k] * w_bl + tr[k] * w_tr + br[k] * w_br
            k += 1
        o += c


def resize_bilinear(const float32_t[:, :, :, ::1] x, float32_t[:, :, :, ::1] out,
                    const int32_t[::1] y0, const int32_t[::1] y1, const float32_t[::1] dy,
                    const int32_t[::1] x0, const int32_t[::1] x1, const float32_t[::1] dx,
                    int num_threads=1):
    """Bilinear gather with per-axis source rows/columns (lower, upper) and fractions."""
    cdef Py_ssize_t batches = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2], row, b, oy, i
    if out.shape[0] != batches or out.shape[3] != c:
        raise ValueError("resize output batch/channels do not match the input")
    if y0.shape[0] != oh or y1.shape[0] != oh or dy.shape[0] != oh:
        raise ValueError("row tables do not match the output height")
    if x0.shape[0] != ow or x1.shape[0] != ow or dx.shape[0] != ow:
        raise ValueError("column tables do not match the output width")
    for i in range(oh):
        if not (0 <= y0[i] < h and 0 <= y1[i] < h):
            raise ValueError(f"source row out of range at output row {i}")
    for i in range(ow):
        if not (0 <= x0[i] < w and 0 <= x1[i] < w):
            raise ValueError(f"source column out of range at output column {i}")
    if batches == 0 or oh == 0 or ow == 0 or c == 0:
        return
    num_threads = threads_for(<double>batches * oh * ow * c * 4, num_threads)
    for row in prange(batches * oh, nogil=True, num_threads=num_threads, schedule="static"):
        b = row // oh
        oy = row % oh
        _bilinear_row(&x[b, y0[oy], 0, 0], &x[b, y1[oy], 0, 0], &out[b, oy, 0, 0], x0, x1,
                      dx, dy[oy], c)


def resize_nearest(const uint8_t[:, :, :, ::1] x, uint8_t[:, :, :, ::1] out,
                   const int32_t[::1] ys, const int32_t[::1] xs, int num_threads=1):
    """out[b, oy, ox] = x[b, ys[oy], xs[ox]] on byte views (the last dim is C*itemsize)."""
    cdef Py_ssize_t batches = x.shape[0], h = x.shape[1], w = x.shape[2], nbytes = x.shape[3]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2], row, b, oy, ox, i
    if out.shape[0] != batches or out.shape[3] != nbytes:
        raise ValueError("resize output batch/channels do not match the input")
    if ys.shape[0] != oh or xs.shape[0] != ow:
        raise ValueError("index tables do not match the output size")
    for i in range(oh):
        if not 0 <= ys[i] < h:
            raise ValueError(f"source row out of range at output row {i}")
    for i in range(ow):
        if not 0 <= xs[i] < w:
            raise ValueError(f"source column out of range at output column {i}")
    if batches == 0 or oh == 0 or ow == 0 or nbytes == 0:
        return
    num_threads = threads_for(<double>batches * oh * ow * nbytes / 4, num_threads)
    for row in prange(batches * oh, nogil=True, num_threads=num_threads, schedule="static"):
        b = row // oh
        oy = row % oh
        for ox in range(ow):
            memcpy(&out[b, oy, ox, 0], &x[b, ys[oy], xs[ox], 0], nbytes)
