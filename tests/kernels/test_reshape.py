"""RESHAPE, SQUEEZE, EXPAND_DIMS against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import ReshapeOptions, SqueezeOptions
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


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
@pytest.mark.parametrize(
    "in_shape, new_shape",
    [
        ([2, 3, 4], [6, 4]),
        ([2, 3, 4], [-1]),
        ([2, 3, 4], [4, -1, 2]),
        ([1, 6], []),
        ([2, 0, 3], [-1, 3]),
    ],
)
def test_reshape_shape_tensor(dtype, in_shape, new_shape):
    if new_shape == []:
        in_shape = [1, 1]
    rng = np.random.default_rng(0)
    x = rand(rng, in_shape, dtype)
    check(Op.RESHAPE, [Var(x), Const(new_shape, np.int32)], Out(dtype))


def test_reshape_from_options_only():
    x = rand(np.random.default_rng(1), [2, 3, 4])
    check(Op.RESHAPE, [Var(x)], Out(), ReshapeOptions(new_shape=[3, -1]))


def test_reshape_runtime_shape_is_dynamic():
    x = rand(np.random.default_rng(2), [2, 6])
    shape = np.array([3, 4], np.int32)
    assert prepare_blind(Op.RESHAPE, [Var(x), Var(shape)]).dynamic
    check(Op.RESHAPE, [Var(x), Var(shape)])


def test_reshape_rejects_bad_counts():
    x = np.zeros([2, 3], np.float32)
    with pytest.raises(PrepareError, match="cannot reshape"):
        prepare_blind(Op.RESHAPE, [Var(x), Const([4, 2], np.int32)])
    with pytest.raises(PrepareError, match="more than one -1"):
        prepare_blind(Op.RESHAPE, [Var(x), Const([-1, -1], np.int32)])


@pytest.mark.parametrize("dims", [[], [0], [-1], [0, 2], [2, -1], [-5, 2]])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.bool_])
def test_squeeze(dims, dtype):
    x = rand(np.random.default_rng(3), [1, 3, 1, 2, 1], dtype)
    check(Op.SQUEEZE, [Var(x)], Out(dtype), SqueezeOptions(squeeze_dims=dims))


def test_squeeze_rejects_non_unit_dim():
    with pytest.raises(PrepareError, match="size 3"):
        prepare_blind(Op.SQUEEZE, [Var(np.zeros([1, 3], np.float32))], Out(), SqueezeOptions([1]))


@pytest.mark.parametrize("axis", [0, 1, 3, -1, -4])
@pytest.mark.parametrize("axis_dtype", [np.int32, np.int64])
def test_expand_dims(axis, axis_dtype):
    x = rand(np.random.default_rng(4), [2, 3, 4])
    check(Op.EXPAND_DIMS, [Var(x), Const(axis, axis_dtype)])


def test_expand_dims_runtime_axis():
    x = rand(np.random.default_rng(5), [2, 3], np.int16)
    axis = np.array([1], np.int32)
    assert prepare_blind(Op.EXPAND_DIMS, [Var(x), Var(axis)], Out(np.int16)).dynamic
    check(Op.EXPAND_DIMS, [Var(x), Var(axis)], Out(np.int16))


@pytest.mark.parametrize(
    "code, extra, options",
    [
        (Op.RESHAPE, [Const([6, 4], np.int32)], None),
        (Op.SQUEEZE, [], SqueezeOptions([0])),
        (Op.EXPAND_DIMS, [Const(0, np.int32)], None),
    ],
)
def test_mismatched_quantization(code, extra, options):
    x = Var(np.arange(24, dtype=np.int8).reshape(1, 2, 3, 4), quantization=Q_IN)
    check_mismatched_quantization(code, [x, *extra], Out(np.int8, Q_OUT), options)
