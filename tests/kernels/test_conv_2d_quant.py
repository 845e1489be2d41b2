"""Quantized CONV_2D (int8 per-channel / per-tensor, uint8, int16x8) against the oracle.

Scales mix powers of two (exact rounding ties, which tell the rounding forms apart)
with random ones; values stay small so that outputs rarely saturate.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import Padding, TensorType
from edgelite.schema.generated.options import Conv2DOptions
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
    shape=(2, 9, 10, 6),
    out_c=8,
    k=(3, 3),
    stride=(1, 1),
    dilation=(1, 1),
    padding=Padding.SAME,
    act=Act.NONE,
    groups=1,
    per_channel=True,
    bias_type=np.int32,
    qbt=None,
    zx=3,
    zw=0,
    zo=-2,
    spread=5,
    wspread=6,
    s_out=1.0,
    zero_bias=False,
):
    n, h, w, c = shape
    x = small_ints(rng, shape, zx, spread, dtype)
    wdtype = np.uint8 if dtype == np.uint8 else np.int8
    filt = small_ints(rng, (out_c, *k, c // groups), zw, wspread, wdtype)
    s_in = 0.5
    w_scales = tie_scales(rng, out_c) if per_channel else np.float32(0.25)
    bias_scale = np.float32(s_in) * np.asarray(w_scales, np.float32)
    bias = None
    if bias_type is not None:
        values = rng.integers(-20, 20, out_c) * (0 if zero_bias else 1)
        bias = Spec(values.astype(bias_type), q(bias_scale, 0), const=True)
    options = Conv2DOptions(padding, stride[1], stride[0], act, dilation[1], dilation[0])
    if qbt is not None:
        options.quantized_bias_type = qbt
    dh, dw = (k[0] - 1) * dilation[0] + 1, (k[1] - 1) * dilation[1] + 1
    if padding == Padding.SAME:
        oh, ow = -(-h // stride[0]), -(-w // stride[1])
    else:
        oh, ow = (h - dh) // stride[0] + 1, (w - dw) // stride[1] + 1
    operands = [Spec(x, q(s_in, zx)), Spec(filt, q(w_scales, zw, axis=0), const=True), bias]
    return build(Op.CONV_2D, operands, (n, oh, ow, out_c), dtype, q(s_out, zo), options, 3)


CASES = {
    "int8_3x3_same": {},
    "int8_1x1": {"k": (1, 1), "padding": Padding.VALID},
    "int8_stride2_valid": {"stride": (2, 2), "padding": Padding.VALID, "shape": (1, 11, 12, 5)},
    "int8_stride_hw_dilated": {"stride": (1, 2), "dilation": (2, 1), "shape": (1, 12, 13, 4)},
    "int8_5x3_relu": {"k": (5, 3), "act": Act.RELU},
    "int8_relu6": {"act": Act.RELU6, "s_out": 0.05},
    "int8_relu_n1_to_1": {"act": Act.RELU_N1_TO_1, "s_out": 0.02},
    "int8_per_tensor": {"per_channel": False},
    "int8_grouped": {"groups": 2, "shape": (1, 8, 8, 6)},
    "int8_saturating": {"spread": 120, "wspread": 127, "zx": -128, "zo": 127},
    "int8_odd_channels": {"out_c": 13, "shape": (1, 7, 7, 3)},
    "uint8": {"per_channel": False, "zx": 130, "zw": 120, "zo": 100},
    "uint8_stride2": {"per_channel": False, "zx": 20, "zw": 200, "zo": 3, "stride": (2, 2)},
    "uint8_grouped": {"per_channel": False, "zx": 128, "zw": 128, "zo": 128, "groups": 3,
                      "shape": (1, 6, 6, 6), "out_c": 9},
    "int16_int64_bias": {"bias_type": np.int64, "zx": 0, "zo": 0},
    "int16_int64_bias_option": {"bias_type": np.int64, "qbt": TensorType.INT64, "zx": 0, "zo": 0},
    "int16_int32_bias": {"bias_type": np.int32, "qbt": TensorType.INT32, "zx": 0, "zo": 0},
    "int16_int32_grouped": {"bias_type": np.int32, "qbt": TensorType.INT32, "zx": 0, "zo": 0,
                            "groups": 2},
    "int16_wide": {"bias_type": np.int64, "zx": 0, "zo": 0, "spread": 30000, "s_out": 2000.0},
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_conv_2d_quant(case):
    params = dict(CASES[case])
    dtype = (
        np.int16 if case.startswith("int16") else np.uint8 if case.startswith("uint8") else np.int8
    )
    model, feed = _model(np.random.default_rng(zlib.crc32(case.encode())), dtype, **params)
    check(model, feed, case)


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_conv_2d_missing_bias_is_zero(dtype):
    # The official kernel insists on a bias; edgelite reads a missing one as zeros.
    zeros = {"zx": 0, "zo": 0} if dtype == np.int16 else {}
    wide = {"bias_type": np.int64} if dtype == np.int16 else {}
    with_bias, feed = _model(np.random.default_rng(5), dtype, zero_bias=True, **zeros, **wide)
    without, _ = _model(np.random.default_rng(5), dtype, bias_type=None, **zeros)
    official = check(with_bias, feed)
    for optimized in (False, True):
        np.testing.assert_array_equal(run_kernels(without, feed, optimized=optimized)[0], official)


def test_conv_2d_int8_long_k_is_chunked():
    # K = 3*3*160 = 1440 > 1024: the float GEMM sums in exact chunks.
    rng = np.random.default_rng(1)
    model, feed = _model(rng, np.int8, shape=(1, 6, 6, 160), out_c=16, spread=128,
                         wspread=127, zx=-128, s_out=4000.0)  # fmt: skip
    check(model, feed)


@pytest.mark.parametrize("rounding", ["double", "single"])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_conv_2d_forced_rounding(rounding, dtype):
    rng = np.random.default_rng(2)
    kwargs = {"per_channel": False, "zx": 130, "zw": 120, "zo": 100} if dtype == np.uint8 else {}
    model, feed = _model(rng, dtype, **kwargs)
    ref = run_with_rounding(model, feed, rounding, optimized=False)
    opt = run_with_rounding(model, feed, rounding, optimized=True)
    np.testing.assert_array_equal(ref, opt)
    official = run_kernels(model, feed)[0]  # "tflite": double_up, which differs on ties
    assert not np.array_equal(ref, official)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"zw": 1}, "zero point"),
        ({"bias_type": np.int64}, "bias"),
    ],
)
def test_conv_2d_quant_rejects_bad_parameters(change, message):
    model, feed = _model(np.random.default_rng(3), np.int8, **change)
    with pytest.raises(PrepareError, match=message):
        run_kernels(model, feed)


def test_conv_2d_int16_int32_bias_needs_option():
    model, feed = _model(np.random.default_rng(4), np.int16, zx=0, zo=0, bias_type=np.int32)
    with pytest.raises(PrepareError, match="quantized_bias_type INT32"):
        run_kernels(model, feed)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_conv_2d_quant_two_threads(dtype):
    # Enough work for the OpenMP split: every thread fills its own scratch rows.
    params = {"shape": (2, 40, 40, 32), "out_c": 24}
    if dtype == np.uint8:
        params.update(per_channel=False, zx=130, zw=120, zo=100)
    if dtype == np.int16:
        params.update(bias_type=np.int64, zx=0, zo=0)
    model, feed = _model(np.random.default_rng(6), dtype, **params)
    official = check(model, feed)
    threaded = run_with_rounding(model, feed, "tflite", optimized=True, num_threads=2)
    np.testing.assert_array_equal(threaded, official)
