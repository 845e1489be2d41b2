"""The fixed-point toolkit against hand-computed values, and numpy against Cython.

Every expected value below is worked out from TFLite's / gemmlowp's definitions
(comments show the arithmetic). The official runtime's integers are the subject
of test_fixedpoint_oracle.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels import _fixedpoint as cy
from edgelite.interpreter.kernels import fixedpoint as fp
from edgelite.interpreter.kernels import fixedpoint_math as fm
from edgelite.interpreter.kernels.base import PrepareError

MIN32, MAX32 = -(2**31), 2**31 - 1
HALF = 2**30  # the Q31 multiplier of 0.5


# -- QuantizeMultiplier ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("real", "expected"),
    [
        (0.0, (0, 0)),
        (0.5, (HALF, 0)),  # frexp(0.5) = (0.5, 0)
        (1.0, (HALF, 1)),  # frexp(1.0) = (0.5, 1)
        (0.25, (HALF, -1)),
        (0.75, (3 * 2**29, 0)),
        (-0.75, (-3 * 2**29, 0)),
        (2.0**-31, (HALF, -30)),
        (2.0**-32, (HALF, -31)),  # the smallest shift kept
        (2.0**-33, (0, 0)),  # shift -32: flushed to zero
        (1 - 2.0**-33, (HALF, 1)),  # q * 2^31 rounds to 2^31: halved, shift + 1
        (0.5 + 2.0**-32, (HALF + 1, 0)),  # q * 2^31 = 2^30 + 0.5: half away from zero
        (-(0.5 + 2.0**-32), (-(HALF + 1), 0)),
        (2.0**31, (HALF, 32)),  # no clamp in double-rounding builds
    ],
)
def test_quantize_multiplier(real, expected):
    assert fp.quantize_multiplier(real) == expected


def test_quantize_multiplier_single_rounding_clamps_large_shifts():
    assert fp.quantize_multiplier(2.0**31, "single") == (MAX32, 30)
    assert fp.quantize_multiplier(2.0**29, "single") == (HALF, 30)
    assert fp.quantize_multiplier(2.0**30, "single") == (MAX32, 30)


def test_quantize_multiplier_variants():
    assert fp.quantize_multiplier_smaller_than_one_exp(0.375) == (3 * 2**29, -1)
    assert fp.quantize_multiplier_smaller_than_one_exp(0.0) == (0, 0)
    assert fp.quantize_multiplier_greater_than_one(3.0) == (3 * 2**29, 2)
    with pytest.raises(PrepareError, match="must be in"):
        fp.quantize_multiplier_smaller_than_one_exp(1.0)
    with pytest.raises(PrepareError, match=r"rounds to 1\.0"):
        fp.quantize_multiplier_smaller_than_one_exp(1 - 2.0**-33)
    with pytest.raises(PrepareError, match="greater than 1"):
        fp.quantize_multiplier_greater_than_one(1.0)
    with pytest.raises(PrepareError, match="not finite"):
        fp.quantize_multiplier(float("nan"))
    multipliers, shifts = fp.quantize_multiplier_array([0.5, 0.25, 2.0**-40])
    assert multipliers.dtype == np.int32 and shifts.dtype == np.int32
    assert multipliers.tolist() == [HALF, HALF, 0] and shifts.tolist() == [0, -1, 0]


def test_downscale_int32_to_int16_multiplier():
    assert fp.downscale_int32_to_int16_multiplier(HALF) == 2**14
    assert fp.downscale_int32_to_int16_multiplier(HALF + 2**15) == 2**14 + 1  # ties up
    assert fp.downscale_int32_to_int16_multiplier(HALF + 2**15 - 1) == 2**14
    assert fp.downscale_int32_to_int16_multiplier(MAX32 - 2**15) == 32767  # saturates
    assert fp.downscale_int32_to_int16_multiplier(MAX32 - 2**15 - 1) == 32767  # rounds up


# -- gemmlowp primitives -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "bits", "expected"),
    [
        (MIN32, MIN32, 32, MAX32),  # the one overflow: saturated
        (MIN32, MAX32, 32, -MAX32),  # -(2^31 - 1) exactly
        (MAX32, MAX32, 32, MAX32 - 1),  # (2^31-1)^2 / 2^31 = 2^31 - 2 + 2^-31
        (HALF, HALF, 32, 2**29),  # 0.5 * 0.5
        (1, HALF, 32, 1),  # 0.5 rounds up
        (-1, HALF, 32, 0),  # -0.5 rounds up too (gemmlowp's negative nudge)
        (3, HALF, 32, 2),  # 1.5 -> 2
        (-3, HALF, 32, -1),  # -1.5 -> -1
        (0, MIN32, 32, 0),
        (-32768, -32768, 16, 32767),
        (16384, 16384, 16, 8192),
        (1, 16384, 16, 1),
        (-1, 16384, 16, 0),
    ],
)
def test_saturating_rounding_doubling_high_mul(a, b, bits, expected):
    assert fp.saturating_rounding_doubling_high_mul(a, b, bits) == expected
    assert cy.saturating_rounding_doubling_high_mul(a, b, bits) == expected


@pytest.mark.parametrize(
    ("x", "exponent", "bits", "expected"),
    [
        (7, 0, 32, 7),  # shift 0 is the identity
        (5, 1, 32, 3),  # 2.5 -> 3
        (-5, 1, 32, -3),  # -2.5 -> -3: ties away from zero
        (-4, 1, 32, -2),
        (6, 2, 32, 2),  # 1.5 -> 2
        (-6, 2, 32, -2),  # -1.5 -> -2
        (-9, 2, 32, -2),  # negative remainders: -2.25
        (-10, 2, 32, -3),  # -2.5
        (-11, 2, 32, -3),  # -2.75
        (MIN32, 31, 32, -1),  # exponent 31
        (MAX32, 31, 32, 1),  # 0.99999 -> 1
        (2**30, 31, 32, 1),  # 0.5 -> 1
        (-(2**30), 31, 32, -1),  # -0.5 -> -1
        (2**30 - 1, 31, 32, 0),
        (-32768, 15, 16, -1),
        (-3, 1, 16, -2),
        # int16 with exponent > 15: the mask wraps to -1 in int16 as in C.
        (100, 20, 16, 1),
    ],
)
def test_rounding_divide_by_pot(x, exponent, bits, expected):
    assert fp.rounding_divide_by_pot(x, exponent, bits) == expected
    assert cy.rounding_divide_by_pot(x, exponent, bits) == expected


@pytest.mark.parametrize(
    ("x", "exponent", "bits", "expected"),
    [
        (2**29, 1, 32, 2**30),
        (2**30, 1, 32, MAX32),  # saturates above (2^30 - 1)
        (-(2**30), 1, 32, MIN32),
        (-(2**30) + 1, 1, 32, -(2**31) + 2),
        (5, -1, 32, 3),  # negative exponents round
        (1, 31, 32, MAX32),
        (0, 31, 32, 0),
        (16383, 1, 16, 32766),
        (16384, 1, 16, 32767),
    ],
)
def test_saturating_rounding_multiply_by_pot(x, exponent, bits, expected):
    assert fp.saturating_rounding_multiply_by_pot(x, exponent, bits) == expected
    assert cy.saturating_rounding_multiply_by_pot(x, exponent, bits) == expected


def test_int16_helpers_of_hard_swish():
    assert fp.saturating_left_shift_int16(20000, 1) == 32767
    assert fp.saturating_left_shift_int16(-20000, 1) == -32768
    assert fp.saturating_left_shift_int16(-3, 4) == -48
    # a*b / 2^15 truncated toward zero (no rounding): -1.5 -> -1, 1.5 -> 1.
    assert fp.saturating_doubling_high_mul_int16(3, 16384) == 1
    assert fp.saturating_doubling_high_mul_int16(-3, 16384) == -1
    assert fp.saturating_doubling_high_mul_int16(-32768, -32768) == 32767


# -- MultiplyByQuantizedMultiplier -------------------------------------------------------

MODES = fp.ROUNDING_MODES


@pytest.mark.parametrize(
    ("x", "multiplier", "shift", "expected"),
    [
        # x * 0.25 with ties: SRDHM then the shift differ per mode.
        (1, HALF, -1, {"double": 1, "single": 0, "double_up": 1, "floor_up": 0}),
        (-2, HALF, -1, {"double": -1, "single": 0, "double_up": 0, "floor_up": 0}),
        (-6, HALF, -1, {"double": -2, "single": -1, "double_up": -1, "floor_up": -1}),
        # 1.25: the classic double-rounding error (2.5 rounds up, then 1.5 rounds up).
        (5, HALF, -1, {"double": 2, "single": 1, "double_up": 2, "floor_up": 1}),
        # shift 0: x * 0.5, the high multiply's own rounding (floor_up truncates).
        (3, HALF, 0, {"double": 2, "single": 2, "double_up": 2, "floor_up": 1}),
        (-3, HALF, 0, {"double": -1, "single": -1, "double_up": -1, "floor_up": -2}),
        # shift 30: x << 30 fits; 2^30 * 0.5 * 2^30 / 2^30.
        (1, HALF, 30, dict.fromkeys(MODES, 2**29)),
        # shift -31 with the largest operands: (2^31-1)^2 / 2^62 ~ 1.
        # (floor_up's rounding shift saturates to INT32_MAX when x + nudge overflows.)
        (MAX32, MAX32, -31, {"double": 1, "single": 1, "double_up": 1, "floor_up": MAX32}),
        (MIN32, MAX32, -31, dict.fromkeys(MODES, -1)),
        # INT32_MIN * INT32_MIN saturates in the doubling high multiply.
        (
            MIN32,
            MIN32,
            0,
            {"double": MAX32, "single": MIN32, "double_up": MAX32, "floor_up": MIN32},
        ),
        # the left shift overflows int32 and wraps like the C code (2^30 * 4 -> 0).
        (2**30, HALF, 2, {"double": 0, "single": MIN32, "double_up": 0, "floor_up": 0}),
    ],
)
def test_multiply_by_quantized_multiplier(x, multiplier, shift, expected):
    for mode in MODES:
        got = fp.multiply_by_quantized_multiplier(x, multiplier, shift, mode)
        assert got == expected[mode], mode
        assert cy.multiply_by_quantized_multiplier(x, multiplier, shift, mode) == got, mode


@pytest.mark.parametrize(
    ("real", "x", "expected"),
    [
        # 1.0 = (2^30, shift 1): the identity, even at the edges of int32 / 2.
        (
            1.0,
            [-(2**30), -3, 0, 3, 2**30 - 1],
            dict.fromkeys(MODES, (-(2**30), -3, 0, 3, 2**30 - 1)),
        ),
        # 0.5 = (2^30, shift 0): no second rounding; floor_up truncates.
        (
            0.5,
            [-3, 3],
            {"double": [-1, 2], "single": [-1, 2], "double_up": [-1, 2], "floor_up": [-2, 1]},
        ),
        # 2^-31 = (2^30, shift -30): +-0.5 ties; -1.0 exact; 0.99999 -> 1.
        (
            2.0**-31,
            [2**30, -(2**30), MIN32, MAX32],
            {
                "double": [1, -1, -1, 1],
                "single": [1, 0, -1, 1],
                "double_up": [1, 0, -1, 1],
                "floor_up": [1, 0, -1, 1],
            },
        ),
    ],
)
def test_exact_multipliers(real, x, expected):
    for mode in MODES:
        multiplier, shift = fp.quantize_multiplier(real, mode)
        got = fp.multiply_by_quantized_multiplier(np.array(x), multiplier, shift, mode)
        assert got.tolist() == list(expected[mode]), mode


def test_multiply_by_quantized_multiplier_variants_and_checks():
    x = np.arange(-20, 20)
    per_channel = fp.multiply_by_quantized_multiplier(
        x.reshape(2, 20), [[HALF], [HALF]], [[0], [-1]]
    )
    assert per_channel.dtype == np.int32 and per_channel.shape == (2, 20)
    smaller = fp.multiply_by_quantized_multiplier_smaller_than_one_exp(x, HALF, -2)
    assert np.array_equal(smaller, fp.multiply_by_quantized_multiplier(x, HALF, -2))
    greater = fp.multiply_by_quantized_multiplier_greater_than_one(x, HALF, 3)
    assert np.array_equal(greater, x * 4)
    with pytest.raises(ValueError, match="left_shift <= 0"):
        fp.multiply_by_quantized_multiplier_smaller_than_one_exp(x, HALF, 1)
    with pytest.raises(ValueError, match="left_shift >= 0"):
        fp.multiply_by_quantized_multiplier_greater_than_one(x, HALF, -1)
    with pytest.raises(ValueError, match=r"\[-31, 30\]"):
        fp.multiply_by_quantized_multiplier(x, HALF, 31)
    with pytest.raises(ValueError, match="outside int32"):
        fp.multiply_by_quantized_multiplier(2**31, HALF, 0)
    with pytest.raises(ValueError, match="rounding"):
        fp.multiply_by_quantized_multiplier(1, HALF, 0, "nearest")
    assert fp.rounding_code("floor_up") == 3


def test_multiply_by_quantized_multiplier_int64():
    # The multiplier is first rounded to Q15: 2^30 -> 2^14, total shift 15 - shift.
    assert fp.multiply_by_quantized_multiplier_int64(2**40, HALF, -10) == 2**29
    assert fp.multiply_by_quantized_multiplier_int64(3, HALF, 0) == 2  # 1.5 -> 2
    assert fp.multiply_by_quantized_multiplier_int64(-3, HALF, 0) == -1  # -1.5 -> -1: ties up
    # multipliers >= 0x7FFF0000 become 0x7FFF: (2^35 - 2^20 + 2^14) >> 15.
    assert fp.multiply_by_quantized_multiplier_int64(2**20, MAX32, 0) == 2**20 - 32
    assert cy.multiply_by_quantized_multiplier_int64(2**20, MAX32, 0) == 2**20 - 32
    with pytest.raises(ValueError, match="outside int48"):
        fp.multiply_by_quantized_multiplier_int64(2**47, HALF, 0)
    with pytest.raises(ValueError, match="shift in"):
        fp.multiply_by_quantized_multiplier_int64(1, HALF, 8)


def test_multiply_by_real_multiplier_rounds_half_away_from_zero():
    assert fp.multiply_by_real_multiplier([1, -1, 3, -3, 2], 0.5).tolist() == [1, -1, 2, -2, 1]
    assert fp.round_half_away_from_zero(np.float32(0.49999997)) == 0  # not 0.5 + x rounding
    assert fp.round_half_away_from_zero(np.float32(-2.5)) == -3


# -- gemmlowp functions ------------------------------------------------------------------


def test_fixed_point_basics():
    assert fm.fixed_one(0) == MAX32 and fm.fixed_one(3) == 2**28 and fm.fixed_one(0, 16) == 32767
    assert fm.fixed_constant(1 << 30, 16) == 1 << 14  # constants are rounded to 16 bits
    assert fm.fixed_from_double(-8.0, 3) == MIN32 and fm.fixed_from_double(8.0, 3) == MAX32
    assert fm.fixed_to_double(2**28, 3) == 1.0
    assert fm.rescale(2**28, 3, 0) == MAX32  # 1.0 saturates in Q0
    assert fm.rescale(2**28, 3, 5) == 2**26
    assert fm.rounding_half_sum(3, 4) == 4 and fm.rounding_half_sum(-3, -4) == -4
    assert fm.fixed_mul(2**28, 2**28) == 2**25  # Q3 * Q3 -> Q6: 1.0 * 1.0


def test_exp_logistic_tanh_fixed_values():
    assert fm.exp_on_negative_values(0, 5) == MAX32  # exp(0) = One
    assert fm.logistic(0, 4) == HALF and fm.tanh(0, 4) == 0
    assert fm.logistic(0, 3, bits=16) == 2**14 and fm.tanh(0, 3, bits=16) == 0
    # Below -32 (integer bits > 5) exp is clamped to exactly zero.
    assert fm.exp_on_negative_values(fm.fixed_from_double(-33.0, 6), 6) == 0
    assert fm.one_over_one_plus_x_for_x_in_0_1(0) >= MAX32 - 2  # 1/(1+0)
    assert abs(int(fm.one_over_one_plus_x_for_x_in_0_1(MAX32)) - HALF) <= 8  # 1/(1+1)


@pytest.mark.parametrize(("bits", "integer_bits"), [(32, 0), (32, 4), (32, 5), (16, 0), (16, 3)])
def test_exp_logistic_tanh_accuracy(bits, integer_bits):
    x = np.linspace(-(2.0**integer_bits), 2.0**integer_bits, 4001)[:-1]
    raw = fm.fixed_from_double(x, integer_bits, bits)
    real = fm.fixed_to_double(raw, integer_bits, bits)
    tolerance = 4e-7 if bits == 32 else 4e-4

    def value(result):
        return fm.fixed_to_double(result, 0, bits)

    negative = real <= 0
    exp = value(fm.exp_on_negative_values(raw[negative], integer_bits, bits))
    assert np.abs(exp - np.exp(real[negative])).max() < tolerance
    logistic = value(fm.logistic(raw, integer_bits, bits))
    assert np.abs(logistic - 1 / (1 + np.exp(-real))).max() < tolerance
    if integer_bits + 1 <= bits - 3:
        assert np.abs(value(fm.tanh(raw, integer_bits, bits)) - np.tanh(real)).max() < tolerance


def test_log_reciprocal_inverse_sqrt():
    x = np.linspace(1.0, 4095.0, 3001)
    raw = fm.fixed_from_double(x, 12)
    log = fm.fixed_to_double(fm.log_x_for_x_greater_than_or_equal_to_1(raw, 12, 5), 5)
    assert np.abs(log - np.log(fm.fixed_to_double(raw, 12))).max() < 1e-7
    mantissa, over = fm.get_reciprocal(raw, 12)
    reciprocal = fm.fixed_to_double(mantissa, 0) * np.exp2(-over.astype(np.float64))
    assert np.abs(reciprocal * fm.fixed_to_double(raw, 12) - 1).max() < 1e-8
    assert fm.get_reciprocal(2**19, 12)[1] == 0  # 1.0 in Q12: no bits over unit
    values = np.array([2, 3, 4, 1000, 2**29, MAX32])
    multiplier, shift = fm.get_inv_sqrt_quantized_multiplier_exp(values, -1)
    estimate = multiplier * np.exp2(shift.astype(np.float64)) / 2**31
    assert np.abs(estimate * np.sqrt(values) - 1).max() < 2e-6
    assert fm.get_inv_sqrt_quantized_multiplier_exp(1, -1) == (MAX32, 0)
    assert fm.get_inv_sqrt_quantized_multiplier_exp(0, -1) == (MAX32, 0)
    with pytest.raises(ValueError, match="positive"):
        fm.log_x_for_x_greater_than_or_equal_to_1(0, 12, 5)
    with pytest.raises(ValueError, match="too small"):
        fm.log_x_for_x_greater_than_or_equal_to_1(2**19, 12, 3)


def test_count_leading_zeros():
    assert fm.count_leading_zeros32([0, 1, 2**19, MAX32, -1, MIN32]).tolist() == [
        32,
        31,
        12,
        1,
        0,
        0,
    ]


def test_softmax_prepare_helpers():
    assert fm.calculate_input_radius(5, 20) == 31 * 2**26 // 2**20  # 1984
    assert fm.calculate_input_radius(4, 10, 15) == 15 * 2**11 // 2**10
    assert fm.checked_log2(0.25) == (True, -2)
    assert fm.checked_log2(2.0**-15) == (True, -15)
    assert fm.checked_log2(0.3) == (False, -2)
    assert fm.checked_log2(0.0) == (False, 0)
    # beta * scale * 2^(31 - 5) = 2^22 -> frexp (0.5, 23).
    assert fm.preprocess_softmax_scaling(1.0, 1 / 16, 5) == (HALF, 23)
    # capped at 2^31 - 1 (2^30 - 1 with single rounding).
    assert fm.preprocess_softmax_scaling(1.0, 100.0, 5) == (MAX32, 31)
    assert fm.preprocess_softmax_scaling(1.0, 100.0, 5, "single") == (MAX32 - 1, 30)
    multiplier, left, divisor, reverse = fm.preprocess_log_softmax_scaling_exp(1.0, 1 / 16, 5)
    assert (multiplier, left) == (HALF, 23)
    # reverse = 2^(31 - 23) / 2^30 = 2^-22 -> (2^30, -21)
    assert (divisor, reverse) == (HALF, -21)
    with pytest.raises(PrepareError):
        fm.preprocess_softmax_scaling(1.0, 1e-9, 5)
