"""CONV_3D_TRANSPOSE float32: official runtime == numpy reference == optimized kernel."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.interpreter.errors import UnsupportedOpError
from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator, Padding
from edgelite.schema.generated.options import Conv3DOptions
from tests.kernel_runner import run_kernels
from tests.kernels.float_oracle import check_against_oracle, rand, with_threads
from tests.oracle import assert_matches, run_litert


def options(padding, strides=(1, 1, 1), dilations=(1, 1, 1), act=Act.NONE):
    return Conv3DOptions(
        padding=padding,
        stride_d=strides[0],
        stride_h=strides[1],
        stride_w=strides[2],
        fused_activation_function=act,
        dilation_d_factor=dilations[0],
        dilation_h_factor=dilations[1],
        dilation_w_factor=dilations[2],
    )


def tconv3d_model(
    x_shape, filt, bias, out_shape, opts, runtime_shape=False, runtime_filter=False, version=1
):
    """output_shape, filter [d, h, w, out, in], input, optional bias -> CONV_3D_TRANSPOSE."""
    mb = ModelBuilder()
    if runtime_shape:
        shape = mb.input("output_shape", (5,), np.int32)
    else:
        shape = mb.const("output_shape", np.array(out_shape, np.int32))
    w = mb.input("w", filt.shape) if runtime_filter else mb.const("w", filt)
    x = mb.input("x", x_shape)
    ins = [shape, w, x] + ([mb.const("b", bias)] if bias is not None else [])
    y = mb.tensor("y", out_shape)
    mb.op(BuiltinOperator.CONV_3D_TRANSPOSE, ins, [y], opts, version=version)
    mb.output(y)
    return mb.to_bytes()


def full_size(size, k, stride, dilation, padding):
    """The largest output size whose forward convolution gives back ``size``."""
    dilated = (k - 1) * dilation + 1
    return size * stride if padding == Padding.SAME else (size - 1) * stride + dilated


CASES = [
    # (N, D, H, W, in), (kd, kh, kw, out), strides, dilations, padding, output DHW
    # (None: the full size; else the given, smaller one that still convolves back).
    ((1, 3, 4, 4, 2), (2, 3, 3, 3), (1, 1, 1), (1, 1, 1), Padding.SAME, None),
    ((2, 2, 3, 3, 3), (3, 2, 3, 4), (2, 1, 2), (1, 1, 1), Padding.SAME, None),
    ((1, 2, 3, 2, 2), (2, 2, 2, 2), (2, 2, 2), (1, 1, 1), Padding.VALID, None),
    ((2, 2, 2, 3, 3), (3, 3, 2, 2), (1, 2, 3), (1, 1, 1), Padding.VALID, None),
    ((1, 3, 3, 3, 2), (3, 3, 3, 2), (2, 2, 2), (1, 1, 1), Padding.SAME, (5, 5, 6)),
    ((1, 2, 3, 3, 2), (2, 2, 2, 3), (2, 2, 2), (1, 1, 1), Padding.VALID, (4, 7, 6)),
    ((1, 3, 3, 3, 2), (2, 2, 2, 3), (1, 1, 1), (2, 1, 2), Padding.VALID, None),
    ((1, 3, 4, 3, 1), (2, 3, 2, 2), (1, 2, 1), (1, 2, 2), Padding.SAME, None),
    ((2, 3, 3, 3, 2), (2, 2, 2, 2), (2, 1, 1), (2, 1, 1), Padding.SAME, None),
    ((1, 2, 2, 2, 4), (1, 1, 1, 3), (1, 1, 1), (1, 1, 1), Padding.VALID, None),
]


@pytest.mark.parametrize("x_shape, fshape, strides, dilations, padding, out_dhw", CASES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_3d_transpose_float32(
    x_shape, fshape, strides, dilations, padding, out_dhw, with_bias
):
    rng = np.random.default_rng(0)
    filt = rand(rng, *fshape, x_shape[4])
    bias = rand(rng, fshape[3]) if with_bias else None
    if out_dhw is None:
        out_dhw = [
            full_size(x_shape[1 + a], fshape[a], strides[a], dilations[a], padding)
            for a in range(3)
        ]
    out_shape = (x_shape[0], *out_dhw, fshape[3])
    model = tconv3d_model(x_shape, filt, bias, out_shape, options(padding, strides, dilations))
    check_against_oracle(model, [rand(rng, *x_shape)])


@pytest.mark.parametrize("act", [Act.RELU, Act.RELU_N1_TO_1, Act.RELU6])
def test_conv_3d_transpose_float32_activations(act):
    rng = np.random.default_rng(1)
    filt, bias = rand(rng, 3, 3, 3, 3, 4), rand(rng, 3)
    opts = options(Padding.SAME, (2, 2, 2), act=act)
    model = tconv3d_model((1, 2, 3, 3, 4), filt, bias, (1, 4, 6, 6, 3), opts)
    check_against_oracle(model, [rand(rng, 1, 2, 3, 3, 4)])


def test_conv_3d_transpose_float32_tanh_is_applied():
    # The official float kernel ignores a fused TANH; edgelite applies it.
    rng = np.random.default_rng(2)
    filt, bias, x = rand(rng, 2, 2, 2, 3, 2), rand(rng, 3), rand(rng, 1, 2, 2, 2, 2)
    plain = tconv3d_model(
        (1, 2, 2, 2, 2), filt, bias, (1, 4, 4, 4, 3), options(Padding.SAME, (2,) * 3)
    )
    expected = [np.tanh(run_litert(plain, [x])[0])]
    opts = options(Padding.SAME, (2, 2, 2), act=Act.TANH)
    model = tconv3d_model((1, 2, 2, 2, 2), filt, bias, (1, 4, 4, 4, 3), opts)
    check_against_oracle(model, [x], expected)


def test_conv_3d_transpose_float32_runtime_output_shape():
    rng = np.random.default_rng(3)
    filt, bias, x = rand(rng, 3, 2, 3, 2, 3), rand(rng, 2), rand(rng, 2, 2, 3, 2, 3)
    out_shape = (2, 4, 6, 4, 2)
    model = tconv3d_model(
        x.shape, filt, bias, out_shape, options(Padding.SAME, (2, 2, 2)), runtime_shape=True
    )
    shape = np.array(out_shape, np.int32)
    check_against_oracle(model, [shape, x])
    # Through the interpreter core too: the output is dynamic, sized at invoke.
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    for detail, value in zip(interp.get_input_details(), [shape, x]):
        interp.set_tensor(detail["index"], value)
    interp.invoke()
    ours = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert_matches(ours, run_litert(model, [shape, x])[0])


def test_conv_3d_transpose_float32_runtime_filter():
    rng = np.random.default_rng(4)
    filt, x = rand(rng, 2, 3, 2, 3, 2), rand(rng, 1, 3, 2, 3, 2)
    opts = options(Padding.SAME, (1, 2, 2), act=Act.RELU)
    model = tconv3d_model(x.shape, filt, None, (1, 3, 4, 6, 3), opts, runtime_filter=True)
    check_against_oracle(model, [filt, x])


def test_conv_3d_transpose_float32_two_threads(monkeypatch):
    with_threads(monkeypatch, 2)
    rng = np.random.default_rng(6)
    filt, bias = rand(rng, 3, 3, 3, 8, 16), rand(rng, 8)
    opts = options(Padding.SAME, (2, 2, 2), act=Act.RELU6)
    model = tconv3d_model((2, 4, 6, 5, 16), filt, bias, (2, 8, 12, 10, 8), opts)
    check_against_oracle(model, [rand(rng, 2, 4, 6, 5, 16)])


def _reject_model(x_shape, out_shape, fshape=(2, 2, 2, 2, 3), dtype=np.float32):
    mb = ModelBuilder()
    shape = mb.const("output_shape", np.array(out_shape, np.int32))
    q = quant(0.1) if dtype != np.float32 else None
    w = mb.const("w", np.ones(fshape, dtype), quantization=q)
    x = mb.input("x", x_shape, dtype, quantization=q)
    y = mb.tensor("y", out_shape, dtype, quantization=q)
    opts = options(Padding.SAME, (2, 2, 2))
    mb.op(BuiltinOperator.CONV_3D_TRANSPOSE, [shape, w, x], [y], opts)
    mb.output(y)
    return mb.to_bytes()


@pytest.mark.parametrize(
    "x_shape, out_shape, dtype, message",
    [
        ((1, 2, 2, 2, 4), (1, 4, 4, 4, 2), np.float32, "expects 3"),
        ((1, 2, 2, 2, 3), (1, 4, 4, 4, 5), np.float32, "does not fit"),
        ((1, 2, 2, 2, 3), (2, 4, 4, 4, 2), np.float32, "does not fit"),
        ((1, 2, 2, 2, 3), (1, 4, 7, 4, 2), np.float32, "convolves back to 4"),
        ((1, 2, 2, 2, 3), (1, 4, 4, 4, 2), np.int8, "quantized CONV_3D_TRANSPOSE not supported"),
    ],
)
def test_conv_3d_transpose_rejects(x_shape, out_shape, dtype, message):
    model = _reject_model(x_shape, out_shape, dtype=dtype)
    with pytest.raises(PrepareError, match=message):
        run_kernels(model, [np.zeros(x_shape, dtype)])


def test_conv_3d_transpose_oracle_rejects_int8_too():
    # If a later ai-edge-litert accepts quantized CONV_3D_TRANSPOSE, this fails as a reminder.
    model = _reject_model((1, 2, 2, 2, 3), (1, 4, 4, 4, 2), dtype=np.int8)
    with pytest.raises(RuntimeError, match="INT8 != FLOAT32"):
        run_litert(model, [np.zeros((1, 2, 2, 2, 3), np.int8)])


def test_conv_3d_transpose_version_2_is_unsupported():
    rng = np.random.default_rng(7)
    filt = rand(rng, 2, 2, 2, 2, 3)
    model = tconv3d_model(
        (1, 2, 2, 2, 3), filt, None, (1, 4, 4, 4, 2), options(Padding.SAME, (2,) * 3), version=2
    )
    with pytest.raises(UnsupportedOpError, match="CONV_3D_TRANSPOSE"):
        Interpreter(model_content=model).allocate_tensors()
