# Eight-float vectors and the AVX2 + FMA run-time switch, for the C kernels of
# _packed_gemm.pxd and _depthwise.pxd (to cimport).
#
# Those kernels are written once with GCC/Clang's vector extension and compiled twice:
# a function marked EL_AVX2 (target "avx2,fma", used only when el_have_avx2_fma() says
# the CPU has both) and one for the baseline target (SSE2 on x86-64, NEON on ARM64:
# the compiler splits each 8-float vector in two). Their shared bodies are EL_INLINE
# (always inlined, so each copy is compiled for its caller's target) and take vectors
# only through the macros below: no vector value crosses a function boundary compiled
# for another instruction set. Without the vector extension (other compilers)
# EL_HAVE_VEC is undefined and callers use plain loops.

cdef extern from *:
    """
    #ifndef EL_VEC8_H
    #define EL_VEC8_H
    #if defined(__GNUC__) || defined(__clang__)
    typedef float el_f32x8 __attribute__((vector_size(32), aligned(4)));
    typedef int el_i32x8 __attribute__((vector_size(32), aligned(4)));
    #define EL_INLINE static inline __attribute__((always_inline))
    #define EL_HAVE_VEC 1
    #define EL_LOAD8(p) (*(const el_f32x8*)(p))
    #define EL_STORE8(p, v) (*(el_f32x8*)(p) = (v))
    #define EL_SPLAT8(x) ((el_f32x8){(x), (x), (x), (x), (x), (x), (x), (x)})
    /* TFLite's min(max(v, lo), hi) as two compare-and-select steps (a vblendvps each
       on AVX2): NaN compares false and passes through, like std::max/std::min. */
    #define EL_SELECT8(mask, a, b) \\
        ((el_f32x8)(((el_i32x8)(a) & (mask)) | ((el_i32x8)(b) & ~(mask))))
    #define EL_CLAMP8(v, lo, hi) __extension__({ \\
        el_f32x8 el_v_ = (v); \\
        el_v_ = EL_SELECT8(el_v_ < (lo), (lo), el_v_); \\
        EL_SELECT8(el_v_ > (hi), (hi), el_v_); })
    #else
    #define EL_INLINE static inline
    #endif

    #if defined(__x86_64__) && defined(EL_HAVE_VEC)
    #define EL_X86_DISPATCH 1
    #define EL_AVX2 __attribute__((target("avx2,fma")))
    #endif

    static int el_avx2_fma_state = -1;

    static int el_have_avx2_fma(void) {
    #ifdef EL_X86_DISPATCH
        if (el_avx2_fma_state < 0) {
            __builtin_cpu_init();
            el_avx2_fma_state =
                __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        }
        return el_avx2_fma_state;
    #else
        return 0;
    #endif
    }

    /* Tests: 1 runs this module's kernels in their baseline build, 0 back to the best. */
    static inline void el_force_baseline(int on) {
        el_avx2_fma_state = on ? 0 : -1;
    }
    #endif
    """
    int el_have_avx2_fma() noexcept nogil
    void el_force_baseline(int on) noexcept nogil
