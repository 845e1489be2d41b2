"""The Cython twin of the fixed-point toolkit (_fixedpoint) equals the numpy one.

Large random arrays with the extreme values first, every rounding mode, int32 and
int16 raw types, every legal number of integer bits.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels import _fixedpoint as cy
from edgelite.interpreter.kernels import fixedpoint as fp
from edgelite.interpreter.kernels import fixedpoint_lut as fl
from edgelite.interpreter.kernels import fixedpoint_math as fm

MAX32 = 2**31 - 1
MODES = fp.ROUNDING_MODES


def _random(rng, bits, n):
    values = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), n)
    values[:6] = [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1, 0, -1, 1, -(2 ** (bits - 2))]
    return values


def _same(ours, theirs):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    mismatch = np.flatnonzero(ours.reshape(-1) != theirs.reshape(-1))
    assert not mismatch.size, f"{mismatch.size} differ, first at {mismatch[0]}"


@pytest.mark.parametrize("bits", [32, 16])
def test_cython_matches_numpy_primitives(bits):
    rng = np.random.default_rng(bits)
    a, b = _random(rng, bits, 100_000), _random(rng, bits, 100_000)
    _same(
        fp.saturating_rounding_doubling_high_mul(a, b, bits),
        cy.saturating_rounding_doubling_high_mul(a, b, bits),
    )
    exponent = rng.integers(0, 32, a.size)
    _same(
        fp.rounding_divide_by_pot(a, exponent, bits), cy.rounding_divide_by_pot(a, exponent, bits)
    )
    for e in range(-31, bits):
        _same(
            fp.saturating_rounding_multiply_by_pot(a[:3000], e, bits),
            cy.saturating_rounding_multiply_by_pot(a[:3000], e, bits),
        )


@pytest.mark.parametrize("rounding", MODES)
def test_cython_matches_numpy_multiply_by_quantized_multiplier(rounding):
    rng = np.random.default_rng(7)
    x = _random(rng, 32, 200_000)
    multiplier = rng.integers(0, 2**31, x.size)
    shift = rng.integers(-31, 31, x.size)
    _same(
        fp.multiply_by_quantized_multiplier(x, multiplier, shift, rounding),
        cy.multiply_by_quantized_multiplier(x, multiplier, shift, rounding),
    )
    x48, shift7 = rng.integers(-(2**47), 2**47, x.size), rng.integers(-31, 8, x.size)
    _same(
        fp.multiply_by_quantized_multiplier_int64(x48, multiplier, shift7),
        cy.multiply_by_quantized_multiplier_int64(x48, multiplier, shift7),
    )


@pytest.mark.parametrize("bits", [32, 16])
def test_cython_matches_numpy_functions(bits):
    rng = np.random.default_rng(bits + 1)
    a = _random(rng, bits, 30_000)
    names = (
        "exp_on_interval_between_negative_one_quarter_and_0_excl",
        "one_over_one_plus_x_for_x_in_0_1",
        "one_minus_x_over_one_plus_x_for_x_in_0_1",
    )
    for name in names:
        _same(getattr(fm, name)(a, bits), getattr(cy, name)(a, bits))
    for integer_bits in range(bits - 2):
        _same(
            fm.exp_on_negative_values(a, integer_bits, bits),
            cy.exp_on_negative_values(a, integer_bits, bits),
        )
        _same(fm.logistic(a, integer_bits, bits), cy.logistic(a, integer_bits, bits))
        if integer_bits <= bits - 4:
            _same(fm.tanh(a, integer_bits, bits), cy.tanh(a, integer_bits, bits))


def test_cython_matches_numpy_int32_functions():
    rng = np.random.default_rng(11)
    x = _random(rng, 32, 50_000)
    positive = np.clip(np.abs(x), 1, MAX32)
    for input_bits in (0, 1, 5, 12, 30):
        for output_bits in range(fm.min_log_x_output_bits(input_bits), 8):
            args = (positive, input_bits, output_bits)
            _same(
                fm.log_x_for_x_greater_than_or_equal_to_1(*args),
                cy.log_x_for_x_greater_than_or_equal_to_1(*args),
            )
    _same(fm.count_leading_zeros32(x), cy.count_leading_zeros32(x))
    for digits in (0, 12, 31):
        for ours, theirs in zip(fm.get_reciprocal(x, digits), cy.get_reciprocal(x, digits)):
            _same(ours, theirs)
    for reverse in (-1, 1):
        ours = fm.get_inv_sqrt_quantized_multiplier_exp(positive, reverse)
        theirs = cy.get_inv_sqrt_quantized_multiplier_exp(positive, reverse)
        for mine, other in zip(ours, theirs):
            _same(mine, other)
    a16, b16 = _random(rng, 16, 50_000), _random(rng, 16, 50_000)
    _same(
        fp.saturating_doubling_high_mul_int16(a16, b16),
        cy.saturating_doubling_high_mul_int16(a16, b16),
    )
    for amount in range(16):
        _same(
            fp.saturating_left_shift_int16(a16, amount), cy.saturating_left_shift_int16(a16, amount)
        )
    for lut in fl.softmax_int16_luts():
        _same(fl.lut_lookup_int16(a16, lut), cy.lut_lookup_int16(a16, lut))
