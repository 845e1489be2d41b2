# Four-float SIMD values for the float kernels (_depthwise.pyx, _pool.pyx, ...).
#
# Compilers do not reliably keep an accumulator array in vector registers across a
# loop over filter taps (measured: GCC 12 turned the depthwise block into scalar
# code), so the hot loops use an explicit 4-lane vector type. GCC and Clang's
# ``vector_size`` extension maps it to SSE on x86-64 and NEON on ARM with no
# target-specific code; other compilers get a plain struct with scalar loops.
# Cython sees ``f32x4`` as an opaque value: only the functions below touch lanes.
#
# Every operation is lane-wise IEEE float arithmetic without fused multiply-add
# contraction differences mattering to the tests (float results are compared under
# the 1e-5 relative rule); f32x4_clamp keeps NaN like TFLite's min(max(x, lo), hi).

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    typedef float edgelite_f32x4 __attribute__((vector_size(16), aligned(4)));
    typedef int edgelite_i32x4 __attribute__((vector_size(16), aligned(4)));
    static inline edgelite_f32x4 edgelite_load(const float* p) {
        return *(const edgelite_f32x4*)p;
    }
    static inline void edgelite_store(float* p, edgelite_f32x4 v) {
        *(edgelite_f32x4*)p = v;
    }
    static inline edgelite_f32x4 edgelite_splat(float v) {
        edgelite_f32x4 r = {v, v, v, v};
        return r;
    }
    static inline edgelite_f32x4 edgelite_add(edgelite_f32x4 a, edgelite_f32x4 b) {
        return a + b;
    }
    static inline edgelite_f32x4 edgelite_mul(edgelite_f32x4 a, edgelite_f32x4 b) {
        return a * b;
    }
    static inline edgelite_f32x4 edgelite_madd(edgelite_f32x4 acc, edgelite_f32x4 a,
                                               edgelite_f32x4 b) {
        return acc + a * b;
    }
    static inline edgelite_f32x4 edgelite_max(edgelite_f32x4 a, edgelite_f32x4 b) {
        /* b where a < b, else a (NaN in a is kept) */
        edgelite_i32x4 lt = a < b;
        return (edgelite_f32x4)(((edgelite_i32x4)a & ~lt) | ((edgelite_i32x4)b & lt));
    }
    static inline edgelite_f32x4 edgelite_clamp(edgelite_f32x4 v, edgelite_f32x4 lo,
                                                edgelite_f32x4 hi) {
        edgelite_i32x4 below = v < lo, above = v > hi;
        edgelite_i32x4 bits = (edgelite_i32x4)v;
        bits = (bits & ~below) | ((edgelite_i32x4)lo & below);
        bits = (bits & ~above) | ((edgelite_i32x4)hi & above);
        return (edgelite_f32x4)bits;
    }
    #else
    typedef struct { float v[4]; } edgelite_f32x4;
    static inline edgelite_f32x4 edgelite_load(const float* p) {
        edgelite_f32x4 r; int i; for (i = 0; i < 4; i++) r.v[i] = p[i]; return r;
    }
    static inline void edgelite_store(float* p, edgelite_f32x4 v) {
        int i; for (i = 0; i < 4; i++) p[i] = v.v[i];
    }
    static inline edgelite_f32x4 edgelite_splat(float x) {
        edgelite_f32x4 r; int i; for (i = 0; i < 4; i++) r.v[i] = x; return r;
    }
    static inline edgelite_f32x4 edgelite_add(edgelite_f32x4 a, edgelite_f32x4 b) {
        int i; for (i = 0; i < 4; i++) a.v[i] += b.v[i]; return a;
    }
    static inline edgelite_f32x4 edgelite_mul(edgelite_f32x4 a, edgelite_f32x4 b) {
        int i; for (i = 0; i < 4; i++) a.v[i] *= b.v[i]; return a;
    }
    static inline edgelite_f32x4 edgelite_madd(edgelite_f32x4 acc, edgelite_f32x4 a,
                                               edgelite_f32x4 b) {
        int i; for (i = 0; i < 4; i++) acc.v[i] += a.v[i] * b.v[i]; return acc;
    }
    static inline edgelite_f32x4 edgelite_max(edgelite_f32x4 a, edgelite_f32x4 b) {
        int i; for (i = 0; i < 4; i++) if (a.v[i] < b.v[i]) a.v[i] = b.v[i]; return a;
    }
    static inline edgelite_f32x4 edgelite_clamp(edgelite_f32x4 v, edgelite_f32x4 lo,
                                                edgelite_f32x4 hi) {
        int i;
        for (i = 0; i < 4; i++) {
            if (v.v[i] < lo.v[i]) v.v[i] = lo.v[i];
            if (v.v[i] > hi.v[i]) v.v[i] = hi.v[i];
        }
        return v;
    }
    #endif
    """
    ctypedef struct f32x4 "edgelite_f32x4":
        pass
    f32x4 f32x4_load "edgelite_load"(const float* p) noexcept nogil
    void f32x4_store "edgelite_store"(float* p, f32x4 v) noexcept nogil
    f32x4 f32x4_splat "edgelite_splat"(float v) noexcept nogil
    f32x4 f32x4_add "edgelite_add"(f32x4 a, f32x4 b) noexcept nogil
    f32x4 f32x4_mul "edgelite_mul"(f32x4 a, f32x4 b) noexcept nogil
    f32x4 f32x4_madd "edgelite_madd"(f32x4 acc, f32x4 a, f32x4 b) noexcept nogil
    f32x4 f32x4_max "edgelite_max"(f32x4 a, f32x4 b) noexcept nogil
    f32x4 f32x4_clamp "edgelite_clamp"(f32x4 v, f32x4 lo, f32x4 hi) noexcept nogil
