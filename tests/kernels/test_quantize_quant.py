"""QUANTIZE from integer inputs (requantize) against the official runtime, bit-exact.

8-bit -> 8-bit runs TFLite's 16-element SIMD blocks ("double_up" rounding) and a
scalar tail ("double"); sizes with and without a tail and tie-heavy scale ratios
check both. int16 / int32 inputs run the scalar form.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from tests.kernels._elementwise_helpers import single_op_model
from tests.kernels._quant_helpers import (
    Quantized,
    check_forced,
    full_range,
    oracle_and_ours_refuse,
    q,
    qcheck,
    run_forced,
)
from tests.oracle import run_litert

pytestmark = pytest.mark.oracle

PAIRS = [
    (np.int8, np.int8),
    (np.int8, np.uint8),
    (np.int8, np.int16),
    (np.uint8, np.int16),
    (np.uint8, np.int8),
    (np.uint8, np.uint8),
    (np.int16, np.int16),
    (np.int16, np.int8),
    (np.int16, np.int32),
    (np.int32, np.int8),
    (np.int32, np.int16),
]
PARAMS = [(0.5, 3, 2.0, -1), (0.037, -5, 0.013, 7), (1.0, 0, 0.5, 0), (0.001, 0, 0.00037, 0)]


def _input(rng, n, dtype):
    if dtype == np.int32:
        return rng.integers(-100000, 100001, n).astype(np.int32)
    return full_range(rng, (n,), dtype)


@pytest.mark.parametrize(("din", "dout"), PAIRS, ids=lambda t: t.__name__)
def test_requantize(din, dout):
    rng = np.random.default_rng(np.dtype(din).itemsize * 10 + np.dtype(dout).itemsize)
    for s_in, z_in, s_out, z_out in PARAMS:
        for n in (256, 37, 5):
            x = Quantized(_input(rng, n, din), q(din, s_in, z_in))
            qcheck(Op.QUANTIZE, [x], dout, q(dout, s_out, z_out))


def test_simd_blocks_round_ties_up():
    """Ties of the rescale go up in the 16-element blocks and away from zero in the tail."""
    x = np.arange(-128, 128).astype(np.int8)[np.r_[0:256, 0:7]]
    operands = [Quantized(x, quant(0.5, 3))]
    want = qcheck(Op.QUANTIZE, operands, np.int8, quant(2.0, -1))
    model, feed = single_op_model(Op.QUANTIZE, operands, np.int8, None, 1, None, quant(2.0, -1))
    assert not np.array_equal(run_forced(model, feed, "double", True), want)
    assert np.array_equal(run_litert(model, feed, reference_kernels=True)[0][256:], want[256:])


def test_forced_rounding_agrees():
    rng = np.random.default_rng(3)
    for din, dout in [(np.int8, np.uint8), (np.int16, np.int16), (np.int16, np.int8)]:
        x = Quantized(full_range(rng, (300,), din), q(din, 0.037, 3))
        check_forced(Op.QUANTIZE, [x], dout, q(dout, 0.011, -7))


def test_rules():
    x = Quantized(np.zeros(4, np.uint8), quant(0.1, 3))
    official, ours = oracle_and_ours_refuse(Op.QUANTIZE, [x], np.int32, quant(0.1))
    assert "output->type" in official and "uint8 -> int8, uint8, int16" in str(ours)
    x16 = Quantized(np.zeros(4, np.int16), quant(0.1, 3))
    official, ours = oracle_and_ours_refuse(Op.QUANTIZE, [x16], np.int16, quant(0.1))
    assert "zero_point" in official and "zero point 3" in str(ours)
