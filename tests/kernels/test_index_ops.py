"""WHERE, UNIQUE, TOPK_V2, REVERSE_V2, CUMSUM against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import TensorType
from edgelite.schema.generated.options import CumsumOptions, UniqueOptions
from tests.kernels._shape_helpers import (
    MOVE_DTYPES,
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


@pytest.mark.parametrize("shape", [[7], [3, 4], [2, 3, 4]])
@pytest.mark.parametrize("dtype", [np.bool_, np.float32, np.int32, np.int64, np.int8])
def test_where(shape, dtype):
    x = np.random.default_rng(0).integers(0, 2, shape).astype(dtype)
    version = 1 if dtype == np.bool_ else 2
    assert prepare_blind(Op.WHERE, [Var(x)], Out(np.int64), version=version).dynamic
    check(Op.WHERE, [Var(x)], Out(np.int64), version=version)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.int8, np.int16])
@pytest.mark.parametrize("idx_dtype", [np.int32, np.int64])
def test_unique(dtype, idx_dtype):
    x = np.array([4, 1, 4, 3, 1, 1, 7, 3, 0], dtype)
    idx_type = TensorType.INT32 if idx_dtype == np.int32 else TensorType.INT64
    outputs = [Out(dtype), Out(idx_dtype)]
    assert prepare_blind(Op.UNIQUE, [Var(x)], outputs, UniqueOptions(idx_type)).dynamic
    check(Op.UNIQUE, [Var(x)], outputs, UniqueOptions(idx_type))


@pytest.mark.parametrize("shape, k", [([6], 3), ([3, 5], 5), ([2, 3, 7], 1), ([4, 4], 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.int8, np.uint8])
def test_topk(shape, k, dtype):
    """Small integer ranges make ties common: equal values keep input order."""
    rng = np.random.default_rng(1)
    x = rand(rng, shape, dtype) if dtype == np.float32 else rng.integers(0, 4, shape).astype(dtype)
    outputs = [Out(dtype), Out(np.int32)]
    expected = None
    if k == 0:  # the official Python API cannot return empty outputs
        expected = [np.zeros([*shape[:-1], 0], dtype), np.zeros([*shape[:-1], 0], np.int32)]
    check(Op.TOPK_V2, [Var(x), Const(np.int32(k))], outputs, version=2, expected=expected)


def test_topk_runtime_k_is_dynamic():
    x = rand(np.random.default_rng(2), [3, 6])
    operands = [Var(x), Var(np.int32(4))]
    outputs = [Out(), Out(np.int32)]
    assert prepare_blind(Op.TOPK_V2, operands, outputs).dynamic
    check(Op.TOPK_V2, operands, outputs)


@pytest.mark.parametrize("axes", [[0], [1], [-1], [1, 2], [0, 1, 2]])
@pytest.mark.parametrize("dtype", MOVE_DTYPES)
def test_reverse(axes, dtype):
    x = rand(np.random.default_rng(3), [2, 3, 4], dtype)
    check(Op.REVERSE_V2, [Var(x), Const(axes, np.int32)], Out(dtype), version=3)


def test_reverse_non_adjacent_axes():
    """The official runtime refuses non-adjacent axes; numpy's flip is the spec."""
    x = rand(np.random.default_rng(4), [2, 3, 4])
    check(Op.REVERSE_V2, [Var(x), Const([0, 2], np.int32)], Out(), expected=[x[::-1, :, ::-1]])


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_cumsum(axis, exclusive, reverse, dtype):
    x = rand(np.random.default_rng(5), [3, 4, 2], dtype)
    options = CumsumOptions(exclusive, reverse)
    check(Op.CUMSUM, [Var(x), Const(np.int32(axis))], Out(dtype), options)


def test_cumsum_quantized_rejected():
    with pytest.raises(PrepareError, match="quantized"):
        prepare_blind(Op.CUMSUM, [Var(np.zeros([3], np.int8)), Const(np.int32(0))], Out(np.int8))


def test_mismatched_quantization():
    x = Var(np.arange(24, dtype=np.int8).reshape(1, 2, 3, 4), quantization=Q_IN)
    operands = [x, Const([1], np.int32)]
    check_mismatched_quantization(Op.REVERSE_V2, operands, Out(np.int8, Q_OUT), version=3)
    outs = [Out(np.int8, Q_OUT), Out(np.int32)]
    check_mismatched_quantization(Op.TOPK_V2, [x, Const(np.int32(2))], outs, version=2)
