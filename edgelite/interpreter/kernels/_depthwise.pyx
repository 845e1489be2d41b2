"""Optimized float32 DEPTHWISE_CONV_2D (NHWC), held equal to the numpy reference.

Depthwise convolution does only kh*kw multiply-adds per output value, so it is
memory and loop-overhead bound rather than GEMM material. Each output pixel lists
the filter taps that fall inside the image once, then runs over its channels 16 at a
time with four explicit 4-lane vector accumulators (``_simd.pxd``) held in registers
across all taps, so every output is written exactly once, bias and activation fused.
On x86-64 CPUs with AVX2 and FMA, depth-multiplier-1 rows take the 8-lane kernel of
``_depthwise.pxd`` instead (``dw_row``), which the fused convolution chains share.
"""

from cython.parallel cimport prange

from ._simd cimport f32x4, f32x4_clamp, f32x4_load, f32x4_madd, f32x4_splat, f32x4_store
from ._threads cimport threads_for

cdef enum:
    # Filters up to 8x8 use the register-blocked path; larger ones the generic one.
    MAX_TAPS = 64


cdef inline float32_t _clamp(float32_t v, float32_t lo, float32_t hi) noexcept nogil:
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


cdef inline void _block16(const float32_t* x, const float32_t* w, const float32_t* bias,
                          float32_t* o, const Py_ssize_t* x_off, const Py_ssize_t* w_off,
                          Py_ssize_t taps, f32x4 lo, f32x4 hi) noexcept nogil:
    # 16 channels in four vector accumulators, kept in registers over all taps.
    cdef f32x4 a0, a1, a2, a3
    cdef Py_ssize_t t
    cdef const float32_t* src
    cdef const float32_t* wp
    if bias != NULL:
        a0, a1 = f32x4_load(bias), f32x4_load(bias + 4)
        a2, a3 = f32x4_load(bias + 8), f32x4_load(bias + 12)
    else:
        a0 = a1 = a2 = a3 = f32x4_splat(0)
    for t in range(taps):
        src = x + x_off[t]
        wp = w + w_off[t]
        a0 = f32x4_madd(a0, f32x4_load(src), f32x4_load(wp))
        a1 = f32x4_madd(a1, f32x4_load(src + 4), f32x4_load(wp + 4))
        a2 = f32x4_madd(a2, f32x4_load(src + 8), f32x4_load(wp + 8))
        a3 = f32x4_madd(a3, f32x4_load(src + 12), f32x4_load(wp + 12))
    f32x4_store(o, f32x4_clamp(a0, lo, hi))
    f32x4_store(o + 4, f32x4_clamp(a1, lo, hi))
    f32x4_store(o + 8, f32x4_clamp(a2, lo, hi))
    f32x4_store(o + 12, f32x4_clamp(a3, lo, hi))


cdef inline void _block4(const float32_t* x, const float32_t* w, const float32_t* bias,
                         float32_t* o, const Py_ssize_t* x_off, const Py_ssize_t* w_off,
                         Py_ssize_t taps, f32x4 lo, f32x4 hi) noexcept nogil:
    cdef f32x4 acc = f32x4_load(bias) if bias != NULL else f32x4_splat(0)
    cdef Py_ssize_t t
    for t in range(taps):
        acc = f32x4_madd(acc, f32x4_load(x + x_off[t]), f32x4_load(w + w_off[t]))
    f32x4_store(o, f32x4_clamp(acc, lo, hi))


cdef void _tail(const float32_t* x, const float32_t* w, const float32_t* bias,
                float32_t* o, Py_ssize_t n, const Py_ssize_t* x_off, const Py_ssize_t* w_off,
                Py_ssize_t taps, float32_t lo, float32_t hi) noexcept nogil:
    # The last (c % 4) channels, accumulated straight into the output.
    cdef Py_ssize_t j, t
    cdef const float32_t* src
    cdef const float32_t* wp
    for j in range(n):
        o[j] = bias[j] if bias != NULL else 0
    for t in range(taps):
        src = x + x_off[t]
        wp = w + w_off[t]
        for j in range(n):
            o[j] += src[j] * wp[j]
    for j in range(n):
        o[j] = _clamp(o[j], lo, hi)


cdef inline void _channels(const float32_t* x, const float32_t* w, const float32_t* bias,
                           float32_t* o, Py_ssize_t c, const Py_ssize_t* x_off,
                           const Py_ssize_t* w_off, Py_ssize_t taps, float32_t lo,
                           float32_t hi) noexcept nogil:
    # All channels of one output pixel: 16, then 4 at a time, then the scalar rest.
    cdef f32x4 vlo = f32x4_splat(lo), vhi = f32x4_splat(hi)
    cdef Py_ssize_t cb = 0
    while cb + 16 <= c:
        _block16(x + cb, w + cb, bias + cb if bias != NULL else NULL, o + cb, x_off, w_off,
                 taps, vlo, vhi)
        cb += 16
    while cb + 4 <= c:
        _block4(x + cb, w + cb, bias + cb if bias != NULL else NULL, o + cb, x_off, w_off,
                taps, vlo, vhi)
        cb += 4
    if cb < c:
        _tail(x + cb, w + cb, bias + cb if bias != NULL else NULL, o + cb, c - cb, x_off,
              w_off, taps, lo, hi)


cdef void _pixel_m1(const float32_t* x, const float32_t* w, const float32_t* bias,
                    float32_t* o, Py_ssize_t oy, Py_ssize_t ox, const Geometry* g,
                    float32_t lo, float32_t hi) noexcept nogil:
    # Depth multiplier 1, one pixel anywhere: the taps inside the image are listed
    # once (padding taps are simply left out), then every channel block runs over them.
    cdef Py_ssize_t x_off[MAX_TAPS]
    cdef Py_ssize_t w_off[MAX_TAPS]
    cdef Py_ssize_t taps = 0, ky, kx, iy, ix
    for ky in range(g.kh):
        iy = oy * g.sh - g.pad_t + ky * g.dh
        if iy < 0 or iy >= g.h:
            continue
        for kx in range(g.kw):
            ix = ox * g.sw - g.pad_l + kx * g.dw
            if ix < 0 or ix >= g.w:
                continue
            x_off[taps] = (iy * g.w + ix) * g.c
            w_off[taps] = (ky * g.kw + kx) * g.c
            taps += 1
    _channels(x, w, bias, o, g.c, x_off, w_off, taps, lo, hi)


cdef inline void _block16_pair(const float32_t* x, const float32_t* w, const float32_t* bias,
                               float32_t* o, Py_ssize_t in_step, Py_ssize_t out_step,
                               const Py_ssize_t* x_off, const Py_ssize_t* w_off,
                               Py_ssize_t taps, f32x4 lo, f32x4 hi) noexcept nogil:
    # Two neighbouring pixels share every weight load: 8 accumulators, 4 weights.
    cdef f32x4 a0, a1, a2, a3, b0, b1, b2, b3, w0, w1, w2, w3
    cdef Py_ssize_t t
    cdef const float32_t* src
    cdef const float32_t* wp
    if bias != NULL:
        a0, a1 = f32x4_load(bias), f32x4_load(bias + 4)
        a2, a3 = f32x4_load(bias + 8), f32x4_load(bias + 12)
    else:
        a0 = a1 = a2 = a3 = f32x4_splat(0)
    b0, b1, b2, b3 = a0, a1, a2, a3
    for t in range(taps):
        src = x + x_off[t]
        wp = w + w_off[t]
        w0, w1 = f32x4_load(wp), f32x4_load(wp + 4)
        w2, w3 = f32x4_load(wp + 8), f32x4_load(wp + 12)
        a0 = f32x4_madd(a0, f32x4_load(src), w0)
        a1 = f32x4_madd(a1, f32x4_load(src + 4), w1)
        a2 = f32x4_madd(a2, f32x4_load(src + 8), w2)
        a3 = f32x4_madd(a3, f32x4_load(src + 12), w3)
        src = src + in_step
        b0 = f32x4_madd(b0, f32x4_load(src), w0)
        b1 = f32x4_madd(b1, f32x4_load(src + 4), w1)
        b2 = f32x4_madd(b2, f32x4_load(src + 8), w2)
        b3 = f32x4_madd(b3, f32x4_load(src + 12), w3)
    f32x4_store(o, f32x4_clamp(a0, lo, hi))
    f32x4_store(o + 4, f32x4_clamp(a1, lo, hi))
    f32x4_store(o + 8, f32x4_clamp(a2, lo, hi))
    f32x4_store(o + 12, f32x4_clamp(a3, lo, hi))
    o = o + out_step
    f32x4_store(o, f32x4_clamp(b0, lo, hi))
    f32x4_store(o + 4, f32x4_clamp(b1, lo, hi))
    f32x4_store(o + 8, f32x4_clamp(b2, lo, hi))
    f32x4_store(o + 12, f32x4_clamp(b3, lo, hi))


cdef void _row_m1(const float32_t* x, const float32_t* w, const float32_t* bias,
                  float32_t* o, Py_ssize_t oy, Py_ssize_t ow, const Geometry* g,
                  float32_t lo, float32_t hi) noexcept nogil:
    # One output row, depth multiplier 1. Interior pixels (every kx tap inside the
    # image) share one tap list and go two at a time; border pixels go one by one.
    cdef Py_ssize_t x_off[MAX_TAPS]
    cdef Py_ssize_t w_off[MAX_TAPS]
    cdef Py_ssize_t taps = 0, ky, kx, iy, ox, cb, base, ox_lo, ox_hi
    cdef Py_ssize_t c = g.c, in_step = g.sw * g.c
    cdef f32x4 vlo = f32x4_splat(lo), vhi = f32x4_splat(hi)
    ox_lo = min(ow, (g.pad_l + g.sw - 1) // g.sw)
    ox_hi = (g.w - 1 - (g.kw - 1) * g.dw + g.pad_l)
    ox_hi = max(ox_lo, min(ow, ox_hi // g.sw + 1 if ox_hi >= 0 else 0))
    for ky in range(g.kh):
        iy = oy * g.sh - g.pad_t + ky * g.dh
        if iy < 0 or iy >= g.h:
            continue
        for kx in range(g.kw):
            x_off[taps] = (iy * g.w + kx * g.dw) * c
            w_off[taps] = (ky * g.kw + kx) * c
            taps += 1
    for ox in range(ox_lo):
        _pixel_m1(x, w, bias, o + ox * c, oy, ox, g, lo, hi)
    ox = ox_lo
    while ox < ox_hi:
        base = (ox * g.sw - g.pad_l) * c
        cb = 0
        if ox + 1 < ox_hi:
            while cb + 16 <= c:
                _block16_pair(x + base + cb, w + cb, bias + cb if bias != NULL else NULL,
                              o + ox * c + cb, in_step, c, x_off, w_off, taps, vlo, vhi)
                cb += 16
            if cb < c:
                _channels(x + base + cb, w + cb, bias + cb if bias != NULL else NULL,
                          o + ox * c + cb, c - cb, x_off, w_off, taps, lo, hi)
                _channels(x + base + in_step + cb, w + cb,
                          bias + cb if bias != NULL else NULL, o + (ox + 1) * c + cb,
                          c - cb, x_off, w_off, taps, lo, hi)
            ox += 2
        else:
            _channels(x + base, w, bias, o + ox * c, c, x_off, w_off, taps, lo, hi)
            ox += 1
    for ox in range(ox_hi, ow):
        _pixel_m1(x, w, bias, o + ox * c, oy, ox, g, lo, hi)


cdef void _pixel_mult(const float32_t* x, const float32_t* w, const float32_t* bias,
                      float32_t* o, Py_ssize_t oy, Py_ssize_t ox, Py_ssize_t h,
                      Py_ssize_t wd, Py_ssize_t c, Py_ssize_t mult, Py_ssize_t kh,
                      Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh,
                      Py_ssize_t dw, Py_ssize_t pad_t, Py_ssize_t pad_l, float32_t lo,
                      float32_t hi) noexcept nogil:
    # Depth multiplier m: output channel ic*m + j reads input channel ic.
    cdef Py_ssize_t oc = c * mult, k, ic, j, ky, kx, iy, ix
    cdef const float32_t* src
    cdef const float32_t* wp
    for k in range(oc):
        o[k] = bias[k] if bias != NULL else 0
    for ky in range(kh):
        iy = oy * sh - pad_t + ky * dh
        if iy < 0 or iy >= h:
            continue
        for kx in range(kw):
            ix = ox * sw - pad_l + kx * dw
            if ix < 0 or ix >= wd:
                continue
            src = x + (iy * wd + ix) * c
            wp = w + (ky * kw + kx) * oc
            for ic in range(c):
                for j in range(mult):
                    o[ic * mult + j] += src[ic] * wp[ic * mult + j]
    for k in range(oc):
        o[k] = _clamp(o[k], lo, hi)


def depthwise_conv(const float32_t[:, :, :, ::1] x, const float32_t[:, :, ::1] w,
                   const float32_t[::1] bias, float32_t[:, :, :, ::1] out, tuple steps,
                   float lo, float hi, int num_threads=1):
    """out = clamp(depthwise(x, w) + bias, lo, hi); w is [kh, kw, out_channels].

    ``steps`` is (stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left); the
    bias may be empty (no bias).
    """
    cdef Py_ssize_t batches = x.shape[0], h = x.shape[1], wd = x.shape[2], c = x.shape[3]
    cdef Py_ssize_t kh = w.shape[0], kw = w.shape[1], oc = w.shape[2]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2], mult, row, b, oy, ox
    cdef Py_ssize_t sh, sw, dh, dw, pad_t, pad_l
    sh, sw, dh, dw, pad_t, pad_l = steps
    cdef const float32_t* b_ptr = NULL
    if out.shape[0] != batches or out.shape[3] != oc or c == 0 or oc % c:
        raise ValueError(f"depthwise shapes do not match: in C={c}, filter/out C={oc}")
    if bias.shape[0] not in (0, oc):
        raise ValueError(f"bias has {bias.shape[0]} values for {oc} channels")
    if batches == 0 or oh == 0 or ow == 0 or oc == 0:
        return
    if bias.shape[0]:
        b_ptr = &bias[0]
    mult = oc // c
    cdef Geometry g = Geometry(h, wd, c, kh, kw, sh, sw, dh, dw, pad_t, pad_l)
    num_threads = threads_for(<double>batches * oh * ow * oc * kh * kw, num_threads)
    for row in prange(batches * oh, nogil=True, num_threads=num_threads, schedule="static"):
        b = row // oh
        oy = row % oh
        if mult == 1 and kh * kw <= MAX_TAPS:
            dw_row(&x[b, 0, 0, 0], &w[0, 0, 0], b_ptr, &out[b, oy, 0, 0], oy, ow, &g, lo, hi)
        else:
            for ox in range(ow):
                _pixel_mult(&x[b, 0, 0, 0], &w[0, 0, 0], b_ptr, &out[b, oy, ox, 0], oy, ox,
                            h, wd, c, mult, kh, kw, sh, sw, dh, dw, pad_t, pad_l, lo, hi)
