# Fixed-point arithmetic of TFLite's integer kernels for Cython kernels to cimport.
#
#     from ._fixedpoint cimport mbqm, ROUND_DOUBLE
#     out[i] = mbqm(acc, multiplier, shift, data.rounding_code) + zero_point
#
# The same functions as the numpy modules fixedpoint, fixedpoint_math and
# fixedpoint_lut (read their docstrings for the semantics, the rounding modes and
# which TFLite kernel uses what); tests hold the two equal on large random arrays.
# Everything here is `cdef inline ... noexcept nogil` and does no validation: the
# kernel's prepare checks shifts and integer bits once.
#
# gemmlowp fixed-point values travel as raw int32_t plus the `bits` of their raw
# type (32, or 16 for int16 values held in an int32_t) and their integer bits:
# results wrap or saturate exactly like the C types.
#
# integer:  srdhm rdbpot srmbpot mbqm (ROUND_*) mbqm_int64 clz32 sat_left_shift16 sdhm16
# gemmlowp: fp_constant fp_one fp_rounding_half_sum fp_exp_on_interval
#           fp_exp_on_negative_values fp_one_over_one_plus_x fp_one_minus_x_over_one_plus_x
#           fp_logistic fp_tanh fp_log_x_ge_1 fp_get_reciprocal fp_inv_sqrt_multiplier_exp
# tables:   lut_lookup16 (513-entry int16) lut_lookup8 (256-entry, TFLite order)

from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint32_t

cdef extern from *:
    """
    static inline int edgelite_clz32(uint32_t x) {
    #if defined(__GNUC__) || defined(__clang__)
        return x ? __builtin_clz(x) : 32;
    #else
        int n = 0;
        if (!x) return 32;
        while (!(x & 0x80000000u)) { x <<= 1; ++n; }
        return n;
    #endif
    }
    """
    int edgelite_clz32(uint32_t x) noexcept nogil

# `rounding` codes (fixedpoint.ROUNDING_CODES maps the names to these).
cdef enum:
    ROUND_DOUBLE = 0
    ROUND_SINGLE = 1
    ROUND_DOUBLE_UP = 2
    ROUND_FLOOR_UP = 3

cdef enum:
    FP_INT32_MAX = 2147483647


# -- integer primitives ---------------------------------------------------------------

cdef inline int32_t fp_wrap(int64_t value, int bits) noexcept nogil:
    """Two's-complement wrap to int16 or int32 (a C cast)."""
    if bits == 16:
        return <int16_t>value
    return <int32_t>value


cdef inline int32_t clamp16(int64_t value) noexcept nogil:
    if value > 32767:
        return 32767
    if value < -32768:
        return -32768
    return <int32_t>value


cdef inline int clz32(uint32_t x) noexcept nogil:
    """Leading zero bits (32 for zero)."""
    return edgelite_clz32(x)


cdef inline int64_t _truncating_shift(int64_t value, int amount) noexcept nogil:
    # C's division by 2^amount (toward zero) without a branch: negative values get
    # 2^amount - 1 added first. Spelled with shifts, so cdivision does not matter.
    return (value + ((value >> 63) & ((<int64_t>1 << amount) - 1))) >> amount


cdef inline int32_t srdhm(int32_t a, int32_t b, int bits) noexcept nogil:
    """SaturatingRoundingDoublingHighMul of int32 (bits=32) or int16 (bits=16) raws."""
    # gemmlowp's nudge-and-truncate is exactly floor((a*b + 2^(bits-2)) / 2^(bits-1)):
    # one branch-free expression (an arithmetic shift is a floor).
    cdef int64_t low = -(<int64_t>1 << (bits - 1))
    cdef int64_t high = (<int64_t>a * b + (<int64_t>1 << (bits - 2))) >> (bits - 1)
    return <int32_t>(-low - 1) if ((a == b) & (a == low)) else <int32_t>high


cdef inline int32_t rdbpot(int32_t x, int exponent, int bits) noexcept nogil:
    """RoundingDivideByPOT, exponent in [0, 31]: to nearest, ties away from zero."""
    cdef int32_t mask, remainder, threshold
    if bits == 32:
        # Half away from zero is half up minus one for negative x: no mask needed.
        if exponent == 0:
            return x
        return <int32_t>((<int64_t>x + (<int64_t>1 << (exponent - 1)) - (x < 0)) >> exponent)
    # int16: the mask lives in int16 like C's, which wraps to -1 for exponents > 15.
    mask = fp_wrap((<int64_t>1 << exponent) - 1, bits)
    remainder = x & mask
    threshold = fp_wrap(<int64_t>(mask >> 1) + (x < 0), bits)
    return fp_wrap(<int64_t>(x >> exponent) + (remainder > threshold), bits)


cdef inline int32_t srmbpot(int32_t x, int exponent, int bits) noexcept nogil:
    """SaturatingRoundingMultiplyByPOT: saturating left shift, or rdbpot for exponent <= 0."""
    cdef int64_t threshold
    if exponent <= 0:
        return rdbpot(x, -exponent, bits)
    threshold = (<int64_t>1 << (bits - 1 - exponent)) - 1
    if x > threshold:
        return <int32_t>((<int64_t>1 << (bits - 1)) - 1)
    if x < -threshold:
        return <int32_t>(-(<int64_t>1 << (bits - 1)))
    return fp_wrap(<int64_t>x * (<int64_t>1 << exponent), bits)


cdef inline int32_t sat_left_shift16(int32_t x, int amount) noexcept nogil:
    """SaturatingLeftShift of an int16 (HARD_SWISH)."""
    return clamp16(<int64_t>x * (<int64_t>1 << amount))


cdef inline int32_t sdhm16(int32_t a, int32_t b) noexcept nogil:
    """SaturatingDoublingHighMul of int16s: truncating, like ARM SQDMULH (HARD_SWISH)."""
    if a == b and a == -32768:
        return 32767
    return <int32_t>_truncating_shift(<int64_t>a * b, 15)


# -- applying a quantized multiplier ------------------------------------------------

cdef inline int32_t mbqm(int32_t x, int32_t multiplier, int shift,
                         int rounding) noexcept nogil:
    """MultiplyByQuantizedMultiplier, shift in [-31, 30], rounding one of ROUND_*."""
    cdef int left = shift if shift > 0 else 0
    cdef int right = -shift if shift < 0 else 0
    cdef int64_t total, nudge
    cdef int32_t shifted, high
    if rounding == ROUND_SINGLE:
        total = 31 - shift
        return <int32_t>((<int64_t>x * multiplier + (<int64_t>1 << (total - 1))) >> total)
    # x * (1 << left) wraps in int32 like the C code.
    shifted = <int32_t>(<int64_t>x * (<int64_t>1 << left))
    if rounding == ROUND_FLOOR_UP:
        high = <int32_t>((<int64_t>shifted * multiplier) >> 31)
        if right == 0:
            return high
        nudge = <int64_t>1 << (right - 1)
        if high > FP_INT32_MAX - nudge:
            return FP_INT32_MAX
        return <int32_t>((high + nudge) >> right)
    high = srdhm(shifted, multiplier, 32)
    if rounding == ROUND_DOUBLE_UP:
        if right == 0:
            return high
        return <int32_t>((<int64_t>high + (<int64_t>1 << (right - 1))) >> right)
    return rdbpot(high, right, 32)


cdef inline int32_t mbqm_int64(int64_t x, int32_t multiplier, int shift) noexcept nogil:
    """MultiplyByQuantizedMultiplier(int64 x) of the int16 kernels: |x| < 2^47, shift <= 7."""
    cdef int64_t reduced = 0x7FFF
    cdef int total = 15 - shift
    if multiplier < 0x7FFF0000:
        reduced = (multiplier + (1 << 15)) >> 16
    return <int32_t>((x * reduced + (<int64_t>1 << (total - 1))) >> total)


# -- gemmlowp FixedPoint ----------------------------------------------------------------

cdef inline int32_t fp_constant(int32_t raw32, int bits) noexcept nogil:
    """A Q-format constant given as an int32 raw value, rounded to `bits`."""
    return rdbpot(raw32, 32 - bits, 32)


cdef inline int32_t fp_one(int integer_bits, int bits) noexcept nogil:
    """FixedPoint::One(): the largest raw value when 1.0 is not representable."""
    if integer_bits == 0:
        return <int32_t>((<int64_t>1 << (bits - 1)) - 1)
    return <int32_t>1 << (bits - 1 - integer_bits)


cdef inline int32_t fp_rounding_half_sum(int32_t a, int32_t b) noexcept nogil:
    """RoundingHalfSum: (a + b) / 2 to nearest, ties away from zero."""
    cdef int64_t total = <int64_t>a + b
    if total >= 0:
        return <int32_t>((total + 1) >> 1)
    return <int32_t>(-((1 - total) >> 1))


cdef inline int32_t fp_exp_on_interval(int32_t a, int bits) noexcept nogil:
    """exp(a) for a in [-1/4, 0), Q0 in and out (Taylor expansion around -1/8)."""
    cdef int32_t term = fp_constant(1895147668, bits)
    cdef int32_t one_third = fp_constant(715827883, bits)
    cdef int32_t x = fp_wrap(<int64_t>a + (1 << (bits - 4)), bits)
    cdef int32_t x2 = srdhm(x, x, bits)
    cdef int32_t x3 = srdhm(x2, x, bits)
    cdef int32_t x4 = srdhm(x2, x2, bits)
    cdef int32_t inner = fp_wrap(<int64_t>rdbpot(x4, 2, bits) + x3, bits)
    cdef int64_t total
    inner = fp_wrap(<int64_t>srdhm(inner, one_third, bits) + x2, bits)
    total = <int64_t>term + srdhm(term, fp_wrap(<int64_t>x + rdbpot(inner, 1, bits), bits), bits)
    if bits == 16:
        return clamp16(total)
    return <int32_t>total


cdef inline int32_t _exp_barrel(int32_t result, int32_t remainder, int integer_bits,
                                int fractional, int exponent, int32_t raw32,
                                int bits) noexcept nogil:
    # One stage of exp_on_negative_values' barrel shifter: times exp(-2^exponent).
    if integer_bits > exponent and (remainder & (<int32_t>1 << (fractional + exponent))):
        return srdhm(result, fp_constant(raw32, bits), bits)
    return result


cdef inline int32_t fp_exp_on_negative_values(int32_t a, int integer_bits,
                                              int bits) noexcept nogil:
    """exp(a) for a <= 0 in Q(integer_bits), integer_bits <= bits - 3; the result in Q0."""
    cdef int fractional = bits - 1 - integer_bits
    cdef int32_t one_quarter = <int32_t>1 << (fractional - 2)
    cdef int32_t a_mod = fp_wrap(<int64_t>(a & (one_quarter - 1)) - one_quarter, bits)
    cdef int32_t result = fp_exp_on_interval(srmbpot(a_mod, integer_bits, bits), bits)
    cdef int32_t rem = fp_wrap(<int64_t>a_mod - a, bits)
    result = _exp_barrel(result, rem, integer_bits, fractional, -2, 1672461947, bits)
    result = _exp_barrel(result, rem, integer_bits, fractional, -1, 1302514674, bits)
    result = _exp_barrel(result, rem, integer_bits, fractional, 0, 790015084, bits)
    result = _exp_barrel(result, rem, integer_bits, fractional, 1, 290630308, bits)
    result = _exp_barrel(result, rem, integer_bits, fractional, 2, 39332535, bits)
    result = _exp_barrel(result, rem, integer_bits, fractional, 3, 720401, bits)
    result = _exp_barrel(result, rem, integer_bits, fractional, 4, 242, bits)
    if integer_bits > 5 and a < fp_constant(-(1 << (36 - integer_bits)), bits):
        result = 0
    if a == 0:
        result = fp_one(0, bits)
    return result


cdef inline int32_t _newton_half_reciprocal(int32_t a, int bits) noexcept nogil:
    # Three Newton-Raphson steps for 1 / ((1 + a) / 2), in Q2.
    cdef int32_t half_denominator = fp_rounding_half_sum(a, fp_one(0, bits))
    cdef int32_t one_q2 = fp_one(2, bits)
    cdef int32_t x = fp_wrap(
        <int64_t>fp_constant(1515870810, bits)
        + srdhm(half_denominator, fp_constant(-1010580540, bits), bits), bits)
    cdef int32_t error
    cdef int _step
    for _step in range(3):
        error = fp_wrap(<int64_t>one_q2 - srdhm(half_denominator, x, bits), bits)
        x = fp_wrap(<int64_t>x + srmbpot(srdhm(x, error, bits), 2, bits), bits)
    return x


cdef inline int32_t fp_one_over_one_plus_x(int32_t a, int bits) noexcept nogil:
    """1 / (1 + a) for a in [0, 1), Q0 in and out."""
    return srmbpot(_newton_half_reciprocal(a, bits), 1, bits)


cdef inline int32_t fp_one_minus_x_over_one_plus_x(int32_t a, int bits) noexcept nogil:
    """(1 - a) / (1 + a) for a in [0, 1), Q0 in and out."""
    cdef int32_t x = _newton_half_reciprocal(a, bits)
    return srmbpot(fp_wrap(<int64_t>x - fp_one(2, bits), bits), 2, bits)


cdef inline int32_t fp_logistic(int32_t a, int integer_bits, int bits) noexcept nogil:
    """gemmlowp logistic: a in Q(integer_bits), the result in Q0."""
    cdef int32_t magnitude, if_positive
    if a == 0:
        return fp_constant(1 << 30, bits)
    magnitude = a if a > 0 else fp_wrap(-<int64_t>a, bits)
    if_positive = fp_one_over_one_plus_x(
        fp_exp_on_negative_values(fp_wrap(-<int64_t>magnitude, bits), integer_bits, bits), bits)
    if a > 0:
        return if_positive
    return fp_wrap(<int64_t>fp_one(0, bits) - if_positive, bits)


cdef inline int32_t fp_tanh(int32_t a, int integer_bits, int bits) noexcept nogil:
    """gemmlowp tanh: a in Q(integer_bits), the result in Q0."""
    cdef int32_t n, t
    if a == 0:
        return 0
    n = a if a < 0 else fp_wrap(-<int64_t>a, bits)
    # -tanh(n) = (1 - exp(2n)) / (1 + exp(2n)) for n < 0; 2n is the same raw in Q(m+1).
    t = fp_one_minus_x_over_one_plus_x(fp_exp_on_negative_values(n, integer_bits + 1, bits), bits)
    if a < 0:
        return fp_wrap(-<int64_t>t, bits)
    return t


cdef inline int32_t _saturate32(int64_t value) noexcept nogil:
    if value > FP_INT32_MAX:
        return FP_INT32_MAX
    if value < -FP_INT32_MAX - 1:
        return -FP_INT32_MAX - 1
    return <int32_t>value


cdef inline int32_t fp_log_x_ge_1(int32_t a, int input_integer_bits,
                                  int output_integer_bits) noexcept nogil:
    """log(a), a > 0 in Q(input_integer_bits) int32, the result in Q(output_integer_bits)."""
    cdef int accum = output_integer_bits + 1
    cdef int32_t quarter = rdbpot(536870912, accum, 32)
    cdef int32_t sqrt_half = 1518500250
    cdef int32_t sqrt_sqrt_half = 1805811301
    cdef int headroom_a = clz32(<uint32_t>a)
    cdef int32_t r_a = srmbpot(srdhm(srmbpot(a, headroom_a - 1, 32), sqrt_half, 32), 1, 32)
    cdef int32_t pow_a = _saturate32(
        <int64_t>srmbpot(input_integer_bits - headroom_a, 31 - accum, 32) + quarter)
    cdef int headroom_b = clz32(<uint32_t>srdhm(a, sqrt_half, 32)) - 1
    cdef int32_t r_b = srmbpot(a, headroom_b, 32)
    cdef int32_t pow_b = _saturate32(
        <int64_t>srmbpot(input_integer_bits - headroom_b, 31 - accum, 32) - quarter)
    cdef int32_t r = r_a if r_a < r_b else r_b
    cdef int32_t z_pow_2_adj = pow_a if pow_a > pow_b else pow_b
    cdef int32_t p = fp_rounding_half_sum(r, sqrt_sqrt_half)
    cdef int32_t q = fp_wrap(<int64_t>r - sqrt_sqrt_half, 32)
    cdef int32_t common_sq, num, denominator, total
    q = fp_wrap(<int64_t>q + q, 32)
    common_sq = srdhm(q, q, 32)
    num = fp_wrap(<int64_t>srdhm(q, r, 32) + srdhm(srdhm(q, common_sq, 32), 117049297, 32), 32)
    denominator = fp_wrap(
        <int64_t>fp_wrap(<int64_t>1057819769 + q, 32) + srdhm(127690142, common_sq, 32), 32)
    denominator = fp_wrap(
        <int64_t>srdhm(p, denominator, 32) + srdhm(638450708, q, 32), 32)
    total = fp_wrap(<int64_t>srdhm(z_pow_2_adj, 1488522236, 32)
                    + srdhm(rdbpot(num, accum, 32),
                            fp_one_over_one_plus_x(denominator, 32), 32), 32)
    return srmbpot(total, accum - output_integer_bits, 32)


cdef inline int32_t fp_get_reciprocal(int32_t x, int x_integer_digits,
                                      int* num_bits_over_unit) noexcept nogil:
    """GetReciprocal: 1/x = result (Q0) * 2^-num_bits_over_unit, x in Q(x_integer_digits)."""
    cdef int headroom_plus_one = clz32(<uint32_t>x)
    cdef uint32_t normalised = 0
    num_bits_over_unit[0] = x_integer_digits - headroom_plus_one
    if headroom_plus_one < 32:
        normalised = <uint32_t>x << headroom_plus_one
    return fp_one_over_one_plus_x(<int32_t>(normalised - (<uint32_t>1 << 31)), 32)


cdef inline void fp_inv_sqrt_multiplier_exp(int32_t x, int reverse_shift, int32_t* multiplier,
                                            int* shift) noexcept nogil:
    """GetInvSqrtQuantizedMultiplierExp: 1/sqrt(x) as a multiplier and shift (x >= 0)."""
    cdef int out_shift = 11
    cdef int pairs, _step
    cdef int32_t half_input, estimate, cube, result
    if x <= 1:
        multiplier[0] = FP_INT32_MAX
        shift[0] = 0
        return
    if x >= (1 << 29):
        x = x >> 2
        out_shift += 1
    pairs = ((clz32(<uint32_t>x) - 1) >> 1) - 1
    out_shift -= pairs
    x = x << (2 * pairs)
    half_input = rdbpot(x >> 1, 1, 32)
    estimate = 1 << 28
    for _step in range(5):
        cube = srmbpot(srdhm(srdhm(estimate, estimate, 32), estimate, 32), 6, 32)
        estimate = srmbpot(
            fp_wrap(<int64_t>srdhm((1 << 28) + (1 << 27), estimate, 32)
                    - srdhm(half_input, cube, 32), 32), 3, 32)
    result = srdhm(estimate, 1518500250, 32)
    if out_shift < 0:
        result = <int32_t>(<int64_t>result * (<int64_t>1 << -out_shift))
        out_shift = 0
    multiplier[0] = result
    shift[0] = out_shift * reverse_shift


# -- lookup tables --------------------------------------------------------------------

cdef inline int32_t lut_lookup16(int32_t value, const int16_t* lut) noexcept nogil:
    """LUTLookup of a 513-entry int16 table (fixedpoint_lut.lut_populate_int16)."""
    cdef int index = 256 + (value >> 7)
    cdef int offset = value & 0x7F
    cdef int16_t slope = <int16_t>(lut[index + 1] - lut[index])
    return <int16_t>(lut[index] + ((slope * offset + 64) >> 7))


cdef inline int32_t lut_lookup8(int32_t value, const int8_t* lut) noexcept nogil:
    """LUTLookup of a 256-entry 8-bit table in TFLite's order (index = value as uint8)."""
    return lut[<uint8_t>value]
