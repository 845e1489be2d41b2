"""Optimized quantized elementwise kernels: ADD / SUB / MUL / SQUARED_DIFFERENCE and the
lookup-table activations.

Both binary walks go over the output once in C order with the inputs' broadcast
strides (6 dims, stride 0 where an input repeats). 8-bit ops have only 65536
possible input pairs, so ``qbinary_table`` looks every element up in a table that
prepare fills with the numpy reference (one table per arithmetic form, see
``_qbinary``); the form of an element follows from its position in its run of the
official SIMD loop (``run``, ``limit``, see ``_qbroadcast``). int16 runs only the
scalar arithmetic in the official build, which ``qbinary16`` computes directly.
tests/kernels/test_elementwise_binary_quant.py holds both equal to the numpy
reference and to the oracle.

``lookup8`` / ``lookup16`` apply an elementwise op that prepare tabulated for every
8-bit (256) or 16-bit (65536) input pattern, split over ``num_threads``.
"""

from cython.parallel cimport prange
from libc.math cimport log, rint, roundf
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t

from ._fixedpoint cimport mbqm, rdbpot
from ._threads cimport threads_for

cdef enum:
    OP_ADD = 0
    OP_SUB = 1
    OP_MUL = 2
    OP_SQUARED_DIFFERENCE = 3
    MAX_DIMS = 6

OPS = {"ADD": OP_ADD, "SUB": OP_SUB, "MUL": OP_MUL, "SQUARED_DIFFERENCE": OP_SQUARED_DIFFERENCE}


cdef struct QBParams:
    int op
    int offset1, offset2, output_offset
    int left_shift
    int32_t multiplier1, multiplier2, output_multiplier
    int shift1, shift2, output_shift
    int act_min, act_max
    int rounding  # ROUND_* code
    int pot, pot_shift1, pot_shift2  # the power-of-two (LSTM) path


cdef inline int32_t _clamp(int64_t v, int64_t low, int64_t high) noexcept nogil:
    if v < low:
        return <int32_t>low
    if v > high:
        return <int32_t>high
    return <int32_t>v


cdef inline int32_t _element16(int32_t x, int32_t y, const QBParams* p) noexcept nogil:
    # The scalar reference arithmetic (int16 runs nothing else in the official build).
    cdef int32_t cx = x + p.offset1
    cdef int32_t cy = y + p.offset2
    cdef int32_t rx, ry, raw
    if p.op == OP_MUL:
        raw = mbqm(cx * cy, p.output_multiplier, p.output_shift, p.rounding)
        return _clamp(<int64_t>raw + p.output_offset, p.act_min, p.act_max)
    if p.pot:
        rx = rdbpot(cx, p.pot_shift1, 16)
        ry = rdbpot(cy, p.pot_shift2, 16)
        raw = rx + ry if p.op == OP_ADD else rx - ry
        return _clamp(_clamp(raw, -32768, 32767), p.act_min, p.act_max)
    rx = mbqm(cx << p.left_shift, p.multiplier1, p.shift1, p.rounding)
    ry = mbqm(cy << p.left_shift, p.multiplier2, p.shift2, p.rounding)
    raw = rx + ry if p.op == OP_ADD else rx - ry
    raw = mbqm(raw, p.output_multiplier, p.output_shift, p.rounding)
    return _clamp(<int64_t>raw + p.output_offset, p.act_min, p.act_max)


cdef void _walk16(const int16_t* a, const int16_t* b, int16_t* out, const Py_ssize_t* shape,
                  const Py_ssize_t* stride_a, const Py_ssize_t* stride_b,
                  const QBParams* p) noexcept nogil:
    # Rows of the last dim in C order; index[] counts over the leading dims.
    cdef Py_ssize_t index[MAX_DIMS]
    cdef Py_ssize_t inner = shape[MAX_DIMS - 1]
    cdef Py_ssize_t sa = stride_a[MAX_DIMS - 1], sb = stride_b[MAX_DIMS - 1]
    cdef Py_ssize_t rows = 1, _row, j, d, off_a, off_b, flat = 0
    for d in range(MAX_DIMS - 1):
        rows *= shape[d]
        index[d] = 0
    for _row in range(rows):
        off_a = 0
        off_b = 0
        for d in range(MAX_DIMS - 1):
            off_a += index[d] * stride_a[d]
            off_b += index[d] * stride_b[d]
        for j in range(inner):
            out[flat + j] = <int16_t>_element16(a[off_a + j * sa], b[off_b + j * sb], p)
        flat += inner
        d = MAX_DIMS - 2
        while d >= 0:
            index[d] += 1
            if index[d] < shape[d]:
                break
            index[d] = 0
            d -= 1


cdef inline void _lookup_pairs(const uint8_t* a, const uint8_t* b, uint8_t* out, Py_ssize_t n,
                               Py_ssize_t sa, Py_ssize_t sb,
                               const uint8_t* table) noexcept nogil:
    cdef Py_ssize_t j
    if sa == 1 and sb == 1:
        for j in range(n):
            out[j] = table[(<Py_ssize_t>a[j] << 8) | b[j]]
    else:
        for j in range(n):
            out[j] = table[(<Py_ssize_t>a[j * sa] << 8) | b[j * sb]]


cdef void _walk_table(const uint8_t* a, const uint8_t* b, uint8_t* out,
                      const Py_ssize_t* shape, const Py_ssize_t* stride_a,
                      const Py_ssize_t* stride_b, Py_ssize_t run, Py_ssize_t limit,
                      int run_form, const uint8_t* table) noexcept nogil:
    # As _walk, with every element looked up in a 65536-entry table per form
    # (index: a's byte * 256 + b's byte); 8-bit values travel as their bytes.
    cdef Py_ssize_t index[MAX_DIMS]
    cdef Py_ssize_t inner = shape[MAX_DIMS - 1]
    cdef Py_ssize_t sa = stride_a[MAX_DIMS - 1], sb = stride_b[MAX_DIMS - 1]
    cdef Py_ssize_t rows = 1, _row, j, d, off_a, off_b, position = 0, flat = 0
    cdef const uint8_t* scalar_table = table
    cdef const uint8_t* run_table = table + run_form * 65536
    cdef const uint8_t* form_table
    cdef const uint8_t* row_a
    cdef const uint8_t* row_b
    cdef Py_ssize_t n
    for d in range(MAX_DIMS - 1):
        rows *= shape[d]
        index[d] = 0
    for _row in range(rows):
        off_a = 0
        off_b = 0
        for d in range(MAX_DIMS - 1):
            off_a += index[d] * stride_a[d]
            off_b += index[d] * stride_b[d]
        row_a = a + off_a
        row_b = b + off_b
        if run == 0:
            _lookup_pairs(row_a, row_b, out + flat, inner, sa, sb, scalar_table)
            flat += inner
        else:
            # Stretches of one form: up to the run's SIMD limit, then to its end.
            j = 0
            while j < inner:
                if position < limit:
                    n = min(limit - position, inner - j)
                    form_table = run_table
                else:
                    n = min(run - position, inner - j)
                    form_table = scalar_table
                _lookup_pairs(row_a + j * sa, row_b + j * sb, out + flat, n, sa, sb, form_table)
                j += n
                flat += n
                position += n
                if position == run:
                    position = 0
        d = MAX_DIMS - 2
        while d >= 0:
            index[d] += 1
            if index[d] < shape[d]:
                break
            index[d] = 0
            d -= 1


def qbinary_table(const uint8_t[::1] a, const uint8_t[::1] b, uint8_t[::1] out, tuple shape,
                  tuple stride_a, tuple stride_b, const uint8_t[:, ::1] table,
                  Py_ssize_t run, Py_ssize_t limit, int run_form):
    """8-bit ``qbinary`` by table: ``table[form, a_byte * 256 + b_byte]`` is the result."""
    cdef Py_ssize_t c_shape[MAX_DIMS]
    cdef Py_ssize_t c_sa[MAX_DIMS]
    cdef Py_ssize_t c_sb[MAX_DIMS]
    if table.shape[1] != 65536 or table.shape[0] <= (run_form if run > 0 else 0):
        raise ValueError("the table needs 65536 entries for each form used")
    if not _check_walk(a.shape[0], b.shape[0], out.shape[0], shape, stride_a, stride_b,
                       run, limit, c_shape, c_sa, c_sb):
        return
    with nogil:
        _walk_table(&a[0], &b[0], &out[0], c_shape, c_sa, c_sb, run, limit, run_form,
                    &table[0, 0])


cdef bint _check_walk(Py_ssize_t size_a, Py_ssize_t size_b, Py_ssize_t size_out, tuple shape,
                      tuple stride_a, tuple stride_b, Py_ssize_t run, Py_ssize_t limit,
                      Py_ssize_t* c_shape, Py_ssize_t* c_sa, Py_ssize_t* c_sb) except -1:
    # Validates a walk and fills the C arrays; False when there is nothing to do.
    cdef Py_ssize_t total = 1, reach_a = 0, reach_b = 0, d
    if len(shape) != MAX_DIMS or len(stride_a) != MAX_DIMS or len(stride_b) != MAX_DIMS:
        raise ValueError(f"shape and strides must have {MAX_DIMS} dims")
    for d in range(MAX_DIMS):
        c_shape[d] = shape[d]
        c_sa[d] = stride_a[d]
        c_sb[d] = stride_b[d]
        total *= c_shape[d]
        if c_shape[d] > 0:
            reach_a += (c_shape[d] - 1) * c_sa[d]
            reach_b += (c_shape[d] - 1) * c_sb[d]
    if total != size_out:
        raise ValueError(f"output has {size_out} elements, shape {shape} needs {total}")
    if total == 0:
        return False
    if reach_a >= size_a or reach_b >= size_b:
        raise ValueError("strides reach past the end of an input")
    if run < 0 or limit < 0 or limit > run:
        raise ValueError(f"bad run {run} / limit {limit}")
    return True


def qbinary16(const int16_t[::1] a, const int16_t[::1] b, int16_t[::1] out, tuple shape,
              tuple stride_a, tuple stride_b, dict params):
    """int16 out = a (op) b over ``shape`` (6 dims) with element strides (0 = broadcast)."""
    cdef Py_ssize_t c_shape[MAX_DIMS]
    cdef Py_ssize_t c_sa[MAX_DIMS]
    cdef Py_ssize_t c_sb[MAX_DIMS]
    cdef QBParams p = params
    if p.op == OP_SQUARED_DIFFERENCE or not 0 <= p.left_shift <= 15:
        raise ValueError(f"unsupported int16 parameters {params}")
    if not _check_walk(a.shape[0], b.shape[0], out.shape[0], shape, stride_a, stride_b,
                       0, 0, c_shape, c_sa, c_sb):
        return
    with nogil:
        _walk16(&a[0], &b[0], &out[0], c_shape, c_sa, c_sb, &p)


# -- tabulated unary ops ------------------------------------------------------------

cdef void _lookup8_range(const uint8_t* x, uint8_t* out, const uint8_t* table, Py_ssize_t start,
                         Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        out[i] = table[x[i]]


cdef void _lookup16_range(const uint16_t* x, uint16_t* out, const uint16_t* table,
                          Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        out[i] = table[x[i]]


def lookup8(const uint8_t[::1] x, uint8_t[::1] out, const uint8_t[::1] table,
            int num_threads=1):
    """out[i] = table[x[i]] over bytes (an 8-bit op tabulated for every input)."""
    cdef Py_ssize_t n = x.shape[0], chunk, c
    cdef int threads
    if out.shape[0] != n or table.shape[0] != 256:
        raise ValueError("lookup8 needs equal-length x and out and a 256-entry table")
    if n == 0:
        return
    threads = threads_for(<double>n, num_threads)
    chunk = (n + threads - 1) // threads
    if threads == 1:
        with nogil:
            _lookup8_range(&x[0], &out[0], &table[0], 0, n)
        return
    for c in prange(threads, nogil=True, num_threads=threads, schedule="static"):
        _lookup8_range(&x[0], &out[0], &table[0], c * chunk, min(n, (c + 1) * chunk))


def lookup16(const uint16_t[::1] x, uint16_t[::1] out, const uint16_t[::1] table,
             int num_threads=1):
    """out[i] = table[x[i]] over 16-bit patterns (an int16 op tabulated for every input)."""
    cdef Py_ssize_t n = x.shape[0], chunk, c
    cdef int threads
    if out.shape[0] != n or table.shape[0] != 65536:
        raise ValueError("lookup16 needs equal-length x and out and a 65536-entry table")
    if n == 0:
        return
    threads = threads_for(<double>n, num_threads)
    chunk = (n + threads - 1) // threads
    if threads == 1:
        with nogil:
            _lookup16_range(&x[0], &out[0], &table[0], 0, n)
        return
    for c in prange(threads, nogil=True, num_threads=threads, schedule="static"):
        _lookup16_range(&x[0], &out[0], &table[0], c * chunk, min(n, (c + 1) * chunk))


# -- 8-bit SOFTMAX / LOG_SOFTMAX (TFLite's float-table kernels) -----------------------

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


cdef inline int _byte_value(uint8_t b, int signed_input) noexcept nogil:
    cdef int value = b
    if signed_input and value > 127:
        value -= 256
    return value


cdef inline int32_t _clamp_out(int64_t v, int out_kind) noexcept nogil:
    if out_kind == OUT_INT8:
        return _clamp(v, -128, 127)
    if out_kind == OUT_UINT8:
        return _clamp(v, 0, 255)
    return _clamp(v, -32768, 32767)


cdef void _softmax_row(const uint8_t* x, void* out, Py_ssize_t depth, const float* table,
                       const SoftmaxParams* p) noexcept nogil:
    cdef Py_ssize_t j
    cdef int top = _byte_value(x[0], p.signed_input)
    cdef int v
    cdef float total = 0.0, inverse, prob, scale, precomputed, log_sum, half = 0.5
    cdef int32_t q
    for j in range(1, depth):
        v = _byte_value(x[j], p.signed_input)
        top = v if v > top else top
    # The exps in index order into one float32 sum, as the C loop does.
    for j in range(depth):
        total = total + table[255 - top + _byte_value(x[j], p.signed_input)]
    if p.log_softmax:
        log_sum = <float>log(<double>total)  # correctly rounded, like the numpy reference
        scale = p.input_scale / p.output_scale
        precomputed = (p.input_scale * <float>top + log_sum) / p.output_scale
        for j in range(depth):
            prob = scale * <float>_byte_value(x[j], p.signed_input) - precomputed
            q = _clamp_out(<int64_t>rint(prob) + p.zero_point, p.out_kind)
            _store(out, j, q, p.out_kind)
        return
    inverse = <float>1.0 / (total * p.output_scale)
    for j in range(depth):
        prob = table[255 - top + _byte_value(x[j], p.signed_input)] * inverse
        if p.out_kind == OUT_UINT8:  # x86 QuantizeSoftmaxOutput: truncate prob + 0.5
            q = <int32_t>(prob + half) + p.zero_point
        else:
            q = <int32_t>roundf(prob) + p.zero_point
        _store(out, j, _clamp_out(q, p.out_kind), p.out_kind)


cdef inline void _store(void* out, Py_ssize_t j, int32_t q, int out_kind) noexcept nogil:
    if out_kind == OUT_INT16:
        (<int16_t*>out)[j] = <int16_t>q
    else:
        (<uint8_t*>out)[j] = <uint8_t>q


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
