"""Quantized RELU RELU6 RELU_N1_TO_1 RELU_0_TO_1 LEAKY_RELU HARD_SWISH LOGISTIC TANH ELU
GELU PRELU against the official runtime, bit-exact, over every input value.

Also the evidence for the int16 LOGISTIC / TANH table: ``sigmoid_table_uint16`` is
recovered from the oracle's int16 TANH outputs and must equal our formula.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels._qactivation import sigmoid_table_uint16
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import GeluOptions, LeakyReluOptions
from tests.kernels._elementwise_helpers import Const, single_op_model
from tests.kernels._quant_helpers import (
    Quantized,
    check_forced,
    every_value,
    full_range,
    oracle_and_ours_refuse,
    our_error,
    q,
    qcheck,
)
from tests.oracle import run_litert

pytestmark = pytest.mark.oracle

# (input scale, input zp, output scale, output zp), zero points int8-style
PARAMS_8 = [
    (0.05, 3, 0.03, -20),
    (0.2, -60, 0.1, -110),
    (0.013, 0, 0.02, -128),
    (0.7, 100, 0.009, 5),
]
OPS_8 = [
    (Op.RELU, None, "iu"),
    (Op.RELU6, None, "iu"),
    (Op.RELU_N1_TO_1, None, "iu"),
    (Op.RELU_0_TO_1, None, "iu"),
    (Op.LEAKY_RELU, LeakyReluOptions(alpha=0.2), "iu"),
    (Op.LEAKY_RELU, LeakyReluOptions(alpha=-1.7), "iu"),
    (Op.HARD_SWISH, None, "iu"),
    (Op.TANH, None, "iu"),
    (Op.LOGISTIC, None, "iu"),
    (Op.ELU, None, "i"),
    (Op.GELU, GeluOptions(approximate=False), "iu"),
    (Op.GELU, GeluOptions(approximate=True), "iu"),
]


@pytest.mark.parametrize(("op", "options", "kinds"), OPS_8, ids=lambda v: getattr(v, "name", ""))
def test_8bit_every_value(op, options, kinds):
    for dtype in [t for t, k in ((np.int8, "i"), (np.uint8, "u")) if k in kinds]:
        for s_in, z_in, s_out, z_out in PARAMS_8:
            if op == Op.LOGISTIC:
                s_out, z_out = 1 / 256, -128
            x = Quantized(every_value(dtype, 2), q(dtype, s_in, z_in))
            qcheck(op, [x], dtype, q(dtype, s_out, z_out), options)


# int16: power-of-two input scales (gemmlowp) and others (the sigmoid table)
SCALES_16 = [2**-12, 2**-11, 2**-10, 1e-3, 3.3e-4, 5e-6, 0.01]


@pytest.mark.parametrize(
    ("op", "options"),
    [
        (Op.LOGISTIC, None),
        (Op.TANH, None),
        (Op.RELU, None),
        (Op.RELU6, None),
        (Op.LEAKY_RELU, LeakyReluOptions(alpha=0.3)),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_int16_every_value(op, options):
    x = every_value(np.int16)
    for s_in in SCALES_16:
        s_out = 2**-15 if op in (Op.LOGISTIC, Op.TANH) else s_in * 1.7
        qcheck(op, [Quantized(x, quant(s_in))], np.int16, quant(s_out), options)


def test_sigmoid_table_recovered_from_the_oracle():
    """int16 TANH at an input scale where the kernel's input is exactly 2 * x.

    Then inputs x = 128 j hit table entry j with no interpolation: the output is
    entry - 32768. The last entry follows from the interpolation towards it.
    """
    scale = np.float32(1 / 6144)
    while float(scale) * 12288.0 <= 2.0:  # the multiplier truncates to exactly 2^14
        scale = np.nextafter(scale, np.float32(np.inf))
    x = every_value(np.int16).reshape(-1)
    model, feed = single_op_model(Op.TANH, [Quantized(x, quant(float(scale)))], np.int16, None,
                                  1, None, quant(2**-15))  # fmt: skip
    out = run_litert(model, feed, reference_kernels=True)[0].astype(np.int64)
    recovered = out[np.searchsorted(x, np.arange(255) * 128)] + 32768
    table = sigmoid_table_uint16()
    assert np.array_equal(recovered, table[:255])
    top = x >= 254 * 128
    t = (x[top].astype(np.int64) - 254 * 128)[:128]
    last = ((table[254] << 8) + 2 * t * (table[255] - table[254]) - (1 << 23) + 128) >> 8
    assert np.array_equal(last, out[top][:128])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_prelu(dtype):
    rng = np.random.default_rng(4)
    cases = [((2, 5, 7), (7,)), ((2, 5, 7), (5, 1)), ((3, 40), (3, 40)), ((2, 3, 4, 5), (1, 1, 5))]
    for i, (shape, alpha_shape) in enumerate(cases):
        s_in, z_in, s_out, z_out = PARAMS_8[i]
        x = Quantized(full_range(rng, shape, dtype), q(dtype, s_in, z_in))
        alpha = full_range(rng, alpha_shape, dtype)
        operand = (
            Const(alpha, q(dtype, 0.01 * (i + 1), -3 * i))
            if i % 2
            else Quantized(alpha, q(dtype, 0.01 * (i + 1), -3 * i))
        )
        qcheck(Op.PRELU, [x, operand], dtype, q(dtype, s_out, z_out), out_shape=shape)


@pytest.mark.parametrize(
    ("op", "dtype"),
    [(Op.LEAKY_RELU, np.int8), (Op.RELU6, np.uint8), (Op.HARD_SWISH, np.int8), (Op.RELU, np.int16)],
)
def test_forced_rounding_agrees(op, dtype):
    options = LeakyReluOptions(alpha=0.37) if op == Op.LEAKY_RELU else None
    x = Quantized(every_value(dtype, 1), q(dtype, 0.037, 3))
    check_forced(op, [x], dtype, q(dtype, 0.011, -7), options)


# -- bad input ------------------------------------------------------------------------------


def test_output_scale_rules():
    x = Quantized(every_value(np.int8), quant(0.05, 3))
    official, ours = oracle_and_ours_refuse(Op.LOGISTIC, [x], np.int8, quant(0.01, -128))
    assert "1. / 256" in official and "1/256" in str(ours) and "'y'" in str(ours)
    x16 = Quantized(every_value(np.int16), quant(3e-4))
    official, ours = oracle_and_ours_refuse(Op.TANH, [x16], np.int16, quant(1e-3))
    assert "CheckedLog2" in official and "1/32768" in str(ours)
    official, ours = oracle_and_ours_refuse(Op.LOGISTIC, [x16], np.int16, quant(2**-15, 3))
    assert "zero point" in str(ours)


def test_type_and_parameter_rules():
    x = Quantized(every_value(np.uint8), quant(0.05, 3))
    official, ours = oracle_and_ours_refuse(Op.ELU, [x], np.uint8, quant(0.05, 3))
    assert "int8" in official and "supports int8" in str(ours)
    x16 = Quantized(every_value(np.int16), quant(0.05, 3))
    official, ours = oracle_and_ours_refuse(Op.RELU, [x16], np.int16, quant(0.05))
    assert "zero_point" in official and "zero point 3" in str(ours)
    bad = Quantized(every_value(np.int8), quant(0.0, 0))
    assert "scale" in str(our_error(Op.TANH, [bad], np.int8, quant(1 / 128)))
    tiny = Quantized(every_value(np.int8), quant(10.0, 0))
    error = our_error(Op.HARD_SWISH, [tiny], np.int8, quant(1e-6))
    assert "too small" in str(error)
