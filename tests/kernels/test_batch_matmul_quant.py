"""Quantized BATCH_MATMUL (int8, int8 -> int32, int16, int16 x int8) against the oracle."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import BatchMatMulOptions
from tests.kernel_runner import run_kernels
from tests.kernels._qconv_helpers import Spec, build, check, q, run_with_rounding, small_ints

pytestmark = pytest.mark.oracle


def _model(
    rng,
    dtype,
    *,
    lhs_shape=(2, 5, 7),
    rhs_shape=(2, 7, 6),
    adj_x=False,
    adj_y=False,
    rhs_dtype=None,
    zl=3,
    zr=-2,
    zo=1,
    spread=6,
    s_out=1.0,
    const_rhs=False,
    out_dtype=None,
):
    rhs_dtype = rhs_dtype or dtype
    lhs = small_ints(rng, lhs_shape, zl, spread, dtype)
    rhs = small_ints(rng, rhs_shape, zr, spread, rhs_dtype)
    a = np.swapaxes(lhs, -1, -2) if adj_x else lhs
    b = np.swapaxes(rhs, -1, -2) if adj_y else rhs
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out_shape = (*batch, a.shape[-2], b.shape[-1])
    out_dtype = out_dtype or dtype
    out_q = None if out_dtype == np.int32 else q(s_out, zo)
    operands = [Spec(lhs, q(0.5, zl)), Spec(rhs, q(0.25, zr), const=const_rhs)]
    options = BatchMatMulOptions(adj_x, adj_y)
    return build(Op.BATCH_MATMUL, operands, out_shape, out_dtype, out_q, options, 4)


CASES = {
    "int8": {},
    "int8_adj": {"lhs_shape": (2, 7, 5), "rhs_shape": (2, 6, 7), "adj_x": True, "adj_y": True},
    "int8_broadcast": {"lhs_shape": (3, 1, 4, 7), "rhs_shape": (2, 7, 6)},
    "int8_rank2_const": {"lhs_shape": (9, 7), "rhs_shape": (7, 6), "const_rhs": True},
    "int8_saturating": {"spread": 100, "zl": -20, "zr": 10, "s_out": 0.5},
    "int8_to_int32": {"out_dtype": np.int32, "spread": 100},
    "int16": {"zl": 0, "zr": 0, "zo": 0, "spread": 3000, "s_out": 200.0},
    "int16_x_int8": {"zl": 0, "zr": 0, "zo": 0, "rhs_dtype": np.int8, "spread": 100},
}


@pytest.mark.parametrize("case", CASES)
def test_batch_matmul_quant(case):
    dtype = np.int16 if case.startswith("int16") else np.int8
    model, feed = _model(np.random.default_rng(zlib.crc32(case.encode())), dtype, **CASES[case])
    check(model, feed, case)


def test_batch_matmul_forced_single_rounding():
    model, feed = _model(np.random.default_rng(1), np.int8)
    ref = run_with_rounding(model, feed, "single", optimized=False)
    np.testing.assert_array_equal(ref, run_with_rounding(model, feed, "single", optimized=True))


def test_batch_matmul_int16_needs_zero_points():
    model, feed = _model(np.random.default_rng(2), np.int16)
    with pytest.raises(PrepareError, match="zero point 0"):
        run_kernels(model, feed)
