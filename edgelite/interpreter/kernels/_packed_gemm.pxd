# A float32 GEMM on weights packed once at load, for the fused convolution steps
# (_fused_block.pyx), to cimport.
#
#     c[i, j] = clamp(sum_k a[i, k] * w[j, k] + bias[j] (+ residual[i, j]), lo, hi)
#
# ``w`` is a TFLite filter viewed as [n, k] (1x1 conv / fully connected layout).
# OpenBLAS is slow on the shapes MobileNet-style networks are made of (k = 16..96
# inner products and 24..1280 outputs: it packs `a` and makes three passes over `c`
# for bias, product and clamp). Here `w` is packed once into panels of 16 columns
# ([k][16] each, the last one 8 wide when at most 8 columns remain, zero padded), and
# each 6-row x 16-column tile of `c` is accumulated in 12 vector registers straight
# from the rows of `a` (no packing: a row block stays in L2 while every panel passes
# over it), with bias, residual and clamp applied in registers before its only store.
#
# The tile loop is compiled for AVX2 + FMA and for the baseline target (_vec8.pxd).
# Products are accumulated in k order per output, with FMA on
# AVX2: results differ from a BLAS only by float rounding (the 1e-5 relative rule).

from ._vec8 cimport el_have_avx2_fma

cdef extern from *:
    """
    /* Rows of `a` per block: a block (about 128 KiB of `a`) stays in L2 while every
       weight panel passes over it. */
    #define EL_BLOCK_A_BYTES (128 * 1024)
    #define EL_MR 6

    /* Width of the panel starting at column j0 of n (16, or 8 for a short last one). */
    static inline Py_ssize_t el_panel_width(Py_ssize_t n, Py_ssize_t j0) {
        return (n - j0 > 8) ? 16 : 8;
    }

    /* Floats of a packed [n, k] weight (panels zero padded to their width). */
    static inline Py_ssize_t el_packed_cols(Py_ssize_t n) {
        Py_ssize_t full = (n / 16) * 16, rest = n - full;
        return full + (rest == 0 ? 0 : (rest <= 8 ? 8 : 16));
    }

    #ifdef EL_HAVE_VEC
    /* One MR x (8 * NV) tile of c from MR rows of a and one panel. The flags are
       constants at every call, so each variant compiles to straight-line code with the
       accumulators in registers: bias first, k multiply-adds, then residual and clamp
       on the way to the only store. */
    EL_INLINE void el_tile(const float* a, Py_ssize_t lda, const float* panel, Py_ssize_t k,
                           const int MR, const int NV, const float* bias, float* c,
                           Py_ssize_t ldc, const float* res, Py_ssize_t ldr, float lo,
                           float hi, const int HAS_RES, const int CLAMP) {
        el_f32x8 acc[EL_MR][2];
        el_f32x8 b0, b1, av, v, vlo = EL_SPLAT8(lo), vhi = EL_SPLAT8(hi);
        Py_ssize_t kk;
        int r, q;
        b0 = EL_LOAD8(bias);
        b1 = NV > 1 ? EL_LOAD8(bias + 8) : b0;
        for (r = 0; r < MR; r++) {
            acc[r][0] = b0;
            acc[r][1] = b1;
        }
        #pragma GCC unroll 4
        for (kk = 0; kk < k; kk++) {
            b0 = EL_LOAD8(panel + kk * 8 * NV);
            b1 = NV > 1 ? EL_LOAD8(panel + kk * 8 * NV + 8) : b0;
            for (r = 0; r < MR; r++) {
                av = EL_SPLAT8(a[r * lda + kk]);
                acc[r][0] += av * b0;
                if (NV > 1) acc[r][1] += av * b1;
            }
        }
        for (r = 0; r < MR; r++) {
            for (q = 0; q < NV; q++) {
                v = acc[r][q];
                if (HAS_RES) v += EL_LOAD8(res + r * ldr + 8 * q);
                if (CLAMP) v = EL_CLAMP8(v, vlo, vhi);
                EL_STORE8(c + r * ldc + 8 * q, v);
            }
        }
    }

    /* A tile of a panel wider than the columns left: through a scratch tile. */
    EL_INLINE void el_tile_partial(const float* a, Py_ssize_t lda, const float* panel,
                                   Py_ssize_t k, const int MR, const int NV,
                                   const float* bias, float* c, Py_ssize_t ldc,
                                   Py_ssize_t ncols, const float* res, Py_ssize_t ldr,
                                   float lo, float hi) {
        float tmp[EL_MR * 16];
        int r;
        Py_ssize_t j;
        el_tile(a, lda, panel, k, MR, NV, bias, tmp, 16, NULL, 0, lo, hi, 0, 0);
        for (r = 0; r < MR; r++) {
            for (j = 0; j < ncols; j++) {
                float x = tmp[r * 16 + j] + (res ? res[r * ldr + j] : 0.0f);
                c[r * ldc + j] = x < lo ? lo : (x > hi ? hi : x);
            }
        }
    }

    /* Rows [0, m) of one full panel: tiles of EL_MR rows, then 4, 2 and 1. */
    /* Rows [0, m) of one full panel in tiles of EL_MR rows. The last 7 to 12 rows go
       as two tiles of 3 to 6 (49 rows: 6 x 6 + 4 + 3), and fewer than 6 as one: a tile
       of r rows keeps only 2r accumulators busy, and FMA latency wants 8 or more. */
    #define EL_TILE_AT(R) el_tile(a + i * lda, lda, panel, k, (R), NV, bias, c + i * ldc, \\
                                  ldc, res + i * ldr, ldr, lo, hi, HAS_RES, CLAMP)
    EL_INLINE void el_rows(const float* a, Py_ssize_t lda, const float* panel, Py_ssize_t k,
                           const int NV, const float* bias, float* c, Py_ssize_t ldc,
                           Py_ssize_t m, const float* res, Py_ssize_t ldr, float lo,
                           float hi, const int HAS_RES, const int CLAMP) {
        Py_ssize_t i = 0, rest, first;
        for (; m - i > 2 * EL_MR || (m - i) == EL_MR; i += EL_MR) EL_TILE_AT(EL_MR);
        rest = m - i;
        first = rest > EL_MR ? rest / 2 + rest % 2 : rest;  /* 7..12 -> 4+3 .. 6+6 */
        switch (first) {
            case 6: EL_TILE_AT(6); break;
            case 5: EL_TILE_AT(5); break;
            case 4: EL_TILE_AT(4); break;
            case 3: EL_TILE_AT(3); break;
            case 2: EL_TILE_AT(2); break;
            case 1: EL_TILE_AT(1); break;
            default: break;
        }
        i += first;
        switch (m - i) {
            case 6: EL_TILE_AT(6); break;
            case 5: EL_TILE_AT(5); break;
            case 4: EL_TILE_AT(4); break;
            case 3: EL_TILE_AT(3); break;
            default: break;
        }
    }
    #undef EL_TILE_AT

    EL_INLINE void el_panel_rows(const float* a, Py_ssize_t lda, const float* panel,
                                 Py_ssize_t k, const int NV, const float* bias, float* c,
                                 Py_ssize_t ldc, Py_ssize_t m, Py_ssize_t ncols,
                                 const float* res, Py_ssize_t ldr, float lo, float hi) {
        Py_ssize_t i;
        int clamp = lo > -3.4e38f || hi < 3.4e38f;
        if (ncols < 8 * NV) {
            for (i = 0; i + EL_MR <= m; i += EL_MR)
                el_tile_partial(a + i * lda, lda, panel, k, EL_MR, NV, bias, c + i * ldc,
                                ldc, ncols, res ? res + i * ldr : NULL, ldr, lo, hi);
            for (; i < m; i++)
                el_tile_partial(a + i * lda, lda, panel, k, 1, NV, bias, c + i * ldc, ldc,
                                ncols, res ? res + i * ldr : NULL, ldr, lo, hi);
        } else if (res && clamp) {
            el_rows(a, lda, panel, k, NV, bias, c, ldc, m, res, ldr, lo, hi, 1, 1);
        } else if (res) {
            el_rows(a, lda, panel, k, NV, bias, c, ldc, m, res, ldr, lo, hi, 1, 0);
        } else if (clamp) {
            el_rows(a, lda, panel, k, NV, bias, c, ldc, m, c, 0, lo, hi, 0, 1);
        } else {
            el_rows(a, lda, panel, k, NV, bias, c, ldc, m, c, 0, lo, hi, 0, 0);
        }
    }

    EL_INLINE void el_gemm_body(const float* a, Py_ssize_t lda, const float* packed,
                                const float* bias, float* c, Py_ssize_t ldc, Py_ssize_t m,
                                Py_ssize_t n, Py_ssize_t k, const float* res,
                                Py_ssize_t ldr, float lo, float hi) {
        Py_ssize_t block = EL_BLOCK_A_BYTES / (4 * (k > 0 ? k : 1)), i0, rows, j0, width;
        block = block < EL_MR ? EL_MR : block - block % EL_MR;
        for (i0 = 0; i0 < m; i0 += block) {
            rows = m - i0 < block ? m - i0 : block;
            for (j0 = 0; j0 < n; j0 += width) {
                width = el_panel_width(n, j0);
                const float* rp = res ? res + i0 * ldr + j0 : NULL;
                Py_ssize_t ncols = n - j0 < width ? n - j0 : width;
                if (width == 16)
                    el_panel_rows(a + i0 * lda, lda, packed + j0 * k, k, 2, bias + j0,
                                  c + i0 * ldc + j0, ldc, rows, ncols, rp, ldr, lo, hi);
                else
                    el_panel_rows(a + i0 * lda, lda, packed + j0 * k, k, 1, bias + j0,
                                  c + i0 * ldc + j0, ldc, rows, ncols, rp, ldr, lo, hi);
            }
        }
    }

    #ifdef EL_X86_DISPATCH
    EL_AVX2 static void el_gemm_avx2(const float* a, Py_ssize_t lda, const float* packed,
                             const float* bias, float* c, Py_ssize_t ldc, Py_ssize_t m,
                             Py_ssize_t n, Py_ssize_t k, const float* res, Py_ssize_t ldr,
                             float lo, float hi) {
        el_gemm_body(a, lda, packed, bias, c, ldc, m, n, k, res, ldr, lo, hi);
    }
    #endif

    static void el_gemm_base(const float* a, Py_ssize_t lda, const float* packed,
                             const float* bias, float* c, Py_ssize_t ldc, Py_ssize_t m,
                             Py_ssize_t n, Py_ssize_t k, const float* res, Py_ssize_t ldr,
                             float lo, float hi) {
        el_gemm_body(a, lda, packed, bias, c, ldc, m, n, k, res, ldr, lo, hi);
    }
    #else
    /* No vector extension: plain loops over the same packed layout. */
    static void el_gemm_base(const float* a, Py_ssize_t lda, const float* packed,
                             const float* bias, float* c, Py_ssize_t ldc, Py_ssize_t m,
                             Py_ssize_t n, Py_ssize_t k, const float* res, Py_ssize_t ldr,
                             float lo, float hi) {
        Py_ssize_t i, j, kk, j0, width;
        for (j0 = 0; j0 < n; j0 += width) {
            width = el_panel_width(n, j0);
            for (i = 0; i < m; i++) {
                for (j = j0; j < n && j < j0 + width; j++) {
                    float acc = bias[j];
                    for (kk = 0; kk < k; kk++)
                        acc += a[i * lda + kk] * packed[j0 * k + kk * width + (j - j0)];
                    if (res) acc += res[i * ldr + j];
                    c[i * ldc + j] = acc < lo ? lo : (acc > hi ? hi : acc);
                }
            }
        }
    }
    #endif

    /* c = clamp(a @ w^T + bias (+ res), lo, hi); bias padded to el_packed_cols(n). */
    static void el_gemm(const float* a, Py_ssize_t lda, const float* packed,
                        const float* bias, float* c, Py_ssize_t ldc, Py_ssize_t m,
                        Py_ssize_t n, Py_ssize_t k, const float* res, Py_ssize_t ldr,
                        float lo, float hi) {
        if (m <= 0 || n <= 0) return;
    #ifdef EL_X86_DISPATCH
        if (el_have_avx2_fma()) {
            el_gemm_avx2(a, lda, packed, bias, c, ldc, m, n, k, res, ldr, lo, hi);
            return;
        }
    #endif
        el_gemm_base(a, lda, packed, bias, c, ldc, m, n, k, res, ldr, lo, hi);
    }
    """
    Py_ssize_t el_packed_cols(Py_ssize_t n) noexcept nogil
    Py_ssize_t el_panel_width(Py_ssize_t n, Py_ssize_t j0) noexcept nogil
    void el_gemm(const float* a, Py_ssize_t lda, const float* packed, const float* bias,
                 float* c, Py_ssize_t ldc, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                 const float* res, Py_ssize_t ldr, float lo, float hi) noexcept nogil
