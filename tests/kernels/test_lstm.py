"""UNIDIRECTIONAL_SEQUENCE_LSTM and LSTM float32: official runtime == reference == optimized.

Single-op models are built with ModelBuilder for every variant of the cell (CIFG, peephole,
projection, layer norm, clipping, activations, time/batch major, 20 or 24 inputs) and run
for several consecutive invokes: the state tensors are variables, so later invokes check
that the kernels wrote the new state back. One model comes from the official converter
(tf_keras LSTM, fused into UNIDIRECTIONAL_SEQUENCE_LSTM).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator, LSTMKernelType
from edgelite.schema.generated.options import (
    BidirectionalSequenceLSTMOptions,
    LSTMOptions,
    UnidirectionalSequenceLSTMOptions,
)
from tests.kernels.keras_rnn import keras_lstm_model
from tests.kernels.stateful_runner import (
    check_interpreter_stateful,
    check_stateful,
    run_kernels_stateful,
)


def add_cell(
    mb: ModelBuilder,
    rng,
    prefix: str,
    n_input: int,
    n_cell: int,
    n_output: int,
    cfg: dict,
    aux: int = 0,
) -> tuple[list[int], list[int]]:
    """The 17 weight inputs of one LSTM direction (and 4 aux weights), -1 where absent."""

    def w(name: str, *shape: int, scale: float = 0.5) -> int:
        return mb.const(f"{prefix}{name}", (rng.standard_normal(shape) * scale).astype(np.float32))

    cifg, peep = cfg.get("cifg", False), cfg.get("peephole", False)
    gates = "ifco"
    ins = [-1 if (g == "i" and cifg) else w(f"in_{g}", n_cell, n_input) for g in gates]
    ins += [-1 if (g == "i" and cifg) else w(f"rec_{g}", n_cell, n_output) for g in gates]
    ins += [w(f"peep_{g}", n_cell) if peep and not (g == "i" and cifg) else -1 for g in "ifo"]
    ins += [-1 if (g == "i" and cifg) else w(f"bias_{g}", n_cell) for g in gates]
    proj = cfg.get("projection", False)
    ins += [w("proj", n_output, n_cell) if proj else -1]
    ins += [w("proj_bias", n_output) if proj and cfg.get("projection_bias") else -1]
    aux_ins = []
    if aux:
        aux_ins = [-1 if (g == "i" and cifg) else w(f"aux_{g}", n_cell, aux) for g in gates]
    return ins, aux_ins


def lstm_model(cfg: dict, seed: int = 0) -> tuple[bytes, tuple[int, ...]]:
    """A single UNIDIRECTIONAL_SEQUENCE_LSTM (or LSTM with cfg['op'] == 'LSTM') model."""
    rng = np.random.default_rng(seed)
    batch, time, n_input, n_cell = cfg.get("batch", 2), cfg.get("time", 4), 3, cfg.get("cell", 5)
    n_output = cfg.get("output", n_cell)
    single_step = cfg.get("op") == "LSTM"
    time_major = cfg.get("time_major", False)
    if single_step:
        x_shape = (batch, n_input)
    else:
        x_shape = (time, batch, n_input) if time_major else (batch, time, n_input)
    mb = ModelBuilder()
    x = mb.input("x", x_shape)
    weights, _ = add_cell(mb, rng, "", n_input, n_cell, n_output, cfg)
    h = mb.tensor("h_state", cfg.get("h_shape", (batch, n_output)), is_variable=True)
    c = mb.tensor("c_state", (batch, n_cell), is_variable=True)
    ins = [x, *weights, h, c]
    if cfg.get("inputs", 24) == 24:
        norm = cfg.get("layer_norm", False)
        ins += [
            mb.const(f"ln_{g}", rng.uniform(0.5, 1.5, n_cell).astype(np.float32))
            if norm and not (g == "i" and cfg.get("cifg"))
            else -1
            for g in "ifco"
        ]
    y = mb.tensor("y", (*x_shape[:-1], n_output))
    common = dict(
        fused_activation_function=cfg.get("act", Act.TANH),
        cell_clip=cfg.get("cell_clip", 0.0),
        proj_clip=cfg.get("proj_clip", 0.0),
    )
    if single_step:
        mb.op(BuiltinOperator.LSTM, ins, [y], LSTMOptions(**common), version=cfg.get("version", 1))
    else:
        opts = UnidirectionalSequenceLSTMOptions(time_major=time_major, **common)
        mb.op(
            BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM,
            ins,
            [y],
            opts,
            version=cfg.get("version", 1),
        )
    mb.output(y)
    return mb.to_bytes(), x_shape


def sequence_inputs(shape, count: int = 3, seed: int = 1) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(shape).astype(np.float32)] for _ in range(count)]


CONFIGS = {
    "plain": {},
    "time_major": {"time_major": True},
    "batch1": {"batch": 1, "time": 6},
    "cifg": {"cifg": True},
    "peephole": {"peephole": True},
    "cifg_peephole": {"cifg": True, "peephole": True},
    "projection": {"projection": True, "output": 3},
    "projection_bias_clip": {
        "projection": True,
        "projection_bias": True,
        "output": 4,
        "proj_clip": 0.3,
    },
    "cell_clip": {"cell_clip": 0.4},
    "layer_norm": {"layer_norm": True},
    "layer_norm_full": {
        "layer_norm": True,
        "peephole": True,
        "projection": True,
        "projection_bias": True,
        "output": 3,
        "cell_clip": 1.0,
        "time_major": True,
    },
    "layer_norm_cifg": {"layer_norm": True, "cifg": True, "peephole": True},
    "twenty_inputs": {"inputs": 20, "peephole": True},
    "relu": {"act": Act.RELU},
    "relu6": {"act": Act.RELU6},
    "relu_n1_to_1": {"act": Act.RELU_N1_TO_1},
    "sign_bit": {"act": Act.SIGN_BIT},
    "flat_state": {"h_shape": (10,)},
    "version4": {"version": 4},
    "wide": {"batch": 3, "time": 5, "cell": 16},
    # From 4 batch rows on the optimized kernel takes its GEMM-per-step path.
    "batch5": {"batch": 5, "time": 3, "cell": 8},
    "batch5_everything": {
        "batch": 5,
        "time": 3,
        "cell": 6,
        "output": 4,
        "peephole": True,
        "layer_norm": True,
        "projection": True,
        "projection_bias": True,
        "proj_clip": 0.5,
        "cell_clip": 0.8,
    },
    "batch4_cifg_time_major": {"batch": 4, "cifg": True, "time_major": True},
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_unidirectional_matches_oracle(name):
    model, x_shape = lstm_model(CONFIGS[name])
    check_stateful(model, sequence_inputs(x_shape))


@pytest.mark.parametrize("name", ["plain", "peephole", "layer_norm_full", "cifg", "projection"])
def test_lstm_single_step_matches_oracle(name):
    model, x_shape = lstm_model({**CONFIGS[name], "op": "LSTM", "time_major": False})
    check_stateful(model, sequence_inputs(x_shape, count=4))


def test_threads_do_not_change_results():
    model, x_shape = lstm_model({"batch": 4, "time": 3, "peephole": True})
    invokes = sequence_inputs(x_shape)
    one = run_kernels_stateful(model, invokes, optimized=True, num_threads=1)
    two = run_kernels_stateful(model, invokes, optimized=True, num_threads=2)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("return_sequences", [True, False])
def test_keras_converted_lstm(return_sequences):
    model = keras_lstm_model(return_sequences=return_sequences)
    check_stateful(model, sequence_inputs((2, 5, 3), count=3, seed=4))


def expect_prepare_error(cfg: dict, message: str, mutate=None):
    model, x_shape = lstm_model(cfg)
    if mutate is not None:
        model = mutate(model)
    with pytest.raises(PrepareError, match=message):
        run_kernels_stateful(model, sequence_inputs(x_shape, count=1))


def test_rejects_none_activation():
    expect_prepare_error({"act": Act.NONE}, "fused activation NONE")


def test_rejects_basic_kernel():
    from edgelite.schema import read_model, write_model

    def to_basic(blob: bytes) -> bytes:
        m = read_model(blob)
        m.main.operators[0].builtin_options.kernel_type = LSTMKernelType.BASIC
        return write_model(m)

    expect_prepare_error({"op": "LSTM"}, "BASIC kernel", to_basic)


def test_rejects_non_variable_state():
    from edgelite.schema import read_model, write_model

    def constant_state(blob: bytes) -> bytes:
        m = read_model(blob)
        m.main.tensors[m.main.operators[0].inputs[18]].is_variable = False
        return write_model(m)

    expect_prepare_error({}, "must be a variable tensor", constant_state)


def test_rejects_quantized_input():
    mb = ModelBuilder()
    x = mb.input("x", (1, 2, 3), np.int8)
    y = mb.tensor("y", (1, 2, 4), np.int8)
    mb.op(
        BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM,
        [x] + [-1] * 23,
        [y],
        UnidirectionalSequenceLSTMOptions(fused_activation_function=Act.TANH),
    )
    mb.output(y)
    # int8 LSTMs run (tests/kernels/test_lstm_quant.py) but still need their weights.
    with pytest.raises(PrepareError, match="input_to_output_weights must be"):
        run_kernels_stateful(mb.to_bytes(), [[np.zeros((1, 2, 3), np.int8)]])


def test_rejects_projection_bias_without_weights():
    def drop_projection(blob: bytes) -> bytes:
        from edgelite.schema import read_model, write_model

        m = read_model(blob)
        m.main.operators[0].inputs[16] = -1
        return write_model(m)

    expect_prepare_error(
        {"projection": True, "projection_bias": True, "output": 5},
        "projection bias given without",
        drop_projection,
    )


def bidi_model(cfg: dict, seed: int = 0) -> tuple[bytes, list[tuple[int, ...]]]:
    """A single BIDIRECTIONAL_SEQUENCE_LSTM model; returns it and its input shapes."""
    rng = np.random.default_rng(seed)
    batch, time, n_input, n_cell = cfg.get("batch", 2), cfg.get("time", 4), 3, 4
    n_output = cfg.get("output", n_cell)
    time_major, merge = cfg.get("time_major", True), cfg.get("merge", False)
    lead = (time, batch) if time_major else (batch, time)
    mb = ModelBuilder()
    x = mb.input("x", (*lead, n_input))
    shapes = [(*lead, n_input)]
    aux_mode = cfg.get("aux")  # None, "weights" (cross links) or "bw_input"
    aux_size = n_input if aux_mode == "weights" else 0
    fw, fw_aux = add_cell(mb, rng, "fw_", n_input, n_cell, n_output, cfg, aux_size)
    bw, bw_aux = add_cell(mb, rng, "bw_", n_input, n_cell, n_output, cfg, aux_size)
    states = [
        mb.tensor(name, (batch, size), is_variable=True)
        for name, size in (
            ("fw_h", n_output),
            ("fw_c", n_cell),
            ("bw_h", n_output),
            ("bw_c", n_cell),
        )
    ]
    aux = -1
    if aux_mode:
        aux = mb.input("aux", (*lead, n_input))
        shapes.append((*lead, n_input))
    ins = [x, *fw, *bw, *states, aux, *(fw_aux or [-1] * 4), *(bw_aux or [-1] * 4)]
    if merge:
        outs = [mb.tensor("y", (*lead, 2 * n_output))]
    else:
        outs = [mb.tensor("y_fw", (*lead, n_output)), mb.tensor("y_bw", (*lead, n_output))]
    opts = BidirectionalSequenceLSTMOptions(
        fused_activation_function=Act.TANH,
        cell_clip=cfg.get("cell_clip", 0.0),
        merge_outputs=merge,
        time_major=time_major,
    )
    mb.op(BuiltinOperator.BIDIRECTIONAL_SEQUENCE_LSTM, ins, outs, opts)
    mb.output(*outs)
    return mb.to_bytes(), shapes


BIDI_CONFIGS = {
    "plain": {},
    "merge": {"merge": True},
    "batch_major": {"time_major": False},
    "batch_major_merge_batch1": {"time_major": False, "merge": True, "batch": 1},
    "cifg_peephole_projection": {
        "cifg": True,
        "peephole": True,
        "projection": True,
        "projection_bias": True,
        "output": 3,
        "cell_clip": 0.5,
    },
    "aux_weights": {"aux": "weights"},
    "aux_weights_cifg_merge": {"aux": "weights", "cifg": True, "merge": True},
    "aux_bw_input": {"aux": "bw_input", "time_major": False},
    "batch4_aux_weights_merge": {"aux": "weights", "merge": True, "batch": 4},
}


def multi_inputs(shapes, count: int = 3, seed: int = 2) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(count)]


@pytest.mark.parametrize("name", list(BIDI_CONFIGS))
def test_bidirectional_matches_oracle(name):
    model, shapes = bidi_model(BIDI_CONFIGS[name])
    check_stateful(model, multi_inputs(shapes))


def test_bidirectional_batch_major_merge_keeps_batches_apart():
    """TFLite offsets each batch's output state by the merged row width (2 * n_output) in
    this layout, past the end of the state buffer from the second batch on; the kernels
    keep each batch's own state instead: equal to running every batch on its own."""
    model, shapes = bidi_model({"time_major": False, "merge": True, "batch": 3})
    invokes = multi_inputs(shapes)
    together = run_kernels_stateful(model, invokes)
    single, _ = bidi_model({"time_major": False, "merge": True, "batch": 1})
    for b in range(3):
        alone = run_kernels_stateful(single, [[x[b : b + 1] for x in inv] for inv in invokes])
        for step in range(len(invokes)):
            np.testing.assert_allclose(together[step][0][b : b + 1], alone[step][0], atol=1e-6)
    for optimized in (True,):
        ours = run_kernels_stateful(model, invokes, optimized)
        for a, b in zip(ours, together):
            np.testing.assert_allclose(a[0], b[0], atol=1e-6)


@pytest.mark.parametrize("name", ["plain", "layer_norm_full", "batch5_everything"])
def test_through_interpreter(name):
    model, x_shape = lstm_model(CONFIGS[name])
    check_interpreter_stateful(model, sequence_inputs(x_shape))


def test_keras_and_bidirectional_through_interpreter():
    check_interpreter_stateful(keras_lstm_model(True), sequence_inputs((2, 5, 3), seed=4))
    model, shapes = bidi_model(BIDI_CONFIGS["aux_weights_cifg_merge"])
    check_interpreter_stateful(model, multi_inputs(shapes))
