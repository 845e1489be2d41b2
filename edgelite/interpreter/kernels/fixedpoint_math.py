"""gemmlowp FixedPoint functions on raw integers, bit-exact (numpy), and softmax Prepare helpers.

A gemmlowp ``FixedPoint<int32_t, m>`` (or ``int16_t``) is a raw signed integer read
as raw / 2^(bits - 1 - m): ``m`` integer bits, the rest fractional (Qm.n). Here a
fixed-point value is its raw integer plus the ``integer_bits`` argument of the
function that reads it; ``bits`` (32 or 16) is the raw type's width. Products of
two values add their integer bits (``fixed_mul``); ``rescale`` moves a value to
another number of integer bits, saturating or rounding like gemmlowp's Rescale.

The transcendental functions follow gemmlowp's fixedpoint.h exactly (same
polynomials, Newton-Raphson steps, barrel shifter and saturations), so the
quantized SOFTMAX (BUILTIN_REF), LOG_SOFTMAX (BUILTIN_REF), int16 LOGISTIC/TANH
(power-of-two scales) and L2_NORMALIZATION kernels can reproduce TFLite's
integers. Inputs are checked to fit the raw type; results are int32/int16 arrays
(numpy scalars for scalar input). See ``fixedpoint`` for the conventions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import PrepareError
from .fixedpoint import (
    DEFAULT_ROUNDING,
    INT32_MAX,
    INT32_MIN,
    _check_bits,
    _int64,
    _rdbpot,
    _result,
    _srdhm,
    _srmbpot,
    _srmbpot_param,
    _truncating_shift,
    quantize_multiplier_greater_than_one,
    quantize_multiplier_smaller_than_one_exp,
    round_half_away_from_zero,
    wrap,
)

# exp(-2^k) for the barrel shifter of exp_on_negative_values, as Q0.31 raw values.
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))  # fmt: skip


# -- FixedPoint basics ------------------------------------------------------------------


def fixed_constant(raw32: int, bits: int = 32) -> int:
    """A constant written as a Q-format int32 raw value, rounded to ``bits`` like gemmlowp."""
    return int(_rdbpot(np.int64(raw32), 32 - bits, 32))


def fixed_one(integer_bits: int, bits: int = 32) -> int:
    """FixedPoint::One(): 1.0, or the largest raw value when 1.0 is not representable."""
    if integer_bits == 0:
        return (1 << (bits - 1)) - 1
    return 1 << (bits - 1 - integer_bits)


def fixed_from_double(values: Any, integer_bits: int, bits: int = 32) -> Any:
    """FixedPoint::FromDouble: round(x * 2^fractional_bits), clamped to the raw type."""
    scaled = np.asarray(values, dtype=np.float64) * float(1 << (bits - 1 - integer_bits))
    rounded = round_half_away_from_zero(scaled)
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return _result(np.clip(rounded, low, high).astype(np.int64), bits)


def fixed_to_double(raw: Any, integer_bits: int, bits: int = 32) -> Any:
    """gemmlowp ToDouble: raw / 2^fractional_bits."""
    return np.asarray(raw, dtype=np.float64) / float(1 << (bits - 1 - integer_bits))


def fixed_mul(a: Any, b: Any, bits: int = 32) -> Any:
    """FixedPoint product (integer bits add up): SaturatingRoundingDoublingHighMul."""
    _check_bits(bits)
    return _result(_srdhm(_int64(a, bits, "a"), _int64(b, bits, "b"), bits), bits)


def rescale(raw: Any, src_integer_bits: int, dst_integer_bits: int, bits: int = 32) -> Any:
    """gemmlowp Rescale<dst>: saturating left shift or rounding right shift of the raw value."""
    _check_bits(bits)
    return _result(_srmbpot(_int64(raw, bits), src_integer_bits - dst_integer_bits, bits), bits)


def _rounding_half_sum(a: Any, b: Any) -> np.ndarray:
    total = a + b
    return _truncating_shift(total + np.where(total >= 0, 1, -1), 1)


def rounding_half_sum(a: Any, b: Any, bits: int = 32) -> Any:
    """gemmlowp RoundingHalfSum: (a + b) / 2 rounded to nearest, ties away from zero."""
    _check_bits(bits)
    return _result(_rounding_half_sum(_int64(a, bits, "a"), _int64(b, bits, "b")), bits)


# -- exp, 1/(1+x), tanh, logistic (int32 or int16 raw) -------------------------------


def _exp_on_interval(a: np.ndarray, bits: int) -> np.ndarray:
    # Taylor expansion around -1/8 of exp on [-1/4, 0), all values Q0.
    term = fixed_constant(1895147668, bits)  # exp(-1/8)
    one_third = fixed_constant(715827883, bits)
    x = wrap(a + (1 << (bits - 4)), bits)  # a + 1/8
    x2 = _srdhm(x, x, bits)
    x3 = _srdhm(x2, x, bits)
    x4 = _srdhm(x2, x2, bits)
    x4_over_4 = _rdbpot(x4, 2, bits)
    inner = wrap(_srdhm(wrap(x4_over_4 + x3, bits), one_third, bits) + x2, bits)
    poly = _rdbpot(inner, 1, bits)
    tail = _srdhm(term, wrap(x + poly, bits), bits)
    if bits == 16:  # gemmlowp's AddSaturatingIf16Bit
        return np.clip(term + tail, -(1 << 15), (1 << 15) - 1)
    return wrap(term + tail, bits)


def _exp_on_negative_values(a: np.ndarray, integer_bits: int, bits: int) -> np.ndarray:
    fractional = bits - 1 - integer_bits
    if fractional < 2:
        raise ValueError(f"exp_on_negative_values needs integer_bits <= {bits - 3}")
    one_quarter = 1 << (fractional - 2)
    # Split a = -(remainder) + (a mod 1/4 - 1/4): exp of the second part by the
    # polynomial, of the first by multiplying exp(-2^k) for each set bit.
    a_mod_quarter_minus_quarter = wrap((a & (one_quarter - 1)) - one_quarter, bits)
    result = _exp_on_interval(_srmbpot(a_mod_quarter_minus_quarter, integer_bits, bits), bits)
    remainder = wrap(a_mod_quarter_minus_quarter - a, bits)
    for exponent, raw in _EXP_BARREL:
        if integer_bits > exponent:
            bit = np.int64(1) << (fractional + exponent)
            factor = fixed_constant(raw, bits)
            result = np.where(remainder & bit, _srdhm(result, factor, bits), result)
    if integer_bits > 5:
        clamp = fixed_constant(-(1 << (36 - integer_bits)), bits)  # -32.0
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, fixed_one(0, bits), result)


def _newton_reciprocal_half(a: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    # Three Newton-Raphson steps for 1 / ((1 + a) / 2) in Q2, from the 48/17 - 32/17 d guess.
    half_denominator = _rounding_half_sum(a, np.int64(fixed_one(0, bits)))
    one_q2 = fixed_one(2, bits)
    x = wrap(
        fixed_constant(1515870810, bits)
        + _srdhm(half_denominator, np.int64(fixed_constant(-1010580540, bits)), bits),
        bits,
    )
    for _ in range(3):
        error = wrap(one_q2 - _srdhm(half_denominator, x, bits), bits)
        x = wrap(x + _srmbpot(_srdhm(x, error, bits), 2, bits), bits)
    return x, one_q2


def _one_over_one_plus_x(a: np.ndarray, bits: int) -> np.ndarray:
    x, _ = _newton_reciprocal_half(a, bits)
    return _srmbpot(x, 1, bits)  # ExactMulByPot<-1> then Rescale<0>: Q1 -> Q0


def _one_minus_x_over_one_plus_x(a: np.ndarray, bits: int) -> np.ndarray:
    x, one_q2 = _newton_reciprocal_half(a, bits)
    return _srmbpot(wrap(x - one_q2, bits), 2, bits)


def _logistic(a: np.ndarray, integer_bits: int, bits: int) -> np.ndarray:
    positive = a > 0
    magnitude = np.where(positive, a, wrap(-a, bits))
    exp_neg = _exp_on_negative_values(wrap(-magnitude, bits), integer_bits, bits)
    if_positive = _one_over_one_plus_x(exp_neg, bits)
    if_negative = wrap(fixed_one(0, bits) - if_positive, bits)
    half = fixed_constant(1 << 30, bits)
    return np.where(a == 0, half, np.where(positive, if_positive, if_negative))


def _tanh(a: np.ndarray, integer_bits: int, bits: int) -> np.ndarray:
    negative = a < 0
    n = np.where(negative, a, wrap(-a, bits))
    # -tanh(n) = (1 - exp(2n)) / (1 + exp(2n)) for n < 0; 2n is the same raw in Q(m+1).
    t = _one_minus_x_over_one_plus_x(_exp_on_negative_values(n, integer_bits + 1, bits), bits)
    return np.where(a == 0, 0, np.where(negative, wrap(-t, bits), t))


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: Any, bits: int = 32) -> Any:
    """exp(a) for a in [-1/4, 0); a and the result in Q0."""
    _check_bits(bits)
    return _result(_exp_on_interval(_int64(a, bits), bits), bits)


def exp_on_negative_values(a: Any, integer_bits: int, bits: int = 32) -> Any:
    """exp(a) for a <= 0 given in Q(integer_bits); the result in Q0 (exp(0) -> One)."""
    _check_bits(bits)
    return _result(_exp_on_negative_values(_int64(a, bits), integer_bits, bits), bits)


def one_over_one_plus_x_for_x_in_0_1(a: Any, bits: int = 32) -> Any:
    """1 / (1 + a) for a in [0, 1); a and the result in Q0."""
    _check_bits(bits)
    return _result(_one_over_one_plus_x(_int64(a, bits), bits), bits)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: Any, bits: int = 32) -> Any:
    """(1 - a) / (1 + a) for a in [0, 1); a and the result in Q0."""
    _check_bits(bits)
    return _result(_one_minus_x_over_one_plus_x(_int64(a, bits), bits), bits)


def logistic(a: Any, integer_bits: int, bits: int = 32) -> Any:
    """gemmlowp logistic: 1 / (1 + exp(-a)), a in Q(integer_bits), the result in Q0."""
    _check_bits(bits)
    return _result(_logistic(_int64(a, bits), integer_bits, bits), bits)


def tanh(a: Any, integer_bits: int, bits: int = 32) -> Any:
    """gemmlowp tanh, a in Q(integer_bits), the result in Q0."""
    _check_bits(bits)
    return _result(_tanh(_int64(a, bits), integer_bits, bits), bits)


# -- log, reciprocal, inverse square root (int32) ------------------------------------


def count_leading_zeros32(values: Any) -> Any:
    """Leading zero bits of values taken as uint32 (32 for zero), as int32."""
    unsigned = np.asarray(values, dtype=np.int64) & 0xFFFFFFFF
    # frexp's exponent is the bit length; exact because 32-bit values fit a double.
    bit_length = np.frexp(unsigned.astype(np.float64))[1]
    return _result(32 - bit_length.astype(np.int64))


def min_log_x_output_bits(input_integer_bits: int) -> int:
    """TFLite min_log_x_output_bits: integer bits that hold log of the largest input."""
    for bound, bits in ((90, 7), (44, 6), (21, 5), (10, 4), (4, 3), (1, 2)):
        if input_integer_bits > bound:
            return bits
    return 1


def log_x_for_x_greater_than_or_equal_to_1(
    a: Any, input_integer_bits: int, output_integer_bits: int
) -> Any:
    """TFLite log_x_for_x_greater_than_or_equal_to_1: log(a), Q(in) int32 -> Q(out) int32.

    Also accurate down to 1 / max input. ``a`` must be positive.
    """
    if output_integer_bits < min_log_x_output_bits(input_integer_bits):
        raise ValueError("output_integer_bits too small for the logs of these inputs")
    z_a = _int64(a)
    if z_a.size and z_a.min() <= 0:
        raise ValueError("log_x_for_x_greater_than_or_equal_to_1 needs positive inputs")
    accum = output_integer_bits + 1  # one bit of headroom for the final sum
    log_2, sqrt_sqrt_half, sqrt_half = 1488522236, 1805811301, 1518500250
    alpha_n, alpha_d, alpha_i, alpha_f = 117049297, 127690142, 1057819769, 638450708
    shifted_quarter = _rdbpot(np.int64(536870912), accum, 32)  # 1/4 in Q(accum)
    # Normalise z_a two ways (as is, and times sqrt(1/2)) and keep the one whose
    # mantissa r is smaller; z_pow_2_adj is the matching power of two.
    headroom_a = count_leading_zeros32(z_a).astype(np.int64)
    r_a_tmp = _srmbpot_param(z_a, headroom_a - 1, 32)
    r_a = _srmbpot_param(_srdhm(r_a_tmp, np.int64(sqrt_half), 32), 1, 32)
    pow_a = _srmbpot_param(input_integer_bits - headroom_a, 31 - accum, 32)
    pow_a = np.clip(pow_a + shifted_quarter, INT32_MIN, INT32_MAX)
    z_b = _srdhm(z_a, np.int64(sqrt_half), 32)
    headroom_b = count_leading_zeros32(z_b).astype(np.int64) - 1
    r_b = _srmbpot_param(z_a, headroom_b, 32)
    pow_b = _srmbpot_param(input_integer_bits - headroom_b, 31 - accum, 32)
    pow_b = np.clip(pow_b - shifted_quarter, INT32_MIN, INT32_MAX)
    r = np.minimum(r_a, r_b)
    z_pow_2_adj = np.maximum(pow_a, pow_b)

    def mul(u: Any, v: Any) -> np.ndarray:
        return _srdhm(np.asarray(u, np.int64), np.asarray(v, np.int64), 32)

    p = _rounding_half_sum(r, np.int64(sqrt_sqrt_half))
    q = wrap(r - sqrt_sqrt_half)
    q = wrap(q + q)
    common_sq = mul(q, q)
    num = wrap(mul(q, r) + mul(mul(q, common_sq), alpha_n))
    denominator = wrap(wrap(alpha_i + q) + mul(alpha_d, common_sq))
    denom_minus_one = wrap(mul(p, denominator) + mul(alpha_f, q))
    recip_denom = _one_over_one_plus_x(denom_minus_one, 32)
    num_scaled = _rdbpot(num, accum, 32)
    total = wrap(mul(z_pow_2_adj, log_2) + mul(num_scaled, recip_denom))
    return _result(_srmbpot(total, accum - output_integer_bits, 32))


def get_reciprocal(x: Any, x_integer_digits: int) -> tuple[Any, Any]:
    """TFLite GetReciprocal: (1/x as Q0 mantissa, num_bits_over_unit), x in Q(digits).

    1/x = mantissa * 2^-num_bits_over_unit. SOFTMAX uses it on its sum of exps.
    """
    x = _int64(x)
    headroom_plus_one = count_leading_zeros32(x).astype(np.int64)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    # uint32 arithmetic in C: x normalised to [1, 2) minus 1, as Q0.
    shifted_minus_one = wrap(((x & 0xFFFFFFFF) << headroom_plus_one) - (1 << 31))
    mantissa = _one_over_one_plus_x(shifted_minus_one, 32)
    return _result(mantissa), _result(num_bits_over_unit)


def get_inv_sqrt_quantized_multiplier_exp(x: Any, reverse_shift: int) -> tuple[Any, Any]:
    """TFLite GetInvSqrtQuantizedMultiplierExp: 1/sqrt(x) as (multiplier, shift).

    ``reverse_shift`` is -1 in the kernels (L2_NORMALIZATION), turning the right
    shift into TFLite's left-shift convention. x <= 1 gives (INT32_MAX, 0).
    """
    x = _int64(x)
    if x.size and x.min() < 0:
        raise ValueError("GetInvSqrtQuantizedMultiplierExp needs x >= 0")
    large = x >= 1 << 29
    shift = 11 + large.astype(np.int64)
    value = np.where(large, x // 4, x)
    pairs = np.maximum((count_leading_zeros32(value).astype(np.int64) - 1) // 2 - 1, 0)
    shift = shift - pairs
    value = value << (2 * pairs)
    half_input = _rdbpot(value >> 1, 1, 32)  # F3
    half_three = (1 << 28) + (1 << 27)  # 1.5 in Q3
    estimate = np.full_like(value, 1 << 28)  # 1.0 in Q3
    for _ in range(5):  # Newton-Raphson for 1/sqrt
        cube = _srmbpot(_srdhm(_srdhm(estimate, estimate, 32), estimate, 32), 6, 32)
        step = wrap(_srdhm(np.int64(half_three), estimate, 32) - _srdhm(half_input, cube, 32))
        estimate = _srmbpot(step, 3, 32)
    multiplier = _srdhm(estimate, np.int64(1518500250), 32)  # * sqrt(2)/2
    multiplier = np.where(shift < 0, wrap(multiplier << np.maximum(-shift, 0)), multiplier)
    shift = np.maximum(shift, 0) * reverse_shift
    small = x <= 1
    return _result(np.where(small, INT32_MAX, multiplier)), _result(np.where(small, 0, shift))


# -- Prepare helpers of the softmax-like kernels -------------------------------------


def checked_log2(value: float) -> tuple[bool, int]:
    """TFLite CheckedLog2: (is x a power of two within 1e-3 in log2, round(log2 x)), in float32."""
    x = np.float32(value)
    if not x > 0:
        return False, 0
    # logf emulated as a correctly rounded float64 log; the float32 product follows C.
    log_x = np.float32(math.log(float(x)))
    inv_log2 = np.float32(1.0) / np.float32(math.log(2.0))
    x_log2 = np.float32(log_x * inv_log2)
    rounded = np.float32(math.copysign(math.floor(abs(float(x_log2)) + 0.5), float(x_log2)))
    return bool(abs(x_log2 - rounded) < np.float32(1e-3)), int(rounded)


def calculate_input_radius(
    input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31
) -> int:
    """TFLite CalculateInputRadius: the largest |input| that does not saturate the rescale."""
    max_input_rescaled = (
        1.0
        * ((1 << input_integer_bits) - 1)
        * float(1 << (total_signed_bits - input_integer_bits))
        / float(1 << input_left_shift)
    )
    return math.floor(max_input_rescaled)


def preprocess_softmax_scaling(
    beta: float, input_scale: float, input_integer_bits: int, rounding: str = DEFAULT_ROUNDING
) -> tuple[int, int]:
    """TFLite PreprocessSoftmaxScaling: (multiplier, left_shift) of beta * input_scale in Q(ib).

    The real multiplier is capped at 2^31 - 1 (2^30 - 1 in single-rounding builds):
    beyond that every non-maximal input gives exp() == 0 anyway.
    """
    cap = float((1 << 30) - 1) if rounding == "single" else float((1 << 31) - 1)
    real = min(float(beta) * float(input_scale) * float(1 << (31 - input_integer_bits)), cap)
    return quantize_multiplier_greater_than_one(real, rounding)


def preprocess_log_softmax_scaling_exp(
    beta: float, input_scale: float, input_integer_bits: int, rounding: str = DEFAULT_ROUNDING
) -> tuple[int, int, int, int]:
    """TFLite PreprocessLogSoftmaxScalingExp.

    Returns (multiplier, left_shift, reverse_scaling_divisor, reverse_scaling_left_shift);
    LOG_SOFTMAX negates the last one to get its reverse_scaling_right_shift.
    """
    multiplier, left_shift = preprocess_softmax_scaling(
        beta, input_scale, input_integer_bits, rounding
    )
    if left_shift == 0:
        # C computes (1 << 31) in an int here, which is negative: TFLite aborts.
        raise PrepareError(f"input scale {input_scale!r} is too small for quantized LOG_SOFTMAX")
    reverse = float(1 << (31 - left_shift)) / float(multiplier)
    divisor, reverse_shift = quantize_multiplier_smaller_than_one_exp(reverse, rounding)
    return multiplier, left_shift, divisor, reverse_shift
