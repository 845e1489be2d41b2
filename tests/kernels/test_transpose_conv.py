"""TRANSPOSE_CONV float32: official runtime == numpy reference == optimized kernel."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator, Padding
from edgelite.schema.generated.options import TransposeConvOptions
from tests.kernel_runner import run_kernels
from tests.kernels.float_oracle import check_against_oracle, rand, with_threads
from tests.oracle import run_litert


def tconv_model(x_shape, weights, bias, out_shape, opts, version=3, runtime_shape=False):
    mb = ModelBuilder()
    shape = out_shape_t = None
    if runtime_shape:
        shape = mb.input("output_shape", (4,), np.int32)
    else:
        shape = mb.const("output_shape", np.array(out_shape, np.int32))
    w = mb.const("w", weights)
    x = mb.input("x", x_shape)
    ins = [shape, w, x] + ([mb.const("b", bias)] if bias is not None else [])
    out_shape_t = mb.tensor("y", out_shape)
    mb.op(BuiltinOperator.TRANSPOSE_CONV, ins, [out_shape_t], opts, version=version)
    mb.output(out_shape_t)
    return mb.to_bytes()


CASES = [
    # (N, H, W, in), (out, kh, kw), (sh, sw), padding, (OH, OW)
    ((1, 3, 3, 2), (4, 3, 3), (1, 1), Padding.SAME, (3, 3)),
    ((1, 3, 4, 2), (3, 3, 3), (2, 2), Padding.SAME, (6, 8)),
    ((2, 3, 3, 5), (2, 2, 2), (2, 2), Padding.VALID, (6, 6)),
    ((1, 4, 3, 3), (3, 3, 3), (2, 2), Padding.VALID, (9, 7)),
    ((1, 3, 3, 2), (4, 3, 3), (2, 2), Padding.SAME, (5, 5)),  # output one short of in*stride
    ((1, 2, 5, 4), (6, 4, 2), (3, 1), Padding.SAME, (6, 5)),
    ((1, 5, 5, 3), (2, 1, 1), (1, 1), Padding.VALID, (5, 5)),
]


@pytest.mark.parametrize("x_shape, wshape, stride, padding, out_hw", CASES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_transpose_conv_float32(x_shape, wshape, stride, padding, out_hw, with_bias):
    rng = np.random.default_rng(0)
    weights = rand(rng, *wshape, x_shape[3])
    bias = rand(rng, wshape[0]) if with_bias else None
    out_shape = (x_shape[0], *out_hw, wshape[0])
    opts = TransposeConvOptions(padding, stride[1], stride[0])
    model = tconv_model(x_shape, weights, bias, out_shape, opts)
    check_against_oracle(model, [rand(rng, *x_shape)])


@pytest.mark.parametrize("act", [Act.RELU, Act.RELU_N1_TO_1, Act.RELU6])
def test_transpose_conv_float32_activations(act):
    rng = np.random.default_rng(1)
    weights, bias = rand(rng, 3, 3, 3, 4), rand(rng, 3)
    opts = TransposeConvOptions(Padding.SAME, 2, 2, act)
    model = tconv_model((1, 3, 3, 4), weights, bias, (1, 6, 6, 3), opts, version=4)
    check_against_oracle(model, [rand(rng, 1, 3, 3, 4)])


def test_transpose_conv_float32_tanh_is_applied():
    # The official float kernel ignores a fused TANH; edgelite applies it.
    rng = np.random.default_rng(2)
    weights, bias, x = rand(rng, 3, 3, 3, 2), rand(rng, 3), rand(rng, 1, 3, 3, 2)
    plain = TransposeConvOptions(Padding.SAME, 2, 2)
    expected = [
        np.tanh(run_litert(tconv_model((1, 3, 3, 2), weights, bias, (1, 6, 6, 3), plain), [x])[0])
    ]
    opts = TransposeConvOptions(Padding.SAME, 2, 2, Act.TANH)
    model = tconv_model((1, 3, 3, 2), weights, bias, (1, 6, 6, 3), opts, version=4)
    check_against_oracle(model, [x], expected)


def test_transpose_conv_float32_runtime_output_shape():
    rng = np.random.default_rng(3)
    weights, x = rand(rng, 2, 3, 3, 3), rand(rng, 1, 4, 4, 3)
    opts = TransposeConvOptions(Padding.SAME, 2, 2)
    model = tconv_model((1, 4, 4, 3), weights, None, (1, 8, 8, 2), opts, runtime_shape=True)
    check_against_oracle(model, [np.array([1, 8, 8, 2], np.int32), x])


@pytest.mark.parametrize(
    "x_shape, out_shape, dtype, message",
    [
        ((1, 3, 3, 3), (1, 6, 6, 2), np.float32, "channels"),
        ((1, 3, 3, 2), (1, 6, 6, 5), np.float32, "does not fit"),
        ((1, 3, 3, 2), (1, 6, 6, 2), np.int8, "quantized TRANSPOSE_CONV"),
    ],
)
def test_transpose_conv_rejects(x_shape, out_shape, dtype, message):
    mb = ModelBuilder()
    shape = mb.const("output_shape", np.array(out_shape, np.int32))
    w = mb.const("w", np.ones((2, 3, 3, 2), dtype))
    x = mb.input("x", x_shape, dtype)
    y = mb.tensor("y", out_shape, dtype)
    mb.op(
        BuiltinOperator.TRANSPOSE_CONV, [shape, w, x], [y], TransposeConvOptions(Padding.SAME, 2, 2)
    )
    mb.output(y)
    with pytest.raises(PrepareError, match=message):
        run_kernels(mb.to_bytes(), [np.zeros(x_shape, dtype)])


def test_transpose_conv_float32_two_threads(monkeypatch):
    with_threads(monkeypatch, 2)
    rng = np.random.default_rng(6)
    weights, bias = rand(rng, 16, 3, 3, 32), rand(rng, 16)
    opts = TransposeConvOptions(Padding.SAME, 2, 2, Act.RELU)
    model = tconv_model((2, 16, 17, 32), weights, bias, (2, 32, 34, 16), opts, version=4)
    check_against_oracle(model, [rand(rng, 2, 16, 17, 32)])
