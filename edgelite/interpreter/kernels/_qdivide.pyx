"""Optimized quantized DIV for int16: TFLite's integer division, element by element.

The same arithmetic as ``_qdivision.divide`` (read its docstring: reciprocal of the
divisor, numerator normalised by its redundant sign bits, two double-rounding
multiplies and a right shift of up to 77 bits taken as the x86 build takes it).
8-bit DIV needs no kernel of its own: prepare tabulates every byte pair. The walk
goes over the output in C order, rows of the last of 6 dims split over threads,
with the inputs' broadcast strides (0 where an input repeats).
tests/kernels/test_quant_unary_binary_more.py holds it equal to the numpy reference.
"""

from cython.parallel cimport prange
from libc.stdint cimport int16_t, int32_t, int64_t, uint32_t

from ._fixedpoint cimport clz32, fp_get_reciprocal, srdhm
from ._threads cimport threads_for

cdef enum:
    MAX_DIMS = 6
    # Element operations one division costs, for threads_for (a reciprocal is ~20).
    DIV_WORK = 32


cdef struct DivParams:
    int offset1, offset2, output_offset  # the zero points
    int32_t multiplier
    int shift
    int act_min, act_max


cdef inline int _leading_sign_bits(int32_t x) noexcept nogil:
    # CountLeadingSignBits: 31 for 0 and -1, 0 for INT32_MIN.
    if x >= 0:
        return clz32(<uint32_t>x) - 1
    return clz32(~(<uint32_t>x)) - 1


cdef inline int32_t _rdbpot_x86(int32_t x, int exponent) noexcept nogil:
    # RoundingDivideByPOT for exponents 0..77 as the official runtime computes it:
    # x86 takes the mask's shift count mod 64 and the value's mod 32.
    cdef int32_t mask = <int32_t>((<int64_t>1 << (exponent & 63)) - 1)
    cdef int32_t remainder = x & mask
    cdef int32_t threshold = (mask >> 1) + (x < 0)
    return <int32_t>(<int64_t>(x >> (exponent & 31)) + (remainder > threshold))


cdef inline int16_t _divide(int32_t x, int32_t y, const DivParams* p) noexcept nogil:
    cdef int recip_shift, headroom
    cdef int32_t reciprocal, unscaled, scaled
    cdef int64_t result
    if y < 0:  # the reciprocal needs a positive divisor
        x = -x
        y = -y
    reciprocal = fp_get_reciprocal(y, 31, &recip_shift)
    headroom = _leading_sign_bits(x)
    # x << headroom fits int32 except -1 << 31, which wraps to INT32_MIN as in C.
    unscaled = srdhm(<int32_t>(<uint32_t>x << headroom), reciprocal, 32)
    scaled = srdhm(unscaled, p.multiplier, 32)
    result = <int64_t>_rdbpot_x86(scaled, recip_shift + headroom - p.shift) + p.output_offset
    if result < p.act_min:
        return <int16_t>p.act_min
    if result > p.act_max:
        return <int16_t>p.act_max
    return <int16_t>result


cdef void _rows(const int16_t* a, const int16_t* b, int16_t* out, const Py_ssize_t* shape,
                const Py_ssize_t* stride_a, const Py_ssize_t* stride_b, const DivParams* params,
                Py_ssize_t first, Py_ssize_t last) noexcept nogil:
    # Output rows [first, last) of the last dim; a row's leading-dim index is decoded
    # from its number, so every thread starts anywhere.
    cdef DivParams local = params[0]
    cdef Py_ssize_t inner = shape[MAX_DIMS - 1]
    cdef Py_ssize_t sa = stride_a[MAX_DIMS - 1], sb = stride_b[MAX_DIMS - 1]
    cdef Py_ssize_t row, rest, j, d, off_a, off_b, position
    for row in range(first, last):
        rest = row
        off_a = 0
        off_b = 0
        for d in range(MAX_DIMS - 2, -1, -1):
            position = rest % shape[d]
            rest = rest // shape[d]
            off_a += position * stride_a[d]
            off_b += position * stride_b[d]
        for j in range(inner):
            out[row * inner + j] = _divide(<int32_t>a[off_a + j * sa] - local.offset1,
                                           <int32_t>b[off_b + j * sb] - local.offset2, &local)


def div16(const int16_t[::1] a, const int16_t[::1] b, int16_t[::1] out, tuple shape,
          tuple stride_a, tuple stride_b, dict params, int num_threads=1):
    """out = quantized a / b over a 6-d broadcast (int16; divisors already checked)."""
    cdef Py_ssize_t c_shape[MAX_DIMS]
    cdef Py_ssize_t c_sa[MAX_DIMS]
    cdef Py_ssize_t c_sb[MAX_DIMS]
    cdef Py_ssize_t total = 1, reach_a = 0, reach_b = 0, rows, chunk, d, c
    cdef DivParams p
    cdef int threads
    if len(shape) != MAX_DIMS or len(stride_a) != MAX_DIMS or len(stride_b) != MAX_DIMS:
        raise ValueError(f"shape and strides must have {MAX_DIMS} dims")
    for d in range(MAX_DIMS):
        c_shape[d], c_sa[d], c_sb[d] = shape[d], stride_a[d], stride_b[d]
        if c_shape[d] < 0 or c_sa[d] < 0 or c_sb[d] < 0:
            raise ValueError("shape and strides must not be negative")
        total *= c_shape[d]
        if c_shape[d] > 0:
            reach_a += (c_shape[d] - 1) * c_sa[d]
            reach_b += (c_shape[d] - 1) * c_sb[d]
    if total == 0:
        return
    if out.shape[0] != total or reach_a >= a.shape[0] or reach_b >= b.shape[0]:
        raise ValueError("div16: the arrays do not match the walk's shape and strides")
    if not 0 <= params["multiplier"] or not -31 <= params["shift"] <= 30:
        raise ValueError("div16: multiplier must be >= 0 and shift in [-31, 30]")
    p.offset1, p.offset2 = params["offset1"], params["offset2"]
    p.output_offset = params["output_offset"]
    p.multiplier, p.shift = params["multiplier"], params["shift"]
    p.act_min, p.act_max = params["act_min"], params["act_max"]
    rows = total // c_shape[MAX_DIMS - 1]
    threads = threads_for(<double>total * DIV_WORK, num_threads)
    if threads > rows:
        threads = <int>rows
    if threads <= 1:
        with nogil:
            _rows(&a[0], &b[0], &out[0], c_shape, c_sa, c_sb, &p, 0, rows)
        return
    chunk = (rows + threads - 1) // threads
    for c in prange(threads, nogil=True, num_threads=threads, schedule="static"):
        _rows(&a[0], &b[0], &out[0], c_shape, c_sa, c_sb, &p, c * chunk,
              min(rows, (c + 1) * chunk))
