"""SELECT and SELECT_V2 against the official runtime: value types (quantized and
strings included), SELECT's row and scalar conditions, SELECT_V2 broadcasting."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from tests.kernels._elementwise_helpers import Const, Quantized, check, kernel_error, oracle_error

pytestmark = pytest.mark.oracle

VALUE_TYPES = [
    np.float32,
    np.float16,
    np.float64,
    np.int8,
    np.uint8,
    np.int16,
    np.uint16,
    np.int32,
    np.uint32,
    np.int64,
    np.bool_,
    np.complex64,
]
# The version that declares each value type (uint32 needs SELECT v4 / SELECT_V2 v2).
VERSIONS = {Op.SELECT: {np.uint32: 4, np.int8: 2}, Op.SELECT_V2: {np.uint32: 2}}


def value_dtype(operand):
    return np.asarray(operand.value if isinstance(operand, (Const, Quantized)) else operand).dtype


def select(op, operands, **kwargs):
    """check() with the output typed like the values, not like the condition."""
    return check(op, operands, out_dtype=value_dtype(operands[1]), **kwargs)


def select_error(op, operands, **kwargs):
    return kernel_error(op, operands, out_dtype=value_dtype(operands[1]), **kwargs)


def values(rng, shape, dtype):
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if dtype == np.complex64:
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return (rng.standard_normal(shape) * 50).astype(dtype)


@pytest.mark.parametrize("dtype", VALUE_TYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", [Op.SELECT, Op.SELECT_V2], ids=lambda o: o.name)
def test_value_types(op, dtype):
    rng = np.random.default_rng(0)
    condition = rng.random((2, 3, 4)) > 0.5
    x, y = values(rng, (2, 3, 4), dtype), values(rng, (2, 3, 4), dtype)
    check(op, [condition, x, y], out_dtype=dtype, version=VERSIONS[op].get(dtype, 1))


@pytest.mark.parametrize("condition_shape", [(), (3,), (3, 2, 4)])
def test_select_row_and_scalar_conditions(condition_shape):
    rng = np.random.default_rng(1)
    x, y = values(rng, (3, 2, 4), np.float32), values(rng, (3, 2, 4), np.float32)
    condition = rng.random(condition_shape) > 0.5
    if condition_shape == ():
        for flag in (True, False):
            select(Op.SELECT, [np.array(flag), x, y], out_shape=x.shape)
    else:
        select(Op.SELECT, [condition, x, y], out_shape=x.shape)


@pytest.mark.parametrize(
    "shapes",
    [
        ((2, 1), (3,), ()),
        ((), (2, 3), (2, 3)),
        ((4, 1, 3), (1, 5, 1), (5, 3)),
        ((2, 1, 3, 1, 2, 1), (1, 2, 1, 3, 1, 2), (2,)),
    ],
    ids=str,
)
def test_select_v2_broadcast(shapes):
    rng = np.random.default_rng(2)
    condition = rng.random(shapes[0]) > 0.5
    x, y = values(rng, shapes[1], np.float32), values(rng, shapes[2], np.float32)
    select(Op.SELECT_V2, [condition, x, Const(y)])


def test_quantized_values_move_as_they_are():
    q = quant(0.25, 7)
    rng = np.random.default_rng(3)
    condition = rng.random((3, 4)) > 0.5
    x, y = (values(rng, (3, 4), np.int8) for _ in range(2))
    select(Op.SELECT_V2, [condition, Quantized(x, q), Quantized(y, q)], out_quant=q)


def test_rejections_match_the_runtime():
    rng = np.random.default_rng(4)
    x, y = values(rng, (2, 3), np.float32), values(rng, (2, 3), np.float32)
    bad = np.array([True, False, True])  # rank 1 but not x's first dimension
    assert "Node number 0" in oracle_error(
        Op.SELECT, [bad, x, y], out_dtype=np.float32, out_shape=(2, 3)
    )
    error = select_error(Op.SELECT, [bad, x, y], out_shape=(2, 3))
    assert isinstance(error, PrepareError) and "SELECT_V2 broadcasts" in str(error)
    error = select_error(Op.SELECT_V2, [x > 0, x, y.astype(np.int32)])
    assert isinstance(error, PrepareError) and "one type" in str(error)
    error = select_error(Op.SELECT_V2, [x, x, y])
    assert isinstance(error, PrepareError) and "condition" in str(error)
    error = select_error(Op.SELECT_V2, [np.array([True, False]), x, y], out_shape=(2, 3))
    assert isinstance(error, PrepareError) and "broadcast" in str(error)
    words = np.array([b"a", b"bc"], dtype=object)
    condition = np.array([True, False])
    assert "Does not support type" in oracle_error(Op.SELECT_V2, [condition, words, words])
    error = select_error(Op.SELECT_V2, [condition, words, words])
    assert isinstance(error, PrepareError) and "string" in str(error)
