"""Optimized quantized MEAN / SUM over one block of adjacent axes (held equal to
``_reduce_quant``'s numpy reference).

The input is seen as (outer, reduce, inner) (``_reduce.plan``). Each output element
sums its ``reduce`` inputs in int32 with wrap-around (TFLite's temp_sum; unsigned
arithmetic keeps the wrap defined C), then rescales:

- MEAN:   mbqm(sum - z_in * count, multiplier, shift) + z_out
- MEAN4D: mbqm(sum, multiplier, shift) + bias, with the vector or tail rounding of
          the output's channel (``vector_mask``)
- SUM:    round(float(sum) * scale + sum_bias) + z_out in float32, halves away from 0

and clamps to the output type. Work is split over (outer, 256-wide inner chunk) tasks.
"""

from cython.parallel cimport prange
from libc.math cimport roundf
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint32_t

from ._fixedpoint cimport mbqm

import numpy as np

ctypedef fused qvalue:
    int8_t
    uint8_t
    int16_t

cdef enum:
    MEAN = 0
    MEAN4D = 1
    SUM = 2
    CHUNK = 256

PATHS = {"mean": MEAN, "mean4d": MEAN4D, "sum": SUM}


cdef struct Rescale:
    int path
    int32_t in_zero_point
    int32_t out_zero_point
    int64_t low
    int64_t high
    int32_t multiplier
    int shift
    int tail_rounding
    int vector_rounding
    int32_t bias
    float scale
    float sum_bias
    int64_t count


cdef inline int64_t _finish(uint32_t total, Rescale* r, bint vector) noexcept nogil:
    cdef int64_t value
    cdef float real
    if r.path == SUM:
        real = roundf(<float><int32_t>total * r.scale + r.sum_bias) + <float>r.out_zero_point
        if real < r.low:
            return r.low
        if real > r.high:
            return r.high
        return <int64_t>real
    if r.path == MEAN4D:
        value = <int64_t>mbqm(<int32_t>total, r.multiplier, r.shift,
                              r.vector_rounding if vector else r.tail_rounding) + r.bias
    else:
        total = total - <uint32_t>(<int64_t>r.in_zero_point * r.count)
        value = <int64_t>mbqm(<int32_t>total, r.multiplier, r.shift,
                              r.tail_rounding) + r.out_zero_point
    if value < r.low:
        return r.low
    if value > r.high:
        return r.high
    return value


cdef void _task(const qvalue* x, qvalue* out, Py_ssize_t count, Py_ssize_t inner,
                Py_ssize_t j0, Py_ssize_t width, const uint8_t* mask,
                Rescale* r) noexcept nogil:
    # ``width`` outputs starting at channel j0, each summing ``count`` inputs ``inner``
    # apart, in input order.
    cdef uint32_t sums[CHUNK]
    cdef Py_ssize_t k, j
    cdef const qvalue* row
    for j in range(width):
        sums[j] = 0
    for k in range(count):
        row = x + k * inner
        for j in range(width):
            sums[j] += <uint32_t><int32_t>row[j]
    for j in range(width):
        out[j] = <qvalue>_finish(sums[j], r, mask[j0 + j] != 0)


cdef void _run(const qvalue[::1] x, qvalue[::1] out, Py_ssize_t outer, Py_ssize_t count,
               Py_ssize_t inner, const uint8_t[::1] mask, Rescale r, int threads):
    cdef Py_ssize_t chunks = (inner + CHUNK - 1) // CHUNK
    cdef Py_ssize_t t, o, j0, width
    with nogil:
        for t in prange(outer * chunks, num_threads=threads, schedule="static"):
            o = t // chunks
            j0 = (t % chunks) * CHUNK
            width = inner - j0 if inner - j0 < CHUNK else CHUNK
            _task(&x[0] + o * count * inner + j0, &out[0] + o * inner + j0, count, inner,
                  j0, width, &mask[0], &r)


def run(x, out, tuple block, str path, q, vector_mask, int tail_rounding,
        int vector_rounding, int num_threads=1):
    """out = quantized ``path`` ("mean", "mean4d", "sum") of x seen as ``block``.

    ``q`` is the prepared ``_reduce_quant.QuantReduce``; ``vector_mask`` holds one
    uint8 per inner index (MEAN4D channels; zeros otherwise).
    """
    outer, count, inner = block
    if not (x.flags.c_contiguous and out.flags.c_contiguous) or x.dtype != out.dtype:
        raise ValueError("quantized reduce needs C-contiguous input and output of one dtype")
    if x.dtype not in (np.int8, np.uint8, np.int16) or path not in PATHS:
        raise ValueError(f"no optimized quantized {path} for {x.dtype}")
    if count < 1 or x.size != outer * count * inner or out.size != outer * inner:
        raise ValueError(f"reduce block {block} does not match {x.size} -> {out.size} elements")
    if vector_mask.dtype != np.uint8 or vector_mask.size != inner:
        raise ValueError("vector_mask needs one uint8 per inner index")
    if not -31 <= q.shift <= 30:
        raise ValueError(f"shift {q.shift} out of [-31, 30]")
    if out.size == 0:
        return
    cdef Rescale r
    r.path = PATHS[path]
    r.in_zero_point = q.in_zero_point
    r.out_zero_point = q.out_zero_point
    r.low = q.low
    r.high = q.high
    r.multiplier = q.multiplier
    r.shift = q.shift
    r.tail_rounding = tail_rounding
    r.vector_rounding = vector_rounding
    r.bias = q.bias
    r.scale = q.scale
    r.sum_bias = q.sum_bias
    r.count = count
    threads = max(num_threads, 1)
    flat_x, flat_out = x.reshape(-1), out.reshape(-1)
    if x.dtype == np.int8:
        _run[int8_t](flat_x, flat_out, outer, count, inner, vector_mask, r, threads)
    elif x.dtype == np.uint8:
        _run[uint8_t](flat_x, flat_out, outer, count, inner, vector_mask, r, threads)
    else:
        _run[int16_t](flat_x, flat_out, outer, count, inner, vector_mask, r, threads)
