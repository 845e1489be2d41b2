"""Quantized DEPTHWISE_CONV_2D (int8 per-channel / per-tensor, uint8, int16x8) vs the oracle.

The official int8 kernel rounds blocks of 8 channels one way and the channels left
over another: channel counts around multiples of 8 are part of the cases.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import Padding
from edgelite.schema.generated.options import DepthwiseConv2DOptions
from tests.kernel_runner import run_kernels
from tests.kernels._qconv_helpers import (
    Spec,
    build,
    check,
    q,
    run_with_rounding,
    small_ints,
    tie_scales,
)

pytestmark = pytest.mark.oracle


def _model(
    rng,
    dtype,
    *,
    shape=(2, 9, 10, 4),
    mult=1,
    k=(3, 3),
    stride=(1, 1),
    dilation=(1, 1),
    padding=Padding.SAME,
    act=Act.NONE,
    per_channel=True,
    bias_type=np.int32,
    zx=3,
    zw=0,
    zo=-2,
    spread=5,
    wspread=6,
    s_out=1.0,
):
    n, h, w, c = shape
    out_c = c * mult
    x = small_ints(rng, shape, zx, spread, dtype)
    wdtype = np.uint8 if dtype == np.uint8 else np.int8
    filt = small_ints(rng, (1, *k, out_c), zw, wspread, wdtype)
    s_in = 0.5
    w_scales = tie_scales(rng, out_c) if per_channel else np.float32(0.25)
    bias_scale = np.float32(s_in) * np.asarray(w_scales, np.float32)
    bias = Spec(rng.integers(-20, 20, out_c).astype(bias_type), q(bias_scale, 0), const=True)
    options = DepthwiseConv2DOptions(padding, stride[1], stride[0], mult, act, dilation[1],
                                     dilation[0])  # fmt: skip
    dh, dw = (k[0] - 1) * dilation[0] + 1, (k[1] - 1) * dilation[1] + 1
    if padding == Padding.SAME:
        oh, ow = -(-h // stride[0]), -(-w // stride[1])
    else:
        oh, ow = (h - dh) // stride[0] + 1, (w - dw) // stride[1] + 1
    operands = [Spec(x, q(s_in, zx)), Spec(filt, q(w_scales, zw, axis=3), const=True), bias]
    return build(Op.DEPTHWISE_CONV_2D, operands, (n, oh, ow, out_c), dtype, q(s_out, zo),
                 options, 3)  # fmt: skip


CASES = {
    "int8_c4": {},
    "int8_c8": {"shape": (1, 8, 8, 8)},
    "int8_c12": {"shape": (1, 8, 8, 12)},
    "int8_c21": {"shape": (1, 7, 7, 21)},
    "int8_mult3": {"shape": (1, 8, 8, 4), "mult": 3},
    "int8_c1_mult20": {"shape": (1, 8, 8, 1), "mult": 20},
    "int8_stride2_valid": {"stride": (2, 2), "padding": Padding.VALID, "shape": (1, 11, 12, 16)},
    "int8_dilated": {"dilation": (2, 3), "shape": (1, 12, 13, 8)},
    "int8_5x5_relu6": {"k": (5, 5), "act": Act.RELU6, "s_out": 0.05, "shape": (1, 9, 9, 16)},
    "int8_relu": {"act": Act.RELU},
    "int8_per_tensor": {"per_channel": False, "shape": (1, 6, 6, 16)},
    "int8_saturating": {"spread": 120, "wspread": 127, "zx": -128, "zo": 127, "s_out": 50.0},
    "uint8": {"per_channel": False, "zx": 130, "zw": 120, "zo": 100, "shape": (1, 8, 8, 16)},
    "uint8_mult2": {"per_channel": False, "zx": 2, "zw": 250, "zo": 7, "mult": 2},
    "int16": {"bias_type": np.int64, "zx": 0, "zo": 0, "shape": (1, 8, 8, 12)},
    "int16_wide": {"bias_type": np.int64, "zx": 0, "zo": 0, "spread": 30000, "s_out": 300.0},
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_depthwise_conv_2d_quant(case):
    params = dict(CASES[case])
    dtype = (
        np.int16 if case.startswith("int16") else np.uint8 if case.startswith("uint8") else np.int8
    )
    model, feed = _model(np.random.default_rng(zlib.crc32(case.encode())), dtype, **params)
    check(model, feed, case)


@pytest.mark.parametrize("rounding", ["double", "single"])
def test_depthwise_forced_rounding(rounding):
    model, feed = _model(np.random.default_rng(2), np.int8, shape=(1, 8, 8, 12))
    ref = run_with_rounding(model, feed, rounding, optimized=False)
    np.testing.assert_array_equal(ref, run_with_rounding(model, feed, rounding, optimized=True))


def test_depthwise_int16_needs_int64_bias():
    model, feed = _model(np.random.default_rng(4), np.int16, zx=0, zo=0, bias_type=np.int32)
    with pytest.raises(PrepareError, match="bias"):
        run_kernels(model, feed)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_depthwise_quant_two_threads(dtype):
    kwargs = {"per_channel": False, "zx": 130, "zw": 120, "zo": 100} if dtype == np.uint8 else {}
    model, feed = _model(np.random.default_rng(7), dtype, shape=(2, 40, 40, 48), **kwargs)
    official = check(model, feed)
    threaded = run_with_rounding(model, feed, "tflite", optimized=True, num_threads=2)
    np.testing.assert_array_equal(threaded, official)
