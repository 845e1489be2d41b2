"""Optimized quantized elementwise kernels: ADD / SUB / MUL / SQUARED_DIFFERENCE, byte-pair
tables (PRELU, comparisons) and the tabulated unary ops.

Both binary walks go over the output once in C order with the inputs' broadcast
strides (6 dims, stride 0 where an input repeats). 8-bit ops have only 65536
possible input pairs, so ``qbinary_table`` looks every element up in a table that
prepare fills with the numpy reference (one table per arithmetic form, see
``_qbinary``); the form of an element follows from its position in its run of the
official SIMD loop (``run``, ``limit``, see ``_qbroadcast``). ``qbinary16`` computes
int16 directly: the scalar arithmetic, and for ADD without broadcasting the SIMD
loop's input rescale on its blocks of 16.
tests/kernels/test_elementwise_binary_quant.py holds both equal to the numpy
reference and to the oracle.

``lookup8`` / ``lookup16`` apply an elementwise op that prepare tabulated for every
8-bit (256) or 16-bit (65536) input pattern, split over ``num_threads``.
"""

from cython.parallel cimport prange
from libc.math cimport nearbyintf
from libc.math cimport round as c_round
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t

from ._fixedpoint cimport ROUND_DOUBLE, mbqm, rdbpot, srdhm
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
    # Selects, not branches (compiled to conditional moves): data-dependent clamps
    # would mispredict.
    v = low if v < low else v
    v = high if v > high else v
    return <int32_t>v


cdef inline int32_t _neon_shift(int32_t x, int amount) noexcept nogil:
    # ARM vshl by a signed amount: wrapping left shift, or truncating right shift.
    if amount >= 0:
        return <int32_t>(<uint32_t>x << amount)
    return x >> (-amount)


cdef inline int32_t _element16(int32_t x, int32_t y, const QBParams* p,
                               bint simd) noexcept nogil:
    # The scalar reference arithmetic; `simd`: ADD's SIMD loop, whose input rescale
    # applies the left shift and the input shift as one shift before the multiply.
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
    if simd:
        rx = srdhm(_neon_shift(cx, p.left_shift + p.shift1), p.multiplier1, 32)
        ry = srdhm(_neon_shift(cy, p.left_shift + p.shift2), p.multiplier2, 32)
    else:
        rx = mbqm(cx << p.left_shift, p.multiplier1, p.shift1, p.rounding)
        ry = mbqm(cy << p.left_shift, p.multiplier2, p.shift2, p.rounding)
    raw = rx + ry if p.op == OP_ADD else rx - ry
    raw = mbqm(raw, p.output_multiplier, p.output_shift, p.rounding)
    return _clamp(<int64_t>raw + p.output_offset, p.act_min, p.act_max)


cdef void _walk16(const int16_t* a, const int16_t* b, int16_t* out, const Py_ssize_t* shape,
                  const Py_ssize_t* stride_a, const Py_ssize_t* stride_b,
                  const QBParams* params, Py_ssize_t limit) noexcept nogil:
    # Rows of the last dim in C order; index[] counts over the leading dims. The
    # parameters live in a local copy, which the compiler can keep in registers.
    cdef QBParams local = params[0]
    cdef const QBParams* p = &local
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
            out[flat + j] = <int16_t>_element16(a[off_a + j * sa], b[off_b + j * sb], p,
                                                flat + j < limit)
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
              tuple stride_a, tuple stride_b, dict params, Py_ssize_t limit=0):
    """int16 out = a (op) b over ``shape`` (6 dims) with element strides (0 = broadcast).

    The first ``limit`` elements take ADD's SIMD input rescale (see _element16).
    """
    cdef Py_ssize_t c_shape[MAX_DIMS]
    cdef Py_ssize_t c_sa[MAX_DIMS]
    cdef Py_ssize_t c_sb[MAX_DIMS]
    cdef QBParams p = params
    if p.op == OP_SQUARED_DIFFERENCE or not 0 <= p.left_shift <= 15:
        raise ValueError(f"unsupported int16 parameters {params}")
    if limit < 0 or limit > out.shape[0] or (limit and p.op != OP_ADD):
        raise ValueError(f"bad SIMD limit {limit} for op {p.op}")
    if not _check_walk(a.shape[0], b.shape[0], out.shape[0], shape, stride_a, stride_b,
                       0, 0, c_shape, c_sa, c_sb):
        return
    with nogil:
        _walk16(&a[0], &b[0], &out[0], c_shape, c_sa, c_sb, &p, limit)


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


# -- 8-bit pair tables (built at prepare) -----------------------------------------------

cdef struct PairParams:
    int op
    bint is_uint8  # uint8 values (else int8)
    int offset1, offset2, output_offset
    int left_shift
    int32_t multiplier1, multiplier2, output_multiplier
    int shift1, shift2, output_shift
    int act_min, act_max
    bint tflite  # rounding "tflite": the per-form arithmetic of the official SIMD loops
    int rounding  # ROUND_* code of the multiplications when not `tflite`
    int form  # FORM_* of the row: 0 scalar, 1 elementwise SIMD, 2 scalar-broadcast SIMD
    bint wraps  # the SIMD form narrows to int16 by wrapping (else saturating)


cdef inline int32_t _rescale8(int32_t centred, int32_t multiplier, int shift,
                              const PairParams* p) noexcept nogil:
    # _qbinary._rescale_input, one element. The products stay in int64 (|centred| <= 255,
    # left_shift <= 20) and are wrapped to int32 where the numpy reference wraps.
    cdef int32_t shifted = <int32_t>(<int64_t>centred * (<int64_t>1 << p.left_shift))
    if not p.tflite:
        return mbqm(shifted, multiplier, shift, p.rounding)
    if p.form == 1 and not p.is_uint8:
        return srdhm(_neon_shift(centred, p.left_shift + shift), multiplier, 32)
    if p.form != 0:
        return _neon_shift(srdhm(shifted, multiplier, 32), shift)
    return mbqm(shifted, multiplier, shift, ROUND_DOUBLE)


cdef void _finish_row(const int32_t* raw, uint8_t* out, const PairParams* p) noexcept nogil:
    # _qbinary._finish over one row of 256 raw values: output rescale, zero point, clamps.
    # Separate passes whose parameters are fixed, so that each loop is branch-free.
    cdef int32_t scaled[256]
    cdef int rounding = ROUND_DOUBLE if p.tflite else p.rounding
    cdef int j, low = 0 if p.is_uint8 else -128, high = 255 if p.is_uint8 else 127
    cdef int64_t value
    for j in range(256):
        scaled[j] = mbqm(raw[j], p.output_multiplier, p.output_shift, rounding)
    if p.form == 0:
        for j in range(256):
            out[j] = <uint8_t>_clamp(<int64_t>scaled[j] + p.output_offset, p.act_min, p.act_max)
        return
    for j in range(256):
        # The SIMD loops narrow to int16 (wrapping or saturating), add the zero point in
        # int16 (wrapping), then saturate to 8 bits.
        value = <int16_t>scaled[j] if p.wraps else _clamp(scaled[j], -32768, 32767)
        value = _clamp(<int16_t>(value + p.output_offset), low, high)
        out[j] = <uint8_t>_clamp(value, p.act_min, p.act_max)


cdef void _pair_row(const PairParams* params, uint8_t* out) noexcept nogil:
    # A local copy of the parameters: stores to the byte output may alias anything
    # reached through a pointer, which would reload every parameter per element.
    cdef PairParams local = params[0]
    cdef const PairParams* p = &local
    cdef int32_t value[256]
    cdef int32_t rescaled_a[256]
    cdef int32_t rescaled_b[256]
    cdef int32_t raw[256]
    cdef int i, j
    cdef int32_t a, difference
    for i in range(256):
        value[i] = i if p.is_uint8 else <int8_t>i
        rescaled_a[i] = _rescale8(value[i] + p.offset1, p.multiplier1, p.shift1, p)
        rescaled_b[i] = _rescale8(value[i] + p.offset2, p.multiplier2, p.shift2, p)
    for i in range(256):
        # The raw (pre-rescale) values of row a = value[i], wrapped to int32 as the
        # reference does before its output multiplication.
        if p.op == OP_MUL:
            a = value[i] + p.offset1
            for j in range(256):
                raw[j] = a * (value[j] + p.offset2)  # |product| <= 255 * 255
        elif p.op == OP_ADD:
            for j in range(256):
                raw[j] = <int32_t>(<int64_t>rescaled_a[i] + rescaled_b[j])
        elif p.op == OP_SUB:
            for j in range(256):
                raw[j] = <int32_t>(<int64_t>rescaled_a[i] - rescaled_b[j])
        else:
            for j in range(256):
                difference = <int32_t>(<int64_t>rescaled_a[i] - rescaled_b[j])
                raw[j] = <int32_t>(<int64_t>difference * difference)
        _finish_row(raw, out + (i << 8), p)


def pair_table_row(dict params, uint8_t[::1] out):
    """One form's row of ``_qbinary.pair_table`` (8-bit ADD/SUB/MUL/SQUARED_DIFFERENCE).

    The same arithmetic as the numpy reference, element by element; the caller checks
    that every shift is in [-31, 30] (the numpy reference raises otherwise).
    """
    cdef PairParams p = params
    if out.shape[0] != 65536:
        raise ValueError("a pair table row has 65536 entries")
    if not 0 <= p.op <= OP_SQUARED_DIFFERENCE or not 0 <= p.left_shift <= 20:
        raise ValueError(f"unsupported pair table parameters {params}")
    with nogil:
        _pair_row(&p, &out[0])


# -- float -> integer QUANTIZE (per tensor) -----------------------------------------------


cdef inline int32_t _c_cast_int32(double v) noexcept nogil:
    # static_cast<int32_t> as x86 does it: truncation; NaN and out of range give INT_MIN.
    if v >= -2147483648.0 and v < 2147483648.0:
        return <int32_t>v
    return -2147483647 - 1


def quantize_f32(const float[::1] x, int32_t[::1] out, float reciprocal, double scale,
                 int32_t zero_point, int32_t qmin, int32_t qmax, Py_ssize_t limit):
    """The official optimized per-tensor QUANTIZE of float32 ``x`` (see quantize.py).

    Elements below ``limit`` take the vector form (times the float32 reciprocal, round
    to nearest even), the rest the scalar tail (double division, round half away);
    then the zero point is added with int32 wrapping and the result clamped.
    """
    cdef Py_ssize_t n = x.shape[0], i
    cdef double rounded
    cdef int32_t q
    if out.shape[0] != n or not 0 <= limit <= n:
        raise ValueError(f"quantize_f32: {n} inputs, {out.shape[0]} outputs, limit {limit}")
    with nogil:
        for i in range(n):
            if i < limit:
                rounded = nearbyintf(x[i] * reciprocal)
            else:
                rounded = c_round(x[i] / scale)
            q = <int32_t>(<uint32_t>_c_cast_int32(rounded) + <uint32_t>zero_point)
            out[i] = qmin if q < qmin else (qmax if q > qmax else q)
