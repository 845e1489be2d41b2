"""Quantized FULLY_CONNECTED (int8 per-tensor / per-channel, uint8, int16 with int32 /
int64 bias, int16 weights) against the oracle."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import TensorType
from edgelite.schema.generated.options import FullyConnectedOptions
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
    x_shape=(40, 24),
    units=10,
    per_channel=False,
    bias_type=np.int32,
    qbt=None,
    act=Act.NONE,
    keep_num_dims=False,
    zx=3,
    zw=0,
    zo=-2,
    spread=5,
    wspread=6,
    s_out=1.0,
    wdtype=None,
    bias_scale_factor=1.0,
):
    x = small_ints(rng, x_shape, zx, spread, dtype)
    k = x_shape[-1]
    wdtype = wdtype or (np.uint8 if dtype == np.uint8 else np.int8)
    weights = small_ints(rng, (units, k), zw, wspread, wdtype)
    s_in = 0.5
    w_scales = tie_scales(rng, units) if per_channel else np.float32(0.25)
    bias_scale = np.float32(s_in) * np.asarray(w_scales, np.float32) * np.float32(bias_scale_factor)
    bias = None
    if bias_type is not None:
        bias = Spec(rng.integers(-20, 20, units).astype(bias_type), q(bias_scale, 0), const=True)
    options = FullyConnectedOptions(act, keep_num_dims=keep_num_dims)
    if qbt is not None:
        options.quantized_bias_type = qbt
    rows = int(np.prod(x_shape)) // k
    out_shape = (*x_shape[:-1], units) if keep_num_dims else (rows, units)
    operands = [Spec(x, q(s_in, zx)), Spec(weights, q(w_scales, zw, axis=0), const=True), bias]
    return build(Op.FULLY_CONNECTED, operands, out_shape, dtype, q(s_out, zo), options, 5)


CASES = {
    "int8": {},
    "int8_one_row": {"x_shape": (1, 300), "units": 17, "spread": 3},
    "int8_weight_zero_point": {"zw": 5},
    "int8_per_channel": {"per_channel": True},
    "int8_relu": {"act": Act.RELU},
    "int8_relu6": {"act": Act.RELU6, "s_out": 0.05},
    "int8_relu_n1_to_1": {"act": Act.RELU_N1_TO_1, "s_out": 0.02},
    "int8_keep_num_dims": {"x_shape": (2, 5, 24), "keep_num_dims": True},
    "int8_flattened": {"x_shape": (3, 4, 6)},
    "int8_no_bias": {"bias_type": None},
    "int8_long_k": {"x_shape": (4, 1500), "spread": 128, "wspread": 127, "zx": -128,
                    "s_out": 3000.0},
    "int8_saturating": {"spread": 120, "wspread": 127, "zx": -128, "zo": 127},
    "uint8": {"zx": 130, "zw": 120, "zo": 100},
    "uint8_relu": {"zx": 5, "zw": 250, "zo": 0, "act": Act.RELU},
    "int16_int64_bias": {"bias_type": np.int64, "zx": 0, "zo": 0},
    "int16_int32_bias": {"bias_type": np.int32, "zx": 0, "zo": 0},
    "int16_int32_bias_option": {"bias_type": np.int32, "qbt": TensorType.INT32, "zx": 0, "zo": 0},
    "int16_per_channel_int64": {"bias_type": np.int64, "zx": 0, "zo": 0, "per_channel": True},
    "int16_per_channel_int32": {"bias_type": np.int32, "qbt": TensorType.INT32, "zx": 0, "zo": 0,
                                "per_channel": True},
    "int16_wide": {"bias_type": np.int64, "zx": 0, "zo": 0, "spread": 30000, "s_out": 500.0},
    "int16_int16_weights": {"bias_type": np.int64, "qbt": TensorType.INT64, "zx": 0, "zo": 0,
                            "wdtype": np.int16, "wspread": 3000, "s_out": 300.0},
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_fully_connected_quant(case):
    params = dict(CASES[case])
    dtype = (
        np.int16 if case.startswith("int16") else np.uint8 if case.startswith("uint8") else np.int8
    )
    model, feed = _model(np.random.default_rng(zlib.crc32(case.encode())), dtype, **params)
    check(model, feed, case)


@pytest.mark.parametrize("rounding", ["double", "single"])
def test_fully_connected_forced_rounding(rounding):
    model, feed = _model(np.random.default_rng(2), np.int8)
    ref = run_with_rounding(model, feed, rounding, optimized=False)
    np.testing.assert_array_equal(ref, run_with_rounding(model, feed, rounding, optimized=True))


def test_fully_connected_bias_scale_must_match():
    model, feed = _model(np.random.default_rng(3), np.int8, bias_scale_factor=1.5)
    with pytest.raises(PrepareError, match="bias"):
        run_kernels(model, feed)


def test_fully_connected_rejects_tanh():
    model, feed = _model(np.random.default_rng(3), np.int8, act=Act.TANH)
    with pytest.raises(PrepareError, match="TANH"):
        run_kernels(model, feed)
