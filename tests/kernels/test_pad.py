"""PAD, PADV2, MIRROR_PAD against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import MirrorPadMode
from edgelite.schema.generated.options import MirrorPadOptions
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

PADDINGS = [
    ([4], [[1, 2]]),
    ([2, 3], [[0, 1], [2, 0]]),
    ([1, 3, 3, 2], [[0, 0], [1, 1], [2, 1], [0, 0]]),
    ([2, 2, 2, 2, 2], [[1, 0], [0, 1], [1, 1], [0, 0], [2, 1]]),
]


@pytest.mark.parametrize("shape, pads", PADDINGS)
@pytest.mark.parametrize("pad_dtype", [np.int32, np.int64])
def test_pad(shape, pads, pad_dtype):
    x = rand(np.random.default_rng(0), shape)
    check(Op.PAD, [Var(x), Const(pads, pad_dtype)], Out(), version=4)


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
def test_pad_dtypes(dtype):
    x = rand(np.random.default_rng(1), [2, 3], dtype)
    check(Op.PAD, [Var(x), Const([[1, 1], [0, 2]], np.int32)], Out(dtype))


def test_pad_quantized_fills_zero_point():
    q = quant(0.1, -5)
    x = rand(np.random.default_rng(2), [2, 2], np.int8)
    out = check(
        Op.PAD, [Var(x, quantization=q), Const([[1, 0], [0, 1]], np.int32)], Out(np.int8, q)
    )
    assert out[0][0, 0] == -5


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int32, np.int64])
def test_padv2(dtype):
    x = rand(np.random.default_rng(3), [2, 3], dtype)
    value = np.array(7, dtype)
    check(Op.PADV2, [Var(x), Const([[1, 2], [1, 0]], np.int32), Var(value)], Out(dtype))


def test_pad_runtime_paddings_is_dynamic():
    x = rand(np.random.default_rng(4), [2, 3])
    operands = [Var(x), Var(np.array([[1, 0], [2, 2]], np.int32))]
    assert prepare_blind(Op.PAD, operands).dynamic
    check(Op.PAD, operands)


def test_pad_rejects_negative():
    with pytest.raises(PrepareError, match=">= 0"):
        prepare_blind(Op.PAD, [Var(np.zeros([3], np.float32)), Const([[-1, 0]], np.int32)])


@pytest.mark.parametrize("mode", [MirrorPadMode.REFLECT, MirrorPadMode.SYMMETRIC])
@pytest.mark.parametrize(
    "shape, pads",
    [([5], [[2, 3]]), ([3, 4], [[2, 1], [0, 3]]), ([2, 3, 4, 2], [[1, 1], [2, 0], [3, 3], [1, 0]])],
)
def test_mirror_pad(mode, shape, pads):
    x = rand(np.random.default_rng(5), shape)
    if mode == MirrorPadMode.REFLECT:
        pads = [[min(b, d - 1), min(a, d - 1)] for d, (b, a) in zip(shape, pads)]
    check(Op.MIRROR_PAD, [Var(x), Const(pads, np.int32)], Out(), MirrorPadOptions(mode))


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64])
def test_mirror_pad_dtypes(dtype):
    x = rand(np.random.default_rng(6), [3, 3], dtype)
    options = MirrorPadOptions(MirrorPadMode.SYMMETRIC)
    check(Op.MIRROR_PAD, [Var(x), Const([[3, 1], [2, 3]], np.int64)], Out(dtype), options)


def test_mirror_pad_rejects_too_wide_reflect():
    operands = [Var(np.zeros([3], np.float32)), Const([[3, 0]], np.int32)]
    with pytest.raises(PrepareError, match="too large"):
        prepare_blind(Op.MIRROR_PAD, operands, Out(), MirrorPadOptions(MirrorPadMode.REFLECT))


@pytest.mark.parametrize(
    "shape, pads",
    [([1, 23, 17, 8], [[0, 0], [1, 2], [2, 1], [0, 0]]), ([3, 5, 7], [[1, 1], [0, 0], [3, 2]])],
)
@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int16, np.int64])
def test_pad_optimized_threads(shape, pads, dtype):
    x = rand(np.random.default_rng(7), shape, dtype)
    check_threads(Op.PAD, [Var(x), Const(pads, np.int32)], Out(dtype))
    check_threads(Op.PADV2, [Var(x), Const(pads, np.int32), Var(np.array(3, dtype))], Out(dtype))


def test_mismatched_quantization():
    x = Var(np.arange(24, dtype=np.int8).reshape(1, 2, 3, 4), quantization=Q_IN)
    pads = Const([[0, 0], [0, 1], [1, 0], [0, 0]], np.int32)
    out = Out(np.int8, Q_OUT)
    check_mismatched_quantization(Op.PAD, [x, pads], out, version=2)
    constant = Const(np.int8(3), quantization=Q_IN)
    check_mismatched_quantization(Op.PADV2, [x, pads, constant], out, version=2)
    check_mismatched_quantization(Op.MIRROR_PAD, [x, pads], out, MirrorPadOptions(), 2)
