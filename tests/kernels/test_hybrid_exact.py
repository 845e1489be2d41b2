"""Hybrid (float activations, int8 weights) CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED
and BATCH_MATMUL in exact mode (weights still int8 at the kernel) against the oracle."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import Padding
from edgelite.schema.generated.options import (
    BatchMatMulOptions,
    Conv2DOptions,
    DepthwiseConv2DOptions,
    FullyConnectedOptions,
)
from tests.kernels._qconv_helpers import Spec, build, check, q, small_ints

pytestmark = pytest.mark.oracle


def _weights(rng, shape, axis, per_channel, distinct=True):
    w = small_ints(rng, shape, 0, 127, np.int8)
    if not per_channel:
        return Spec(w, q(0.02, 0), const=True)
    count = shape[axis]
    scales = rng.uniform(0.005, 0.05, count) if distinct else np.full(count, 0.02)
    return Spec(w, q(scales.astype(np.float32), 0, axis=axis), const=True)


def _conv(
    rng,
    *,
    per_channel=True,
    distinct=True,
    groups=1,
    act=Act.NONE,
    stride=1,
    padding=Padding.SAME,
    shape=(2, 8, 9, 6),
):
    n, h, w, c = shape
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    weights = _weights(rng, (10, 3, 3, c // groups), 0, per_channel, distinct)
    bias = Spec(rng.standard_normal(10).astype(np.float32), const=True)
    oh = -(-h // stride) if padding == Padding.SAME else (h - 3) // stride + 1
    ow = -(-w // stride) if padding == Padding.SAME else (w - 3) // stride + 1
    options = Conv2DOptions(padding, stride, stride, act)
    return build(Op.CONV_2D, [Spec(x), weights, bias], (n, oh, ow, 10), np.float32, None,
                 options, 2)  # fmt: skip


def _depthwise(rng, *, mult=2, act=Act.NONE):
    x = (rng.standard_normal((2, 7, 8, 4)) * 2 + 0.5).astype(np.float32)
    weights = _weights(rng, (1, 3, 3, 4 * mult), 3, True)
    bias = Spec(rng.standard_normal(4 * mult).astype(np.float32), const=True)
    options = DepthwiseConv2DOptions(Padding.SAME, 1, 1, mult, act)
    return build(Op.DEPTHWISE_CONV_2D, [Spec(x), weights, bias], (2, 7, 8, 4 * mult),
                 np.float32, None, options, 4)  # fmt: skip


def _fully_connected(
    rng, *, asymmetric=False, per_channel=False, act=Act.NONE, keep=False, zeros=False
):
    x = (rng.standard_normal((3, 4, 20)) * 2).astype(np.float32)
    if zeros:
        x[...] = 0
    weights = _weights(rng, (7, 20), 0, per_channel)
    bias = Spec(rng.standard_normal(7).astype(np.float32), const=True)
    options = FullyConnectedOptions(act, keep_num_dims=keep, asymmetric_quantize_inputs=asymmetric)
    out_shape = (3, 4, 7) if keep else (12, 7)
    return build(Op.FULLY_CONNECTED, [Spec(x), weights, bias], out_shape, np.float32, None,
                 options, 9)  # fmt: skip


def _batch_matmul(rng, *, asymmetric=False, adj_x=False):
    lhs = (rng.standard_normal((2, 8, 5) if adj_x else (2, 5, 8)) * 2).astype(np.float32)
    rhs = _weights(rng, (8, 6), 1, False)
    options = BatchMatMulOptions(adj_x, False, asymmetric)
    return build(Op.BATCH_MATMUL, [Spec(lhs), rhs], (2, 5, 6), np.float32, None, options, 4)


CASES = {
    "conv_per_tensor": lambda r: _conv(r, per_channel=False),
    "conv_per_channel_equal_scales": lambda r: _conv(r, distinct=False),
    "conv_per_channel": lambda r: _conv(r),
    "conv_per_channel_relu6_stride2": lambda r: _conv(r, act=Act.RELU6, stride=2),
    "conv_per_tensor_valid": lambda r: _conv(r, per_channel=False, padding=Padding.VALID),
    "conv_grouped": lambda r: _conv(r, groups=2),
    "depthwise": lambda r: _depthwise(r),
    "depthwise_relu": lambda r: _depthwise(r, mult=1, act=Act.RELU),
    "fc_symmetric": lambda r: _fully_connected(r),
    "fc_asymmetric": lambda r: _fully_connected(r, asymmetric=True),
    "fc_per_channel": lambda r: _fully_connected(r, per_channel=True),
    "fc_per_channel_asymmetric_relu": lambda r: _fully_connected(
        r, asymmetric=True, per_channel=True, act=Act.RELU
    ),
    "fc_keep_num_dims_tanh": lambda r: _fully_connected(r, keep=True, act=Act.TANH),
    "fc_zero_input": lambda r: _fully_connected(r, zeros=True),
    "batch_matmul": lambda r: _batch_matmul(r),
    "batch_matmul_asymmetric_adj_x": lambda r: _batch_matmul(r, asymmetric=True, adj_x=True),
}


@pytest.mark.parametrize("case", CASES)
def test_hybrid_exact(case):
    model, feed = CASES[case](np.random.default_rng(zlib.crc32(case.encode())))
    check(model, feed, case)


@pytest.mark.parametrize("asymmetric", [False, True])
def test_hybrid_on_the_fly_quantization_ties(asymmetric):
    # Rows whose scaled values land exactly on halves, in the vector part (first 8 of a
    # row) and in the scalar tail: both must round half away from zero like TFLite.
    row = [127.0, -128.0 if asymmetric else -127.0, 2.5, -3.5, 0.5, -0.5, 10.5, -1.5]
    row += [4.5, -4.5, 0.5, 126.5]
    x = np.array([row, row[::-1]], np.float32)
    weights = Spec(np.eye(12, dtype=np.int8) * 100, q(0.01, 0), const=True)
    options = FullyConnectedOptions(asymmetric_quantize_inputs=asymmetric)
    model, feed = build(Op.FULLY_CONNECTED, [Spec(x), weights], (2, 12), np.float32, None,
                        options, 9)  # fmt: skip
    check(model, feed)
