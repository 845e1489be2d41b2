"""DEPTHWISE_CONV_2D float32: official runtime == numpy reference == optimized kernel."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels import depthwise_conv_2d
from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator, Padding
from edgelite.schema.generated.options import DepthwiseConv2DOptions
from tests.kernel_runner import run_kernels
from tests.kernels.float_oracle import check_against_oracle, rand, with_threads
from tests.oracle import run_litert


def dw_model(x_shape, filt, bias, out_shape, opts, version: int = 2, runtime_filter=False):
    mb = ModelBuilder()
    x = mb.input("x", x_shape)
    w = mb.input("w", filt.shape) if runtime_filter else mb.const("w", filt)
    ins = [x, w] + ([mb.const("b", bias)] if bias is not None else [])
    y = mb.tensor("y", out_shape)
    mb.op(BuiltinOperator.DEPTHWISE_CONV_2D, ins, [y], opts, version=version)
    mb.output(y)
    return mb.to_bytes()


def out_size(size, k, stride, dilation, padding):
    dilated = (k - 1) * dilation + 1
    return -(-size // stride) if padding == Padding.SAME else (size - dilated) // stride + 1


CASES = [
    # (N, H, W, C), multiplier, (kh, kw), stride, dilation, padding
    ((1, 7, 7, 8), 1, (3, 3), (1, 1), (1, 1), Padding.SAME),
    ((2, 8, 9, 32), 1, (3, 3), (2, 2), (1, 1), Padding.SAME),  # a full register block
    ((1, 9, 9, 21), 1, (3, 3), (2, 2), (1, 1), Padding.VALID),  # ragged last block
    ((1, 6, 7, 3), 2, (3, 3), (1, 1), (1, 1), Padding.SAME),
    ((1, 8, 8, 2), 3, (2, 3), (2, 1), (1, 1), Padding.VALID),
    ((1, 10, 10, 4), 1, (3, 3), (1, 1), (2, 3), Padding.SAME),
    ((1, 11, 9, 5), 2, (3, 2), (1, 2), (2, 2), Padding.VALID),
    ((1, 5, 5, 40), 1, (5, 5), (1, 1), (1, 1), Padding.SAME),
    ((1, 4, 4, 17), 1, (1, 1), (1, 1), (1, 1), Padding.SAME),
]


@pytest.mark.parametrize("x_shape, mult, kernel, stride, dilation, padding", CASES)
@pytest.mark.parametrize("act", [Act.NONE, Act.RELU6])
def test_depthwise_conv_2d_float32(x_shape, mult, kernel, stride, dilation, padding, act):
    rng = np.random.default_rng(0)
    out_c = x_shape[3] * mult
    filt, bias = rand(rng, 1, kernel[0], kernel[1], out_c), rand(rng, out_c)
    oh = out_size(x_shape[1], kernel[0], stride[0], dilation[0], padding)
    ow = out_size(x_shape[2], kernel[1], stride[1], dilation[1], padding)
    opts = DepthwiseConv2DOptions(
        padding, stride[1], stride[0], mult, act, dilation[1], dilation[0]
    )
    model = dw_model(x_shape, filt, bias, (x_shape[0], oh, ow, out_c), opts)
    check_against_oracle(model, [rand(rng, *x_shape)])


@pytest.mark.parametrize("act", [Act.RELU, Act.RELU_N1_TO_1])
def test_depthwise_conv_2d_float32_activations(act):
    rng = np.random.default_rng(1)
    filt, bias = rand(rng, 1, 3, 3, 20), rand(rng, 20)
    opts = DepthwiseConv2DOptions(Padding.SAME, 1, 1, 1, act)
    model = dw_model((1, 6, 6, 20), filt, bias, (1, 6, 6, 20), opts)
    check_against_oracle(model, [rand(rng, 1, 6, 6, 20, scale=2.0)])


def test_depthwise_conv_2d_float32_tanh_is_applied():
    # The official float kernel ignores a fused TANH; edgelite applies it.
    rng = np.random.default_rng(2)
    filt, bias, x = rand(rng, 1, 3, 3, 8), rand(rng, 8), rand(rng, 1, 5, 5, 8)
    plain = DepthwiseConv2DOptions(Padding.SAME, 1, 1, 1)
    expected = [
        np.tanh(run_litert(dw_model((1, 5, 5, 8), filt, bias, (1, 5, 5, 8), plain), [x])[0])
    ]
    opts = DepthwiseConv2DOptions(Padding.SAME, 1, 1, 1, Act.TANH)
    check_against_oracle(dw_model((1, 5, 5, 8), filt, bias, (1, 5, 5, 8), opts), [x], expected)


@pytest.mark.parametrize("mult", [1, 2])
def test_depthwise_conv_2d_float32_without_bias(mult):
    # The official runtime crashes (segfault) on a float depthwise without bias:
    # compare with its zero-bias result instead.
    rng = np.random.default_rng(3)
    filt, x = rand(rng, 1, 3, 3, 6 * mult), rand(rng, 2, 5, 6, 6)
    opts = DepthwiseConv2DOptions(Padding.SAME, 1, 1, mult)
    zero = np.zeros(6 * mult, np.float32)
    expected = run_litert(dw_model((2, 5, 6, 6), filt, zero, (2, 5, 6, 6 * mult), opts), [x])
    model = dw_model((2, 5, 6, 6), filt, None, (2, 5, 6, 6 * mult), opts)
    check_against_oracle(model, [x], expected)


def test_depthwise_conv_2d_float32_runtime_filter():
    rng = np.random.default_rng(4)
    filt, bias, x = rand(rng, 1, 3, 3, 4), rand(rng, 4), rand(rng, 1, 6, 6, 4)
    opts = DepthwiseConv2DOptions(Padding.VALID, 1, 1, 1)
    model = dw_model((1, 6, 6, 4), filt, bias, (1, 4, 4, 4), opts, runtime_filter=True)
    check_against_oracle(model, [x, filt])


def test_depthwise_conv_2d_multithreaded_matches_single():
    # num_threads only splits output rows: results must be identical.
    from edgelite.interpreter.kernels._depthwise import depthwise_conv

    rng = np.random.default_rng(5)
    x, w, b = rand(rng, 2, 31, 29, 40), rand(rng, 3, 3, 40), rand(rng, 40)
    one, two = np.empty((2, 31, 29, 40), np.float32), np.empty((2, 31, 29, 40), np.float32)
    depthwise_conv(x, w, b, one, (1, 1, 1, 1, 1, 1), 0.0, 6.0, 1)
    depthwise_conv(x, w, b, two, (1, 1, 1, 1, 1, 1), 0.0, 6.0, 2)
    np.testing.assert_array_equal(one, two)


def test_depthwise_conv_2d_optimized_extension_is_built():
    spec = depthwise_conv_2d.KERNELS[BuiltinOperator.DEPTHWISE_CONV_2D]
    assert spec.invoke_opt is not None


@pytest.mark.parametrize(
    "dtype, filt_dtype, fshape, message",
    [
        (np.int8, np.int8, (1, 3, 3, 2), "quantized DEPTHWISE_CONV_2D needs a scale"),
        (np.float32, np.int8, (1, 3, 3, 2), "hybrid DEPTHWISE_CONV_2D"),
        (np.float32, np.float32, (2, 3, 3, 2), "first dim 2"),
        (np.float32, np.float32, (1, 3, 3, 3), "not a multiple"),
    ],
)
def test_depthwise_conv_2d_rejects(dtype, filt_dtype, fshape, message):
    mb = ModelBuilder()
    x = mb.input("x", (1, 4, 4, 2), dtype)
    w = mb.const("w", np.ones(fshape, filt_dtype))
    y = mb.tensor("y", (1, 4, 4, 2), dtype)
    mb.op(
        BuiltinOperator.DEPTHWISE_CONV_2D, [x, w], [y], DepthwiseConv2DOptions(Padding.SAME, 1, 1)
    )
    mb.output(y)
    with pytest.raises(PrepareError, match=message):
        run_kernels(mb.to_bytes(), [np.zeros((1, 4, 4, 2), dtype)])


@pytest.mark.parametrize("seed", range(12))
def test_depthwise_conv_2d_float32_random_geometry(seed):
    # Random sizes, channels, strides, dilations and padding: border and interior
    # pixels, odd interior widths and every channel-block remainder.
    rng = np.random.default_rng(100 + seed)
    c, mult = int(rng.integers(1, 40)), int(rng.choice([1, 1, 1, 2]))
    kh, kw = (int(v) for v in rng.integers(1, 6, 2))
    sh, sw, dh, dw = (int(v) for v in rng.integers(1, 4, 4))
    padding = Padding.SAME if rng.random() < 0.5 else Padding.VALID
    h = int(rng.integers((kh - 1) * dh + 1, 20))
    w = int(rng.integers((kw - 1) * dw + 1, 20))
    filt, bias = rand(rng, 1, kh, kw, c * mult), rand(rng, c * mult)
    oh, ow = out_size(h, kh, sh, dh, padding), out_size(w, kw, sw, dw, padding)
    opts = DepthwiseConv2DOptions(padding, sw, sh, mult, Act.RELU6, dw, dh)
    model = dw_model((1, h, w, c), filt, bias, (1, oh, ow, c * mult), opts)
    check_against_oracle(model, [rand(rng, 1, h, w, c)])


def test_depthwise_conv_2d_float32_two_threads(monkeypatch):
    with_threads(monkeypatch, 2)
    rng = np.random.default_rng(6)
    filt, bias, x = rand(rng, 1, 3, 3, 36), rand(rng, 36), rand(rng, 2, 31, 29, 36)
    opts = DepthwiseConv2DOptions(Padding.SAME, 1, 1, 1, Act.RELU6)
    check_against_oracle(dw_model((2, 31, 29, 36), filt, bias, (2, 31, 29, 36), opts), [x])
