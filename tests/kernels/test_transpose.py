"""TRANSPOSE against the official runtime."""

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
    check_threads,
    prepare_blind,
    rand,
)

CASES = [
    ([5], [0]),
    ([2, 3], [1, 0]),
    ([2, 3, 4], [2, 0, 1]),
    ([1, 4, 5, 3], [0, 3, 1, 2]),
    ([2, 3, 1, 4, 2], [4, 2, 0, 3, 1]),
    ([2, 1, 3, 2, 2, 3], [5, 0, 4, 1, 3, 2]),
]


@pytest.mark.parametrize("shape, perm", CASES)
def test_transpose_float(shape, perm):
    x = rand(np.random.default_rng(len(shape)), shape)
    check(Op.TRANSPOSE, [Var(x), Const(perm, np.int32)])


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
def test_transpose_dtypes(dtype):
    x = rand(np.random.default_rng(7), [2, 3, 4], dtype)
    check(Op.TRANSPOSE, [Var(x), Const([1, 2, 0], np.int32)], Out(dtype))


def test_transpose_runtime_perm_is_dynamic():
    x = rand(np.random.default_rng(8), [2, 3, 4])
    perm = np.array([2, 1, 0], np.int32)
    assert prepare_blind(Op.TRANSPOSE, [Var(x), Var(perm)]).dynamic
    check(Op.TRANSPOSE, [Var(x), Var(perm)])


def test_transpose_rejects_bad_perm():
    x = np.zeros([2, 3], np.float32)
    with pytest.raises(PrepareError, match="not a permutation"):
        prepare_blind(Op.TRANSPOSE, [Var(x), Const([0, 0], np.int32)])


@pytest.mark.parametrize(
    "shape, perm",
    [
        ([1, 37, 29, 19], [0, 3, 1, 2]),
        ([1, 19, 37, 29], [0, 2, 3, 1]),
        ([5, 33, 2, 17], [3, 1, 2, 0]),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int16, np.int64])
def test_transpose_optimized_threads(shape, perm, dtype):
    """Odd sizes cover the 4x4 blocks' edges; two threads split the strips."""
    x = rand(np.random.default_rng(9), shape, dtype)
    check_threads(Op.TRANSPOSE, [Var(x), Const(perm, np.int32)], Out(dtype))


def test_mismatched_quantization():
    x = Var(np.arange(24, dtype=np.int8).reshape(1, 2, 3, 4), quantization=Q_IN)
    operands = [x, Const([0, 3, 1, 2], np.int32)]
    check_mismatched_quantization(Op.TRANSPOSE, operands, Out(np.int8, Q_OUT), version=2)
