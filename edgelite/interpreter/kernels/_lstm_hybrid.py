"""Hybrid LSTM (int8/uint8 weights, float32 activations and states): TFLite's LstmStepHybrid.

The step is the float LSTM of ``_lstm_eval`` with every weight product replaced by the
hybrid one (``_hybrid_util``): per time step, x, the aux input and h are quantized to int8
row by row (symmetric, or asymmetric with ``asymmetric_quantize_inputs``), each gate starts
from its bias (zero for layer norm) and adds ``float(int8 dot) * (row scale * weight
scale)`` for the input, aux and recurrent weights; peephole weights are dequantized
(``int8 * scale``) and multiply the cell state in float; the output o * act(c) is quantized
again for the int8 projection. Biases and layer-norm coefficients stay float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _lstm_eval as lstm_eval
from ._hybrid_util import accumulate, int8_view, quantize_rows, row_sums
from ._qparams import symmetric_scale
from ._recurrent import activate, sigmoid, state_view
from .base import Node


@dataclass(frozen=True)
class HybridLstm:
    """The per-tensor scale of every int8 weight (by node input position), and the mode."""

    scales: dict[int, float]
    asymmetric: bool


def hybrid_params(node: Node, cells) -> HybridLstm | None:
    """Scales of the int8 weights when the LSTM is hybrid (float input), else None."""
    if node.input(0).dtype != np.float32:
        return None
    scales: dict[int, float] = {}
    for cell in cells:
        for pos in lstm_eval.weight_positions(cell):
            info = node.input(pos)
            if info.dtype in (np.int8, np.uint8):
                scales[pos] = symmetric_scale(info, "weight")
    if not scales:
        return None
    asymmetric = bool(getattr(node.options, "asymmetric_quantize_inputs", False))
    return HybridLstm(scales, asymmetric)


class _Operand:
    """One float operand of a step, quantized once for every gate (None when all zero)."""

    def __init__(self, values: np.ndarray | None, asymmetric: bool) -> None:
        self.q = None
        if values is not None and values.any():  # TFLite skips all-zero operands
            self.q = quantize_rows(values, asymmetric)

    def add_product(self, acc: np.ndarray, weights: np.ndarray, scale: float) -> None:
        if self.q is None:
            return
        q, scales, offsets = self.q
        w = int8_view(weights)
        sums = row_sums(w) if offsets is not None else None
        accumulate(acc, w, q, scales, offsets, sums, scale)


def _gate(hybrid: HybridLstm, cell, gate: int, get, ops, batch: int, c) -> np.ndarray:
    """Pre-activation value of one gate (CalculateLstmGateHybrid before the activation)."""
    x, aux, h = ops
    norm, bias = cell.layer_norm[gate], get(cell.bias[gate])
    shape = (batch, cell.n_cell)
    acc = np.zeros(shape, np.float32) if norm >= 0 else np.broadcast_to(bias, shape).copy()
    x.add_product(acc, get(cell.w_input[gate]), hybrid.scales[cell.w_input[gate]])
    if cell.w_aux[gate] >= 0:
        aux.add_product(acc, get(cell.w_aux[gate]), hybrid.scales[cell.w_aux[gate]])
    h.add_product(acc, get(cell.w_recurrent[gate]), hybrid.scales[cell.w_recurrent[gate]])
    peephole = cell.peephole[gate]
    if c is not None and peephole >= 0:
        scale = np.float32(hybrid.scales[peephole])
        recovered = (int8_view(get(peephole)).astype(np.float32) * scale).astype(np.float32)
        acc += recovered * c
    if norm >= 0:
        acc = lstm_eval._normalize(acc) * get(norm) + bias
    return acc.astype(np.float32)


def _output(data, hybrid: HybridLstm, cell, get, hidden: np.ndarray) -> np.ndarray:
    """CalculateLstmOutputHybrid: the projection of o * act(c), quantized on the fly."""
    if cell.projection < 0:
        return hidden
    shape = (hidden.shape[0], cell.n_output)
    if cell.projection_bias >= 0:
        out = np.broadcast_to(get(cell.projection_bias), shape).astype(np.float32)
    else:
        out = np.zeros(shape, np.float32)
    _Operand(hidden, hybrid.asymmetric).add_product(
        out, get(cell.projection), hybrid.scales[cell.projection]
    )
    if data.proj_clip > 0:
        out = np.clip(out, -data.proj_clip, data.proj_clip)
    return out


def _step(data, hybrid: HybridLstm, cell, get, x, aux, h, c):
    asym, batch = hybrid.asymmetric, c.shape[0]
    ops = (_Operand(x, asym), _Operand(aux, asym), _Operand(h, asym))
    forget = sigmoid(_gate(hybrid, cell, 1, get, ops, batch, c))
    update = activate(_gate(hybrid, cell, 2, get, ops, batch, None), data.activation)
    if cell.cifg:
        new_c = forget * c + (np.float32(1) - forget) * update
    else:
        new_c = forget * c + sigmoid(_gate(hybrid, cell, 0, get, ops, batch, c)) * update
    if data.cell_clip > 0:
        new_c = np.clip(new_c, -data.cell_clip, data.cell_clip)
    new_c = new_c.astype(np.float32)
    out_gate = sigmoid(_gate(hybrid, cell, 3, get, ops, batch, new_c))
    hidden = (out_gate * activate(new_c, data.activation)).astype(np.float32)
    return _output(data, hybrid, cell, get, hidden), new_c


def invoke(data, inputs, outputs) -> None:
    """Step through time, all batches of a step at once (quantization is per batch row)."""
    hybrid = data.hybrid
    for k, cell in enumerate(data.cells):
        x, aux, out = lstm_eval._sequences(data, k, inputs, outputs)
        h = state_view(inputs[cell.h_state], x.shape[1])
        c = state_view(inputs[cell.c_state], x.shape[1])
        steps = range(x.shape[0]) if data.forward[k] else range(x.shape[0] - 1, -1, -1)
        for t in steps:
            step_aux = None if aux is None else aux[t]
            new_h, new_c = _step(data, hybrid, cell, inputs.__getitem__, x[t], step_aux, h, c)
            h[...] = new_h
            c[...] = new_c
            out[t] = new_h
