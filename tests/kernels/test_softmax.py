"""SOFTMAX (beta, any rank, last axis) and LOG_SOFTMAX against the official runtime,
reference and fused (Cython) versions alike."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels import softmax
from edgelite.interpreter.kernels.base import Node, PrepareError, TensorInfo
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import TensorType
from edgelite.schema.generated.options import SoftmaxOptions
from tests.kernels._elementwise_helpers import Quantized, check, kernel_error, rand
from tests.oracle import assert_matches

pytestmark = pytest.mark.oracle

SHAPES = [(1,), (10,), (3, 7), (2, 3, 5), (2, 1, 3, 4), (1, 2, 1, 2, 3, 9), (4, 1)]


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.5, 0.0, -1.0])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_softmax(shape, beta):
    x = rand(np.random.default_rng(0), shape, scale=3.0)
    check(Op.SOFTMAX, [x], options=SoftmaxOptions(beta=beta))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_log_softmax(shape):
    x = rand(np.random.default_rng(1), shape, scale=3.0)
    check(Op.LOG_SOFTMAX, [x])


@pytest.mark.parametrize("op", [Op.SOFTMAX, Op.LOG_SOFTMAX], ids=lambda o: o.name)
def test_extreme_rows(op):
    inf, nan = np.inf, np.nan
    x = np.array(
        [
            [1, 2, -inf, 3],
            [inf, 1, 2, 3],
            [nan, 1, 2, 3],
            [1, 2, nan, 3],
            [-inf, -inf, -inf, -inf],
            [1e30, -1e30, 0, 1e30],
            [80, 90, 100, 110],
            [-1e-30, 0, 1e-30, 0],
        ],
        np.float32,
    )
    options = SoftmaxOptions(beta=1.0) if op == Op.SOFTMAX else None
    check(op, [x], options=options)


@pytest.mark.parametrize("op", [Op.SOFTMAX, Op.LOG_SOFTMAX], ids=lambda o: o.name)
def test_many_rows_with_threads(op):
    x = rand(np.random.default_rng(2), (300, 1001), scale=4.0)
    options = SoftmaxOptions(beta=1.3) if op == Op.SOFTMAX else None
    info = TensorInfo(0, "x", x.shape, x.dtype, TensorType.FLOAT32)
    node = Node(0, op.name, 1, [info], [info], options=options, num_threads=4)
    spec = softmax.KERNELS[op]
    prepared = spec.prepare(node)
    reference, fast = np.empty_like(x), np.empty_like(x)
    spec.invoke(prepared.data, [x], [reference])
    spec.invoke_opt(prepared.data, [x], [fast])
    assert_matches(fast, reference, "4 threads")
    in_place = x.copy()
    spec.invoke_opt(prepared.data, [in_place], [in_place])
    assert_matches(in_place, reference, "in place")
    check(op, [x], options=options)


def test_missing_options_mean_beta_zero():
    x = rand(np.random.default_rng(3), (2, 5))
    np.testing.assert_allclose(check(Op.SOFTMAX, [x]), 0.2, rtol=1e-6)


def test_rejections_are_explicit():
    error = kernel_error(Op.SOFTMAX, [np.float32(1)], options=SoftmaxOptions(1.0))
    assert isinstance(error, PrepareError) and "rank >= 1" in str(error)
    x = Quantized(np.zeros((2, 4), np.int8), quant(0.1, 0))
    error = kernel_error(Op.SOFTMAX, [x], options=SoftmaxOptions(1.0), out_quant=quant(1 / 256))
    assert isinstance(error, PrepareError) and "zero point -128" in str(error)
