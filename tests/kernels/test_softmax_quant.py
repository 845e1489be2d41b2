"""Quantized SOFTMAX and LOG_SOFTMAX against the official runtime, bit-exact.

8-bit inputs take TFLite's float-table kernel (int8 -> int8/int16, uint8 ->
uint8/int16, any beta); int16 SOFTMAX its two fixed int16 tables; LOG_SOFTMAX the
float-table kernel too. Rows repeat the maximum and hit the clamps.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import SoftmaxOptions
from tests.kernels._quant_helpers import (
    Quantized,
    check_forced,
    full_range,
    oracle_and_ours_refuse,
    our_error,
    qcheck,
)

pytestmark = pytest.mark.oracle

SHAPES = [(16, 33), (5,), (2, 3, 17), (1, 1000)]
# (input type, zero point, output type, output scale, output zero point)
SOFTMAX_TYPES = [
    (np.int8, 11, np.int8, 1 / 256, -128),
    (np.int8, -40, np.int16, 1 / 65536, -32768),
    (np.uint8, 140, np.uint8, 1 / 256, 0),
    (np.uint8, 100, np.int16, 1 / 32768, 0),
    (np.int16, 0, np.int16, 1 / 32768, 0),
]


def _rows(rng, shape, dtype):
    x = full_range(rng, shape, dtype)
    x.reshape(-1)[:3] = np.iinfo(dtype).max  # a repeated row maximum
    return x


@pytest.mark.parametrize("types", SOFTMAX_TYPES, ids=lambda t: f"{t[0].__name__}-{t[2].__name__}")
@pytest.mark.parametrize("beta", [1.0, 0.37, 2.5])
def test_softmax(types, beta):
    in_type, zero_point, out_type, out_scale, out_zero = types
    rng = np.random.default_rng(int(beta * 100))
    for shape, scale in zip(SHAPES, [0.02, 0.1, 0.75, 0.003]):
        if in_type == np.int16:
            scale /= 100
        x = Quantized(_rows(rng, shape, in_type), quant(scale, zero_point))
        qcheck(Op.SOFTMAX, [x], out_type, quant(out_scale, out_zero), SoftmaxOptions(beta=beta))


@pytest.mark.parametrize(("dtype", "zero_point"), [(np.int8, 127), (np.uint8, 255)])
@pytest.mark.parametrize("scale", [0.03, 0.2, 1.5, 0.004])
def test_log_softmax(dtype, zero_point, scale):
    rng = np.random.default_rng(int(scale * 1000))
    for shape in SHAPES:
        x = Quantized(_rows(rng, shape, dtype), quant(scale, zero_point - 130))
        qcheck(Op.LOG_SOFTMAX, [x], dtype, quant(16 / 256, zero_point))


def test_forced_rounding_int16():
    rng = np.random.default_rng(5)
    x = Quantized(_rows(rng, (8, 40), np.int16), quant(1.7e-3))
    check_forced(Op.SOFTMAX, [x], np.int16, quant(1 / 32768), SoftmaxOptions(beta=1.0))


def test_output_parameter_rules():
    x = Quantized(np.zeros((2, 5), np.int8), quant(0.1, 0))
    official, ours = oracle_and_ours_refuse(
        Op.SOFTMAX, [x], np.int8, quant(1 / 256, 0), SoftmaxOptions(beta=1.0)
    )
    assert "zero_point" in official and "zero point -128" in str(ours)
    official, ours = oracle_and_ours_refuse(Op.LOG_SOFTMAX, [x], np.int8, quant(0.1, 127))
    assert "16.0 / 256" in official and "16/256" in str(ours)
    x16 = Quantized(np.zeros((2, 5), np.int16), quant(0.001))
    official, ours = oracle_and_ours_refuse(
        Op.SOFTMAX, [x16], np.int16, quant(1 / 30000), SoftmaxOptions(beta=1.0)
    )
    assert "1/32768" in str(ours)


def test_rank_and_type_rules():
    x16 = Quantized(np.zeros((1, 1, 1, 1, 5), np.int16), quant(0.001))
    error = our_error(Op.SOFTMAX, [x16], np.int16, quant(1 / 32768), SoftmaxOptions(beta=1.0))
    assert "ranks 1 to 4" in str(error)
    x = Quantized(np.zeros((2, 5), np.int8), quant(0.1, 0))
    error = our_error(Op.SOFTMAX, [x], np.uint8, quant(1 / 256, 0), SoftmaxOptions(beta=1.0))
    assert "int8 or int16" in str(error)
