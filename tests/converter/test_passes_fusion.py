"""Fusion passes on small hand-built graphs: batch-norm folding, bias and activation
fusion, PAD folding, reshape sinking and hard-swish recognition. Every rewrite is held
to the original model's outputs in the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.converter.passes.fold_batchnorm import fold_multiplications
from edgelite.converter.passes.fold_pad import fold_pads
from edgelite.converter.passes.fuse_activation import fuse_activations
from edgelite.converter.passes.fuse_bias import fuse_biases
from edgelite.converter.passes.hard_swish import recognize_hard_swish
from edgelite.converter.passes.pipeline import run_passes
from edgelite.converter.passes.sink_reshape import sink_reshapes
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import ActivationFunctionType as A
from edgelite.schema.generated.enums import BuiltinOperator as B
from edgelite.schema.generated.options import (
    AddOptions,
    ConcatenationOptions,
    DivOptions,
    FullyConnectedOptions,
    MulOptions,
    Padding,
    Pool2DOptions,
    SubOptions,
)
from tests.converter.ir_helpers import check_pass, conv, op_codes, rand


def _binary(mb, code, x, value, name, options):
    y = mb.tensor(name, mb.sg.tensors[x].shape)
    mb.op(code, [x, mb.const(f"{name}/c", np.asarray(value, np.float32))], [y], options)
    return y


def _unary(mb, code, x, name):
    y = mb.tensor(name, mb.sg.tensors[x].shape)
    mb.op(code, [x], [y])
    return y


def test_batchnorm_mul_and_add_fold_into_conv_with_activation():
    mb = ModelBuilder()
    x = mb.input("x", [1, 6, 6, 3])
    y = conv(mb, x, 4)
    y = _binary(mb, B.MUL, y, rand(4, seed=1), "bn_mul", MulOptions())
    y = _binary(mb, B.ADD, y, rand(1, 1, 1, 4, seed=2), "bn_add", AddOptions())
    y = _unary(mb, B.RELU6, y, "relu6")
    mb.output(y)
    model = check_pass(mb.build(), fold_multiplications, [rand(1, 6, 6, 3)])
    model = check_pass(model, fuse_biases, [rand(1, 6, 6, 3)])
    model = check_pass(model, fuse_activations, [rand(1, 6, 6, 3)])
    assert op_codes(model) == ["CONV_2D"]
    assert model.main.operators[0].builtin_options.fused_activation_function == A.RELU6


def test_scalar_mul_and_sub_fold_into_fully_connected_without_bias():
    mb = ModelBuilder()
    x = mb.input("x", [2, 5])
    y = mb.tensor("fc", [2, 3])
    mb.op(B.FULLY_CONNECTED, [x, mb.const("w", rand(3, 5)), -1], [y], FullyConnectedOptions())
    y = _binary(mb, B.MUL, y, 0.5, "scale", MulOptions())
    y = _binary(mb, B.SUB, y, rand(3, seed=3), "shift", SubOptions())
    mb.output(y)
    model = check_pass(mb.build(), fold_multiplications, [rand(2, 5)])
    model = check_pass(model, fuse_biases, [rand(2, 5)])
    assert op_codes(model) == ["FULLY_CONNECTED"]


def test_mul_that_is_not_per_channel_stays():
    mb = ModelBuilder()
    x = mb.input("x", [1, 4, 4, 3])
    y = conv(mb, x, 2)
    y = _binary(mb, B.MUL, y, rand(1, 4, 4, 2, seed=4), "spatial", MulOptions())
    mb.output(y)
    check_pass(mb.build(), fold_multiplications, [rand(1, 4, 4, 3)], expect_changes=False)


@pytest.mark.parametrize("activation", [B.RELU, B.RELU6, B.RELU_N1_TO_1])
def test_relu_family_fuses_into_add(activation):
    mb = ModelBuilder()
    x = mb.input("x", [2, 4])
    y = _binary(mb, B.ADD, x, rand(4, seed=5), "add", AddOptions())
    mb.output(_unary(mb, activation, y, "act"))
    model = check_pass(mb.build(), fuse_activations, [rand(2, 4) * 4])
    assert op_codes(model) == ["ADD"]


def test_tanh_and_concatenation_activations_are_not_fused():
    """The official float kernels ignore a fused TANH and reject CONCATENATION's."""
    mb = ModelBuilder()
    x = mb.input("x", [2, 4])
    y = _binary(mb, B.ADD, x, rand(4, seed=6), "add", AddOptions())
    t = _unary(mb, B.TANH, y, "tanh")
    cat = mb.tensor("cat", [2, 8])
    mb.op(B.CONCATENATION, [t, y], [cat], ConcatenationOptions(axis=1))
    mb.output(_unary(mb, B.RELU, cat, "relu"))
    check_pass(mb.build(), fuse_activations, [rand(2, 4)], expect_changes=False)


def _pad(mb, x, pads, name="pad"):
    shape = mb.sg.tensors[x].shape
    padded = [d + sum(p) for d, p in zip(shape, pads)]
    y = mb.tensor(name, padded)
    mb.op(B.PAD, [x, mb.const(f"{name}/p", np.asarray(pads, np.int32))], [y])
    return y


def test_pad_matching_same_folds_into_strided_conv():
    mb = ModelBuilder()
    x = mb.input("x", [1, 8, 8, 3])
    y = _pad(mb, x, [[0, 0], [0, 1], [0, 1], [0, 0]])
    mb.output(conv(mb, y, 4, stride=2, padding=Padding.VALID))
    model = check_pass(mb.build(), fold_pads, [rand(1, 8, 8, 3)])
    assert op_codes(model) == ["CONV_2D"]
    assert model.main.operators[0].builtin_options.padding == Padding.SAME


def test_pad_not_matching_same_stays():
    mb = ModelBuilder()
    x = mb.input("x", [1, 8, 8, 3])
    y = _pad(mb, x, [[0, 0], [1, 0], [1, 0], [0, 0]])  # SAME would pad after, not before
    mb.output(conv(mb, y, 4, stride=2, padding=Padding.VALID))
    check_pass(mb.build(), fold_pads, [rand(1, 8, 8, 3)], expect_changes=False)


@pytest.mark.parametrize("after_relu", [True, False])
def test_pad_folds_into_max_pool_only_after_relu(after_relu):
    mb = ModelBuilder()
    x = mb.input("x", [1, 5, 5, 2])
    if after_relu:
        x = _unary(mb, B.RELU, x, "relu")
    y = _pad(mb, x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    out = mb.tensor("pool", [1, 5, 5, 2])
    mb.op(B.MAX_POOL_2D, [y], [out], Pool2DOptions(Padding.VALID, 1, 1, 3, 3))
    mb.output(out)
    check_pass(mb.build(), fold_pads, [rand(1, 5, 5, 2)], expect_changes=after_relu)


def test_reshape_sinks_below_bias_and_activation_of_a_conv():
    """The Conv1D shape: conv -> reshape -> add -> relu ends as conv(bias, relu) -> reshape."""
    mb = ModelBuilder()
    x = mb.input("x", [1, 1, 8, 3])
    y = conv(mb, x, 4)
    flat = mb.tensor("squeeze", [1, 8, 4])
    mb.op(B.RESHAPE, [y, mb.const("shape", np.asarray([1, 8, 4], np.int32))], [flat])
    y = _binary(mb, B.ADD, flat, rand(4, seed=8), "bias", AddOptions())
    mb.output(_unary(mb, B.RELU, y, "relu"))
    model = check_pass(mb.build(), sink_reshapes, [rand(1, 1, 8, 3)])
    run_passes(model)
    assert op_codes(model) == ["CONV_2D", "RESHAPE"]
    assert model.main.operators[0].builtin_options.fused_activation_function == A.RELU


@pytest.mark.parametrize("divide", [True, False])
def test_hard_swish_is_recognized(divide):
    mb = ModelBuilder()
    x = mb.input("x", [2, 6])
    gate = _binary(mb, B.ADD, x, 3.0, "plus3", AddOptions(fused_activation_function=A.RELU6))
    if divide:
        gate = _binary(mb, B.DIV, gate, 6.0, "sixth", DivOptions())
    else:
        gate = _binary(mb, B.MUL, gate, 1.0 / 6.0, "sixth", MulOptions())
    y = mb.tensor("y", [2, 6])
    mb.op(B.MUL, [x, gate], [y], MulOptions())
    mb.output(y)
    model = check_pass(mb.build(), recognize_hard_swish, [rand(2, 6) * 4])
    run_passes(model)
    assert op_codes(model) == ["HARD_SWISH"]


def test_pipeline_reaches_a_fixed_point_and_reports_each_pass():
    mb = ModelBuilder()
    x = mb.input("x", [1, 6, 6, 3])
    y = conv(mb, x, 4)
    y = _binary(mb, B.MUL, y, rand(4, seed=9), "bn_mul", MulOptions())
    y = _binary(mb, B.ADD, y, rand(4, seed=10), "bn_add", AddOptions())
    mb.output(_unary(mb, B.RELU, y, "relu"))
    lines: list[str] = []
    model = mb.build()
    changes = run_passes(model, progress=lines.append)
    assert op_codes(model) == ["CONV_2D"]
    assert changes["batch-norm folding"] == 1 and changes["bias fusion"] == 1
    assert len(lines) == len(changes)
