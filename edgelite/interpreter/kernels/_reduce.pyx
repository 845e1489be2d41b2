"""Optimized SUM / MEAN / REDUCE_MAX / REDUCE_MIN over one block of adjacent axes.

``plan`` (prepare time) drops size-1 axes and checks that the reduced axes are
adjacent; the input is then a (outer, reduce, inner) array. Each output element
folds its ``reduce`` inputs in input order, as TFLite's reference does, except
for inner == 1 float sums, which keep eight running sums (a different but equally
valid summation order; results stay within the float rule). Integer sums wrap
in the input type; integer MEAN sums in int64 and divides truncating to zero.
Work is split over (outer, inner chunk) tasks across ``num_threads``.
"""

from cython.parallel cimport prange
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc

from ._simd cimport f32x4, f32x4_add, f32x4_load, f32x4_splat, f32x4_store

import math

import numpy as np

ctypedef fused value:
    float
    int32_t
    int64_t
    int8_t
    uint8_t
    int16_t

cdef enum:
    SUM = 0
    MEAN = 1
    MAX = 2
    MIN = 3
    CHUNK = 256  # inner elements per task: a few KB of outputs stay in L1

KINDS = {"sum": SUM, "mean": MEAN, "max": MAX, "min": MIN}


def plan(tuple shape, tuple axes):
    """(outer, reduce, inner) for reducing ``axes`` of ``shape``, or None if not one block."""
    kept = [a for a in range(len(shape)) if shape[a] != 1]
    reduced = [a for a in kept if a in axes]
    if not reduced:
        return None  # nothing to fold: the reference's copy is as good
    first = kept.index(reduced[0])
    if kept[first : first + len(reduced)] != reduced:
        return None
    outer = math.prod([shape[a] for a in kept[:first]])
    inner = math.prod([shape[a] for a in kept[first + len(reduced) :]])
    return outer, math.prod([shape[a] for a in reduced]), inner


cdef inline int64_t _trunc_div(int64_t total, int64_t count) noexcept nogil:
    # C division truncates toward zero, which is what TFLite's integer MEAN does.
    return total / count


cdef inline float _float_sum(const float* x, Py_ssize_t count) noexcept nogil:
    # Eight running sums in two 4-lane vectors, then the lanes and the tail.
    cdef f32x4 a0 = f32x4_splat(0)
    cdef f32x4 a1 = f32x4_splat(0)
    cdef float lanes[8]
    cdef float total
    cdef Py_ssize_t r = 0
    while r + 8 <= count:
        a0 = f32x4_add(a0, f32x4_load(x + r))
        a1 = f32x4_add(a1, f32x4_load(x + r + 4))
        r += 8
    f32x4_store(lanes, a0)
    f32x4_store(lanes + 4, a1)
    total = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + (
        (lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
    while r < count:
        total += x[r]
        r += 1
    return total


cdef inline value _extreme(const value* x, Py_ssize_t count, bint largest) noexcept nogil:
    # Four independent running extremes: a single one is bound by compare latency.
    cdef value m0 = x[0], m1 = x[0], m2 = x[0], m3 = x[0]
    cdef Py_ssize_t r = 0
    if largest:
        while r + 4 <= count:
            m0 = x[r] if x[r] > m0 else m0
            m1 = x[r + 1] if x[r + 1] > m1 else m1
            m2 = x[r + 2] if x[r + 2] > m2 else m2
            m3 = x[r + 3] if x[r + 3] > m3 else m3
            r += 4
        while r < count:
            m0 = x[r] if x[r] > m0 else m0
            r += 1
        m0 = m1 if m1 > m0 else m0
        m2 = m3 if m3 > m2 else m2
        return m2 if m2 > m0 else m0
    while r + 4 <= count:
        m0 = x[r] if x[r] < m0 else m0
        m1 = x[r + 1] if x[r + 1] < m1 else m1
        m2 = x[r + 2] if x[r + 2] < m2 else m2
        m3 = x[r + 3] if x[r + 3] < m3 else m3
        r += 4
    while r < count:
        m0 = x[r] if x[r] < m0 else m0
        r += 1
    m0 = m1 if m1 < m0 else m0
    m2 = m3 if m3 < m2 else m2
    return m2 if m2 < m0 else m0


cdef void _row_task(const value* x, value* out, Py_ssize_t count, int kind) noexcept nogil:
    # inner == 1: one output folds ``count`` adjacent inputs; one tight loop per kind
    # so the compiler can vectorize it.
    cdef Py_ssize_t r
    cdef value acc
    cdef int64_t total = 0
    cdef uint32_t wrapped32 = 0
    cdef uint64_t wrapped64 = 0
    if kind == MAX or kind == MIN:
        acc = _extreme(x, count, kind == MAX)
    elif value is float:
        acc = _float_sum(x, count)
        if kind == MEAN:
            acc = acc / <float>count
    elif kind == MEAN:
        for r in range(count):
            total += <int64_t>x[r]
        acc = <value>_trunc_div(total, count)
    elif value is int32_t:
        # Two's-complement wrap-around, like TFLite; unsigned sums make it defined C.
        for r in range(count):
            wrapped32 += <uint32_t>x[r]
        acc = <value>wrapped32
    else:
        for r in range(count):
            wrapped64 += <uint64_t>x[r]
        acc = <value>wrapped64
    out[0] = acc


cdef void _column_task(const value* x, value* out, Py_ssize_t count, Py_ssize_t inner,
                       Py_ssize_t width, int kind) noexcept nogil:
    # inner > 1: ``width`` outputs, each folding ``count`` inputs ``inner`` apart, in
    # input order. One loop per kind (no branch inside) so the compiler vectorizes it.
    cdef Py_ssize_t r, j
    cdef const value* row
    cdef int64_t* totals
    if kind == MEAN and value is not float:
        totals = <int64_t*>malloc(width * sizeof(int64_t))
        for j in range(width):
            totals[j] = 0
        for r in range(count):
            row = x + r * inner
            for j in range(width):
                totals[j] += <int64_t>row[j]
        for j in range(width):
            out[j] = <value>_trunc_div(totals[j], count)
        free(totals)
        return
    for j in range(width):
        out[j] = x[j]
    for r in range(1, count):
        row = x + r * inner
        if kind == MAX:
            for j in range(width):
                out[j] = row[j] if row[j] > out[j] else out[j]
        elif kind == MIN:
            for j in range(width):
                out[j] = row[j] if row[j] < out[j] else out[j]
        elif value is int32_t:  # wrap-around sums, defined through unsigned arithmetic
            for j in range(width):
                out[j] = <int32_t>(<uint32_t>out[j] + <uint32_t>row[j])
        elif value is int64_t:
            for j in range(width):
                out[j] = <int64_t>(<uint64_t>out[j] + <uint64_t>row[j])
        else:
            for j in range(width):
                out[j] = out[j] + row[j]
    if value is float:
        if kind == MEAN:
            for j in range(width):
                out[j] = out[j] / <float>count


cdef void _tasks(const value* x, value* out, Py_ssize_t outer, Py_ssize_t count,
                 Py_ssize_t inner, int kind, int threads) noexcept nogil:
    cdef Py_ssize_t chunks = (inner + CHUNK - 1) // CHUNK
    cdef Py_ssize_t t, o, j0, width
    if inner == 1:
        for o in prange(outer, num_threads=threads, schedule="static"):
            _row_task(x + o * count, out + o, count, kind)
        return
    for t in prange(outer * chunks, num_threads=threads, schedule="static"):
        o = t // chunks
        j0 = (t % chunks) * CHUNK
        width = inner - j0 if inner - j0 < CHUNK else CHUNK
        _column_task(x + o * count * inner + j0, out + o * inner + j0, count, inner, width,
                     kind)


cdef void _reduce(const value[::1] x, value[::1] out, Py_ssize_t outer, Py_ssize_t count,
                  Py_ssize_t inner, int kind, int threads):
    with nogil:
        _tasks(&x[0], &out[0], outer, count, inner, kind, threads)


_TYPES = {
    np.dtype(np.float32): 0,
    np.dtype(np.int32): 1,
    np.dtype(np.int64): 2,
    np.dtype(np.int8): 3,
    np.dtype(np.uint8): 4,
    np.dtype(np.int16): 5,
}


def run(x, out, str kind, tuple block, int num_threads=1):
    """out = reduction ``kind`` of x seen as ``block`` = (outer, reduce, inner) (a plan())."""
    outer, count, inner = block
    if not (x.flags.c_contiguous and out.flags.c_contiguous) or x.dtype != out.dtype:
        raise ValueError("reduce needs C-contiguous input and output of one dtype")
    if x.dtype not in _TYPES or kind not in KINDS:
        raise ValueError(f"no optimized {kind} for {x.dtype}")
    if kind in ("sum", "mean") and x.dtype not in (np.float32, np.int32, np.int64):
        raise ValueError(f"no optimized {kind} for {x.dtype}")
    if count < 1 or x.size != outer * count * inner or out.size != outer * inner:
        raise ValueError(f"reduce block {block} does not match {x.size} -> {out.size} elements")
    if out.size == 0:
        return
    code, threads = KINDS[kind], max(num_threads, 1)
    flat_x, flat_out = x.reshape(-1), out.reshape(-1)
    which = _TYPES[x.dtype]
    if which == 0:
        _reduce[float](flat_x, flat_out, outer, count, inner, code, threads)
    elif which == 1:
        _reduce[int32_t](flat_x, flat_out, outer, count, inner, code, threads)
    elif which == 2:
        _reduce[int64_t](flat_x, flat_out, outer, count, inner, code, threads)
    elif which == 3:
        _reduce[int8_t](flat_x, flat_out, outer, count, inner, code, threads)
    elif which == 4:
        _reduce[uint8_t](flat_x, flat_out, outer, count, inner, code, threads)
    else:
        _reduce[int16_t](flat_x, flat_out, outer, count, inner, code, threads)
