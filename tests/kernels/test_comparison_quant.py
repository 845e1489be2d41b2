"""Quantized LESS LESS_EQUAL GREATER GREATER_EQUAL EQUAL NOT_EQUAL against the official runtime.

int8 / uint8 inputs (and int16 inputs of EQUAL / NOT_EQUAL) are compared after
TFLite's rescale to a common scale, which can make different reals compare equal;
int16 ordering comparisons compare raw values. Bit-exact with the oracle.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from tests.kernels._quant_helpers import (
    Quantized,
    check_forced,
    full_range,
    our_error,
    q,
    qcheck,
)

pytestmark = pytest.mark.oracle

OPS = [Op.LESS, Op.LESS_EQUAL, Op.GREATER, Op.GREATER_EQUAL, Op.EQUAL, Op.NOT_EQUAL]
# (scale, zero point) of each side: different params, equal params with a tiny scale
# (many values collapse to one), and tiny int16-style scales.
PARAMS = [((0.013, 3), (0.011, -5)), ((0.00013, 0), (0.00013, 0)), ((1e-5, 0), (2e-5, 0))]
SHAPES = [((50,), (50,)), ((3, 1, 20), (1, 4, 20)), ((4, 5), ())]


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("op", OPS)
def test_quantized_comparisons(op, dtype):
    rng = np.random.default_rng(OPS.index(op) * 10 + np.dtype(dtype).itemsize)
    for (sa, sb), ((s1, z1), (s2, z2)) in zip(SHAPES, PARAMS):
        a = full_range(rng, sa, dtype)
        b = full_range(rng, sb, dtype)
        if sa == sb:
            b[::2] = a[::2]  # equal raw values too
        operands = [Quantized(a, q(dtype, s1, z1)), Quantized(b, q(dtype, s2, z2))]
        qcheck(op, operands, np.bool_, None)


def test_forced_rounding_agrees():
    rng = np.random.default_rng(3)
    a, b = full_range(rng, (999,), np.int8), full_range(rng, (999,), np.int8)
    operands = [Quantized(a, q(np.int8, 0.013, 3)), Quantized(b, q(np.int8, 0.011, -5))]
    check_forced(Op.LESS, operands, np.bool_, None)


def test_rejections():
    x = np.zeros((4,), np.int8)
    error = our_error(Op.LESS, [x, x], np.bool_, None)
    assert "without quantization parameters" in str(error)
    # Scales of 1 and above break TFLite's rescale (it aborts at exactly 1.0).
    error = our_error(
        Op.EQUAL, [Quantized(x, quant(2.0)), Quantized(x, quant(1.5))], np.bool_, None
    )
    assert "'x0'" in str(error) and "scales below 1" in str(error)
    unquantized = np.zeros((4,), np.int16)
    error = our_error(Op.NOT_EQUAL, [unquantized, unquantized], np.bool_, None)
    assert "needs quantization parameters" in str(error)


def test_bad_zero_point_refused():
    x = np.zeros((4,), np.int8)
    error = our_error(
        Op.LESS, [Quantized(x, quant(0.1, 200)), Quantized(x, quant(0.1))], np.bool_, None
    )
    assert "zero point 200" in str(error)


def test_int16_equal_rescales_like_the_runtime():
    """Two different int16 raws can be equal after the rescale, in both runtimes."""
    a = np.arange(-200, 200, dtype=np.int16)
    operands = [Quantized(a, quant(1e-5)), Quantized(a + 1, quant(1e-5))]
    want = qcheck(Op.EQUAL, operands, np.bool_, None)
    assert want.any()
