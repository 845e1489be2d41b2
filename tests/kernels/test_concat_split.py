"""CONCATENATION, PACK, UNPACK, SPLIT, SPLIT_V against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import (
    ConcatenationOptions,
    PackOptions,
    SplitOptions,
    SplitVOptions,
    UnpackOptions,
)
from tests.kernels._shape_helpers import (
    MOVE_DTYPES,
    Q_IN,
    Q_OUT,
    Const,
    Out,
    Var,
    check,
    check_mismatched_quantization,
    op_model,
    prepare_blind,
    rand,
)
from tests.oracle import run_litert


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_concat_axes(axis):
    rng = np.random.default_rng(0)
    shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
    shapes[0][axis] = 1
    shapes[2][axis] = 5
    operands = [Var(rand(rng, s)) for s in shapes[:2]] + [Const(rand(rng, shapes[2]))]
    check(Op.CONCATENATION, operands, Out(), ConcatenationOptions(axis=axis))


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
def test_concat_dtypes(dtype):
    rng = np.random.default_rng(1)
    operands = [Var(rand(rng, [2, 2], dtype)), Var(rand(rng, [2, 3], dtype))]
    check(Op.CONCATENATION, operands, Out(dtype), ConcatenationOptions(axis=1))


def test_concat_int8_same_quantization():
    rng = np.random.default_rng(2)
    q = quant(0.5, -3)
    operands = [Var(rand(rng, [3, 2], np.int8), quantization=q) for _ in range(2)]
    check(Op.CONCATENATION, operands, Out(np.int8, q), ConcatenationOptions(axis=0), version=2)


def test_concat_requantize_rejected():
    rng = np.random.default_rng(3)
    # int8 inputs must share the output's parameters (uint8 ones are rescaled).
    operands = [Var(rand(rng, [3, 2], np.int8), quantization=quant(0.5, 3)) for _ in range(2)]
    with pytest.raises(PrepareError, match="requantization"):
        prepare_blind(
            Op.CONCATENATION, operands, Out(np.int8, quant(0.25, 3)), ConcatenationOptions(axis=0)
        )


@pytest.mark.parametrize("act", [Act.RELU, Act.RELU6, Act.RELU_N1_TO_1])
def test_concat_fused_activation(act):
    """The official runtime (2.3.0) refuses fused activations on CONCATENATION
    (older ones ignored them); edgelite applies them as the schema says."""
    rng = np.random.default_rng(4)
    a, b = rand(rng, [2, 3]) * 4, rand(rng, [2, 2]) * 4
    options = ConcatenationOptions(axis=1, fused_activation_function=act)
    low, high = {Act.RELU: (0, np.inf), Act.RELU6: (0, 6), Act.RELU_N1_TO_1: (-1, 1)}[act]
    want = np.clip(np.concatenate([a, b], axis=1), low, high)
    check(Op.CONCATENATION, [Var(a), Var(b)], Out(), options, expected=[want])
    model, feeds = op_model(Op.CONCATENATION, [Var(a), Var(b)], [Out()], options)
    with pytest.raises(RuntimeError, match="activation"):
        run_litert(model, feeds)


def test_concat_scalars():
    """The official runtime stacks scalars only when they are constants."""
    operands = [Const(np.float32(1.5)), Const(np.float32(-2))]
    check(Op.CONCATENATION, operands, Out(), ConcatenationOptions())


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int16, np.int64])
def test_pack(axis, dtype):
    rng = np.random.default_rng(5)
    operands = [Var(rand(rng, [2, 3], dtype)) for _ in range(3)]
    check(Op.PACK, operands, Out(dtype), PackOptions(values_count=3, axis=axis))


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int32, np.bool_])
def test_unpack(axis, dtype):
    x = rand(np.random.default_rng(6), [3, 2, 4], dtype)
    count = x.shape[axis]
    check(Op.UNPACK, [Var(x)], [Out(dtype)] * count, UnpackOptions(num=count, axis=axis))


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int16, np.int32])
def test_split(axis, dtype):
    x = rand(np.random.default_rng(7), [4, 6, 2], dtype)
    check(Op.SPLIT, [Const(axis, np.int32), Var(x)], [Out(dtype)] * 2, SplitOptions(num_splits=2))


def test_split_runtime_axis_is_dynamic():
    x = rand(np.random.default_rng(8), [4, 6])
    axis = np.array(1, np.int32)
    outs = [Out()] * 3
    assert prepare_blind(Op.SPLIT, [Var(axis), Var(x)], outs, SplitOptions(num_splits=3)).dynamic
    check(Op.SPLIT, [Var(axis), Var(x)], outs, SplitOptions(num_splits=3))


@pytest.mark.parametrize("sizes", [[1, 2, 3], [2, -1, 1], [6], [0, 6]])
@pytest.mark.parametrize("axis", [1, -2])
def test_split_v(sizes, axis):
    x = rand(np.random.default_rng(9), [2, 6, 3])
    outs = [Out()] * len(sizes)
    options = SplitVOptions(num_splits=len(sizes))
    check(Op.SPLIT_V, [Var(x), Const(sizes, np.int32), Const(axis, np.int32)], outs, options)


def test_split_v_rejects_bad_sizes():
    x = np.zeros([2, 6], np.float32)
    operands = [Var(x), Const([4, 4], np.int32), Const(1, np.int32)]
    with pytest.raises(PrepareError, match="do not add up"):
        prepare_blind(Op.SPLIT_V, operands, [Out()] * 2, SplitVOptions(num_splits=2))


@pytest.mark.parametrize(
    "code, operands, count, options",
    [
        (Op.CONCATENATION, "xx", 1, ConcatenationOptions(axis=1)),
        (Op.PACK, "xx", 1, PackOptions(2, 0)),
        (Op.UNPACK, "x", 2, UnpackOptions(2, 1)),
        (Op.SPLIT, "ax", 2, SplitOptions(2)),
        (Op.SPLIT_V, "xsa", 2, SplitVOptions(2)),
    ],
)
def test_mismatched_quantization(code, operands, count, options):
    """``operands`` spells the inputs: x the int8 data, a the axis 1, s the sizes [1, 1]."""
    x = Var(np.arange(24, dtype=np.int8).reshape(1, 2, 3, 4), quantization=Q_IN)
    parts = {"x": x, "a": Const(1, np.int32), "s": Const([1, 1], np.int32)}
    args = [parts[c] for c in operands]
    outs = [Out(np.int8, Q_OUT)] * count
    check_mismatched_quantization(code, args, outs, options, version=2)
