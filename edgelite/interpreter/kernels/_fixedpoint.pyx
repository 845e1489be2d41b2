"""Array wrappers around the inline fixed-point functions of _fixedpoint.pxd.

Each def function has the name, arguments and checks of its numpy twin in
``fixedpoint`` / ``fixedpoint_math`` / ``fixedpoint_lut`` and runs the inline C
version element by element; tests/kernels/test_fixedpoint.py holds the two equal
on large random arrays. Kernels do not call these wrappers: they cimport the
inline functions (see _fixedpoint.pxd).
"""

import numpy as np

from .fixedpoint import _check_bits, _check_rounding, _int64, _result, _split_shift
from .fixedpoint import ROUNDING_CODES

from libc.stdint cimport int16_t, int32_t, int64_t, uint32_t

cdef enum:
    OP_EXP_INTERVAL = 0
    OP_EXP_NEGATIVE = 1
    OP_ONE_OVER = 2
    OP_ONE_MINUS = 3
    OP_LOGISTIC = 4
    OP_TANH = 5
    OP_LOG = 6
    OP_CLZ = 7
    OP_SRMBPOT = 8
    OP_SAT_LEFT_SHIFT16 = 9


cdef void _unary_loop(const int64_t[::1] a, int32_t[::1] out, int op, int p1, int p2,
                      int bits) noexcept nogil:
    cdef Py_ssize_t i
    cdef int32_t v
    for i in range(a.shape[0]):
        v = <int32_t>a[i]
        if op == OP_EXP_INTERVAL:
            out[i] = fp_exp_on_interval(v, bits)
        elif op == OP_EXP_NEGATIVE:
            out[i] = fp_exp_on_negative_values(v, p1, bits)
        elif op == OP_ONE_OVER:
            out[i] = fp_one_over_one_plus_x(v, bits)
        elif op == OP_ONE_MINUS:
            out[i] = fp_one_minus_x_over_one_plus_x(v, bits)
        elif op == OP_LOGISTIC:
            out[i] = fp_logistic(v, p1, bits)
        elif op == OP_TANH:
            out[i] = fp_tanh(v, p1, bits)
        elif op == OP_LOG:
            out[i] = fp_log_x_ge_1(v, p1, p2)
        elif op == OP_CLZ:
            out[i] = clz32(<uint32_t>a[i])
        elif op == OP_SRMBPOT:
            out[i] = srmbpot(v, p1, bits)
        else:
            out[i] = sat_left_shift16(v, p1)


def _unary(a, int op, int p1, int p2, int bits, int value_bits):
    _check_bits(bits)
    values = _int64(a, value_bits)
    flat = np.ascontiguousarray(values.reshape(-1))
    out = np.empty(flat.shape[0], dtype=np.int32)
    cdef const int64_t[::1] a_view = flat
    cdef int32_t[::1] out_view = out
    with nogil:
        _unary_loop(a_view, out_view, op, p1, p2, bits)
    return _result(out.reshape(values.shape), bits)


def _broadcast(*arrays):
    return [np.ascontiguousarray(v.reshape(-1)) for v in np.broadcast_arrays(*arrays)]


# -- fixedpoint ------------------------------------------------------------------------

def saturating_rounding_doubling_high_mul(a, b, int bits=32):
    _check_bits(bits)
    a64, b64 = _int64(a, bits, "a"), _int64(b, bits, "b")
    shape = np.broadcast_shapes(a64.shape, b64.shape)
    flat_a, flat_b = _broadcast(a64, b64)
    out = np.empty(flat_a.shape[0], dtype=np.int32)
    cdef const int64_t[::1] av = flat_a
    cdef const int64_t[::1] bv = flat_b
    cdef int32_t[::1] ov = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(av.shape[0]):
            ov[i] = srdhm(<int32_t>av[i], <int32_t>bv[i], bits)
    return _result(out.reshape(shape), bits)


def rounding_divide_by_pot(x, exponent, int bits=32):
    _check_bits(bits)
    x64, e64 = _int64(x, bits), _int64(exponent, 32, "exponent")
    if e64.size and (e64.min() < 0 or e64.max() > 31):
        raise ValueError("RoundingDivideByPOT exponent must be in [0, 31]")
    shape = np.broadcast_shapes(x64.shape, e64.shape)
    flat_x, flat_e = _broadcast(x64, e64)
    out = np.empty(flat_x.shape[0], dtype=np.int32)
    cdef const int64_t[::1] xv = flat_x
    cdef const int64_t[::1] ev = flat_e
    cdef int32_t[::1] ov = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(xv.shape[0]):
            ov[i] = rdbpot(<int32_t>xv[i], <int>ev[i], bits)
    return _result(out.reshape(shape), bits)


def saturating_rounding_multiply_by_pot(x, int exponent, int bits=32):
    if not -31 <= exponent <= bits - 1:
        raise ValueError(f"exponent {exponent} out of range for int{bits}")
    return _unary(x, OP_SRMBPOT, exponent, 0, bits, bits)


def saturating_left_shift_int16(x, int amount):
    return _unary(x, OP_SAT_LEFT_SHIFT16, amount, 0, 16, 16)


def saturating_doubling_high_mul_int16(a, b):
    a64, b64 = _int64(a, 16, "a"), _int64(b, 16, "b")
    shape = np.broadcast_shapes(a64.shape, b64.shape)
    flat_a, flat_b = _broadcast(a64, b64)
    out = np.empty(flat_a.shape[0], dtype=np.int32)
    cdef const int64_t[::1] av = flat_a
    cdef const int64_t[::1] bv = flat_b
    cdef int32_t[::1] ov = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(av.shape[0]):
            ov[i] = sdhm16(<int32_t>av[i], <int32_t>bv[i])
    return _result(out.reshape(shape), 16)


def multiply_by_quantized_multiplier(x, multiplier, shift, rounding="double"):
    _check_rounding(rounding)
    x64, m64 = _int64(x), _int64(multiplier, 32, "multiplier")
    left, right = _split_shift(shift)
    s64 = left - right
    shape = np.broadcast_shapes(x64.shape, m64.shape, s64.shape)
    flat_x, flat_m, flat_s = _broadcast(x64, m64, s64)
    out = np.empty(flat_x.shape[0], dtype=np.int32)
    cdef const int64_t[::1] xv = flat_x
    cdef const int64_t[::1] mv = flat_m
    cdef const int64_t[::1] sv = flat_s
    cdef int32_t[::1] ov = out
    cdef int code = ROUNDING_CODES[rounding]
    cdef Py_ssize_t i
    with nogil:
        for i in range(xv.shape[0]):
            ov[i] = mbqm(<int32_t>xv[i], <int32_t>mv[i], <int>sv[i], code)
    return _result(out.reshape(shape))


def multiply_by_quantized_multiplier_int64(x, multiplier, shift):
    x64, m64, s64 = _int64(x, 48), _int64(multiplier, 32, "multiplier"), _int64(shift)
    if m64.size and m64.min() < 0:
        raise ValueError("the int64 MultiplyByQuantizedMultiplier needs multiplier >= 0")
    if s64.size and (s64.min() < -31 or s64.max() > 7):
        raise ValueError("the int64 MultiplyByQuantizedMultiplier needs shift in [-31, 7]")
    shape = np.broadcast_shapes(x64.shape, m64.shape, s64.shape)
    flat_x, flat_m, flat_s = _broadcast(x64, m64, s64)
    out = np.empty(flat_x.shape[0], dtype=np.int32)
    cdef const int64_t[::1] xv = flat_x
    cdef const int64_t[::1] mv = flat_m
    cdef const int64_t[::1] sv = flat_s
    cdef int32_t[::1] ov = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(xv.shape[0]):
            ov[i] = mbqm_int64(xv[i], <int32_t>mv[i], <int>sv[i])
    return _result(out.reshape(shape))


# -- fixedpoint_math -------------------------------------------------------------------

def _check_exp_bits(int integer_bits, int bits):
    if not 0 <= integer_bits <= bits - 3:
        raise ValueError(f"exp_on_negative_values needs integer_bits <= {bits - 3}")


def exp_on_interval_between_negative_one_quarter_and_0_excl(a, int bits=32):
    return _unary(a, OP_EXP_INTERVAL, 0, 0, bits, bits)


def exp_on_negative_values(a, int integer_bits, int bits=32):
    _check_exp_bits(integer_bits, bits)
    return _unary(a, OP_EXP_NEGATIVE, integer_bits, 0, bits, bits)


def one_over_one_plus_x_for_x_in_0_1(a, int bits=32):
    return _unary(a, OP_ONE_OVER, 0, 0, bits, bits)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a, int bits=32):
    return _unary(a, OP_ONE_MINUS, 0, 0, bits, bits)


def logistic(a, int integer_bits, int bits=32):
    _check_exp_bits(integer_bits, bits)
    return _unary(a, OP_LOGISTIC, integer_bits, 0, bits, bits)


def tanh(a, int integer_bits, int bits=32):
    _check_exp_bits(integer_bits + 1, bits)
    return _unary(a, OP_TANH, integer_bits, 0, bits, bits)


def log_x_for_x_greater_than_or_equal_to_1(a, int input_integer_bits, int output_integer_bits):
    from .fixedpoint_math import min_log_x_output_bits

    if output_integer_bits < min_log_x_output_bits(input_integer_bits):
        raise ValueError("output_integer_bits too small for the logs of these inputs")
    values = _int64(a)
    if values.size and values.min() <= 0:
        raise ValueError("log_x_for_x_greater_than_or_equal_to_1 needs positive inputs")
    return _unary(values, OP_LOG, input_integer_bits, output_integer_bits, 32, 32)


def count_leading_zeros32(values):
    return _unary(values, OP_CLZ, 0, 0, 32, 64)


def get_reciprocal(x, int x_integer_digits):
    values = _int64(x)
    flat = np.ascontiguousarray(values.reshape(-1))
    mantissa = np.empty(flat.shape[0], dtype=np.int32)
    bits_over = np.empty(flat.shape[0], dtype=np.int32)
    cdef const int64_t[::1] xv = flat
    cdef int32_t[::1] mv = mantissa
    cdef int32_t[::1] bv = bits_over
    cdef int over
    cdef Py_ssize_t i
    with nogil:
        for i in range(xv.shape[0]):
            mv[i] = fp_get_reciprocal(<int32_t>xv[i], x_integer_digits, &over)
            bv[i] = over
    return _result(mantissa.reshape(values.shape)), _result(bits_over.reshape(values.shape))


def get_inv_sqrt_quantized_multiplier_exp(x, int reverse_shift):
    values = _int64(x)
    if values.size and values.min() < 0:
        raise ValueError("GetInvSqrtQuantizedMultiplierExp needs x >= 0")
    flat = np.ascontiguousarray(values.reshape(-1))
    multipliers = np.empty(flat.shape[0], dtype=np.int32)
    shifts = np.empty(flat.shape[0], dtype=np.int32)
    cdef const int64_t[::1] xv = flat
    cdef int32_t[::1] mv = multipliers
    cdef int32_t[::1] sv = shifts
    cdef int32_t m
    cdef int s
    cdef Py_ssize_t i
    with nogil:
        for i in range(xv.shape[0]):
            fp_inv_sqrt_multiplier_exp(<int32_t>xv[i], reverse_shift, &m, &s)
            mv[i] = m
            sv[i] = s
    return _result(multipliers.reshape(values.shape)), _result(shifts.reshape(values.shape))


# -- fixedpoint_lut --------------------------------------------------------------------

def lut_lookup_int16(x, lut):
    values = _int64(x, 16)
    table = np.ascontiguousarray(lut, dtype=np.int16)
    if table.shape != (513,):
        raise ValueError(f"an int16 LUT has 513 entries, got shape {table.shape}")
    flat = np.ascontiguousarray(values.reshape(-1))
    out = np.empty(flat.shape[0], dtype=np.int32)
    cdef const int64_t[::1] xv = flat
    cdef const int16_t[::1] tv = table
    cdef int32_t[::1] ov = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(xv.shape[0]):
            ov[i] = lut_lookup16(<int32_t>xv[i], &tv[0])
    return _result(out.reshape(values.shape), 16)
