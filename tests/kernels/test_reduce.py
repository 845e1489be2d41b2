"""MEAN, SUM, REDUCE_PROD/MAX/MIN/ANY/ALL against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import ReducerOptions
from tests.kernels._shape_helpers import (
    Q_IN,
    Q_OUT,
    Const,
    Out,
    Var,
    check,
    check_mismatched_quantization,
    check_threads,
    prepare_blind,
    rand,
)

AXES = [[1], [0, 2], [-1], [2, -1, 2], [], [0, 1, 2], [1, 2]]
ARITH_OPS = [Op.MEAN, Op.SUM, Op.REDUCE_PROD, Op.REDUCE_MAX, Op.REDUCE_MIN]


def _data(rng, op, shape, dtype):
    if op == Op.REDUCE_PROD:  # keep products of several elements in range
        if np.dtype(dtype).kind == "f":
            return (rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype(dtype)
        return rng.integers(-3, 4, shape).astype(dtype)
    return rand(rng, shape, dtype)


@pytest.mark.parametrize("op", ARITH_OPS)
@pytest.mark.parametrize("axes", AXES)
@pytest.mark.parametrize("keep_dims", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_reduce(op, axes, keep_dims, dtype):
    x = _data(np.random.default_rng(0), op, [3, 4, 5], dtype)
    check(op, [Var(x), Const(axes, np.int32)], Out(dtype), ReducerOptions(keep_dims))


@pytest.mark.parametrize("op", [Op.MEAN, Op.SUM])
def test_float_reduce_4d_spatial(op):
    """The global-average-pool shape of image models."""
    x = rand(np.random.default_rng(1), [2, 7, 7, 32])
    check(op, [Var(x), Const([1, 2], np.int32)], Out(), ReducerOptions(keep_dims=True))


def test_int_mean_truncates_toward_zero():
    x = np.array([[-5, 0, 0], [5, 0, 0], [-4, -1, 0], [7, 1, 0], [-7, -1, 0]], np.int32)
    out = check(Op.MEAN, [Var(x), Const([1], np.int32)], Out(np.int32), ReducerOptions())
    assert out[0].tolist() == [-1, 1, -1, 2, -2]


def test_int_sum_wraps():
    x = np.array([2**31 - 1, 5, 7], np.int32)
    check(Op.SUM, [Var(x), Const([0], np.int32)], Out(np.int32), ReducerOptions())


@pytest.mark.parametrize("op", [Op.REDUCE_MAX, Op.REDUCE_MIN])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_max_min_quantized(op, dtype):
    q = quant(0.25, 0 if dtype == np.int16 else 3)
    x = rand(np.random.default_rng(2), [2, 3, 4], dtype)
    version = 3 if dtype == np.int16 else 2
    operands = [Var(x, quantization=q), Const([0, 2], np.int32)]
    check(op, operands, Out(dtype, q), ReducerOptions(keep_dims=False), version)


@pytest.mark.parametrize("op", [Op.REDUCE_ANY, Op.REDUCE_ALL])
@pytest.mark.parametrize("axes", [[0], [1, -1], [], [0, 1, 2]])
@pytest.mark.parametrize("keep_dims", [False, True])
def test_reduce_bool(op, axes, keep_dims):
    x = np.random.default_rng(3).random([3, 2, 4]) < 0.7
    check(op, [Var(x), Const(axes, np.int32)], Out(np.bool_), ReducerOptions(keep_dims))


@pytest.mark.parametrize("op", [Op.SUM, Op.REDUCE_MAX, Op.REDUCE_PROD])
def test_reduce_scalar_input(op):
    check(op, [Var(np.float32(3.5)), Const([0], np.int32)], Out(), ReducerOptions())


def test_reduce_runtime_axes_is_dynamic():
    x = rand(np.random.default_rng(4), [3, 4])
    operands = [Var(x), Var(np.array([1], np.int32))]
    assert prepare_blind(Op.MEAN, operands, Out(), ReducerOptions()).dynamic
    check(Op.MEAN, operands, Out(), ReducerOptions())


def test_reduce_rejects_bad_axis():
    operands = [Var(np.zeros([2, 3], np.float32)), Const([2], np.int32)]
    with pytest.raises(PrepareError, match="out of range"):
        prepare_blind(Op.SUM, operands, Out(), ReducerOptions())


@pytest.mark.parametrize("op", [Op.MEAN, Op.SUM, Op.REDUCE_MAX, Op.REDUCE_MIN])
@pytest.mark.parametrize("axes", [[1, 2], [3], [0], [0, 1, 2, 3]])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_reduce_optimized_threads(op, axes, dtype):
    """Sizes past one 256-wide chunk and odd row lengths, split over two threads."""
    x = rand(np.random.default_rng(8), [2, 5, 3, 301], dtype)
    check_threads(op, [Var(x), Const(axes, np.int32)], Out(dtype), ReducerOptions(keep_dims=True))


@pytest.mark.parametrize("op", [Op.REDUCE_MAX, Op.REDUCE_MIN])
def test_mismatched_quantization(op):
    x = Var(np.arange(24, dtype=np.int8).reshape(1, 2, 3, 4), quantization=Q_IN)
    operands = [x, Const([1], np.int32)]
    check_mismatched_quantization(op, operands, Out(np.int8, Q_OUT), ReducerOptions(), 2)
