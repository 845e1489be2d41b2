"""LESS LESS_EQUAL GREATER GREATER_EQUAL EQUAL NOT_EQUAL LOGICAL_AND LOGICAL_OR
LOGICAL_NOT against the official runtime: dtypes x broadcasting, NaN, strings."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from tests.kernels._elementwise_helpers import SPECIAL, Const, Quantized, check, kernel_error

pytestmark = pytest.mark.oracle

ORDERED = [Op.LESS, Op.LESS_EQUAL, Op.GREATER, Op.GREATER_EQUAL, Op.EQUAL, Op.NOT_EQUAL]
BROADCASTS = [
    ((2, 3, 4), (2, 3, 4)),
    ((2, 3, 4), ()),
    ((4,), (3, 1)),
    ((1, 3, 1, 5), (2, 1, 4, 1)),
    ((2, 1, 3, 1, 2, 2), (1, 2, 1, 2, 1, 2)),
]


@pytest.mark.parametrize("shapes", BROADCASTS, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
@pytest.mark.parametrize("op", ORDERED, ids=lambda o: o.name)
def test_compare(op, dtype, shapes):
    rng = np.random.default_rng(0)
    # Few distinct values, so equal pairs are common.
    a = rng.integers(-3, 4, shapes[0]).astype(dtype)
    b = rng.integers(-3, 4, shapes[1]).astype(dtype)
    check(op, [a, b], out_dtype=np.bool_)


@pytest.mark.parametrize("op", ORDERED, ids=lambda o: o.name)
def test_compare_special_floats(op):
    a = np.repeat(SPECIAL, len(SPECIAL))
    b = np.tile(SPECIAL, len(SPECIAL))
    check(op, [a, b], out_dtype=np.bool_)


@pytest.mark.parametrize("op", [Op.EQUAL, Op.NOT_EQUAL], ids=lambda o: o.name)
def test_equality_of_bools_and_strings(op):
    rng = np.random.default_rng(1)
    check(op, [rng.random((3, 4)) > 0.5, rng.random((4,)) > 0.5], out_dtype=np.bool_)
    words = np.array([b"a", b"bc", b"", b"bc", b"x\x00y"], dtype=object)
    others = np.array([b"a", b"b", b"", b"bcd", b"x\x00y"], dtype=object)
    check(op, [words, others], out_dtype=np.bool_, version=3)


def test_constant_operand():
    x = np.arange(-3, 3, dtype=np.float32).reshape(2, 3)
    check(Op.GREATER, [x, Const(np.float32(0.5))], out_dtype=np.bool_, out_shape=x.shape)


@pytest.mark.parametrize("op", [Op.LOGICAL_AND, Op.LOGICAL_OR], ids=lambda o: o.name)
@pytest.mark.parametrize("shapes", BROADCASTS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_logical_binary(op, shapes):
    rng = np.random.default_rng(2)
    check(op, [rng.random(shapes[0]) > 0.5, rng.random(shapes[1]) > 0.5])


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)])
def test_logical_not(shape):
    rng = np.random.default_rng(3)
    check(Op.LOGICAL_NOT, [rng.random(shape) > 0.5])


def test_rejections_are_explicit():
    q = quant(1.5, 1)
    x = np.zeros((2, 2), np.int8)
    error = kernel_error(Op.LESS, [Quantized(x, q), Quantized(x, q)], out_dtype=np.bool_)
    assert isinstance(error, PrepareError) and "scales below 1" in str(error)
    f = np.zeros(3, np.float32)
    error = kernel_error(Op.LESS, [f, f], out_dtype=np.float32)
    assert isinstance(error, PrepareError) and "produces bool" in str(error)
    error = kernel_error(Op.LESS, [f, np.zeros(3, np.int32)], out_dtype=np.bool_)
    assert isinstance(error, PrepareError) and "one type" in str(error)
    error = kernel_error(Op.LOGICAL_AND, [f, f], out_dtype=np.bool_)
    assert isinstance(error, PrepareError) and "supports: bool" in str(error)
    words = np.array([b"a"], dtype=object)
    error = kernel_error(Op.LESS, [words, words], out_dtype=np.bool_)
    assert isinstance(error, PrepareError) and "string" in str(error)
