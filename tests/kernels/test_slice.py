"""SLICE and STRIDED_SLICE against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import StridedSliceOptions
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
    "shape, begin, size",
    [
        ([5], [1], [3]),
        ([4, 5], [1, 0], [2, -1]),
        ([2, 4, 6], [0, 1, 2], [-1, 2, 4]),
        ([2, 3, 4, 5], [1, 1, 1, 1], [1, 2, 3, 4]),
        ([2, 3, 2, 2, 3], [0, 1, 0, 1, 0], [2, 1, -1, 1, 2]),
        ([3, 3], [1, 1], [0, 2]),
    ],
)
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_slice(shape, begin, size, index_dtype):
    x = rand(np.random.default_rng(0), shape)
    check(Op.SLICE, [Var(x), Const(begin, index_dtype), Const(size, index_dtype)])


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
def test_slice_dtypes(dtype):
    x = rand(np.random.default_rng(1), [3, 4], dtype)
    check(Op.SLICE, [Var(x), Const([1, 1], np.int32), Const([2, -1], np.int32)], Out(dtype))


def test_slice_runtime_begin_is_dynamic():
    x = rand(np.random.default_rng(2), [4, 4])
    operands = [Var(x), Var(np.array([1, 2], np.int32)), Const([2, 2], np.int32)]
    assert prepare_blind(Op.SLICE, operands).dynamic
    check(Op.SLICE, operands)


def test_slice_rejects_out_of_bounds():
    operands = [Var(np.zeros([3], np.float32)), Const([2], np.int32), Const([2], np.int32)]
    with pytest.raises(PrepareError, match="outside"):
        prepare_blind(Op.SLICE, operands)


def _strided(shape, begin, end, strides, dtype=np.float32, **masks):
    x = rand(np.random.default_rng(3), shape, dtype)
    operands = [Var(x), Const(begin, np.int32), Const(end, np.int32), Const(strides, np.int32)]
    version = (
        8
        if masks.get("offset")
        else 6
        if masks.get("ellipsis_mask") or masks.get("new_axis_mask")
        else 1
    )
    return check(Op.STRIDED_SLICE, operands, Out(dtype), StridedSliceOptions(**masks), version)


STRIDED_CASES = [
    ([10], [1], [8], [2], {}),
    ([10], [-2], [-9], [-1], {}),
    ([10], [8], [1], [-3], {}),
    ([10], [0], [0], [-1], {"begin_mask": 1, "end_mask": 1}),
    ([10], [-100], [100], [1], {}),
    ([10], [100], [-100], [-2], {}),
    ([4, 6], [1, 5], [3, 0], [1, -2], {}),
    ([4, 6], [1, 2], [0, 0], [1, 1], {"end_mask": 3}),
    ([4, 6], [2, 1], [3, 5], [1, 2], {"shrink_axis_mask": 1}),
    ([4, 6], [-1, -1], [0, 0], [1, 1], {"shrink_axis_mask": 3}),
    ([2, 3, 4], [1], [2], [1], {}),
    ([2, 3, 4], [0, 1], [0, 3], [1, 1], {"ellipsis_mask": 1}),
    ([2, 3, 4], [1, 0, 1], [2, 0, 3], [1, 1, 1], {"ellipsis_mask": 2}),
    ([2, 3, 4], [0, 1], [0, 2], [1, 1], {"new_axis_mask": 1}),
    ([2, 3, 4], [0, 0, 1], [0, 0, 3], [1, 1, 1], {"new_axis_mask": 2}),
    ([2, 3, 4], [0, 0, 1], [0, 0, 3], [1, 1, 2], {"ellipsis_mask": 1, "new_axis_mask": 2}),
    ([2, 3, 4], [1, 0, 0], [2, 0, 0], [1, 1, 1], {"shrink_axis_mask": 1, "new_axis_mask": 2}),
    ([2, 3, 4, 5, 2], [1, 0, 3, 4, 0], [2, 3, 0, 0, 2], [1, 2, -1, -2, 1], {"end_mask": 4}),
    ([3, 5], [1, 1], [2, 3], [1, 2], {"offset": True}),
    ([3, 5], [-2, 0], [1, 4], [1, 1], {"offset": True}),
]


@pytest.mark.parametrize("shape, begin, end, strides, masks", STRIDED_CASES)
def test_strided_slice(shape, begin, end, strides, masks):
    _strided(shape, begin, end, strides, **masks)


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
def test_strided_slice_dtypes(dtype):
    _strided([4, 5], [3, 0], [0, 5], [-1, 2], dtype)


def test_strided_slice_fuzz():
    """Random specs (masks included) in valid ranges against the official runtime."""
    rng = np.random.default_rng(4)
    for _ in range(60):
        rank = int(rng.integers(1, 5))
        shape = [int(d) for d in rng.integers(1, 6, rank)]
        count = int(rng.integers(1, rank + 1))
        begin = [int(v) for v in rng.integers(-7, 7, count)]
        end = [int(v) for v in rng.integers(-7, 7, count)]
        strides = [int(v) for v in rng.choice([-3, -2, -1, 1, 2, 3], count)]
        masks = {
            "begin_mask": int(rng.integers(0, 1 << count)),
            "end_mask": int(rng.integers(0, 1 << count)),
            "new_axis_mask": int(rng.integers(0, 1 << count)) if rng.random() < 0.3 else 0,
        }
        if rng.random() < 0.3:
            masks["ellipsis_mask"] = 1 << int(rng.integers(0, count))
        elif not masks["new_axis_mask"] and rng.random() < 0.5:
            # Shrunk entries must index inside their dimension, going forward.
            shrink = int(rng.integers(0, 1 << count))
            for i in range(count):
                if shrink >> i & 1:
                    begin[i] = int(rng.integers(-shape[i], shape[i]))
                    strides[i] = abs(strides[i])
            masks["shrink_axis_mask"] = shrink
        _strided(shape, begin, end, strides, **masks)


def test_strided_slice_runtime_begin_is_dynamic():
    x = rand(np.random.default_rng(5), [6, 4])
    operands = [
        Var(x),
        Var(np.array([1, 0], np.int32)),
        Const([5, 4], np.int32),
        Const([2, 1], np.int32),
    ]
    assert prepare_blind(Op.STRIDED_SLICE, operands, Out(), StridedSliceOptions()).dynamic
    check(Op.STRIDED_SLICE, operands, Out(), StridedSliceOptions())


def test_strided_slice_rejects_zero_stride():
    operands = [Var(np.zeros([4], np.float32)), Const([0], np.int32), Const([4], np.int32)]
    with pytest.raises(PrepareError, match="non-zero"):
        prepare_blind(
            Op.STRIDED_SLICE, [*operands, Const([0], np.int32)], Out(), StridedSliceOptions()
        )


def test_mismatched_quantization():
    x = Var(np.arange(24, dtype=np.int8).reshape(1, 2, 3, 4), quantization=Q_IN)
    begin, end = Const([0, 0, 0, 0], np.int32), Const([1, 1, 2, 2], np.int32)
    out = Out(np.int8, Q_OUT)
    check_mismatched_quantization(Op.SLICE, [x, begin, end], out, version=2)
    operands = [x, begin, end, Const([1, 1, 1, 1], np.int32)]
    check_mismatched_quantization(Op.STRIDED_SLICE, operands, out, StridedSliceOptions(), 2)
