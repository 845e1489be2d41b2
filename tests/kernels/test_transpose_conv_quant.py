"""Quantized TRANSPOSE_CONV (int8 per-channel / per-tensor, uint8, int16x8) and hybrid
TRANSPOSE_CONV against the oracle."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import Padding, TensorType
from edgelite.schema.generated.options import TransposeConvOptions
from tests.kernels._qconv_helpers import Spec, build, check, q, small_ints, tie_scales

pytestmark = pytest.mark.oracle


def _model(
    rng,
    dtype,
    *,
    shape=(2, 5, 6, 3),
    out_c=8,
    k=(3, 3),
    stride=(2, 2),
    padding=Padding.SAME,
    act=Act.NONE,
    per_channel=True,
    bias_type=np.int32,
    qbt=None,
    zx=3,
    zw=0,
    zo=-2,
    spread=5,
    wspread=6,
    s_out=1.0,
    out_hw=None,
):
    n, h, w, c = shape
    if out_hw is None:
        out_hw = (
            (h * stride[0], w * stride[1])
            if padding == Padding.SAME
            else ((h - 1) * stride[0] + k[0], (w - 1) * stride[1] + k[1])
        )
    hybrid = dtype == np.float32
    if hybrid:
        x = rng.standard_normal(shape).astype(np.float32)
    else:
        x = small_ints(rng, shape, zx, spread, dtype)
    wdtype = np.uint8 if dtype == np.uint8 else np.int8
    filt = small_ints(rng, (out_c, *k, c), zw, wspread, wdtype)
    s_in = 0.5
    w_scales = tie_scales(rng, out_c) if per_channel else np.float32(0.25)
    bias = None
    if bias_type is not None:
        values = rng.integers(-20, 20, out_c).astype(np.float32 if hybrid else bias_type)
        bias_q = None if hybrid else q(np.float32(s_in) * np.asarray(w_scales, np.float32), 0)
        bias = Spec(values, bias_q, const=True)
    options = TransposeConvOptions(padding, stride[1], stride[0], act)
    if qbt is not None:
        options.quantized_bias_type = qbt
    out_shape = (n, *out_hw, out_c)
    operands = [
        Spec(np.array(out_shape, np.int32), const=True),
        Spec(filt, q(w_scales, zw, axis=0), const=True),
        Spec(x, None if hybrid else q(s_in, zx)),
        bias,
    ]
    out_q = None if hybrid else q(s_out, zo)
    return build(Op.TRANSPOSE_CONV, operands, out_shape, dtype, out_q, options, 3)


CASES = {
    "int8": {},
    "int8_c12": {"out_c": 12},
    "int8_stride1_valid": {"stride": (1, 1), "padding": Padding.VALID},
    "int8_stride_2x1": {"stride": (2, 1), "k": (2, 3), "out_c": 16},
    "int8_relu": {"act": Act.RELU},
    "int8_relu6": {"act": Act.RELU6, "s_out": 0.05},
    "int8_per_tensor": {"per_channel": False},
    "int8_no_bias": {"bias_type": None},
    "int8_saturating": {"spread": 120, "wspread": 127, "zx": -128, "zo": 127, "s_out": 20.0},
    "uint8": {"per_channel": False, "zx": 130, "zw": 120, "zo": 100},
    "uint8_c16": {"per_channel": False, "zx": 3, "zw": 200, "zo": 100, "out_c": 16},
    "int16_int64_bias": {"bias_type": np.int64, "zx": 0, "zo": 0},
    "int16_int32_bias": {"bias_type": np.int32, "qbt": TensorType.INT32, "zx": 0, "zo": 0,
                         "out_c": 12},
    "hybrid": {},
    "hybrid_per_tensor": {"per_channel": False, "act": Act.RELU},
}  # fmt: skip


def _dtype(case: str):
    for prefix, dtype in (("int16", np.int16), ("uint8", np.uint8), ("hybrid", np.float32)):
        if case.startswith(prefix):
            return dtype
    return np.int8


@pytest.mark.parametrize("case", CASES)
def test_transpose_conv_quant(case):
    params = dict(CASES[case])
    model, feed = _model(np.random.default_rng(zlib.crc32(case.encode())), _dtype(case), **params)
    check(model, feed, case)
