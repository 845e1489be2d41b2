"""TILE and BROADCAST_TO against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import BuiltinOperator as Op
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


@pytest.mark.parametrize(
    "shape, multiples",
    [([3], [2]), ([2, 3], [1, 3]), ([2, 1, 3], [2, 4, 1]), ([1, 2, 1, 2], [2, 1, 3, 2])],
)
@pytest.mark.parametrize("multiples_dtype", [np.int32, np.int64])
def test_tile(shape, multiples, multiples_dtype):
    x = rand(np.random.default_rng(0), shape)
    check(Op.TILE, [Var(x), Const(multiples, multiples_dtype)])


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
def test_tile_dtypes(dtype):
    x = rand(np.random.default_rng(1), [2, 2], dtype)
    check(
        Op.TILE, [Var(x), Const([2, 3], np.int32)], Out(dtype), version=3 if dtype == np.int8 else 1
    )


def test_tile_runtime_multiples_is_dynamic():
    x = rand(np.random.default_rng(2), [2, 3])
    operands = [Var(x), Var(np.array([3, 1], np.int32))]
    assert prepare_blind(Op.TILE, operands).dynamic
    check(Op.TILE, operands)


@pytest.mark.parametrize(
    "shape, target", [([3], [2, 3]), ([2, 1], [2, 4]), ([1, 3, 1], [2, 2, 3, 5]), ([], [2, 2])]
)
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int32, np.bool_])
def test_broadcast_to(shape, target, dtype):
    x = rand(np.random.default_rng(3), shape, dtype)
    version = 3 if dtype == np.int8 else 2
    check(Op.BROADCAST_TO, [Var(x), Const(target, np.int32)], Out(dtype), version=version)


def test_broadcast_to_runtime_shape_is_dynamic():
    x = rand(np.random.default_rng(4), [3])
    operands = [Var(x), Var(np.array([2, 3], np.int64))]
    assert prepare_blind(Op.BROADCAST_TO, operands, Out(), version=2).dynamic
    check(Op.BROADCAST_TO, operands, Out(), version=2)


def test_broadcast_to_rejects_mismatch():
    operands = [Var(np.zeros([3], np.float32)), Const([2, 4], np.int32)]
    with pytest.raises(PrepareError, match="does not broadcast"):
        prepare_blind(Op.BROADCAST_TO, operands, Out(), version=2)


def test_mismatched_quantization():
    x = Var(np.arange(24, dtype=np.int8).reshape(1, 2, 3, 4), quantization=Q_IN)
    out = Out(np.int8, Q_OUT)
    check_mismatched_quantization(Op.TILE, [x, Const([1, 2, 1, 1], np.int32)], out, version=3)
    operands = [x, Const([2, 2, 3, 4], np.int32)]
    check_mismatched_quantization(Op.BROADCAST_TO, operands, out, version=3)
