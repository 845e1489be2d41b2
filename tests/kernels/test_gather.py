"""GATHER, GATHER_ND, SCATTER_ND, EMBEDDING_LOOKUP against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels._shape_util import KernelInvokeError
from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import GatherOptions
from tests.kernel_runner import run_kernels
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
    op_model,
    prepare_blind,
    rand,
)
from tests.oracle import run_litert


@pytest.mark.parametrize(
    "shape, idx_shape, axis",
    [
        ([5], [3], 0),
        ([4, 3], [2, 2], 0),
        ([4, 3], [5], 1),
        ([2, 3, 4], [], 2),
        ([2, 3, 4], [2, 1], -2),
    ],
)
@pytest.mark.parametrize("idx_dtype", [np.int16, np.int32, np.int64])
def test_gather(shape, idx_shape, axis, idx_dtype):
    rng = np.random.default_rng(0)
    x = rand(rng, shape)
    idx = rng.integers(0, shape[axis], idx_shape).astype(idx_dtype)
    version = 6 if idx_dtype == np.int16 else 1
    check(Op.GATHER, [Var(x), Var(idx)], Out(), GatherOptions(axis=axis), version)


@pytest.mark.parametrize("batch_dims, axis", [(1, 1), (1, 2), (2, 2), (-1, 2)])
def test_gather_batch_dims(batch_dims, axis):
    rng = np.random.default_rng(1)
    x = rand(rng, [2, 3, 4, 2])
    idx = rng.integers(0, x.shape[axis], [2, 3]).astype(np.int32)
    check(Op.GATHER, [Var(x), Const(idx)], Out(), GatherOptions(axis, batch_dims), version=5)


@pytest.mark.parametrize("dtype", MOVE_DTYPES)
def test_gather_dtypes(dtype):
    rng = np.random.default_rng(2)
    x = rand(rng, [4, 3], dtype)
    check(Op.GATHER, [Var(x), Const([3, 0, 0, 2], np.int32)], Out(dtype), GatherOptions(axis=0))


@pytest.mark.parametrize("bad", [4, -1])
def test_gather_out_of_bounds_fails_like_the_oracle(bad):
    x = np.zeros([4, 2], np.float32)
    model, feeds = op_model(
        Op.GATHER, [Var(x), Var(np.array([0, bad], np.int32))], [Out()], GatherOptions()
    )
    for optimized in (False, True):
        with pytest.raises(KernelInvokeError, match="out of bounds"):
            run_kernels(model, feeds, optimized=optimized)
    with pytest.raises(RuntimeError):
        run_litert(model, feeds)


@pytest.mark.parametrize(
    "shape, idx",
    [
        ([3, 4], [[1, 2], [2, 3]]),
        ([3, 4], [[1], [0], [2]]),
        ([2, 3, 4], [[[1, 0]], [[0, 2]]]),
        ([2, 3, 4], [[1, 2, 3], [0, 0, 0]]),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int64])
def test_gather_nd(shape, idx, dtype):
    x = rand(np.random.default_rng(3), shape, dtype)
    check(Op.GATHER_ND, [Var(x), Var(np.array(idx, np.int32))], Out(dtype))


@pytest.mark.parametrize(
    "idx, updates_shape, shape",
    [
        ([[0], [2]], [2, 3], [4, 3]),
        ([[1, 1], [0, 2], [1, 1]], [3], [2, 3]),  # repeated index: updates add up
        ([[[0], [1]], [[1], [1]]], [2, 2, 2], [3, 2]),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.int8, np.uint8, np.bool_])
def test_scatter_nd(idx, updates_shape, shape, dtype):
    updates = rand(np.random.default_rng(4), updates_shape, dtype)
    operands = [Const(np.array(idx, np.int32)), Var(updates), Const(np.array(shape, np.int32))]
    check(Op.SCATTER_ND, operands, Out(dtype))


def test_scatter_nd_runtime_shape_is_dynamic():
    updates = rand(np.random.default_rng(5), [2])
    operands = [Var(np.array([[1], [3]], np.int32)), Var(updates), Var(np.array([5], np.int32))]
    assert prepare_blind(Op.SCATTER_ND, operands).dynamic
    check(Op.SCATTER_ND, operands)


@pytest.mark.parametrize("table_shape", [[5, 3], [4, 2, 3]])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_embedding_lookup(table_shape, dtype):
    table = rand(np.random.default_rng(6), table_shape, dtype)
    ids = np.array([2, 0, 3, 3], np.int32)
    check(Op.EMBEDDING_LOOKUP, [Var(ids), Const(table)], Out(dtype))


def test_embedding_lookup_out_of_bounds():
    table = np.zeros([4, 2], np.float32)
    model, feeds = op_model(
        Op.EMBEDDING_LOOKUP, [Var(np.array([1, 4], np.int32)), Const(table)], [Out()]
    )
    for optimized in (False, True):
        with pytest.raises(KernelInvokeError, match="out of bounds"):
            run_kernels(model, feeds, optimized=optimized)
    with pytest.raises(RuntimeError):
        run_litert(model, feeds)


def test_embedding_lookup_int8_table_without_scale_rejected():
    """Hybrid lookups (tests/kernels/test_gather_quant.py) need the table's scale."""
    table = np.zeros([4, 2], np.int8)
    with pytest.raises(PrepareError, match="without quantization parameters"):
        prepare_blind(Op.EMBEDDING_LOOKUP, [Var(np.array([1], np.int32)), Const(table)], Out())


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int64, np.bool_])
def test_gather_optimized_threads(axis, dtype):
    rng = np.random.default_rng(9)
    x = rand(rng, [6, 5, 7], dtype)
    idx = rng.integers(0, x.shape[axis], [4, 3]).astype(np.int32)
    check_threads(Op.GATHER, [Var(x), Var(idx)], Out(dtype), GatherOptions(axis=axis))


def test_mismatched_quantization():
    x = Var(np.arange(24, dtype=np.int8).reshape(1, 2, 3, 4), quantization=Q_IN)
    out = Out(np.int8, Q_OUT)
    operands = [x, Const([1, 0], np.int32)]
    check_mismatched_quantization(Op.GATHER, operands, out, GatherOptions(axis=1), 2)
    check_mismatched_quantization(Op.GATHER_ND, [x, Const([[0, 1]], np.int32)], out)
