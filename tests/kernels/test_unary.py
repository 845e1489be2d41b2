"""ABS NEG EXP LOG SQRT RSQRT SQUARE SIN COS FLOOR CEIL ROUND SIGN against the
official runtime: float32 values with IEEE specials, and the integer variants."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from tests.kernels._elementwise_helpers import SPECIAL, Quantized, check, kernel_error, rand

pytestmark = pytest.mark.oracle

FLOAT_OPS = [
    Op.ABS,
    Op.NEG,
    Op.EXP,
    Op.LOG,
    Op.SQRT,
    Op.RSQRT,
    Op.SQUARE,
    Op.SIN,
    Op.COS,
    Op.FLOOR,
    Op.CEIL,
    Op.ROUND,
    Op.SIGN,
]


@pytest.mark.parametrize("shape", [(), (9,), (2, 3, 4), (1, 2, 1, 3, 2, 2)], ids=str)
@pytest.mark.parametrize("op", FLOAT_OPS, ids=lambda o: o.name)
def test_float(op, shape):
    x = rand(np.random.default_rng(0), shape, scale=5.0)
    check(op, [x])


@pytest.mark.parametrize("op", FLOAT_OPS, ids=lambda o: o.name)
def test_float_edges(op):
    # Halves for ROUND (to even), the log/sqrt domain edges, exp over/underflow.
    halves = np.arange(-4.5, 5, 1.0)
    edges = [-100, -89, 89, 100, 1e-30, -1e-30, 1, -1, 2.4999998, 0.49999997]
    x = np.concatenate([SPECIAL, halves, edges]).astype(np.float32)
    check(op, [x])


def test_round_is_bankers():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5], np.float32)
    assert check(Op.ROUND, [x]).tolist() == [-2, -2, 0, 0, 2, 2, 4]


@pytest.mark.parametrize(
    ("op", "dtype", "version"),
    [
        (Op.ABS, np.int32, 5),
        (Op.ABS, np.int16, 4),
        (Op.NEG, np.int32, 1),
        (Op.NEG, np.int64, 1),
        (Op.SIGN, np.int32, 2),
        (Op.SIGN, np.float64, 1),
    ],
    ids=lambda v: (
        getattr(v, "name", None) or (np.dtype(v).name if not isinstance(v, int) else None)
    ),
)
def test_other_types(op, dtype, version):
    info = np.iinfo(dtype) if np.dtype(dtype).kind == "i" else None
    values = [0, 1, -1, 7, -123]
    if info is not None:
        values += [info.min, info.max]  # abs/neg of the minimum wrap onto it
    check(op, [np.array(values, dtype)], version=version)


def test_rejections_are_explicit():
    q = quant(0.1, 0)
    x = Quantized(np.zeros((2, 3), np.int8), q)
    error = kernel_error(Op.SIN, [x], out_quant=q)
    assert isinstance(error, PrepareError) and "quantized SIN not supported yet" in str(error)
    error = kernel_error(Op.EXP, [np.zeros(3, np.int32)])
    assert isinstance(error, PrepareError) and "supports: float32" in str(error)
    error = kernel_error(Op.SIN, [np.zeros(3, np.float16)])
    assert isinstance(error, PrepareError) and "float16" in str(error)
    error = kernel_error(Op.NEG, [np.zeros(3, np.float32)], out_dtype=np.int32)
    assert isinstance(error, PrepareError) and "output" in str(error)
