"""Quantized LSTMs against the official runtime, over several invokes (states carry over).

Hybrid UNIDIRECTIONAL_SEQUENCE_LSTM / LSTM / BIDIRECTIONAL_SEQUENCE_LSTM (int8 weights,
float activations): the float test models of test_lstm.py with every weight matrix,
peephole and projection weight quantized to symmetric per-tensor int8 (what the
converter's dynamic-range quantization writes); biases and layer norm stay float32.

Integer UNIDIRECTIONAL_SEQUENCE_LSTM / LSTM (TFLite's 8x8->16 kernel): int8 activations
and weights, int16 cell state / peephole / layer norm, int32 biases, and the five
intermediate tensors, built with ModelBuilder; compared bit-exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema import read_model, write_model
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator, TensorType
from edgelite.schema.generated.options import LSTMOptions, UnidirectionalSequenceLSTMOptions
from tests.kernels.stateful_runner import (
    check_interpreter_stateful,
    check_stateful,
    run_kernels_stateful,
    run_litert_stateful,
)
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


# -- integer (8x8->16) LSTM ---------------------------------------------------------------


def int_lstm_model(cfg: dict, seed: int = 0) -> tuple[bytes, tuple[int, ...]]:
    """An int8 UNIDIRECTIONAL_SEQUENCE_LSTM (or LSTM) with TFLite's 5 intermediate tensors."""
    rng = np.random.default_rng(seed)
    batch, time, n_input, n_cell = cfg.get("batch", 2), cfg.get("time", 3), 4, 4
    proj = cfg.get("projection", False)
    n_output = 3 if proj else n_cell
    cifg, peep, norm = cfg.get("cifg", False), cfg.get("peephole", False), cfg.get("layer_norm")
    single_step, time_major = cfg.get("op") == "LSTM", cfg.get("time_major", False)
    if single_step:
        x_shape: tuple[int, ...] = (batch, n_input)
    else:
        x_shape = (time, batch, n_input) if time_major else (batch, time, n_input)
    s_x, s_h, z_h, s_w = 1 / 64, 1 / 128, cfg.get("z_h", 0), 0.01
    mb = ModelBuilder()
    x = mb.input("x", x_shape, np.int8, quantization=quant(s_x, cfg.get("z_x", 3)))

    def const(name, values, scale):
        return mb.const(name, values, quantization=quant(scale))

    def weights(name, rows, cols):
        return const(name, rng.integers(-127, 128, (rows, cols)).astype(np.int8), s_w)

    def int16(name, scale):
        return const(name, rng.integers(-20000, 20000, n_cell).astype(np.int16), scale)

    def bias(name, size, scale):
        return const(name, rng.integers(-3000, 3000, size).astype(np.int32), scale)

    skip = {"i"} if cifg else set()
    ins = [-1 if g in skip else weights(f"in_{g}", n_cell, n_input) for g in "ifco"]
    ins += [-1 if g in skip else weights(f"rec_{g}", n_cell, n_output) for g in "ifco"]
    ins += [int16(f"peep_{g}", 2**-10) if peep and g not in skip else -1 for g in "ifo"]
    ins += [-1 if g in skip else bias(f"bias_{g}", n_cell, s_x * s_w) for g in "ifco"]
    ins += [weights("proj", n_output, n_cell) if proj else -1]
    ins += [bias("proj_bias", n_output, s_w * s_h) if cfg.get("projection_bias") else -1]
    q_h, q_c = quant(s_h, z_h), quant(2.0 ** cfg.get("cell_scale", -11))
    ins += [mb.tensor("h", (batch, n_output), np.int8, q_h, is_variable=True)]
    ins += [mb.tensor("c", (batch, n_cell), np.int16, q_c, is_variable=True)]
    ins += [int16(f"ln_{g}", 2**-12) if norm and g not in skip else -1 for g in "ifco"]
    y = mb.tensor("y", (*x_shape[:-1], n_output), np.int8, quantization=q_h)
    inter = [mb.tensor(f"gate_{g}", [], np.int16, quantization=quant(2**-10)) for g in "ifco"]
    q_hidden = quant(cfg.get("s_hidden", 1 / 128), cfg.get("z_hidden", 0))
    inter.append(mb.tensor("hidden", [], np.int8, quantization=q_hidden))
    common = dict(
        fused_activation_function=cfg.get("act", Act.TANH),
        cell_clip=cfg.get("cell_clip", 0.0),
        proj_clip=cfg.get("proj_clip", 0.0),
    )
    if single_step:
        index = mb.op(BuiltinOperator.LSTM, [x, *ins], [y], LSTMOptions(**common), version=4)
    else:
        opts = UnidirectionalSequenceLSTMOptions(time_major=time_major, **common)
        code = BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
        index = mb.op(code, [x, *ins], [y], opts, version=3)
    mb.sg.operators[index].intermediates = inter
    mb.output(y)
    return mb.to_bytes(), x_shape


def int_inputs(shape, count=3, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.integers(-128, 128, shape).astype(np.int8)] for _ in range(count)]


INTEGER_CONFIGS = {
    "plain": {},
    "time_major": {"time_major": True},
    "batch1": {"batch": 1},
    "cifg": {"cifg": True},
    "peephole": {"peephole": True},
    "projection": {"projection": True},
    "projection_bias": {"projection": True, "projection_bias": True},
    "layer_norm": {"layer_norm": True},
    "layer_norm_cifg_peephole": {"layer_norm": True, "cifg": True, "peephole": True},
    "clips": {"cell_clip": 0.3, "projection": True, "proj_clip": 0.2},
    "state_zero_point": {"z_h": -5},
    "hidden_zero_point": {"projection": True, "z_hidden": 7},
    "cell_scale_2^-9": {"cell_scale": -9},
    # TFLite's peephole accumulates over n_output (not n_cell) elements per batch; with a
    # projection that reaches across batch rows when the batches are stepped together.
    "peephole_projection_time_major": {"peephole": True, "projection": True, "time_major": True},
    "peephole_projection_batch_major": {"peephole": True, "projection": True},
    "single_step": {"op": "LSTM"},
    "single_step_layer_norm_projection": {"op": "LSTM", "layer_norm": True, "projection": True},
}


@pytest.mark.parametrize("name", list(INTEGER_CONFIGS))
def test_integer_lstm(name):
    model, shape = int_lstm_model(INTEGER_CONFIGS[name])
    check_stateful(model, int_inputs(shape))


def test_integer_lstm_through_interpreter():
    model, shape = int_lstm_model({"layer_norm": True, "peephole": True, "z_h": 4})
    check_interpreter_stateful(model, int_inputs(shape))


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"cell_scale": -8}, "power-of-two scale <= 2\\^-9"),
        ({"act": Act.RELU}, "integer LSTM computes tanh"),
    ],
)
def test_integer_lstm_rejects(cfg, message):
    model, shape = int_lstm_model(cfg)
    with pytest.raises(PrepareError, match=message):
        run_kernels_stateful(model, int_inputs(shape, 1))


def test_integer_lstm_needs_five_intermediates():
    model, shape = int_lstm_model({})
    parsed = read_model(model)
    parsed.main.operators[0].intermediates = parsed.main.operators[0].intermediates[:4]
    with pytest.raises(PrepareError, match="5 intermediate tensors"):
        run_kernels_stateful(write_model(parsed), int_inputs(shape, 1))
