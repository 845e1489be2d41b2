"""Exact hybrid mode at rounding ties: the on-the-fly row quantization of every hybrid kernel
against the official runtime, with values placed exactly on and one ulp around halves.

What ai-edge-litert 2.3.0 (x86-64) computes, and these tests pin down (see _onthefly.py):

- the first ``n - n % 8`` values of a row go through the NEON vector loop, which rounds
  ``trunc(y + copysign(0.5f, y))`` in float32: 0.49999997f becomes 1 there, 0 in the
  scalar tail (std::round); exact halves go away from zero in both;
- the asymmetric quantizer subtracts ``rmax - rmin`` in float32 before dividing by 255 in
  double, which moves the scale (and so the rounding of near-half values) by an ulp
  compared with a double subtraction.

The weights are identities, so each output is (q - zero point) times a scale: a one-step
difference in any quantized value fails the float rule.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels._onthefly import quantize_rows
from edgelite.interpreter.kernels.fixedpoint import round_half_away_from_zero
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import Padding
from edgelite.schema.generated.options import (
    BatchMatMulOptions,
    Conv2DOptions,
    DepthwiseConv2DOptions,
    FullyConnectedOptions,
    RNNOptions,
)
from tests.kernels._qconv_helpers import Spec, build, check, q
from tests.kernels.stateful_runner import check_stateful

pytestmark = pytest.mark.oracle

F32 = np.float32
BELOW_HALF = np.nextafter(F32(0.5), F32(0))  # 0.49999997f: +0.5f rounds it up to 1.0f
TIES = [BELOW_HALF, -BELOW_HALF, 2.5, -2.5, np.nextafter(F32(2.5), F32(0)), 2.5000002, 0.5, -0.5]
WIDTH = 20  # 16 values in the vector loop, 4 in the scalar tail


def _tie_rows(asymmetric: bool) -> np.ndarray:
    """Two rows whose scale is 1 (inverse exactly 1), so the scaled values are the values."""
    row = np.zeros(WIDTH, F32)
    row[:2] = (127.0, -128.0 if asymmetric else -127.0)
    row[2:10] = TIES
    row[16:20] = TIES[:4]  # the tail
    other = row.copy()
    other[10:16] = TIES[:6]
    other[16:20] = TIES[4:]
    return np.stack([row, other])


def _identity(scale=1.0, axis=0, shape=(WIDTH, WIDTH)) -> Spec:
    return Spec(np.eye(WIDTH, dtype=np.int8).reshape(shape), q(scale, 0, axis=axis), const=True)


def _fully_connected(x: np.ndarray, asymmetric: bool):
    options = FullyConnectedOptions(asymmetric_quantize_inputs=asymmetric)
    return build(Op.FULLY_CONNECTED, [Spec(x), _identity()], x.shape, F32, None, options, 9)


def _batch_matmul(x: np.ndarray, asymmetric: bool):
    options = BatchMatMulOptions(False, False, asymmetric)
    lhs = x.reshape(1, *x.shape)
    return build(Op.BATCH_MATMUL, [Spec(lhs), _identity()], lhs.shape, F32, None, options, 4)


def _zero_bias() -> Spec:
    return Spec(np.zeros(4, F32), const=True)  # the hybrid convolutions need one


def _conv(x: np.ndarray, per_channel: bool):
    # A 1x1 identity convolution over a (rows, 1, 5, 4) image: each image is one row.
    image = x.reshape(len(x), 1, 5, 4)
    scales = np.array([1.0, 0.5, 0.25, 2.0], F32) if per_channel else 1.0
    weights = Spec(np.eye(4, dtype=np.int8).reshape(4, 1, 1, 4), q(scales, 0), const=True)
    options = Conv2DOptions(Padding.VALID, 1, 1, Act.NONE)
    operands = [Spec(image), weights, _zero_bias()]
    return build(Op.CONV_2D, operands, image.shape, F32, None, options, 2)


def _depthwise(x: np.ndarray):
    image = x.reshape(len(x), 1, 5, 4)
    scales = np.array([1.0, 0.5, 0.25, 2.0], F32)
    weights = Spec(np.ones((1, 1, 1, 4), np.int8), q(scales, 0, axis=3), const=True)
    options = DepthwiseConv2DOptions(Padding.VALID, 1, 1, 1, Act.NONE)
    operands = [Spec(image), weights, _zero_bias()]
    return build(Op.DEPTHWISE_CONV_2D, operands, image.shape, F32, None, options, 4)


OPS = {
    "fc_symmetric": lambda x: _fully_connected(x, False),
    "fc_asymmetric": lambda x: _fully_connected(x, True),
    "batch_matmul_symmetric": lambda x: _batch_matmul(x, False),
    "batch_matmul_asymmetric": lambda x: _batch_matmul(x, True),
    "conv_per_tensor_symmetric": lambda x: _conv(x, False),
    "conv_per_channel_asymmetric": lambda x: _conv(x, True),
    "depthwise_asymmetric": _depthwise,
}


@pytest.mark.parametrize("op", OPS)
def test_ties_in_vector_loop_and_tail(op):
    asymmetric = "asymmetric" in op
    model, feed = OPS[op](_tie_rows(asymmetric))
    official = check(model, feed, op)
    if op.startswith("fc"):  # the evidence itself: the two loops round 0.49999997 apart
        assert official[0, 2] == 1.0 and official[0, 16] == 0.0


@pytest.mark.parametrize("asymmetric", [False, True], ids=["symmetric", "asymmetric"])
def test_ties_in_hybrid_rnn(asymmetric):
    # RNN, LSTM and SVDF quantize their rows with the same tensor_utils functions.
    mb = ModelBuilder()
    x = mb.input("x", (2, WIDTH))
    w = mb.const("w", np.eye(WIDTH, dtype=np.int8), quantization=quant(1.0))
    r = mb.const("r", np.zeros((WIDTH, WIDTH), np.int8), quantization=quant(1.0))
    b = mb.const("b", np.zeros(WIDTH, F32))
    h = mb.tensor("h", (2, WIDTH), is_variable=True)
    y = mb.tensor("y", (2, WIDTH))
    options = RNNOptions(fused_activation_function=Act.NONE, asymmetric_quantize_inputs=asymmetric)
    mb.op(Op.RNN, [x, w, r, b, h], [y], options, version=3 if asymmetric else 2)
    mb.output(y)
    check_stateful(mb.to_bytes(), [[_tie_rows(asymmetric)]])


def _span_sensitive_row(rng: np.random.Generator) -> np.ndarray:
    """A row whose values round differently with a float32 and a double ``rmax - rmin``."""
    while True:
        low, high = F32(-rng.uniform(0.01, 5)), F32(rng.uniform(0.01, 5))
        inverse32 = F32(1 / float(F32(float(F32(high - low)) / 255)))
        inverse64 = F32(1 / float(F32((float(high) - float(low)) / 255)))
        if inverse32 == inverse64:
            continue
        found = []
        for k in range(-60, 60):
            centre = F32((k + 0.5) / float(inverse32))
            for value in (np.nextafter(centre, F32(-9)), centre, np.nextafter(centre, F32(9))):
                a = round_half_away_from_zero(F32(value * inverse32))
                b = round_half_away_from_zero(F32(value * inverse64))
                if low <= value <= high and a != b:
                    found.append(value)
        if len(found) >= 4:
            row = np.zeros(WIDTH, F32)
            row[:2] = low, high
            picks = np.resize(np.array(found, F32), 12)
            row[2:10], row[16:20] = picks[:8], picks[8:]
            return row


@pytest.mark.parametrize("seed", range(3))
def test_asymmetric_span_is_float32(seed):
    x = np.stack([_span_sensitive_row(np.random.default_rng(seed * 2 + i)) for i in range(2)])
    model, feed = _fully_connected(x, asymmetric=True)
    check(model, feed, "span-sensitive rows")


def _near_tie_rows(rng: np.random.Generator, rows: int, asymmetric: bool) -> np.ndarray:
    """Random rows whose scaled values sit within 3 ulps of a half."""
    x = np.zeros((rows, 37), F32)
    for r in range(rows):
        low, high = F32(-rng.uniform(0.01, 10)), F32(rng.uniform(0.01, 10))
        x[r, :2] = low, high
        _, scale, _ = quantize_rows(x[r : r + 1, :2], asymmetric)
        inverse = F32(1 / float(scale[0])) if asymmetric else F32(127) / max(-low, high)
        for i in range(2, x.shape[1]):
            value = F32((rng.integers(-120, 120) + 0.5) / float(inverse))
            steps = int(rng.integers(-3, 4))
            for _ in range(abs(steps)):
                value = np.nextafter(value, F32(np.sign(steps) * np.inf))
            x[r, i] = np.clip(value, low, high)
    return x


@pytest.mark.parametrize("asymmetric", [False, True], ids=["symmetric", "asymmetric"])
def test_near_tie_rows(asymmetric):
    x = _near_tie_rows(np.random.default_rng(7), 48, asymmetric)
    options = FullyConnectedOptions(asymmetric_quantize_inputs=asymmetric)
    weights = Spec(np.eye(37, dtype=np.int8), q(1.0, 0), const=True)
    model, feed = build(Op.FULLY_CONNECTED, [Spec(x), weights], x.shape, F32, None, options, 9)
    check(model, feed, "near-tie rows")
