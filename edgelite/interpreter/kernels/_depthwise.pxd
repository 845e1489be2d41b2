# The row kernels of _depthwise.pyx, shared with the fused convolution chains
# (_fused_block.pyx), which run them on bands of rows kept in a cache-sized buffer.
#
# dw_row() computes one output row with depth multiplier 1. On x86-64 CPUs with AVX2
# and FMA (checked at run time, see _vec8.pxd) it runs the 8-lane kernel below: four
# neighbouring interior pixels at a time sharing every weight load, 16 channels in 8
# accumulators so that two FMAs can issue every cycle; border pixels list only their
# taps inside the image. Elsewhere it runs _row_m1 (four-lane vectors, any compiler).
# Both start from the bias and add the taps in (ky, kx) order; the AVX2 kernel rounds
# once per multiply-add (FMA), so the two differ by float rounding only.

from ._vec8 cimport el_have_avx2_fma

ctypedef float float32_t

cdef extern from *:
    """
    typedef struct {
        /* Input height/width/channels, filter size, strides, dilations, leading
           padding. A band buffer holding image rows [r0, r0 + h) passes h = rows
           held and pad_t = padding + r0: the kernels then index the buffer. */
        Py_ssize_t h, w, c, kh, kw, sh, sw, dh, dw, pad_t, pad_l;
    } el_dw_geom;

    #define EL_DW_MAX_TAPS 64

    #ifdef EL_X86_DISPATCH
    /* Channels [c0, c) of one pixel, one lane at a time (channel counts that are not
       a multiple of 8). */
    EL_INLINE void el_dw_scalar(const float* x, const float* w, const float* bias,
                                float* o, Py_ssize_t c0, Py_ssize_t c,
                                const Py_ssize_t* x_off, const Py_ssize_t* w_off,
                                Py_ssize_t taps, float lo, float hi) {
        Py_ssize_t j, t;
        for (j = c0; j < c; j++) {
            float acc = bias ? bias[j] : 0.0f;
            for (t = 0; t < taps; t++) acc += x[x_off[t] + j] * w[w_off[t] + j];
            o[j] = acc < lo ? lo : (acc > hi ? hi : acc);
        }
    }

    /* One pixel over the taps listed: 32, then 8 channels at a time. */
    EL_INLINE void el_dw_one(const float* x, const float* w, const float* bias, float* o,
                             Py_ssize_t c, const Py_ssize_t* x_off, const Py_ssize_t* w_off,
                             Py_ssize_t taps, float lo, float hi) {
        el_f32x8 vlo = EL_SPLAT8(lo), vhi = EL_SPLAT8(hi), zero = EL_SPLAT8(0.0f);
        el_f32x8 a0, a1, a2, a3;
        Py_ssize_t cb = 0, t;
        for (; cb + 32 <= c; cb += 32) {
            a0 = bias ? EL_LOAD8(bias + cb) : zero;
            a1 = bias ? EL_LOAD8(bias + cb + 8) : zero;
            a2 = bias ? EL_LOAD8(bias + cb + 16) : zero;
            a3 = bias ? EL_LOAD8(bias + cb + 24) : zero;
            for (t = 0; t < taps; t++) {
                const float* s = x + x_off[t] + cb;
                const float* wp = w + w_off[t] + cb;
                a0 += EL_LOAD8(s) * EL_LOAD8(wp);
                a1 += EL_LOAD8(s + 8) * EL_LOAD8(wp + 8);
                a2 += EL_LOAD8(s + 16) * EL_LOAD8(wp + 16);
                a3 += EL_LOAD8(s + 24) * EL_LOAD8(wp + 24);
            }
            EL_STORE8(o + cb, EL_CLAMP8(a0, vlo, vhi));
            EL_STORE8(o + cb + 8, EL_CLAMP8(a1, vlo, vhi));
            EL_STORE8(o + cb + 16, EL_CLAMP8(a2, vlo, vhi));
            EL_STORE8(o + cb + 24, EL_CLAMP8(a3, vlo, vhi));
        }
        for (; cb + 8 <= c; cb += 8) {
            a0 = bias ? EL_LOAD8(bias + cb) : zero;
            for (t = 0; t < taps; t++)
                a0 += EL_LOAD8(x + x_off[t] + cb) * EL_LOAD8(w + w_off[t] + cb);
            EL_STORE8(o + cb, EL_CLAMP8(a0, vlo, vhi));
        }
        if (cb < c) el_dw_scalar(x, w, bias, o, cb, c, x_off, w_off, taps, lo, hi);
    }

    /* Four interior pixels `step` floats apart in x, c apart in o: 16 channels at a
       time (8 accumulators), then 8. */
    EL_INLINE void el_dw_quad(const float* x, const float* w, const float* bias, float* o,
                              Py_ssize_t step, Py_ssize_t c, const Py_ssize_t* x_off,
                              const Py_ssize_t* w_off, Py_ssize_t taps, float lo,
                              float hi) {
        el_f32x8 vlo = EL_SPLAT8(lo), vhi = EL_SPLAT8(hi), zero = EL_SPLAT8(0.0f);
        el_f32x8 a0, a1, a2, a3, b0, b1, b2, b3, w0, w1;
        Py_ssize_t cb = 0, t, p;
        for (; cb + 16 <= c; cb += 16) {
            a0 = bias ? EL_LOAD8(bias + cb) : zero;
            b0 = bias ? EL_LOAD8(bias + cb + 8) : zero;
            a1 = a2 = a3 = a0;
            b1 = b2 = b3 = b0;
            for (t = 0; t < taps; t++) {
                const float* s = x + x_off[t] + cb;
                w0 = EL_LOAD8(w + w_off[t] + cb);
                w1 = EL_LOAD8(w + w_off[t] + cb + 8);
                a0 += EL_LOAD8(s) * w0;
                b0 += EL_LOAD8(s + 8) * w1;
                a1 += EL_LOAD8(s + step) * w0;
                b1 += EL_LOAD8(s + step + 8) * w1;
                a2 += EL_LOAD8(s + 2 * step) * w0;
                b2 += EL_LOAD8(s + 2 * step + 8) * w1;
                a3 += EL_LOAD8(s + 3 * step) * w0;
                b3 += EL_LOAD8(s + 3 * step + 8) * w1;
            }
            EL_STORE8(o + cb, EL_CLAMP8(a0, vlo, vhi));
            EL_STORE8(o + cb + 8, EL_CLAMP8(b0, vlo, vhi));
            EL_STORE8(o + c + cb, EL_CLAMP8(a1, vlo, vhi));
            EL_STORE8(o + c + cb + 8, EL_CLAMP8(b1, vlo, vhi));
            EL_STORE8(o + 2 * c + cb, EL_CLAMP8(a2, vlo, vhi));
            EL_STORE8(o + 2 * c + cb + 8, EL_CLAMP8(b2, vlo, vhi));
            EL_STORE8(o + 3 * c + cb, EL_CLAMP8(a3, vlo, vhi));
            EL_STORE8(o + 3 * c + cb + 8, EL_CLAMP8(b3, vlo, vhi));
        }
        for (; cb + 8 <= c; cb += 8) {
            a0 = bias ? EL_LOAD8(bias + cb) : zero;
            a1 = a2 = a3 = a0;
            for (t = 0; t < taps; t++) {
                const float* s = x + x_off[t] + cb;
                w0 = EL_LOAD8(w + w_off[t] + cb);
                a0 += EL_LOAD8(s) * w0;
                a1 += EL_LOAD8(s + step) * w0;
                a2 += EL_LOAD8(s + 2 * step) * w0;
                a3 += EL_LOAD8(s + 3 * step) * w0;
            }
            EL_STORE8(o + cb, EL_CLAMP8(a0, vlo, vhi));
            EL_STORE8(o + c + cb, EL_CLAMP8(a1, vlo, vhi));
            EL_STORE8(o + 2 * c + cb, EL_CLAMP8(a2, vlo, vhi));
            EL_STORE8(o + 3 * c + cb, EL_CLAMP8(a3, vlo, vhi));
        }
        for (p = 0; cb < c && p < 4; p++)
            el_dw_scalar(x + p * step, w, bias, o + p * c, cb, c, x_off, w_off, taps, lo, hi);
    }

    /* A border pixel: only its taps inside the image. */
    EL_INLINE void el_dw_border(const float* x, const float* w, const float* bias, float* o,
                                Py_ssize_t oy, Py_ssize_t ox, const el_dw_geom* g, float lo,
                                float hi) {
        Py_ssize_t x_off[EL_DW_MAX_TAPS], w_off[EL_DW_MAX_TAPS];
        Py_ssize_t taps = 0, ky, kx, iy, ix;
        for (ky = 0; ky < g->kh; ky++) {
            iy = oy * g->sh - g->pad_t + ky * g->dh;
            if (iy < 0 || iy >= g->h) continue;
            for (kx = 0; kx < g->kw; kx++) {
                ix = ox * g->sw - g->pad_l + kx * g->dw;
                if (ix < 0 || ix >= g->w) continue;
                x_off[taps] = (iy * g->w + ix) * g->c;
                w_off[taps] = (ky * g->kw + kx) * g->c;
                taps++;
            }
        }
        el_dw_one(x, w, bias, o, g->c, x_off, w_off, taps, lo, hi);
    }

    EL_AVX2 static void el_dw_row_avx2(const float* x, const float* w, const float* bias,
                                       float* o, Py_ssize_t oy, Py_ssize_t ow,
                                       const el_dw_geom* g, float lo, float hi) {
        Py_ssize_t x_off[EL_DW_MAX_TAPS], w_off[EL_DW_MAX_TAPS];
        Py_ssize_t taps = 0, ky, kx, iy, ox, c = g->c, ox_lo, ox_hi, last;
        /* Interior pixels [ox_lo, ox_hi) have every kx tap inside the image. */
        ox_lo = (g->pad_l + g->sw - 1) / g->sw;
        ox_lo = ox_lo < ow ? ox_lo : ow;
        last = g->w - 1 - (g->kw - 1) * g->dw + g->pad_l;
        ox_hi = last >= 0 ? last / g->sw + 1 : 0;
        ox_hi = ox_hi < ow ? ox_hi : ow;
        ox_hi = ox_hi > ox_lo ? ox_hi : ox_lo;
        for (ky = 0; ky < g->kh; ky++) {
            iy = oy * g->sh - g->pad_t + ky * g->dh;
            if (iy < 0 || iy >= g->h) continue;
            for (kx = 0; kx < g->kw; kx++) {
                x_off[taps] = (iy * g->w + kx * g->dw) * c;
                w_off[taps] = (ky * g->kw + kx) * c;
                taps++;
            }
        }
        for (ox = 0; ox < ox_lo; ox++)
            el_dw_border(x, w, bias, o + ox * c, oy, ox, g, lo, hi);
        for (ox = ox_lo; ox + 4 <= ox_hi; ox += 4)
            el_dw_quad(x + (ox * g->sw - g->pad_l) * c, w, bias, o + ox * c, g->sw * c, c,
                       x_off, w_off, taps, lo, hi);
        for (; ox < ox_hi; ox++)
            el_dw_one(x + (ox * g->sw - g->pad_l) * c, w, bias, o + ox * c, c, x_off, w_off,
                      taps, lo, hi);
        for (ox = ox_hi; ox < ow; ox++)
            el_dw_border(x, w, bias, o + ox * c, oy, ox, g, lo, hi);
    }
    #endif

    /* The AVX2 row when this CPU has it (returns 1), else 0: the caller runs _row_m1. */
    static int el_dw_row_fast(const float* x, const float* w, const float* bias, float* o,
                              Py_ssize_t oy, Py_ssize_t ow, const el_dw_geom* g, float lo,
                              float hi) {
    #ifdef EL_X86_DISPATCH
        if (g->kh * g->kw <= EL_DW_MAX_TAPS && el_have_avx2_fma()) {
            el_dw_row_avx2(x, w, bias, o, oy, ow, g, lo, hi);
            return 1;
        }
    #endif
        return 0;
    }
    """
    ctypedef struct Geometry "el_dw_geom":
        Py_ssize_t h, w, c, kh, kw, sh, sw, dh, dw, pad_t, pad_l

    int el_dw_row_fast(const float32_t* x, const float32_t* w, const float32_t* bias,
                       float32_t* o, Py_ssize_t oy, Py_ssize_t ow, const Geometry* g,
                       float32_t lo, float32_t hi) noexcept nogil


cdef void _row_m1(const float32_t* x, const float32_t* w, const float32_t* bias,
                  float32_t* o, Py_ssize_t oy, Py_ssize_t ow, const Geometry* g,
                  float32_t lo, float32_t hi) noexcept nogil


cdef inline void dw_row(const float32_t* x, const float32_t* w, const float32_t* bias,
                        float32_t* o, Py_ssize_t oy, Py_ssize_t ow, const Geometry* g,
                        float32_t lo, float32_t hi) noexcept nogil:
    """One output row of a depth-multiplier-1 depthwise convolution (see the top)."""
    if not el_dw_row_fast(x, w, bias, o, oy, ow, g, lo, hi):
        _row_m1(x, w, bias, o, oy, ow, g, lo, hi)
