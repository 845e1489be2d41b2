"""Bad quantization parameters on the conv / matmul family: a PrepareError (or, for what
the model reader's structural checks catch first, a ModelError) naming the tensor and the
rule, never a wrong answer or a crash."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import ModelError
from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import Padding
from edgelite.schema.generated.options import (
    Conv2DOptions,
    DepthwiseConv2DOptions,
    FullyConnectedOptions,
)
from edgelite.schema.model import QuantizationParameters
from tests.kernel_runner import run_kernels
from tests.kernels._qconv_helpers import Spec, build, q

X = np.zeros((1, 4, 4, 3), np.int8)


X_Q, W_Q, OUT_Q = q(0.5, 1), q(np.full(4, 0.1, np.float32), 0), q(1.0, 0)


def _conv(x_q=X_Q, w_q=W_Q, out_q=OUT_Q, x=X, w_dtype=np.int8, out_dtype=None):
    w = np.ones((4, 1, 1, 3), w_dtype)
    bias = Spec(np.zeros(4, np.int32), q(0.05, 0), const=True)
    operands = [Spec(x, x_q), Spec(w, w_q, const=True), bias]
    out_dtype = out_dtype or x.dtype
    options = Conv2DOptions(Padding.SAME, 1, 1)
    return build(Op.CONV_2D, operands, (1, 4, 4, 4), out_dtype, out_q, options, 3)


def _raises(model_and_feed, *fragments: str) -> None:
    model, feed = model_and_feed
    with pytest.raises((PrepareError, ModelError)) as info:
        run_kernels(model, feed)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_missing_input_parameters():
    _raises(_conv(x_q=None), "input 'x0'", "no quantization parameters")


def test_missing_output_parameters():
    _raises(_conv(out_q=None), "output 'y'", "no quantization parameters")


def test_per_channel_length_mismatch():
    _raises(_conv(w_q=q(np.full(3, 0.1, np.float32), 0)), "'c1'", "3 scales")


def test_per_channel_wrong_dimension():
    _raises(_conv(w_q=q(np.full(4, 0.1, np.float32), 0, axis=3)), "'c1'", "dimension")


@pytest.mark.parametrize("scale", [0.0, -0.5, np.inf, np.nan])
def test_bad_scales(scale):
    _raises(_conv(x_q=q(scale, 0)), "input 'x0'", "positive and finite")


def test_zero_point_out_of_range():
    _raises(_conv(x_q=q(0.5, 200)), "input 'x0'", "outside [-128, 127]")


def test_zero_point_count_mismatch():
    params = QuantizationParameters(
        scale=np.full(4, 0.1, np.float32), zero_point=np.zeros(2, np.int64)
    )
    _raises(_conv(w_q=params), "'c1'", "2 zero points")


def test_asymmetric_int8_filter():
    _raises(_conv(w_q=q(np.full(4, 0.1, np.float32), 3)), "filter 'c1'", "symmetric")


def test_filter_type_mismatch():
    _raises(_conv(w_dtype=np.uint8, w_q=q(0.1, 128)), "filter 'c1'", "uint8")


def test_output_type_mismatch():
    _raises(_conv(out_dtype=np.uint8, out_q=q(1.0, 128)), "output 'y'", "expected int8")


def test_int16_needs_zero_input_zero_point():
    x = np.zeros((1, 4, 4, 3), np.int16)
    bias_free = _conv(x=x, x_q=q(0.5, 4))
    _raises(bias_free, "bias")  # int16 takes an int64 bias (or int32 with the option)


def test_uint8_per_channel_is_rejected():
    x = np.zeros((1, 4, 4, 3), np.uint8)
    _raises(_conv(x=x, x_q=q(0.5, 128), w_dtype=np.uint8, out_q=q(1.0, 128)), "per-tensor")


def test_depthwise_per_channel_on_wrong_axis():
    w = np.ones((1, 3, 3, 3), np.int8)
    operands = [
        Spec(X, q(0.5, 0)),
        Spec(w, q(np.full(3, 0.1, np.float32), 0, axis=0), const=True),
        Spec(np.zeros(3, np.int32), q(0.05, 0), const=True),
    ]
    model = build(Op.DEPTHWISE_CONV_2D, operands, (1, 4, 4, 3), np.int8, q(1.0, 0),
                  DepthwiseConv2DOptions(Padding.SAME, 1, 1, 1), 3)  # fmt: skip
    _raises(model, "'c1'", "dimension")


def test_fully_connected_per_channel_needs_symmetric_weights():
    x = np.zeros((2, 5), np.int8)
    operands = [
        Spec(x, q(0.5, 0)),
        Spec(np.ones((3, 5), np.int8), q(np.full(3, 0.1, np.float32), 2), const=True),
    ]
    model = build(Op.FULLY_CONNECTED, operands, (2, 3), np.int8, q(1.0, 0),
                  FullyConnectedOptions(), 5)  # fmt: skip
    _raises(model, "weights 'c1'", "symmetric")


def test_per_channel_along_input_channels_is_rejected():
    # Valid for the file (4 scales along a dimension of size 4) but not for CONV_2D.
    x = np.zeros((1, 4, 4, 4), np.int8)
    w = np.ones((4, 1, 1, 4), np.int8)
    operands = [
        Spec(x, q(0.5, 0)),
        Spec(w, q(np.full(4, 0.1, np.float32), 0, axis=3), const=True),
        Spec(np.zeros(4, np.int32), q(0.05, 0), const=True),
    ]
    model = build(Op.CONV_2D, operands, (1, 4, 4, 4), np.int8, q(1.0, 0),
                  Conv2DOptions(Padding.SAME, 1, 1), 3)  # fmt: skip
    _raises(model, "filter 'c1'", "along dimension 3", "dimension 0")
