"""FULLY_CONNECTED float32: official runtime == numpy reference == optimized kernel."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator, FullyConnectedOptionsWeightsFormat
from edgelite.schema.generated.options import FullyConnectedOptions
from tests.kernel_runner import run_kernels
from tests.kernels.float_oracle import check_against_oracle, rand, with_threads
from tests.oracle import run_litert


def fc_model(x_shape, weights, bias, out_shape, opts, version=1, bias_slot=True, const_w=True):
    mb = ModelBuilder()
    x = mb.input("x", x_shape)
    w = mb.const("w", weights) if const_w else mb.input("w", weights.shape)
    ins = [x, w]
    if bias is not None:
        ins.append(mb.const("b", bias))
    elif bias_slot:
        ins.append(-1)  # omitted optional bias
    y = mb.tensor("y", out_shape)
    mb.op(BuiltinOperator.FULLY_CONNECTED, ins, [y], opts, version=version)
    mb.output(y)
    return mb.to_bytes()


@pytest.mark.parametrize(
    "x_shape, units, keep, out_shape",
    [
        ((1, 8), 4, False, (1, 8)),
        ((3, 16), 5, False, (3, 5)),
        ((2, 3, 6), 7, False, (6, 7)),
        ((2, 3, 6), 7, True, (2, 3, 7)),
        ((4, 2, 2, 3), 5, False, (4, 5)),  # flattened: rows of 12
        ((1, 1280), 100, False, (1, 100)),
    ],
)
@pytest.mark.parametrize("act", [Act.NONE, Act.RELU])
@pytest.mark.parametrize("with_bias", [True, False])
def test_fully_connected_float32(x_shape, units, keep, out_shape, act, with_bias):
    rng = np.random.default_rng(0)
    depth = x_shape[-1] if keep or len(x_shape) < 4 else 12
    weights = rand(rng, units, depth)
    bias = rand(rng, units) if with_bias else None
    out_shape = out_shape if keep or len(x_shape) == 4 else (int(np.prod(x_shape)) // depth, units)
    opts = FullyConnectedOptions(act, keep_num_dims=keep)
    model = fc_model(x_shape, weights, bias, out_shape, opts, version=5)
    check_against_oracle(model, [rand(rng, *x_shape)])


@pytest.mark.parametrize("act", [Act.RELU_N1_TO_1, Act.RELU6])
def test_fully_connected_float32_activations(act):
    rng = np.random.default_rng(1)
    weights, bias = rand(rng, 9, 10), rand(rng, 9)
    model = fc_model((4, 10), weights, bias, (4, 9), FullyConnectedOptions(act))
    check_against_oracle(model, [rand(rng, 4, 10, scale=2.0)])


def test_fully_connected_float32_tanh_is_applied():
    # The official float kernel ignores a fused TANH; edgelite applies it.
    rng = np.random.default_rng(2)
    weights, bias, x = rand(rng, 6, 5), rand(rng, 6), rand(rng, 3, 5)
    plain = fc_model((3, 5), weights, bias, (3, 6), FullyConnectedOptions())
    expected = [np.tanh(run_litert(plain, [x])[0])]
    model = fc_model((3, 5), weights, bias, (3, 6), FullyConnectedOptions(Act.TANH))
    check_against_oracle(model, [x], expected)


def test_fully_connected_float32_two_inputs_and_runtime_weights():
    rng = np.random.default_rng(3)
    weights, x = rand(rng, 6, 5), rand(rng, 3, 5)
    model = fc_model((3, 5), weights, None, (3, 6), FullyConnectedOptions(), bias_slot=False)
    check_against_oracle(model, [x])
    model = fc_model((3, 5), weights, None, (3, 6), FullyConnectedOptions(), const_w=False)
    check_against_oracle(model, [x, weights])


@pytest.mark.parametrize(
    "x_dtype, w_dtype, opts, x_shape, message",
    [
        (np.int8, np.int8, FullyConnectedOptions(), (2, 4), "quantized FULLY_CONNECTED"),
        (np.float32, np.int8, FullyConnectedOptions(), (2, 4), "hybrid FULLY_CONNECTED"),
        (
            np.float32,
            np.float32,
            FullyConnectedOptions(
                weights_format=FullyConnectedOptionsWeightsFormat.SHUFFLED4x16INT8
            ),
            (2, 4),
            "SHUFFLED4x16INT8",
        ),
        (np.float32, np.float32, FullyConnectedOptions(), (3, 3), "does not split"),
        (np.float32, np.float32, FullyConnectedOptions(keep_num_dims=True), (2, 2, 2), "last dim"),
    ],
)
def test_fully_connected_rejects(x_dtype, w_dtype, opts, x_shape, message):
    mb = ModelBuilder()
    x = mb.input("x", x_shape, x_dtype)
    w = mb.const("w", np.ones((3, 4), w_dtype))
    y = mb.tensor("y", (2, 3), x_dtype)
    mb.op(BuiltinOperator.FULLY_CONNECTED, [x, w, -1], [y], opts)
    mb.output(y)
    with pytest.raises(PrepareError, match=message):
        run_kernels(mb.to_bytes(), [np.zeros(x_shape, x_dtype)])


def test_fully_connected_float32_two_threads(monkeypatch):
    with_threads(monkeypatch, 2)
    rng = np.random.default_rng(5)
    weights, bias = rand(rng, 100, 256), rand(rng, 100)
    model = fc_model((65, 256), weights, bias, (65, 100), FullyConnectedOptions(Act.RELU))
    check_against_oracle(model, [rand(rng, 65, 256)])
