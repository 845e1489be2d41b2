"""Optimized TRANSPOSE (also DEPTH_TO_SPACE / SPACE_TO_DEPTH, which are transposes).

Works on raw elements of 1, 2, 4 or 8 bytes, so every dtype shares one kernel.
``plan`` (run at prepare) merges input axes that stay neighbours in the output
and drops size-1 axes, so most real transposes shrink to 2 or 3 dimensions.
``run`` then either copies whole rows (the innermost axis stays innermost) or
moves TILE x TILE blocks between the input's and the output's contiguous axes,
so both sides are read and written a cache line at a time.
"""

from cython.parallel cimport prange
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

import math

import numpy as np

ctypedef fused word:
    uint8_t
    uint16_t
    uint32_t
    uint64_t

cdef enum:
    TILE = 32  # rows (input-contiguous) per strip: measured best of 8..64 for float32
    MAX_DIMS = 8

cdef extern from *:
    """
    #include <stddef.h>
    #include <stdint.h>
    #include <string.h>
    /* 4x4 block of 32-bit words: d[i * ds + j] = s[i + j * ss]. Compilers do not turn
       the scalar double loop into shuffles, so spell the in-register transpose out
       with vector extensions (SSE on x86-64, NEON on ARM); others use the loop. */
    #if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
    typedef uint32_t edgelite_u32x4 __attribute__((vector_size(16)));
    static inline void edgelite_transpose4x4_u32(const uint32_t* s, ptrdiff_t ss,
                                                 uint32_t* d, ptrdiff_t ds) {
        edgelite_u32x4 r0, r1, r2, r3, t0, t1, t2, t3;
        memcpy(&r0, s, 16);
        memcpy(&r1, s + ss, 16);
        memcpy(&r2, s + 2 * ss, 16);
        memcpy(&r3, s + 3 * ss, 16);
        t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5);
        t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
        t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5);
        t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
        r0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
        r1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
        r2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
        r3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
        memcpy(d, &r0, 16);
        memcpy(d + ds, &r1, 16);
        memcpy(d + 2 * ds, &r2, 16);
        memcpy(d + 3 * ds, &r3, 16);
    }
    #else
    static inline void edgelite_transpose4x4_u32(const uint32_t* s, ptrdiff_t ss,
                                                 uint32_t* d, ptrdiff_t ds) {
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) d[i * ds + j] = s[i + j * ss];
    }
    #endif
    """
    void _transpose4x4 "edgelite_transpose4x4_u32"(
        const uint32_t* s, Py_ssize_t ss, uint32_t* d, Py_ssize_t ds) noexcept nogil

_WORDS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def plan(tuple shape, tuple perm):
    """Collapse ``perm`` over ``shape`` to (shape, perm) of the fewest equivalent axes."""
    keep = [a for a in range(len(shape)) if shape[a] != 1]
    rank_of = {a: r for r, a in enumerate(keep)}
    # Runs of neighbouring kept input axes, in output order, become one axis.
    # (No negative indexing here: the module is compiled with wraparound off.)
    groups = []
    previous = -2
    for a in perm:
        if shape[a] == 1:
            continue
        if rank_of[a] == previous + 1:
            groups[len(groups) - 1].append(rank_of[a])
        else:
            groups.append([rank_of[a]])
        previous = rank_of[a]
    by_start = sorted(groups, key=lambda g: g[0])
    new_shape = tuple(math.prod([shape[keep[r]] for r in g]) for g in by_start)
    new_perm = tuple(by_start.index(g) for g in groups)
    return new_shape, new_perm


cdef void _rows(const word* src, word* dst, Py_ssize_t count, Py_ssize_t row,
                const Py_ssize_t* dims, const Py_ssize_t* src_strides, Py_ssize_t ndims,
                int threads) noexcept nogil:
    # The innermost axis stays innermost: copy ``count`` rows of ``row`` elements. The
    # rows of the last outer axis are one task, so div/mod runs once per task.
    cdef Py_ssize_t last = ndims - 1
    cdef Py_ssize_t per_task = dims[last], step = src_strides[last]
    cdef Py_ssize_t g, t, d, rest, offset
    for g in prange(count // per_task, num_threads=threads, schedule="static"):
        rest = g
        offset = 0
        for d in range(last - 1, -1, -1):
            offset = offset + (rest % dims[d]) * src_strides[d]
            rest = rest // dims[d]
        for t in range(per_task):
            memcpy(dst + (g * per_task + t) * row, src + offset + t * step, row * sizeof(word))


cdef void _strip(const word* src, word* dst, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t na,
                 Py_ssize_t sa, Py_ssize_t sb) noexcept nogil:
    # dst[i * sb + j] = src[i + j * sa] for rows i in [i0, i1): 4x4 register blocks for
    # 32-bit words, plain loops for the edges and the other word sizes.
    cdef Py_ssize_t i, j, ib, j0 = 0
    if word is uint32_t:
        while j0 + 4 <= na:
            ib = i0
            while ib + 4 <= i1:
                _transpose4x4(src + ib + j0 * sa, sa, dst + ib * sb + j0, sb)
                ib += 4
            for i in range(ib, i1):
                for j in range(j0, j0 + 4):
                    dst[i * sb + j] = src[i + j * sa]
            j0 += 4
    for i in range(i0, i1):
        for j in range(j0, na):
            dst[i * sb + j] = src[i + j * sa]


cdef void _tiles(const word* src, word* dst, Py_ssize_t outer, Py_ssize_t nb, Py_ssize_t na,
                 Py_ssize_t sa, Py_ssize_t sb, const Py_ssize_t* dims,
                 const Py_ssize_t* src_strides, const Py_ssize_t* dst_strides, Py_ssize_t ndims,
                 int threads) noexcept nogil:
    # Tasks are (outer position, strip of TILE rows along b); offsets by div/mod.
    cdef Py_ssize_t strips = (nb + TILE - 1) // TILE
    cdef Py_ssize_t t, k, s, d, rest, src_off, dst_off, i0, i1
    for t in prange(outer * strips, num_threads=threads, schedule="static"):
        k = t // strips
        s = t % strips
        rest = k
        src_off = 0
        dst_off = 0
        for d in range(ndims - 1, -1, -1):
            src_off = src_off + (rest % dims[d]) * src_strides[d]
            dst_off = dst_off + (rest % dims[d]) * dst_strides[d]
            rest = rest // dims[d]
        i0 = s * TILE
        i1 = i0 + TILE if i0 + TILE < nb else nb
        _strip(src + src_off, dst + dst_off, i0, i1, na, sa, sb)


cdef void _dispatch(const word[::1] src, word[::1] dst, tuple shape, tuple perm,
                    int threads):
    cdef Py_ssize_t n = len(shape)
    cdef Py_ssize_t sh[MAX_DIMS]
    cdef Py_ssize_t pm[MAX_DIMS]
    cdef Py_ssize_t in_strides[MAX_DIMS]
    cdef Py_ssize_t out_strides[MAX_DIMS]
    cdef Py_ssize_t dims[MAX_DIMS]
    cdef Py_ssize_t s_src[MAX_DIMS]
    cdef Py_ssize_t s_dst[MAX_DIMS]
    cdef Py_ssize_t i, m = 0, outer = 1, last, b_out = 0
    for i in range(n):
        sh[i] = shape[i]
        pm[i] = perm[i]
    in_strides[n - 1] = 1
    out_strides[n - 1] = 1
    for i in range(n - 2, -1, -1):
        in_strides[i] = in_strides[i + 1] * sh[i + 1]
        out_strides[i] = out_strides[i + 1] * sh[pm[i + 1]]
    last = pm[n - 1]
    if last == n - 1:
        for i in range(n - 1):
            dims[i] = sh[pm[i]]
            s_src[i] = in_strides[pm[i]]
            outer *= dims[i]
        with nogil:
            _rows(&src[0], &dst[0], outer, sh[n - 1], dims, s_src, n - 1, threads)
        return
    for i in range(n):
        if pm[i] == n - 1:
            b_out = i
        elif i != n - 1:
            dims[m] = sh[pm[i]]
            s_src[m] = in_strides[pm[i]]
            s_dst[m] = out_strides[i]
            outer *= dims[m]
            m += 1
    with nogil:
        _tiles(&src[0], &dst[0], outer, sh[n - 1], sh[last], in_strides[last],
               out_strides[b_out], dims, s_src, s_dst, m, threads)


def run(src, dst, tuple shape, tuple perm, int num_threads=1):
    """dst = src transposed by ``perm`` (a plan() result for src's element count)."""
    if not (src.flags.c_contiguous and dst.flags.c_contiguous):
        raise ValueError("transpose needs C-contiguous input and output")
    if src.dtype.itemsize != dst.dtype.itemsize or src.dtype.itemsize not in _WORDS:
        raise ValueError(f"transpose of {src.dtype} into {dst.dtype} is not supported")
    if src.size != dst.size or math.prod(shape) != src.size:
        raise ValueError(f"transpose plan {shape} does not match {src.size} elements")
    if len(shape) > MAX_DIMS or sorted(perm) != list(range(len(shape))):
        raise ValueError(f"bad transpose plan {shape} {perm}")
    if src.size == 0:
        return
    if len(shape) <= 1:
        np.copyto(dst.reshape(-1), src.reshape(-1))
        return
    word_type = _WORDS[src.dtype.itemsize]
    flat_src = src.reshape(-1).view(word_type)
    flat_dst = dst.reshape(-1).view(word_type)
    threads = max(num_threads, 1)
    if word_type is np.uint8:
        _dispatch[uint8_t](flat_src, flat_dst, shape, perm, threads)
    elif word_type is np.uint16:
        _dispatch[uint16_t](flat_src, flat_dst, shape, perm, threads)
    elif word_type is np.uint32:
        _dispatch[uint32_t](flat_src, flat_dst, shape, perm, threads)
    else:
        _dispatch[uint64_t](flat_src, flat_dst, shape, perm, threads)
