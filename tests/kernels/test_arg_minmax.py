"""ARG_MAX and ARG_MIN against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import TensorType
from edgelite.schema.generated.options import ArgMaxOptions, ArgMinOptions
from tests.kernels._shape_helpers import Const, Out, Var, check, prepare_blind, rand


def _options(op, out_dtype):
    out_type = TensorType.INT32 if out_dtype == np.int32 else TensorType.INT64
    return ArgMaxOptions(out_type) if op == Op.ARG_MAX else ArgMinOptions(out_type)


@pytest.mark.parametrize("op", [Op.ARG_MAX, Op.ARG_MIN])
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("out_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("axis_dtype", [np.int32, np.int64])
def test_arg_minmax(op, axis, out_dtype, axis_dtype):
    x = rand(np.random.default_rng(0), [3, 4, 5])
    check(op, [Var(x), Const([axis], axis_dtype)], Out(out_dtype), _options(op, out_dtype))


@pytest.mark.parametrize("op", [Op.ARG_MAX, Op.ARG_MIN])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.bool_])
def test_arg_minmax_dtypes_and_ties(op, dtype):
    """Small-range values make ties common: the first index wins."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2 if dtype == np.bool_ else 3, [4, 6]).astype(dtype)
    version = 3 if dtype == np.bool_ else 2 if dtype in (np.int8, np.uint8) else 1
    check(op, [Var(x), Const([1], np.int32)], Out(np.int32), _options(op, np.int32), version)


@pytest.mark.parametrize("op", [Op.ARG_MAX, Op.ARG_MIN])
@pytest.mark.parametrize("dtype", [np.int64, np.int16])
def test_arg_minmax_int64_int16_input(op, dtype):
    """The official runtime has no int64/int16 ARG_MAX/MIN; numpy's first-index pick is the spec."""
    x = np.random.default_rng(3).integers(-2, 3, [4, 5]).astype(dtype)
    pick = np.argmax if op == Op.ARG_MAX else np.argmin
    want = pick(x, axis=0).astype(np.int32)
    options = _options(op, np.int32)
    check(op, [Var(x), Const([0], np.int32)], Out(np.int32), options, expected=[want])


def test_arg_max_runtime_axis_is_dynamic():
    x = rand(np.random.default_rng(2), [3, 4])
    operands = [Var(x), Var(np.array([0], np.int32))]
    options = _options(Op.ARG_MAX, np.int64)
    assert prepare_blind(Op.ARG_MAX, operands, Out(np.int64), options).dynamic
    check(Op.ARG_MAX, operands, Out(np.int64), options)
