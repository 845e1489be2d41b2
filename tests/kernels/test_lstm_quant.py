"""Hybrid UNIDIRECTIONAL_SEQUENCE_LSTM / LSTM / BIDIRECTIONAL_SEQUENCE_LSTM (int8 weights,
float activations) against the official runtime, over several invokes.

The models are the float test models of test_lstm.py with every weight matrix, peephole
and projection weight quantized to symmetric per-tensor int8 (what the converter's
dynamic-range quantization writes); biases and layer-norm coefficients stay float32.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.schema import read_model, write_model
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator, TensorType
from tests.kernels.stateful_runner import check_stateful, run_litert_stateful
from tests.kernels.test_lstm import bidi_model, lstm_model, multi_inputs, sequence_inputs
from tests.oracle import assert_matches

_BIAS_NAMES = ("bias", "ln_")


def hybridize(model_bytes: bytes, asymmetric: bool = False, dtype=np.int8) -> bytes:
    """Quantize the LSTM weights (not biases / layer norm) to int8 with one scale each."""
    model = read_model(model_bytes)
    sg = model.main
    for tensor in sg.tensors:
        values = model.constant(tensor)
        if values is None or tensor.type != TensorType.FLOAT32:
            continue
        if any(part in tensor.name for part in _BIAS_NAMES):
            continue
        scale = float(np.abs(values).max()) / 127 or 1.0
        q = np.clip(np.round(values / scale), -127, 127).astype(dtype)
        tensor.buffer = model.add_buffer(q)
        tensor.type = TensorType.INT8 if dtype == np.int8 else TensorType.UINT8
        tensor.quantization = quant(scale)
    for op in sg.operators:
        options = op.builtin_options
        if options is not None and hasattr(options, "asymmetric_quantize_inputs"):
            options.asymmetric_quantize_inputs = asymmetric
    code = model.operator_codes[sg.operators[0].opcode_index]
    if code.builtin_code == BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM:
        code.version = 2 if not asymmetric else 3
    return write_model(model)


def _inputs(shape, count=3):
    values = sequence_inputs(shape, count)
    values[1][0][...] = 0  # an all-zero input: TFLite skips its quantization
    return values


CONFIGS = {
    "plain": {},
    "time_major": {"time_major": True},
    "batch1": {"batch": 1, "time": 5},
    "cifg": {"cifg": True},
    "peephole": {"peephole": True},
    "cifg_peephole": {"cifg": True, "peephole": True},
    "projection": {"projection": True, "output": 3},
    "projection_bias_clip": {
        "projection": True,
        "projection_bias": True,
        "output": 3,
        "proj_clip": 0.3,
    },
    "cell_clip_relu": {"cell_clip": 0.5, "act": 1},
    "layer_norm": {"layer_norm": True},
    "layer_norm_cifg_peephole": {"layer_norm": True, "cifg": True, "peephole": True},
    "inputs20": {"inputs": 20},
    "single_step": {"op": "LSTM"},
}


@pytest.mark.parametrize("asymmetric", [False, True])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_hybrid_lstm(name, asymmetric):
    model, shape = lstm_model(CONFIGS[name])
    check_stateful(hybridize(model, asymmetric), _inputs(shape))


def test_hybrid_lstm_uint8_weights():
    """uint8 hybrid weights are read through an int8 pointer by TFLite; so here."""
    model, shape = lstm_model({})
    check_stateful(hybridize(model, dtype=np.uint8), _inputs(shape))


@pytest.mark.parametrize("asymmetric", [False, True])
@pytest.mark.parametrize(
    "cfg", [{}, {"aux": "weights", "merge": True}, {"cifg": True, "peephole": True}]
)
def test_hybrid_bidirectional_lstm(cfg, asymmetric):
    model, shapes = bidi_model(cfg)
    check_stateful(hybridize(model, asymmetric), multi_inputs(shapes))


def test_hybrid_lstm_through_interpreter_exact_mode():
    model, shape = lstm_model({"peephole": True, "projection": True, "output": 3})
    model = hybridize(model, asymmetric=True)
    feeds = _inputs(shape)
    want = run_litert_stateful(model, feeds)
    interp = Interpreter(model_content=model, hybrid="exact")
    interp.allocate_tensors()
    for step, ((value,), expected) in enumerate(zip(feeds, want)):
        interp.set_tensor(interp.get_input_details()[0]["index"], value)
        interp.invoke()
        got = interp.get_tensor(interp.get_output_details()[0]["index"])
        assert_matches(got, expected[0], f"invoke {step}")
