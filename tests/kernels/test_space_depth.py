"""DEPTH_TO_SPACE, SPACE_TO_DEPTH, BATCH_TO_SPACE_ND, SPACE_TO_BATCH_ND against the oracle."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import DepthToSpaceOptions, SpaceToDepthOptions
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

DTYPES = [np.float32, np.int8, np.uint8, np.int32, np.int64]


@pytest.mark.parametrize("shape, block", [([1, 2, 3, 8], 2), ([2, 1, 2, 9], 3), ([1, 2, 2, 3], 1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_depth_to_space(shape, block, dtype):
    x = rand(np.random.default_rng(0), shape, dtype)
    check(Op.DEPTH_TO_SPACE, [Var(x)], Out(dtype), DepthToSpaceOptions(block))


@pytest.mark.parametrize("shape, block", [([1, 4, 6, 2], 2), ([2, 3, 3, 1], 3)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_space_to_depth(shape, block, dtype):
    x = rand(np.random.default_rng(1), shape, dtype)
    check(Op.SPACE_TO_DEPTH, [Var(x)], Out(dtype), SpaceToDepthOptions(block))


def test_depth_to_space_rejects_indivisible_depth():
    with pytest.raises(PrepareError, match="divisible"):
        prepare_blind(
            Op.DEPTH_TO_SPACE,
            [Var(np.zeros([1, 2, 2, 6], np.float32))],
            Out(),
            DepthToSpaceOptions(2),
        )


S2B_CASES = [
    ([1, 4, 4, 1], [2, 2], [[0, 0], [0, 0]]),
    ([2, 3, 5, 2], [2, 3], [[1, 0], [0, 1]]),
    ([1, 5, 2, 3], [3, 2], [[2, 2], [1, 1]]),
    ([2, 5, 3], [2], [[1, 0]]),
]


@pytest.mark.parametrize("shape, block, pads", S2B_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_space_to_batch(shape, block, pads, dtype):
    x = rand(np.random.default_rng(2), shape, dtype)
    operands = [Var(x), Const(block, np.int32), Const(pads, np.int32)]
    check(Op.SPACE_TO_BATCH_ND, operands, Out(dtype), version=3 if len(shape) != 4 else 1)


def test_space_to_batch_quantized_pads_with_zero_point():
    q = quant(0.5, 7)
    x = rand(np.random.default_rng(3), [1, 3, 3, 1], np.int8)
    operands = [Var(x, quantization=q), Const([2, 2], np.int32), Const([[1, 0], [0, 1]], np.int32)]
    check(Op.SPACE_TO_BATCH_ND, operands, Out(np.int8, q), version=2)


B2S_CASES = [
    ([4, 2, 2, 1], [2, 2], [[0, 0], [0, 0]]),
    ([12, 2, 2, 2], [2, 3], [[1, 0], [0, 2]]),
    ([6, 2, 3, 3], [3, 2], [[2, 1], [1, 1]]),
    ([4, 3, 2], [2], [[1, 2]]),
]


@pytest.mark.parametrize("shape, block, crops", B2S_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int64])
def test_batch_to_space(shape, block, crops, dtype):
    x = rand(np.random.default_rng(4), shape, dtype)
    operands = [Var(x), Const(block, np.int32), Const(crops, np.int32)]
    check(Op.BATCH_TO_SPACE_ND, operands, Out(dtype), version=3 if len(shape) != 4 else 1)


def test_batch_space_runtime_block_is_dynamic():
    x = rand(np.random.default_rng(5), [1, 4, 4, 1])
    operands = [Var(x), Var(np.array([2, 2], np.int32)), Const([[0, 0], [0, 0]], np.int32)]
    assert prepare_blind(Op.SPACE_TO_BATCH_ND, operands).dynamic
    check(Op.SPACE_TO_BATCH_ND, operands)


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int64])
def test_depth_space_optimized_threads(dtype):
    x = rand(np.random.default_rng(6), [2, 9, 7, 12], dtype)
    check_threads(Op.DEPTH_TO_SPACE, [Var(x)], Out(dtype), DepthToSpaceOptions(2))
    y = rand(np.random.default_rng(7), [2, 9, 6, 5], dtype)
    check_threads(Op.SPACE_TO_DEPTH, [Var(y)], Out(dtype), SpaceToDepthOptions(3))


def test_mismatched_quantization():
    x = Var(np.arange(24, dtype=np.int8).reshape(1, 2, 3, 4), quantization=Q_IN)
    out = Out(np.int8, Q_OUT)
    check_mismatched_quantization(Op.DEPTH_TO_SPACE, [x], out, DepthToSpaceOptions(2), 2)
    y = Var(np.zeros([1, 2, 2, 1], np.int8), quantization=Q_IN)
    check_mismatched_quantization(Op.SPACE_TO_DEPTH, [y], out, SpaceToDepthOptions(2), 2)
    block, zeros = Const([2, 1], np.int32), Const([[0, 0], [0, 0]], np.int32)
    check_mismatched_quantization(Op.SPACE_TO_BATCH_ND, [x, block, zeros], out, version=2)
    z = Var(np.zeros([2, 2, 3, 4], np.int8), quantization=Q_IN)
    check_mismatched_quantization(Op.BATCH_TO_SPACE_ND, [z, block, zeros], out, version=2)
