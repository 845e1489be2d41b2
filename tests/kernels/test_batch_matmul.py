"""BATCH_MATMUL float32: official runtime == numpy reference == optimized kernel."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import BuiltinOperator
from edgelite.schema.generated.options import BatchMatMulOptions
from tests.kernel_runner import run_kernels
from tests.kernels.float_oracle import check_against_oracle, rand


def bmm_model(lhs_shape, rhs_shape, out_shape, adj_x, adj_y, const_rhs=None, version=1):
    mb = ModelBuilder()
    lhs = mb.input("lhs", lhs_shape)
    rhs = mb.const("rhs", const_rhs) if const_rhs is not None else mb.input("rhs", rhs_shape)
    y = mb.tensor("y", out_shape)
    mb.op(
        BuiltinOperator.BATCH_MATMUL,
        [lhs, rhs],
        [y],
        BatchMatMulOptions(adj_x, adj_y),
        version=version,
    )
    mb.output(y)
    return mb.to_bytes()


def expected_shape(lhs, rhs, adj_x, adj_y):
    rows = lhs[-1] if adj_x else lhs[-2]
    cols = rhs[-2] if adj_y else rhs[-1]
    return (*np.broadcast_shapes(lhs[:-2], rhs[:-2]), rows, cols)


def oriented(shape, adj):
    return (*shape[:-2], shape[-1], shape[-2]) if adj else shape


@pytest.mark.parametrize(
    "lhs, rhs",
    [
        ((3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((2, 3, 4), (4, 5)),  # rhs broadcast over the batch
        ((1, 3, 4), (6, 4, 2)),
        ((2, 1, 3, 4), (1, 5, 4, 2)),
        ((2, 1, 2, 3, 4), (3, 1, 4, 2)),  # rank 5 with rank 4
    ],
)
@pytest.mark.parametrize("adj_x", [False, True])
@pytest.mark.parametrize("adj_y", [False, True])
def test_batch_matmul_float32(lhs, rhs, adj_x, adj_y):
    rng = np.random.default_rng(0)
    lhs_shape, rhs_shape = oriented(lhs, adj_x), oriented(rhs, adj_y)
    out_shape = expected_shape(lhs_shape, rhs_shape, adj_x, adj_y)
    model = bmm_model(lhs_shape, rhs_shape, out_shape, adj_x, adj_y, version=4)
    check_against_oracle(model, [rand(rng, *lhs_shape), rand(rng, *rhs_shape)])


def test_batch_matmul_float32_constant_rhs():
    rng = np.random.default_rng(1)
    rhs = rand(rng, 4, 6)
    model = bmm_model((2, 3, 4), rhs.shape, (2, 3, 6), False, False, const_rhs=rhs)
    check_against_oracle(model, [rand(rng, 2, 3, 4)])


@pytest.mark.parametrize(
    "lhs, rhs, dtype, message",
    [
        ((2, 3, 4), (2, 5, 6), np.float32, "different inner dims"),
        ((2, 3, 4), (3, 4, 6), np.float32, "do not broadcast"),
        ((4,), (4, 2), np.float32, "needs 2 to 5"),
        ((2, 3), (3, 2), np.int8, "quantized BATCH_MATMUL"),
    ],
)
def test_batch_matmul_rejects(lhs, rhs, dtype, message):
    mb = ModelBuilder()
    a, b = mb.input("lhs", lhs, dtype), mb.input("rhs", rhs, dtype)
    y = mb.tensor("y", (1,), dtype)
    mb.op(BuiltinOperator.BATCH_MATMUL, [a, b], [y], BatchMatMulOptions())
    mb.output(y)
    with pytest.raises(PrepareError, match=message):
        run_kernels(mb.to_bytes(), [np.zeros(lhs, dtype), np.zeros(rhs, dtype)])
