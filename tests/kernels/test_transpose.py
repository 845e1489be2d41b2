"""TRANSPOSE against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import BuiltinOperator as Op
from tests.kernels._shape_helpers import MOVE_DTYPES, Const, Out, Var, check, prepare_blind, rand

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
