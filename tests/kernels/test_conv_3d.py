"""CONV_3D float32: official runtime == numpy kernel."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator, Padding
from edgelite.schema.generated.options import Conv3DOptions
from tests.kernel_runner import run_kernels
from tests.kernels.float_oracle import check_against_oracle, rand
from tests.oracle import run_litert


def conv3d_model(x_shape, filt, bias, out_shape, opts):
    mb = ModelBuilder()
    x = mb.input("x", x_shape)
    ins = [x, mb.const("w", filt)] + ([mb.const("b", bias)] if bias is not None else [])
    y = mb.tensor("y", out_shape)
    mb.op(BuiltinOperator.CONV_3D, ins, [y], opts)
    mb.output(y)
    return mb.to_bytes()


def out_size(size, k, stride, dilation, padding):
    dilated = (k - 1) * dilation + 1
    return -(-size // stride) if padding == Padding.SAME else (size - dilated) // stride + 1


CASES = [
    # (N, D, H, W, C), (kd, kh, kw, out), strides (d, h, w), dilations (d, h, w), padding
    ((1, 3, 4, 4, 2), (2, 3, 3, 3), (1, 1, 1), (1, 1, 1), Padding.SAME),
    ((2, 4, 5, 6, 3), (3, 2, 3, 4), (2, 1, 2), (1, 1, 1), Padding.SAME),
    ((1, 5, 5, 5, 2), (3, 3, 3, 2), (1, 2, 1), (1, 1, 1), Padding.VALID),
    ((1, 5, 6, 7, 1), (2, 2, 2, 3), (1, 1, 1), (2, 2, 3), Padding.SAME),
    ((1, 6, 6, 6, 2), (2, 2, 2, 2), (2, 2, 2), (2, 1, 2), Padding.VALID),
]


@pytest.mark.parametrize("x_shape, fshape, strides, dilations, padding", CASES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_3d_float32(x_shape, fshape, strides, dilations, padding, with_bias):
    rng = np.random.default_rng(0)
    filt = rand(rng, *fshape[:3], x_shape[4], fshape[3])
    bias = rand(rng, fshape[3]) if with_bias else None
    sizes = [
        out_size(x_shape[1 + a], fshape[a], strides[a], dilations[a], padding) for a in range(3)
    ]
    opts = Conv3DOptions(
        padding,
        strides[0],
        strides[2],
        strides[1],
        Act.NONE,
        *dilations[:1],
        dilations[2],
        dilations[1],
    )
    model = conv3d_model(x_shape, filt, bias, (x_shape[0], *sizes, fshape[3]), opts)
    check_against_oracle(model, [rand(rng, *x_shape)])


@pytest.mark.parametrize("act", [Act.RELU, Act.RELU_N1_TO_1, Act.RELU6])
def test_conv_3d_float32_activations(act):
    rng = np.random.default_rng(1)
    filt, bias = rand(rng, 2, 2, 2, 3, 4), rand(rng, 4)
    opts = Conv3DOptions(Padding.SAME, 1, 1, 1, act)
    model = conv3d_model((1, 3, 3, 3, 3), filt, bias, (1, 3, 3, 3, 4), opts)
    check_against_oracle(model, [rand(rng, 1, 3, 3, 3, 3)])


def test_conv_3d_float32_tanh_is_applied():
    rng = np.random.default_rng(2)
    filt, bias, x = rand(rng, 2, 2, 2, 3, 4), rand(rng, 4), rand(rng, 1, 3, 3, 3, 3)
    plain = conv3d_model(
        (1, 3, 3, 3, 3), filt, bias, (1, 3, 3, 3, 4), Conv3DOptions(Padding.SAME, 1, 1, 1)
    )
    expected = [np.tanh(run_litert(plain, [x])[0])]
    opts = Conv3DOptions(Padding.SAME, 1, 1, 1, Act.TANH)
    check_against_oracle(
        conv3d_model((1, 3, 3, 3, 3), filt, bias, (1, 3, 3, 3, 4), opts), [x], expected
    )


def test_conv_3d_rejects_channel_mismatch():
    model = conv3d_model(
        (1, 3, 3, 3, 2),
        np.ones((1, 1, 1, 3, 2), np.float32),
        None,
        (1, 3, 3, 3, 2),
        Conv3DOptions(Padding.SAME, 1, 1, 1),
    )
    with pytest.raises(PrepareError, match="expects 3"):
        run_kernels(model, [np.zeros((1, 3, 3, 3, 2), np.float32)])
