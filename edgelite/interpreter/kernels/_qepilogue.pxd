# The requantizing epilogue of the quantized conv / matmul kernels, to cimport.
#
#     out[r, c] = clamp(multiply(acc[r, c] + bias[c], channel c) + zero_point, lo, hi)
#
# narrowed to int8 / uint8 / int16. `multiply` is one of the fixedpoint rounding modes
# (ROUND_* of _fixedpoint.pxd), MODE_INT64 (the int16 kernels' int64 form) or
# MODE_REAL (round(acc * real)), chosen per channel: the official depthwise kernel
# rounds its channels in blocks of 8 one way and the rest another.
#
# The accumulators come as float32 (exact integers from a float GEMM), float64, int32
# or int64. On x86-64 with AVX2 (checked at run time) blocks of 8 channels with an
# int32 mode go through an intrinsics loop; everything else, and every other machine,
# takes the scalar path. Both compute exactly the scalar integer arithmetic: the
# 64-bit products of SaturatingRoundingDoublingHighMul come from _mm256_mul_epi32, and
# the rounding right shifts are written so that no intermediate can overflow.

from libc.math cimport round as c_round
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t

from ._fixedpoint cimport mbqm, mbqm_int64, ROUND_DOUBLE, ROUND_SINGLE, ROUND_DOUBLE_UP

cdef extern from *:
    """
    #include <stdint.h>
    #if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    #include <immintrin.h>
    #define EDGELITE_QX86 1
    #endif

    static int edgelite_avx2_state = -1;

    static int edgelite_have_avx2(void) {
    #ifdef EDGELITE_QX86
        if (edgelite_avx2_state < 0) {
            __builtin_cpu_init();
            edgelite_avx2_state = __builtin_cpu_supports("avx2") ? 1 : 0;
        }
        return edgelite_avx2_state;
    #else
        return 0;
    #endif
    }

    #ifdef EDGELITE_QX86
    __attribute__((target("avx2")))
    static inline void edgelite_store8(__m256i y, void* dst, int kind) {
        /* y holds 8 int32 already clamped to the output type. */
        __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(y, y), 0x08);
        __m128i lo = _mm256_castsi256_si128(p16);
        if (kind == 2) {
            _mm_storeu_si128((__m128i*)dst, lo);
        } else if (kind == 1) {
            _mm_storel_epi64((__m128i*)dst, _mm_packus_epi16(lo, lo));
        } else {
            _mm_storel_epi64((__m128i*)dst, _mm_packs_epi16(lo, lo));
        }
    }

    /* Channels [c0, c1) (a multiple of 8 wide) of `rows` rows, one rounding mode:
       0 double (ties away from zero), 1 single, 2 double_up (ties up). */
    __attribute__((target("avx2")))
    static void edgelite_requant8_avx2(
            const void* src, int src_f32, Py_ssize_t lds, Py_ssize_t rows,
            Py_ssize_t c0, Py_ssize_t c1, const int32_t* bias, const int32_t* mult,
            const int32_t* shift, int mode, int32_t zp, int32_t lo, int32_t hi,
            void* dst, int kind, Py_ssize_t ldd) {
        const __m256i zero = _mm256_setzero_si256();
        const __m256i one32 = _mm256_set1_epi32(1);
        const __m256i one64 = _mm256_set1_epi64x(1);
        const __m256i nudge30 = _mm256_set1_epi64x((int64_t)1 << 30);
        const __m256i low32 = _mm256_set1_epi64x(0xFFFFFFFFLL);
        const __m256i vzp = _mm256_set1_epi32(zp);
        const __m256i vlo = _mm256_set1_epi32(lo);
        const __m256i vhi = _mm256_set1_epi32(hi);
        const int size = kind == 2 ? 2 : 1;
        for (Py_ssize_t c = c0; c + 8 <= c1; c += 8) {
            __m256i vb = bias ? _mm256_loadu_si256((const __m256i*)(bias + c)) : zero;
            __m256i vm = _mm256_loadu_si256((const __m256i*)(mult + c));
            __m256i vs = _mm256_loadu_si256((const __m256i*)(shift + c));
            __m256i vm_odd = _mm256_srli_epi64(vm, 32);
            __m256i left = _mm256_max_epi32(vs, zero);
            __m256i right = _mm256_max_epi32(_mm256_sub_epi32(zero, vs), zero);
            __m256i right_m1 = _mm256_max_epi32(_mm256_sub_epi32(right, one32), zero);
            __m256i right_bit = _mm256_and_si256(_mm256_cmpgt_epi32(right, zero), one32);
            __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one32, right), one32);
            __m256i half = _mm256_srli_epi32(mask, 1);
            __m256i total = _mm256_sub_epi32(_mm256_set1_epi32(31), vs);
            __m256i tot_e = _mm256_and_si256(total, low32);
            __m256i tot_o = _mm256_srli_epi64(total, 32);
            __m256i nud_e = _mm256_sllv_epi64(one64, _mm256_sub_epi64(tot_e, one64));
            __m256i nud_o = _mm256_sllv_epi64(one64, _mm256_sub_epi64(tot_o, one64));
            for (Py_ssize_t r = 0; r < rows; ++r) {
                __m256i x, y;
                if (src_f32) {
                    x = _mm256_cvttps_epi32(_mm256_loadu_ps((const float*)src + r * lds + c));
                } else {
                    x = _mm256_loadu_si256((const __m256i*)((const int32_t*)src + r * lds + c));
                }
                x = _mm256_add_epi32(x, vb);
                if (mode == 1) {
                    /* (x*M + 2^(total-1)) >> total, an arithmetic 64-bit shift built
                       from the logical one: flip negative values, shift, flip back. */
                    __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, vm), nud_e);
                    __m256i po = _mm256_add_epi64(
                        _mm256_mul_epi32(_mm256_srli_epi64(x, 32), vm_odd), nud_o);
                    __m256i se = _mm256_cmpgt_epi64(zero, pe);
                    __m256i so = _mm256_cmpgt_epi64(zero, po);
                    pe = _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(pe, se), tot_e), se);
                    po = _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(po, so), tot_o), so);
                    y = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
                } else {
                    /* SaturatingRoundingDoublingHighMul: bits 31..62 of x*M + 2^30
                       (M >= 0, so the saturating case never occurs). */
                    x = _mm256_sllv_epi32(x, left);
                    __m256i pe = _mm256_srli_epi64(
                        _mm256_add_epi64(_mm256_mul_epi32(x, vm), nudge30), 31);
                    __m256i po = _mm256_slli_epi64(_mm256_add_epi64(
                        _mm256_mul_epi32(_mm256_srli_epi64(x, 32), vm_odd), nudge30), 1);
                    __m256i h = _mm256_blend_epi32(pe, po, 0xAA);
                    if (mode == 2) {
                        /* floor((h + 2^(r-1)) / 2^r) = (h >> r) + bit r-1 of h */
                        y = _mm256_add_epi32(_mm256_srav_epi32(h, right),
                            _mm256_and_si256(_mm256_srav_epi32(h, right_m1), right_bit));
                    } else {
                        __m256i rem = _mm256_and_si256(h, mask);
                        __m256i thr = _mm256_add_epi32(half, _mm256_srli_epi32(h, 31));
                        y = _mm256_sub_epi32(_mm256_srav_epi32(h, right),
                                             _mm256_cmpgt_epi32(rem, thr));
                    }
                }
                y = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(y, vzp), vlo), vhi);
                edgelite_store8(y, (char*)dst + (r * ldd + c) * size, kind);
            }
        }
    }
    #else
    static void edgelite_requant8_avx2(
            const void* src, int src_f32, Py_ssize_t lds, Py_ssize_t rows,
            Py_ssize_t c0, Py_ssize_t c1, const int32_t* bias, const int32_t* mult,
            const int32_t* shift, int mode, int32_t zp, int32_t lo, int32_t hi,
            void* dst, int kind, Py_ssize_t ldd) {
        (void)src; (void)src_f32; (void)lds; (void)rows; (void)c0; (void)c1; (void)bias;
        (void)mult; (void)shift; (void)mode; (void)zp; (void)lo; (void)hi; (void)dst;
        (void)kind; (void)ldd;
    }
    #endif
    """
    int edgelite_have_avx2() noexcept nogil
    void edgelite_requant8_avx2(const void* src, int src_f32, Py_ssize_t lds, Py_ssize_t rows,
                                Py_ssize_t c0, Py_ssize_t c1, const int32_t* bias,
                                const int32_t* mult, const int32_t* shift, int mode,
                                int32_t zp, int32_t lo, int32_t hi, void* dst, int kind,
                                Py_ssize_t ldd) noexcept nogil

# Accumulator kinds, output kinds and the two modes beyond ROUND_*.
cdef enum:
    SRC_F32 = 0
    SRC_I32 = 1
    SRC_F64 = 2
    SRC_I64 = 3
    OUT_I8 = 0
    OUT_U8 = 1
    OUT_I16 = 2
    MODE_INT64 = 4
    MODE_REAL = 5


cdef struct RequantParams:
    # Per-channel arrays (indexed from the block's first channel); bias and bias64
    # may be NULL (bias64 wins when both are set).
    const int32_t* bias
    const int64_t* bias64
    const int32_t* mult
    const int32_t* shift
    const int8_t* mode
    const double* real
    int32_t zp
    int32_t lo
    int32_t hi
    int kind


cdef inline int64_t _load_acc(const void* src, int src_kind, Py_ssize_t i) noexcept nogil:
    if src_kind == SRC_F32:
        return <int64_t>(<const float*>src)[i]
    if src_kind == SRC_I32:
        return (<const int32_t*>src)[i]
    if src_kind == SRC_F64:
        return <int64_t>(<const double*>src)[i]
    return (<const int64_t*>src)[i]


cdef inline int32_t requant_one(int64_t acc, Py_ssize_t c,
                                const RequantParams* p) noexcept nogil:
    """One accumulator of channel c, bias included, to its clamped output value."""
    cdef int mode = p.mode[c]
    cdef int64_t v
    if p.bias64 != NULL:
        acc += p.bias64[c]
    elif p.bias != NULL:
        acc += p.bias[c]
    if mode == MODE_INT64:
        v = mbqm_int64(acc, p.mult[c], p.shift[c])
    elif mode == MODE_REAL:
        # static_cast<int32_t>(std::round(double(acc) * real)): half away from zero.
        v = <int32_t><int64_t>c_round(<double>acc * p.real[c])
    else:
        # The C accumulators are int32: wrap like them before the multiplier.
        v = mbqm(<int32_t>acc, p.mult[c], p.shift[c], mode)
    v += p.zp
    if v < p.lo:
        v = p.lo
    if v > p.hi:
        v = p.hi
    return <int32_t>v


cdef inline void _store_one(void* dst, int kind, Py_ssize_t i, int32_t v) noexcept nogil:
    if kind == OUT_I8:
        (<int8_t*>dst)[i] = <int8_t>v
    elif kind == OUT_U8:
        (<uint8_t*>dst)[i] = <uint8_t>v
    else:
        (<int16_t*>dst)[i] = <int16_t>v


cdef inline Py_ssize_t _avx2_end(Py_ssize_t c, Py_ssize_t n, const RequantParams* p,
                                 int src_kind) noexcept nogil:
    # End of the run of whole 8-channel blocks from c that share one int32 mode.
    cdef Py_ssize_t end = c
    cdef int mode = p.mode[c]
    cdef Py_ssize_t j
    if p.bias64 != NULL or (src_kind != SRC_F32 and src_kind != SRC_I32):
        return c
    if mode != ROUND_DOUBLE and mode != ROUND_SINGLE and mode != ROUND_DOUBLE_UP:
        return c
    while end + 8 <= n:
        for j in range(end, end + 8):
            if p.mode[j] != mode:
                return end
        end += 8
    return end


cdef inline void requant_block(const void* src, int src_kind, Py_ssize_t lds, Py_ssize_t rows,
                               Py_ssize_t n, const RequantParams* p, void* dst,
                               Py_ssize_t ldd) noexcept nogil:
    """dst[r, c] = requant_one(src[r, c], c) for r < rows, c < n (row strides lds, ldd)."""
    cdef Py_ssize_t c = 0, r, end
    cdef bint avx2 = edgelite_have_avx2()
    while c < n:
        end = _avx2_end(c, n, p, src_kind) if avx2 else c
        if end > c:
            edgelite_requant8_avx2(src, src_kind == SRC_F32, lds, rows, c, end, p.bias, p.mult,
                                   p.shift, p.mode[c], p.zp, p.lo, p.hi, dst, p.kind, ldd)
            c = end
            continue
        for r in range(rows):
            _store_one(dst, p.kind, r * ldd + c,
                       requant_one(_load_acc(src, src_kind, r * lds + c), c, p))
        c += 1


# -- shared by the kernels of _qconv.pyx and _qdirect.pyx ----------------------------

cdef struct Geometry:
    Py_ssize_t height, width, channels
    Py_ssize_t out_h, out_w
    Py_ssize_t kh, kw, sh, sw, dh, dw, pad_t, pad_l
    Py_ssize_t group_in, group_out, groups, k


cdef inline RequantParams epilogue_params(tuple epilogue, int kind) except *:
    """RequantParams over the arrays of an epilogue tuple (Requant.epilogue())."""
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


cdef inline RequantParams offset_params(const RequantParams* p, Py_ssize_t c0) noexcept nogil:
    # The same parameters seen from channel c0 on (one group of a grouped conv).
    cdef RequantParams q = p[0]
    q.bias = p.bias + c0 if p.bias != NULL else NULL
    q.bias64 = p.bias64 + c0 if p.bias64 != NULL else NULL
    q.mult = p.mult + c0
    q.shift = p.shift + c0
    q.mode = p.mode + c0
    q.real = p.real + c0
    return q
