"""``check_model`` finds each spec violation, named by rule and tensor."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.quantization import QuantizeOptions, check_model, quantize
from edgelite.schema import read_model
from tests.quantization.helpers import random_samples
from tests.quantization.single_ops import CASES


def _quantized(name: str, mode: str = "int8"):
    model_bytes, shapes = CASES[name]()
    data = random_samples(shapes, 6)
    return quantize(read_model(model_bytes), QuantizeOptions(mode=mode), data, log=None)


def _op(model, name: str):
    return next(op for op in model.main.operators if model.op_name(op) == name)


def _rules(model) -> set[str]:
    return {v.rule for v in check_model(model)}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("mode", ["int8", "int16x8"])
def test_our_models_pass(name, mode):
    assert [str(v) for v in check_model(_quantized(name, mode))] == []


def _break_weight(model, change):
    conv = _op(model, "CONV_2D")
    weight = model.main.tensors[conv.inputs[1]]
    change(model, weight)
    return model


def test_weight_rules():
    def zero_point(model, w):
        w.quantization.zero_point = np.ones_like(w.quantization.zero_point)

    def minus_128(model, w):
        data = model.constant(w).copy()
        data.reshape(-1)[0] = -128
        w.buffer = model.add_buffer(data)

    def wrong_axis(model, w):
        w.quantization.quantized_dimension = 3

    assert "weight-symmetric" in _rules(_break_weight(_quantized("conv_relu6"), zero_point))
    assert "weight-range" in _rules(_break_weight(_quantized("conv_relu6"), minus_128))
    rules = _rules(_break_weight(_quantized("conv_relu6"), wrong_axis))
    assert {"per-axis-dimension", "per-axis-count"} <= rules


def test_bias_rules():
    model = _quantized("conv_relu6")
    bias = model.main.tensors[_op(model, "CONV_2D").inputs[2]]
    bias.quantization.scale = bias.quantization.scale * 1.01
    violations = [v for v in check_model(model) if v.rule == "bias-scale"]
    assert violations and violations[0].tensor_name == "b"
    assert "input scale x weight scale" in str(violations[0])


def test_fixed_output_rule():
    model = _quantized("softmax")
    out = model.main.tensors[_op(model, "SOFTMAX").outputs[0]]
    out.quantization.zero_point = np.array([0])
    assert "fixed-output" in _rules(model)


def test_same_scale_rule():
    model = _quantized("max_pool")
    out = model.main.tensors[_op(model, "MAX_POOL_2D").outputs[0]]
    out.quantization.scale = out.quantization.scale * 2
    assert "same-scale" in _rules(model)


def test_tensor_rules():
    model = _quantized("relu")
    relu = _op(model, "RELU")
    tensor = model.main.tensors[relu.outputs[0]]
    tensor.quantization.scale = np.array([0.0], np.float32)
    tensor.quantization.zero_point = np.array([300])
    assert {"scale-positive", "zero-point-range"} <= _rules(model)


def test_int16_activation_zero_point_and_per_tensor_rules():
    model = _quantized("relu", "int16x8")
    tensor = model.main.tensors[_op(model, "RELU").outputs[0]]
    tensor.quantization.zero_point = np.array([3])
    assert "int16-symmetric" in _rules(model)
    tensor.quantization.scale = np.full(tensor.shape[3], 0.1, np.float32)
    tensor.quantization.zero_point = np.zeros(tensor.shape[3], np.int64)
    tensor.quantization.quantized_dimension = 3
    assert "activation-per-tensor" in _rules(model)


def test_op_version_rule():
    model = _quantized("conv_relu6")
    code = model.operator_codes[_op(model, "CONV_2D").opcode_index]
    code.version = 1
    violations = [v for v in check_model(model) if v.rule == "op-version"]
    assert violations and "needs >= 3" in str(violations[0])
