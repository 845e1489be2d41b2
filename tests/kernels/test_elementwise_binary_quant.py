"""Quantized ADD SUB MUL SQUARED_DIFFERENCE MAXIMUM MINIMUM against the official runtime.

Bit-exact (oracle == numpy reference == Cython kernel) over int8, uint8 and int16,
broadcast shapes that exercise every path of TFLite's optimized kernels (plain
elementwise with SIMD tails, the five-fold broadcast with elementwise and
scalar-operand runs, the generic fallback), scales whose rounding forms disagree,
and the fused activations.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import AddOptions, MulOptions, SubOptions
from tests.kernels._elementwise_helpers import single_op_model
from tests.kernels._quant_helpers import (
    Quantized,
    check_forced,
    full_range,
    oracle_and_ours_refuse,
    our_error,
    q,
    qcheck,
    run_forced,
)
from tests.oracle import run_litert

pytestmark = pytest.mark.oracle

OPTIONS = {Op.ADD: AddOptions, Op.SUB: SubOptions, Op.MUL: MulOptions}
# (shape a, shape b): plain elementwise with a SIMD tail, five-fold broadcasts with
# elementwise runs (y4 > 1) and scalar-operand runs (y4 == 1) from either side, a
# scalar operand, and a broadcast that does not fold (generic fallback).
SHAPES = [
    ((37,), (37,)),
    ((2, 3, 21), (2, 3, 21)),
    ((2, 3, 20), (1, 1, 20)),
    ((1, 1, 20), (2, 3, 20)),
    ((2, 3, 19), (2, 3, 1)),
    ((3, 40), (40,)),
    ((1,), (50,)),
    ((2, 33, 1), (1, 1, 1)),
    ((4, 1, 5, 1), (1, 3, 1, 6)),
]
# (scales, zero points): generic scales, one tiny input scale, and a tiny output
# scale that pushes the SIMD paths into their int16 narrowing.
PARAMS = [
    ((0.037, 0.041, 0.3), (3, -2, 1)),
    ((0.5, 0.013, 0.07), (0, 5, -7)),
    ((0.5, 0.5, 0.0013), (3, -2, 1)),
]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("op", [Op.ADD, Op.SUB, Op.MUL])
def test_arithmetic(op, dtype, shapes):
    rng = np.random.default_rng(SHAPES.index(shapes) * 1000 + int(op))
    for i, (scales, zero_points) in enumerate(PARAMS):
        act = [Act.NONE, Act.RELU, Act.RELU6, Act.RELU_N1_TO_1][(i + len(shapes[0])) % 4]
        a = Quantized(full_range(rng, shapes[0], dtype), q(dtype, scales[0], zero_points[0]))
        b = Quantized(full_range(rng, shapes[1], dtype), q(dtype, scales[1], zero_points[1]))
        out = q(dtype, scales[2], zero_points[2])
        qcheck(op, [a, b], dtype, out, OPTIONS[op](fused_activation_function=act))


def _all_pairs(dtype):
    info = np.iinfo(dtype)
    values = np.arange(info.min, info.max + 1).astype(dtype)
    return np.repeat(values, len(values)), np.tile(values, len(values))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("op", [Op.ADD, Op.MUL])
def test_all_pairs_and_simd_forms(op, dtype):
    """Every input pair (+ a tail), in a case where TFLite's SIMD and scalar loops disagree.

    The reference arithmetic alone (forced "double") must miss the oracle somewhere,
    so the per-element forms are what makes us exact.
    """
    a, b = _all_pairs(dtype)
    a, b = np.append(a, a[:11]), np.append(b, b[:11])  # 11 elements for the scalar tail
    scales, zero_points = ((0.037, 0.041, 0.3), (3, -2, 1)) if op == Op.ADD else PARAMS[2]
    operands = [
        Quantized(a, q(dtype, scales[0], zero_points[0])),
        Quantized(b, q(dtype, scales[1], zero_points[1])),
    ]
    out = q(dtype, scales[2], zero_points[2])
    want = qcheck(op, operands, dtype, out, OPTIONS[op]())
    model, feed = single_op_model(op, operands, dtype, OPTIONS[op](), 1, None, out)
    assert not np.array_equal(run_forced(model, feed, "double", False), want)


def test_squared_difference():
    rng = np.random.default_rng(7)
    for (sa, sb), (scales, zero_points) in zip(SHAPES, PARAMS * 3):
        a = Quantized(full_range(rng, sa, np.int8), q(np.int8, scales[0], zero_points[0]))
        b = Quantized(full_range(rng, sb, np.int8), q(np.int8, scales[1], zero_points[1]))
        out = q(np.int8, scales[2] * 20, zero_points[2])
        qcheck(Op.SQUARED_DIFFERENCE, [a, b], np.int8, out)


@pytest.mark.parametrize("op", [Op.ADD, Op.SUB])
@pytest.mark.parametrize(
    "scales",
    [(2**-10, 2**-12, 2**-10), (2**-12, 2**-10, 2**-10), (2**-11, 2**-11, 2**-11)],
    ids=str,
)
@pytest.mark.parametrize("pot", [True, False])
def test_int16_power_of_two_scales(op, scales, pot):
    """pot_scale_int16 selects TFLite's LSTM path (rounding shift + saturating add)."""
    rng = np.random.default_rng(8)
    shapes = [((64,), (64,))] if op == Op.ADD and pot else [((64,), (64,)), ((2, 3, 20), (20,))]
    for sa, sb in shapes:
        a = Quantized(full_range(rng, sa, np.int16), quant(scales[0]))
        b = Quantized(full_range(rng, sb, np.int16), quant(scales[1]))
        options = OPTIONS[op](fused_activation_function=Act.RELU, pot_scale_int16=pot)
        qcheck(op, [a, b], np.int16, quant(scales[2]), options)


@pytest.mark.parametrize("op", [Op.MAXIMUM, Op.MINIMUM])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16])
def test_maximum_minimum_pick_raw_values(op, dtype):
    rng = np.random.default_rng(9)
    params = q(dtype, 0.02, 5)
    a = Quantized(full_range(rng, (3, 17), dtype), params)
    b = Quantized(full_range(rng, (17,), dtype), params)
    qcheck(op, [a, b], dtype, params, version=2)


FORCED = [
    (op, dtype) for op in (Op.ADD, Op.SUB, Op.MUL) for dtype in (np.int8, np.uint8, np.int16)
] + [(Op.SQUARED_DIFFERENCE, np.int8)]


@pytest.mark.parametrize(("op", "dtype"), FORCED)
def test_forced_rounding(op, dtype):
    """rounding="double"/"single": the reference and the optimized kernel agree."""
    a, b = _all_pairs(np.int8)
    if dtype != np.int8:
        rng = np.random.default_rng(10)
        a, b = full_range(rng, (4099,), dtype), full_range(rng, (4099,), dtype)
    operands = [Quantized(a, q(dtype, 0.037, 3)), Quantized(b, q(dtype, 0.041, -2))]
    options = OPTIONS[op]() if op in OPTIONS else None
    results = check_forced(op, operands, dtype, q(dtype, 0.3, 1), options)
    if dtype != np.int16:
        assert not np.array_equal(results["single"], results["double"])


# -- bad input ------------------------------------------------------------------------------


def test_parameter_errors_name_the_tensor_and_rule():
    x = np.zeros((2, 3), np.int8)
    good = quant(0.1, 0)
    cases = [
        ([Quantized(x, good), Quantized(x, quant(0.0, 0))], good, "scale 0.0"),
        ([Quantized(x, good), Quantized(x, quant(-0.5, 0))], good, "scales must be > 0"),
        ([Quantized(x, good), Quantized(x, quant(0.1, 300))], good, "outside int8"),
        ([Quantized(x, quant([0.1, 0.2, 0.3], 0, axis=1)), Quantized(x, good)], good, "3 scales"),
        ([Quantized(x, good), Quantized(x, good)], quant(1e-9, 0), "below 1"),
    ]
    for operands, out, message in cases:
        error = our_error(Op.ADD, operands, np.int8, out, AddOptions())
        assert message in str(error), str(error)
    error = our_error(Op.SQUARED_DIFFERENCE, [Quantized(x, good)] * 2, np.int8, quant(1e-6))
    assert "output rescale factor" in str(error) and "below 1" in str(error)
    error = our_error(Op.ADD, [Quantized(x, good), x], np.int8, good, AddOptions())
    assert "'x1'" in str(error) and "no quantization parameters" in str(error)


def test_int16_rules_match_the_official_runtime():
    x = np.zeros((64,), np.int16)
    official, ours = oracle_and_ours_refuse(
        Op.ADD, [Quantized(x, quant(0.001, 5)), Quantized(x, quant(0.002))], np.int16,
        quant(0.003), AddOptions(pot_scale_int16=False),
    )  # fmt: skip
    assert "zero_point" in official and "zero point 5" in str(ours)
    pot = [Quantized(x, quant(2**-10)), Quantized(x, quant(2**-10))]
    official, ours = oracle_and_ours_refuse(Op.SUB, pot, np.int16, quant(2**-11), SubOptions())
    assert "input1_shift" in official and "power-of-two" in str(ours)
    official, ours = oracle_and_ours_refuse(
        Op.MUL, [Quantized(x, quant(0.001, 1)), Quantized(x, quant(0.002))], np.int16,
        quant(0.003), MulOptions(),
    )  # fmt: skip
    assert "input1_offset" in official and "zero point 1" in str(ours)


def test_pot_int16_add_does_not_broadcast():
    a = Quantized(np.zeros((2, 8), np.int16), quant(2**-10))
    b = Quantized(np.zeros((8,), np.int16), quant(2**-12))
    error = our_error(Op.ADD, [a, b], np.int16, quant(2**-10), AddOptions(pot_scale_int16=True))
    assert isinstance(error, PrepareError) and "cannot broadcast" in str(error)


def test_oracle_runs_the_simd_forms():
    """The evidence behind the forms: ADD int8 over all pairs misses plain "double"."""
    a, b = _all_pairs(np.int8)
    operands = [Quantized(a, q(np.int8, 0.037, 3)), Quantized(b, q(np.int8, 0.041, -2))]
    model, feed = single_op_model(Op.ADD, operands, np.int8, AddOptions(), 1, None, q(np.int8, 0.3))
    official = run_litert(model, feed)[0]
    assert np.array_equal(run_forced(model, feed, "tflite", True), official)
    assert not np.array_equal(run_forced(model, feed, "double", True), official)


def test_int16_add_simd_form():
    """int16 ADD without broadcasting runs a SIMD loop on blocks of 16 (one shift before
    the multiply). With scales from a 16x8 MobileNetV2, these (rare) pairs round
    differently there than in plain "double"; they appear in a block and in the tail.
    """
    a = [14197, -28534, 14309, -84, -28534, -14197, -14309, -28534, 84, 14197, 84, 28534]
    b = [-16381, 18554, 8481, -19736, 9238, 23750, 6628, 23251, 26587, -18174, 26465, -18045]
    rng = np.random.default_rng(11)
    a16 = np.concatenate([a, full_range(rng, (20,), np.int16), a]).astype(np.int16)
    b16 = np.concatenate([b, full_range(rng, (20,), np.int16), b]).astype(np.int16)
    operands = [Quantized(a16, quant(0.00027419)), Quantized(b16, quant(0.00026938))]
    options = AddOptions(pot_scale_int16=False)
    want = qcheck(Op.ADD, operands, np.int16, quant(0.00026938), options)
    model, feed = single_op_model(Op.ADD, operands, np.int16, options, 1, None, quant(0.00026938))
    double = run_forced(model, feed, "double", False)
    assert not np.array_equal(double[:32], want[:32])  # the SIMD blocks
    assert np.array_equal(double[32:], want[32:])  # the scalar tail
