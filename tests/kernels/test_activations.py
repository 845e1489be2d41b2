"""TANH LOGISTIC RELU RELU6 RELU_N1_TO_1 RELU_0_TO_1 LEAKY_RELU PRELU ELU HARD_SWISH
GELU against the official runtime, reference and fused (Cython) versions alike."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels import activations
from edgelite.interpreter.kernels.base import Node, PrepareError, TensorInfo
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import TensorType
from edgelite.schema.generated.options import GeluOptions, LeakyReluOptions
from tests.kernels._elementwise_helpers import (
    SPECIAL,
    Const,
    Quantized,
    check,
    kernel_error,
    rand,
)
from tests.oracle import assert_matches

pytestmark = pytest.mark.oracle

ACTIVATIONS = [
    (Op.TANH, None),
    (Op.LOGISTIC, None),
    (Op.RELU, None),
    (Op.RELU6, None),
    (Op.RELU_N1_TO_1, None),
    (Op.RELU_0_TO_1, None),
    (Op.LEAKY_RELU, LeakyReluOptions(alpha=0.2)),
    (Op.LEAKY_RELU, LeakyReluOptions(alpha=1.7)),
    (Op.LEAKY_RELU, LeakyReluOptions(alpha=-0.5)),
    (Op.ELU, None),
    (Op.HARD_SWISH, None),
    (Op.GELU, GeluOptions(approximate=False)),
    (Op.GELU, GeluOptions(approximate=True)),
]
IDS = [f"{op.name}-{options}" if options else op.name for op, options in ACTIVATIONS]


@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 5), (1, 2, 2, 3, 2, 2)], ids=str)
@pytest.mark.parametrize(("op", "options"), ACTIVATIONS, ids=IDS)
def test_activation(op, options, shape):
    x = rand(np.random.default_rng(0), shape, scale=4.0)
    check(op, [x], options=options)


@pytest.mark.parametrize(("op", "options"), ACTIVATIONS, ids=IDS)
def test_activation_edges(op, options):
    # IEEE specials, the kinks (0, +-1, +-3, 6) and where exp over/underflows.
    kinks = [-100, -88, -20, -6, -3, -1, -0.5, 0.5, 1, 3, 5.9, 6, 6.1, 20, 88, 100]
    x = np.concatenate([SPECIAL, np.array(kinks, np.float32)])
    check(op, [x], options=options)


@pytest.mark.parametrize(("op", "options"), ACTIVATIONS, ids=IDS)
def test_activation_big_tensor_with_threads(op, options):
    # Enough work for the fused kernels to split it over threads (_threads.threads_for).
    x = rand(np.random.default_rng(1), (4, 256, 600), scale=5.0)
    reference = np.empty_like(x)
    fast = np.empty_like(x)
    node = _node(op, options, x, num_threads=4)
    spec = activations.KERNELS[op]
    prepared = spec.prepare(node)
    spec.invoke(prepared.data, [x], [reference])
    (spec.invoke_opt or spec.invoke)(prepared.data, [x], [fast])
    assert_matches(fast, reference, "4 threads")
    # The fused loops also work in place (output buffer = input buffer).
    in_place = x.copy()
    (spec.invoke_opt or spec.invoke)(prepared.data, [in_place], [in_place])
    assert_matches(in_place, reference, "in place")


def _node(op, options, x, num_threads=1, alpha=None):
    infos = [TensorInfo(0, "x", x.shape, x.dtype, TensorType.FLOAT32)]
    if alpha is not None:
        infos.append(TensorInfo(1, "a", alpha.shape, alpha.dtype, TensorType.FLOAT32, data=alpha))
    out = TensorInfo(2, "y", x.shape, x.dtype, TensorType.FLOAT32)
    return Node(0, op.name, 1, infos, [out], options=options, num_threads=num_threads)


PRELU_ALPHAS = [
    ((2, 3, 4), (4,)),
    ((2, 3, 4), (1, 1, 4)),
    ((2, 3, 4), (3, 1)),
    ((2, 3, 4), (2, 3, 4)),
    ((2, 3, 4), (1,)),
    ((2, 3, 4), ()),
    ((1, 5, 5, 3), (1, 1, 3)),
    ((2, 1, 3, 2, 2, 2), (3, 1, 2, 1)),
]


@pytest.mark.parametrize("constant", [True, False], ids=["const-alpha", "input-alpha"])
@pytest.mark.parametrize("shapes", PRELU_ALPHAS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_prelu(shapes, constant):
    rng = np.random.default_rng(2)
    x = rand(rng, shapes[0], scale=3.0)
    x.reshape(-1)[:3] = [np.nan, -0.0, -np.inf]
    alpha = rng.uniform(-2, 2, shapes[1]).astype(np.float32)
    check(Op.PRELU, [x, Const(alpha) if constant else alpha], out_shape=x.shape)


def test_prelu_big_tensor_with_threads():
    rng = np.random.default_rng(3)
    x = rand(rng, (1, 128, 128, 40))
    alpha = rng.uniform(0, 1, (1, 1, 40)).astype(np.float32)
    node = _node(Op.PRELU, None, x, num_threads=4, alpha=alpha)
    spec = activations.KERNELS[Op.PRELU]
    prepared = spec.prepare(node)
    reference, fast = np.empty_like(x), np.empty_like(x)
    spec.invoke(prepared.data, [x, alpha], [reference])
    spec.invoke_opt(prepared.data, [x, alpha], [fast])
    np.testing.assert_array_equal(fast, reference)
    spec.invoke_opt(prepared.data, [fast, alpha], [fast])  # in place: x >= 0 unchanged
    np.testing.assert_array_equal(fast, np.where(reference >= 0, reference, reference * alpha))


def test_rejections_are_explicit():
    x = np.zeros((2, 3), np.int8)
    q = quant(0.1, 0)
    error = kernel_error(Op.LOGISTIC, [Quantized(x, q)], out_quant=quant(0.1, -128))
    assert isinstance(error, PrepareError) and "needs output scale 1/256" in str(error)
    error = kernel_error(Op.RELU, [np.zeros(3, np.int32)])
    assert isinstance(error, PrepareError) and "int32" in str(error)
    f = np.zeros((2, 3), np.float32)
    error = kernel_error(Op.PRELU, [f, np.zeros((2, 2, 3), np.float32)], out_shape=(2, 2, 3))
    assert isinstance(error, PrepareError) and "must broadcast to the input shape" in str(error)
    error = kernel_error(Op.TANH, [f], out_dtype=np.int32)
    assert isinstance(error, PrepareError) and "output" in str(error)
