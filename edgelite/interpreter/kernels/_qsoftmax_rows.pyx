"""Optimized 8-bit quantized SOFTMAX / LOG_SOFTMAX: TFLite's float-table kernels, row by row.

Per row of the last axis: the maximum, the float32 sum of the table's exps in index
order (as the C kernel adds them), then each element's probability (or log
probability) rounded onto the output type exactly as ``_qsoftmax``'s numpy
reference does; rows are split over ``num_threads``.
tests/kernels/test_softmax_quant.py holds this equal to the reference and the oracle.
"""

from cython.parallel cimport prange
from libc.math cimport log
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t

from ._threads cimport threads_for


cdef inline int32_t _clamp(int64_t v, int64_t low, int64_t high) noexcept nogil:
    # Selects, not branches (conditional moves): data-dependent clamps mispredict.
    v = low if v < low else v
    v = high if v > high else v
    return <int32_t>v


cdef enum:
    OUT_INT8 = 0
    OUT_UINT8 = 1
    OUT_INT16 = 2


cdef struct SoftmaxParams:
    int signed_input  # int8 (else uint8) input bytes
    int out_kind  # OUT_*
    int log_softmax
    int zero_point
    float input_scale
    float output_scale


cdef inline int _row_max(const uint8_t* x, Py_ssize_t depth, int signed_input) noexcept nogil:
    cdef Py_ssize_t j
    cdef const int8_t* xs = <const int8_t*>x
    cdef int top
    if signed_input:
        top = xs[0]
        for j in range(1, depth):
            top = xs[j] if xs[j] > top else top
    else:
        top = x[0]
        for j in range(1, depth):
            top = x[j] if x[j] > top else top
    return top


cdef inline float _exp_sum(const uint8_t* x, Py_ssize_t depth, const float* shifted,
                           int signed_input) noexcept nogil:
    # The table exps in index order into one float32 sum, as the C kernel adds them;
    # shifted = table + 255 - max, indexed by the input value.
    cdef Py_ssize_t j
    cdef const int8_t* xs = <const int8_t*>x
    cdef float total = 0.0
    if signed_input:
        for j in range(depth):
            total = total + shifted[xs[j]]
    else:
        for j in range(depth):
            total = total + shifted[x[j]]
    return total


cdef inline int32_t _clamp_out(int64_t v, int out_kind) noexcept nogil:
    if out_kind == OUT_INT8:
        return _clamp(v, -128, 127)
    if out_kind == OUT_UINT8:
        return _clamp(v, 0, 255)
    return _clamp(v, -32768, 32767)


cdef inline int _value_at(const uint8_t* x, Py_ssize_t j, int signed_input) noexcept nogil:
    cdef int value
    if signed_input:
        value = (<const int8_t*>x)[j]
    else:
        value = x[j]
    return value


cdef inline int32_t _round_half_away(float v) noexcept nogil:
    # roundf for |v| < 2^23 without a libm call or a branch: truncate, then step by
    # the fraction (exact in float).
    cdef int32_t whole = <int32_t>v
    cdef float fraction = v - <float>whole
    cdef float half = 0.5
    return whole + <int32_t>(fraction >= half) - <int32_t>(fraction <= -half)


cdef inline int32_t _round_half_even(float v) noexcept nogil:
    # rint for |v| < 2^22 in the default rounding mode: adding 1.5 * 2^23 rounds the
    # fraction away (to even); subtracting it back is exact. Without -ffast-math the
    # compiler keeps both operations.
    cdef float shifter = 12582912.0
    return <int32_t>((v + shifter) - shifter)


cdef inline int32_t _softmax_value(float e, float inverse, int uint8_rounding,
                                   int zero_point, int out_kind) noexcept nogil:
    cdef float prob = e * inverse, half = 0.5
    cdef int32_t q
    if uint8_rounding:  # x86 QuantizeSoftmaxOutput for uint8: truncate prob + 0.5
        q = <int32_t>(prob + half) + zero_point
    else:
        q = _round_half_away(prob) + zero_point
    return _clamp_out(q, out_kind)


cdef void _softmax_row(const uint8_t* x, void* out, Py_ssize_t depth, const float* table,
                       const SoftmaxParams* p) noexcept nogil:
    # Parameters are copied to locals: the byte stores below may alias *p, and the
    # compiler would otherwise reload (and re-test) them for every element.
    cdef int signed_input = p.signed_input, out_kind = p.out_kind, zero_point = p.zero_point
    cdef int uint8_rounding = out_kind == OUT_UINT8
    cdef Py_ssize_t j
    cdef int top = _row_max(x, depth, signed_input)
    cdef const float* shifted = table + 255 - top
    cdef float total = _exp_sum(x, depth, shifted, signed_input)
    cdef float inverse, scale, precomputed, log_sum
    cdef int16_t* out16 = <int16_t*>out
    cdef uint8_t* out8 = <uint8_t*>out
    cdef int32_t q
    if p.log_softmax:
        log_sum = <float>log(<double>total)  # correctly rounded, like the numpy reference
        scale = p.input_scale / p.output_scale
        precomputed = (p.input_scale * <float>top + log_sum) / p.output_scale
        for j in range(depth):
            q = _round_half_even(scale * <float>_value_at(x, j, signed_input) - precomputed)
            out8[j] = <uint8_t>_clamp_out(<int64_t>q + zero_point, out_kind)
        return
    inverse = <float>1.0 / (total * p.output_scale)
    if out_kind == OUT_INT16:
        for j in range(depth):
            out16[j] = <int16_t>_softmax_value(shifted[_value_at(x, j, signed_input)], inverse,
                                               0, zero_point, out_kind)
    else:
        for j in range(depth):
            out8[j] = <uint8_t>_softmax_value(shifted[_value_at(x, j, signed_input)], inverse,
                                              uint8_rounding, zero_point, out_kind)


def softmax8(const uint8_t[:, ::1] x, out, const float[::1] table, dict params,
             int num_threads=1):
    """Row-wise quantized (log-)softmax of 8-bit ``x`` (bytes) into ``out`` (bytes or int16)."""
    cdef Py_ssize_t rows = x.shape[0], depth = x.shape[1], r, chunk, c
    cdef SoftmaxParams p = params
    cdef uint8_t[:, ::1] out8
    cdef int16_t[:, ::1] out16
    cdef char* base
    cdef Py_ssize_t row_bytes
    cdef int threads
    if table.shape[0] != 256:
        raise ValueError("the exp table has 256 entries")
    if p.out_kind == OUT_INT16:
        out16 = out
        if out16.shape[0] != rows or out16.shape[1] != depth:
            raise ValueError("output shape differs from the input's")
        base, row_bytes = <char*>&out16[0, 0] if rows and depth else NULL, 2 * depth
    else:
        out8 = out
        if out8.shape[0] != rows or out8.shape[1] != depth:
            raise ValueError("output shape differs from the input's")
        base, row_bytes = <char*>&out8[0, 0] if rows and depth else NULL, depth
    if rows == 0 or depth == 0:
        return
    threads = threads_for(<double>rows * depth * 4, num_threads)
    threads = threads if threads < rows else <int>rows
    chunk = (rows + threads - 1) // threads
    if threads == 1:
        with nogil:
            for r in range(rows):
                _softmax_row(&x[r, 0], base + r * row_bytes, depth, &table[0], &p)
        return
    for c in prange(threads, nogil=True, num_threads=threads, schedule="static"):
        for r in range(c * chunk, min(rows, (c + 1) * chunk)):
            _softmax_row(&x[r, 0], base + r * row_bytes, depth, &table[0], &p)
