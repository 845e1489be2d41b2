"""ADD SUB MUL DIV SQUARED_DIFFERENCE POW MAXIMUM MINIMUM FLOOR_DIV FLOOR_MOD ADD_N
against the official runtime: dtypes x broadcasting (up to rank 6) x fused
activations, IEEE edge values, integer wrap-around and the runtime's own failures."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import AddOptions, DivOptions, MulOptions, SubOptions
from tests.kernels._elementwise_helpers import (
    SPECIAL,
    Const,
    Quantized,
    check,
    kernel_error,
    oracle_error,
)

pytestmark = pytest.mark.oracle

FUSED = {Op.ADD: AddOptions, Op.SUB: SubOptions, Op.MUL: MulOptions, Op.DIV: DivOptions}
ACTIVATIONS = [Act.NONE, Act.RELU, Act.RELU_N1_TO_1, Act.RELU6]
BROADCASTS = [
    ((2, 3, 4), (2, 3, 4)),
    ((2, 3, 4), ()),
    ((), (3, 1)),
    ((4,), (3, 1)),
    ((1, 3, 1, 5), (2, 1, 4, 1)),
    ((2, 1, 3, 1, 2), (1, 2, 1, 2, 2)),
    ((2, 1, 3, 1, 2, 2), (1, 2, 1, 2, 1, 2)),
]
# Highest version each op needs for rank-5/6 broadcasting or its dtypes.
VERSION = {
    Op.ADD: 4,
    Op.SUB: 4,
    Op.MUL: 5,
    Op.DIV: 2,
    Op.MAXIMUM: 3,
    Op.MINIMUM: 3,
    Op.SQUARED_DIFFERENCE: 1,
    Op.POW: 1,
    Op.FLOOR_DIV: 2,
    Op.FLOOR_MOD: 1,
}


def operands(rng, op, dtype, shape_a, shape_b):
    """Inputs that keep each op away from undefined ground (0 divisors, huge powers)."""
    if np.dtype(dtype).kind == "f":
        a = rng.uniform(-4, 4, shape_a).astype(dtype)
        b = rng.uniform(-4, 4, shape_b).astype(dtype)
        if op == Op.POW:
            a = np.abs(a)
    else:
        a = rng.integers(-50, 50, shape_a).astype(dtype)
        b = rng.integers(-9, 10, shape_b).astype(dtype)
        if op == Op.POW:
            b = np.abs(b) % 5
    if op in (Op.DIV, Op.FLOOR_DIV, Op.FLOOR_MOD):
        b = np.where(b == 0, 3, b).astype(dtype)
    return a, b


def run(op, a, b, activation=Act.NONE, version=None):
    options = FUSED[op](fused_activation_function=activation) if op in FUSED else None
    return check(op, [a, b], options=options, version=version or VERSION[op])


@pytest.mark.parametrize("shapes", BROADCASTS, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("op", list(VERSION), ids=lambda o: o.name)
def test_float_broadcast(op, shapes):
    rng = np.random.default_rng(1)
    a, b = operands(rng, op, np.float32, *shapes)
    run(op, a, b)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: a.name)
@pytest.mark.parametrize("op", list(FUSED), ids=lambda o: o.name)
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_fused_activation(op, activation, dtype):
    rng = np.random.default_rng(2)
    a, b = operands(rng, op, dtype, (3, 1, 5), (4, 1))
    run(op, a, b, activation)


INT_OPS = [
    (Op.ADD, np.int32),
    (Op.ADD, np.int64),
    (Op.ADD, np.int16),
    (Op.SUB, np.int32),
    (Op.SUB, np.int64),
    (Op.MUL, np.int32),
    (Op.MUL, np.int64),
    (Op.MUL, np.int16),
    (Op.MUL, np.uint32),
    (Op.DIV, np.int32),
    (Op.SQUARED_DIFFERENCE, np.int32),
    (Op.POW, np.int32),
    (Op.MAXIMUM, np.int32),
    (Op.MAXIMUM, np.int64),
    (Op.MAXIMUM, np.int16),
    (Op.MINIMUM, np.int32),
    (Op.MINIMUM, np.int64),
    (Op.FLOOR_DIV, np.int32),
    (Op.FLOOR_DIV, np.int16),
    (Op.FLOOR_DIV, np.int8),
    (Op.FLOOR_MOD, np.int32),
    (Op.FLOOR_MOD, np.int64),
    (Op.FLOOR_MOD, np.int16),
    (Op.FLOOR_MOD, np.int8),
]
# Versions that declare the integer variants (ADD int16 5, MUL int16/uint32 7, ...).
INT_VERSION = {
    (Op.ADD, np.int16): 5,
    (Op.MUL, np.int16): 7,
    (Op.MUL, np.uint32): 7,
    (Op.FLOOR_DIV, np.int16): 3,
    (Op.FLOOR_DIV, np.int8): 3,
    (Op.FLOOR_MOD, np.int16): 2,
    (Op.FLOOR_MOD, np.int8): 2,
}


@pytest.mark.parametrize(("op", "dtype"), INT_OPS, ids=lambda v: getattr(v, "name", None))
def test_integer(op, dtype):
    rng = np.random.default_rng(3)
    a, b = operands(rng, op, dtype, (2, 3, 4), (3, 1))
    if np.dtype(dtype).kind == "u":
        a, b = np.abs(a).astype(dtype), np.abs(b).astype(dtype)
    run(op, a, b, version=INT_VERSION.get((op, dtype)))


def test_integer_wraparound_and_truncation():
    i32 = np.int32
    a = np.array([7, -7, 7, -7, 0, -(2**31), 2**31 - 1, 16777217], i32)
    b = np.array([2, 2, -2, -2, 3, -1, 1, 1], i32)
    # C-style truncating division; INT_MIN / -1 comes out as INT_MAX.
    assert run(Op.DIV, a, b).tolist()[:6] == [3, -3, -3, 3, 0, 2**31 - 1]
    run(Op.FLOOR_DIV, a, b)
    run(Op.FLOOR_MOD, a[:5], b[:5])
    big = np.array([2**30, -(2**31), 46341, 2**31 - 1], i32)
    for op in (Op.ADD, Op.SUB, Op.MUL, Op.SQUARED_DIFFERENCE):
        run(op, big, np.array([2**30, 1, 46341, 2], i32))
    run(Op.MUL, np.array([2**62, 3], np.int64), np.array([4, -5], np.int64), version=5)
    run(Op.POW, np.array([2, -3, 5, 0, 2, 7], i32), np.array([3, 3, 0, 0, 31, 20], i32))
    run(Op.ADD, np.array([32767, -5], np.int16), np.array([1, 3], np.int16), Act.RELU, 5)
    run(Op.MUL, np.array([2**31, 5], np.uint32), np.array([2, 3], np.uint32), Act.RELU6, 7)


@pytest.mark.parametrize("op", list(VERSION), ids=lambda o: o.name)
def test_float_special_values(op):
    a = np.repeat(SPECIAL, len(SPECIAL))
    b = np.tile(SPECIAL, len(SPECIAL))
    if op == Op.FLOOR_DIV:  # a 0 divisor is an error there (tested below)
        keep = b != 0
        a, b = a[keep], b[keep]
    run(op, a, b)


def test_float_overflow_clamps_to_flt_max():
    big = np.array([3e38, -3e38, np.inf, -np.inf, np.nan], np.float32)
    for op in FUSED:
        run(op, big, big)
    run(Op.DIV, np.array([1, -1, 0, 5], np.float32), np.zeros(4, np.float32))
    check(Op.ADD_N, [big, big, big])


def test_maximum_minimum_nan_follows_second_input():
    a = np.array([np.nan, 1, np.nan, 2, -0.0, 0.0], np.float32)
    b = np.array([1, np.nan, np.nan, 1, 0.0, -0.0], np.float32)
    assert np.isnan(run(Op.MAXIMUM, a, b)).tolist() == [False, True, True, False, False, False]
    run(Op.MINIMUM, a, b)


def test_float_floor_mod_and_floor_div():
    a = np.array([7, -7, 7, -7, 0, 5.5, -5.5, 123456789, 1, -1], np.float32)
    b = np.array([2, 2, -2, -2, 3, 0.5, 2.25, 1000, 0, 0], np.float32)
    run(Op.FLOOR_MOD, a, b)  # x mod 0 is NaN, not an error, for floats
    run(Op.FLOOR_DIV, a[:8], b[:8])


def test_constant_operand():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    check(Op.MUL, [x, Const(np.array([0.5, -2, 3], np.float32))], options=MulOptions())
    check(Op.SUB, [Const(np.float32(1)), x], options=SubOptions(), out_shape=x.shape)


@pytest.mark.parametrize("count", [2, 3, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_add_n(count, dtype):
    rng = np.random.default_rng(5)
    terms = [(rng.standard_normal((2, 3, 4)) * 100).astype(dtype) for _ in range(count)]
    check(Op.ADD_N, terms)


@pytest.mark.parametrize(
    ("op", "divisor"),
    [
        (Op.DIV, np.int32),
        (Op.FLOOR_DIV, np.int32),
        (Op.FLOOR_DIV, np.float32),
        (Op.FLOOR_MOD, np.int32),
    ],
    ids=lambda v: getattr(v, "name", None) or np.dtype(v).name,
)
def test_division_by_zero_fails_like_the_runtime(op, divisor):
    a, b = np.array([1, 2, 3], divisor), np.array([1, 0, 2], divisor)
    options = DivOptions() if op == Op.DIV else None
    assert "Node number 0" in oracle_error(op, [a, b], options=options)
    for optimized in (False, True):
        error = kernel_error(op, [a, b], optimized, options=options)
        assert isinstance(error, ZeroDivisionError), error


def test_negative_integer_power_fails_like_the_runtime():
    a, b = np.array([2, 2], np.int32), np.array([1, -1], np.int32)
    assert "negative" in oracle_error(Op.POW, [a, b])
    assert isinstance(kernel_error(Op.POW, [a, b]), ValueError)


def test_quantized_maximum_picks_raw_values():
    q = quant(0.05, -3)
    rng = np.random.default_rng(6)
    a, b = (rng.integers(-128, 128, (3, 4)).astype(np.int8) for _ in range(2))
    check(Op.MAXIMUM, [Quantized(a, q), Quantized(b, q)], out_quant=q, version=2)
    check(Op.MINIMUM, [Quantized(a, q), Quantized(b, q)], out_quant=q, version=2)
    error = kernel_error(Op.MAXIMUM, [Quantized(a, q), Quantized(b, quant(0.1, 0))], out_quant=q)
    assert isinstance(error, PrepareError) and "scale" in str(error)


def test_rejections_are_explicit():
    q = quant(0.1, 0)
    x = np.zeros((2, 2), np.int8)
    error = kernel_error(
        Op.ADD, [Quantized(x, q), Quantized(x, q)], out_quant=quant(1e-9), options=AddOptions()
    )
    assert isinstance(error, PrepareError) and "must be below 1" in str(error)
    f = np.zeros(3, np.float32)
    error = kernel_error(Op.ADD, [f, f], options=AddOptions(Act.TANH))
    assert isinstance(error, PrepareError) and "TANH" in str(error)
    error = kernel_error(Op.ADD, [f, np.zeros(3, np.int32)], options=AddOptions())
    assert isinstance(error, PrepareError) and "one type" in str(error)
    error = kernel_error(Op.ADD, [f, np.zeros(2, np.float32)], options=AddOptions(), out_shape=[3])
    assert isinstance(error, PrepareError) and "broadcast" in str(error)
    error = kernel_error(Op.ADD, [np.zeros(2, np.float16)] * 2, options=AddOptions())
    assert isinstance(error, PrepareError) and "float16" in str(error)
    error = kernel_error(Op.ADD_N, [f, np.zeros(2, np.float32)], out_shape=[3])
    assert isinstance(error, PrepareError) and "one shape" in str(error)
    assert "num_inputs >= 2" in oracle_error(Op.ADD_N, [f])
    error = kernel_error(Op.ADD_N, [f])
    assert isinstance(error, PrepareError) and "at least 2" in str(error)
