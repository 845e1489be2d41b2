"""SHAPE, RANK, FILL, ZEROS_LIKE, RANGE against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import TensorType
from edgelite.schema.generated.options import ShapeOptions
from tests.kernels._shape_helpers import (
    Q_IN,
    Q_OUT,
    Const,
    Out,
    Var,
    check,
    check_mismatched_quantization,
    prepare_blind,
    rand,
)


@pytest.mark.parametrize("shape", [[], [3], [2, 0, 4], [1, 2, 3, 4, 5]])
@pytest.mark.parametrize("out_dtype", [np.int32, np.int64])
def test_shape(shape, out_dtype):
    x = rand(np.random.default_rng(0), shape)
    out_type = TensorType.INT32 if out_dtype == np.int32 else TensorType.INT64
    # The official Python API cannot hand out an empty output ("Invalid tensor size").
    expected = [np.zeros(0, out_dtype)] if not shape else None
    check(Op.SHAPE, [Var(x)], Out(out_dtype), ShapeOptions(out_type), expected=expected)


@pytest.mark.parametrize("shape", [[], [3], [2, 3, 4]])
def test_rank(shape):
    x = rand(np.random.default_rng(1), shape, np.int8)
    check(Op.RANK, [Var(x)], Out(np.int32))


@pytest.mark.parametrize(
    "value",
    [np.float32(2.5), np.int32(-3), np.int64(1 << 40), np.bool_(True), np.int8(-7), np.int16(9)],
)
@pytest.mark.parametrize("dims_dtype", [np.int32, np.int64])
def test_fill(value, dims_dtype):
    version = 3 if value.dtype in (np.int8, np.int16) else 2 if value.dtype == np.bool_ else 1
    check(Op.FILL, [Const([2, 3, 1], dims_dtype), Var(value)], Out(value.dtype), version=version)


def test_fill_runtime_dims_is_dynamic():
    operands = [Var(np.array([3, 2], np.int32)), Var(np.float32(1))]
    assert prepare_blind(Op.FILL, operands).dynamic
    check(Op.FILL, operands)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_zeros_like(dtype):
    x = rand(np.random.default_rng(2), [2, 3], dtype)
    check(Op.ZEROS_LIKE, [Var(x)], Out(dtype))


@pytest.mark.parametrize(
    "start, limit, delta",
    [(0, 5, 1), (3, 18, 4), (10, -3, -3), (0.5, 3.2, 0.3), (1.0, -2.0, -0.7), (0.1, 1.0, 0.1)],
)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_range(start, limit, delta, dtype):
    if np.dtype(dtype).kind == "i" and isinstance(delta, float):
        start, limit, delta = int(start * 10), int(limit * 10), int(delta * 10) or 1
    operands = [
        Var(np.array(start, dtype)),
        Var(np.array(limit, dtype)),
        Const(np.array(delta, dtype)),
    ]
    check(Op.RANGE, operands, Out(dtype), version=2 if dtype == np.int64 else 1)


def test_range_empty():
    """Empty ranges are valid; the official Python API cannot return empty outputs."""
    operands = [Var(np.int32(2)), Var(np.int32(2)), Const(np.int32(1))]
    check(Op.RANGE, operands, Out(np.int32), expected=[np.zeros(0, np.int32)])


def test_range_rejects_wrong_direction():
    operands = [Const(np.int32(0)), Const(np.int32(5)), Const(np.int32(-1))]
    with pytest.raises(PrepareError, match="never gets there"):
        prepare_blind(Op.RANGE, operands, Out(np.int32))
    assert prepare_blind(Op.RANGE, [Var(np.int32(0)), *operands[1:]], Out(np.int32)).dynamic


def test_fill_mismatched_quantization():
    value = Var(np.int8(5), quantization=Q_IN)
    operands = [Const([2, 2], np.int32), value]
    check_mismatched_quantization(Op.FILL, operands, Out(np.int8, Q_OUT), version=3)
