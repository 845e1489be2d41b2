"""The LSTM computation shared by UNIDIRECTIONAL_SEQUENCE_LSTM, BIDIRECTIONAL_SEQUENCE_LSTM
and LSTM (TFLite's lstm_eval): the prepared description of a cell, the numpy reference
and the optimized invoke (hybrid int8-weight LSTMs: ``_lstm_hybrid``).

One step, as TFLite's float kernel computes it (LstmStepFloat), for the gates input (i),
forget (f), cell (g) and output (o):

    a  = bias + W x + A aux + R h        (layer norm variant: no bias here)
    a += P * c                           (peephole: i and f see the old c, o the new one)
    a  = LN * normalize(a) + bias        (layer norm variant)
    i, f, o = sigmoid(a_i, a_f, a_o);  g = act(a_g);  i = 1 - f with CIFG (no input gate)
    c = clip(f * c + i * g, cell_clip)
    h = clip(Proj (o * act(c)) + proj_bias, proj_clip)   (h = o * act(c) without projection)

``act`` is the fused activation (TANH in every converted model). The state tensors are
variables: invoke reads h and c from them and writes the new state back in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _lstm_hybrid, _lstm_integer
from ._blas import use_blas_threads
from ._recurrent import activate, sigmoid, state_view, time_major_view

try:
    from . import _recurrence
except ImportError:  # extensions not built: invoke_opt falls back to the reference
    _recurrence = None  # type: ignore[assignment]

# The optimized kernel packs gates in slot order f, c, o, i so that CIFG just drops the last.
SLOTS = (1, 2, 3, 0)


@dataclass(frozen=True)
class Cell:
    """One direction: node input positions of its tensors (-1 = absent) and its sizes."""

    w_input: tuple[int, ...]  # i, f, c, o
    w_aux: tuple[int, ...]  # i, f, c, o (all -1 without aux input)
    w_recurrent: tuple[int, ...]
    peephole: tuple[int, ...]  # i, f, -1, o
    bias: tuple[int, ...]
    layer_norm: tuple[int, ...]
    projection: int
    projection_bias: int
    h_state: int
    c_state: int
    n_cell: int
    n_output: int

    @property
    def cifg(self) -> bool:
        return self.w_input[0] < 0


@dataclass(frozen=True)
class LstmData:
    """The prepared op: one cell (two for BIDIRECTIONAL), where their sequences come from
    and go to, and the options they share."""

    cells: tuple[Cell, ...]
    sources: tuple[int, ...]  # input position of each cell's sequence
    aux: int  # aux sequence position (with aux weights), -1 when unused
    out_slots: tuple[tuple[int, int], ...]  # (output index, channel offset) per cell
    forward: tuple[bool, ...]
    time_major: bool
    activation: int
    cell_clip: float
    proj_clip: float
    packed: tuple[Packed | None, ...] = field(default=())
    num_threads: int = 1
    hybrid: Any = None  # _lstm_hybrid.HybridLstm: int8 weights, float activations
    integer: Any = None  # _lstm_integer.IntegerLstm: the 8x8->16 integer LSTM


@dataclass(frozen=True)
class Packed:
    """One cell's weights stacked in slot order for the optimized kernel."""

    w_input: np.ndarray  # [G * n_cell, n_input]
    w_aux: np.ndarray | None
    recurrent_t: np.ndarray  # [n_output, G * n_cell] (transposed: the kernel does AXPYs)
    bias: np.ndarray  # [G, n_cell]
    peephole: np.ndarray  # [3, n_cell] rows f, o, i ([1, 1] when absent)
    layer_norm: np.ndarray  # [G, n_cell] ([1, 1] when absent)
    projection_t: np.ndarray  # [n_cell, n_output] ([1, 1] when absent)
    projection_bias: np.ndarray  # [n_output] ([1] when absent)


def weight_positions(cell: Cell) -> list[int]:
    """Node input positions of every weight, bias and coefficient tensor of ``cell``."""
    groups = (cell.w_input, cell.w_aux, cell.w_recurrent, cell.peephole, cell.bias, cell.layer_norm)
    return [p for g in groups for p in g if p >= 0] + [
        p for p in (cell.projection, cell.projection_bias) if p >= 0
    ]


def pack(cell: Cell, get: Callable[[int], np.ndarray]) -> Packed:
    """Stack one cell's gate weights in slot order (f, c, o, i) for the optimized kernel."""
    slots = SLOTS[:3] if cell.cifg else SLOTS
    one = np.ones((1, 1), np.float32)

    def stack(positions: tuple[int, ...]) -> np.ndarray:
        return np.ascontiguousarray(np.concatenate([get(positions[s]) for s in slots]), np.float32)

    norm = cell.layer_norm[1] >= 0
    peep_rows = (1, 3) if cell.cifg else (1, 3, 0)
    return Packed(
        w_input=stack(cell.w_input),
        w_aux=stack(cell.w_aux) if cell.w_aux[1] >= 0 else None,
        recurrent_t=np.ascontiguousarray(stack(cell.w_recurrent).T),
        bias=np.stack([get(cell.bias[s]) for s in slots]).astype(np.float32),
        peephole=np.stack([get(cell.peephole[s]) for s in peep_rows]).astype(np.float32)
        if cell.peephole[1] >= 0
        else one,
        layer_norm=np.stack([get(cell.layer_norm[s]) for s in slots]).astype(np.float32)
        if norm
        else one,
        projection_t=np.ascontiguousarray(get(cell.projection).T, np.float32)
        if cell.projection >= 0
        else one,
        projection_bias=np.ascontiguousarray(get(cell.projection_bias), np.float32)
        if cell.projection_bias >= 0
        else one[0],
    )


# -- invoke: numpy reference -------------------------------------------------------------


def _normalize(a: np.ndarray) -> np.ndarray:
    """TFLite's MeanStddevNormalization: (a - mean) / sqrt(variance + 1e-8) per row."""
    mean = a.mean(axis=-1, keepdims=True, dtype=np.float32)
    centred = a - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True, dtype=np.float32)
    return centred / np.sqrt(variance + np.float32(1e-8))


def _gate(cell: Cell, gate: int, get, x, aux, h, c) -> np.ndarray:
    """Pre-activation value of one gate for all batches of one time step."""
    norm = cell.layer_norm[gate]
    acc = x @ get(cell.w_input[gate]).T
    if norm < 0:
        acc = get(cell.bias[gate]) + acc
    if aux is not None:
        acc = acc + aux @ get(cell.w_aux[gate]).T
    acc = acc + h @ get(cell.w_recurrent[gate]).T
    if c is not None and cell.peephole[gate] >= 0:
        acc = acc + get(cell.peephole[gate]) * c
    if norm >= 0:
        acc = _normalize(acc) * get(norm) + get(cell.bias[gate])
    return acc


def _step(data: LstmData, cell: Cell, get, x, aux, h, c) -> tuple[np.ndarray, np.ndarray]:
    forget = sigmoid(_gate(cell, 1, get, x, aux, h, c))
    update = activate(_gate(cell, 2, get, x, aux, h, None), data.activation)
    if cell.cifg:
        new_c = forget * c + (np.float32(1) - forget) * update
    else:
        new_c = forget * c + sigmoid(_gate(cell, 0, get, x, aux, h, c)) * update
    if data.cell_clip > 0:
        new_c = np.clip(new_c, -data.cell_clip, data.cell_clip)
    out_gate = sigmoid(_gate(cell, 3, get, x, aux, h, new_c))
    new_h = out_gate * activate(new_c, data.activation)
    if cell.projection >= 0:
        new_h = new_h @ get(cell.projection).T
        if cell.projection_bias >= 0:
            new_h = get(cell.projection_bias) + new_h
        if data.proj_clip > 0:
            new_h = np.clip(new_h, -data.proj_clip, data.proj_clip)
    return new_h.astype(np.float32), new_c.astype(np.float32)


def _sequences(data: LstmData, k: int, inputs, outputs):
    """Time-major views [time, batch, ...] of cell k's input, aux input and output slice."""
    cell = data.cells[k]
    x = time_major_view(inputs[data.sources[k]], data.time_major)
    aux = time_major_view(inputs[data.aux], data.time_major) if data.aux >= 0 else None
    index, offset = data.out_slots[k]
    out = time_major_view(outputs[index], data.time_major)[:, :, offset : offset + cell.n_output]
    return x, aux, out


def invoke(data: LstmData, inputs, outputs) -> None:
    """Numpy reference: step through time, all batches of a step at once."""
    if data.hybrid is not None:
        _lstm_hybrid.invoke(data, inputs, outputs)
        return
    if data.integer is not None:
        _lstm_integer.invoke(data, inputs, outputs)
        return
    use_blas_threads(data.num_threads)
    for k, cell in enumerate(data.cells):
        x, aux, out = _sequences(data, k, inputs, outputs)
        h = state_view(inputs[cell.h_state], x.shape[1])
        c = state_view(inputs[cell.c_state], x.shape[1])
        steps = range(x.shape[0]) if data.forward[k] else range(x.shape[0] - 1, -1, -1)
        for t in steps:
            new_h, new_c = _step(
                data, cell, inputs.__getitem__, x[t], None if aux is None else aux[t], h, c
            )
            h[...] = new_h
            c[...] = new_c
            out[t] = new_h


# From this many batch rows on, one BLAS GEMM per step for R h beats the per-row AXPYs.
BLAS_BATCH = 4


def invoke_opt(data: LstmData, inputs, outputs) -> None:
    """Optimized: one GEMM for every step's input part, then the recurrence in Cython
    (whole sequence per batch row; with many rows, a GEMM per step and Cython for the rest)."""
    if _recurrence is None or data.hybrid is not None or data.integer is not None:
        invoke(data, inputs, outputs)
        return
    use_blas_threads(data.num_threads)
    for k, cell in enumerate(data.cells):
        packed = data.packed[k] or pack(cell, inputs.__getitem__)
        x, aux, out = _sequences(data, k, inputs, outputs)
        pre = x @ packed.w_input.T
        if aux is not None and packed.w_aux is not None:
            pre += aux @ packed.w_aux.T
        if cell.layer_norm[1] < 0:
            pre += packed.bias.reshape(-1)
        n_batch = x.shape[1]
        h = state_view(inputs[cell.h_state], n_batch)
        c = state_view(inputs[cell.c_state], n_batch)
        shared: dict[str, Any] = dict(
            peephole=packed.peephole,
            norm=packed.layer_norm,
            bias=packed.bias,
            projection_t=packed.projection_t,
            projection_bias=packed.projection_bias,
            h=h,
            c=c,
            cifg=cell.cifg,
            peephole_on=cell.peephole[1] >= 0,
            layer_norm=cell.layer_norm[1] >= 0,
            projection_on=cell.projection >= 0,
            projection_bias_on=cell.projection_bias >= 0,
            activation=data.activation,
            cell_clip=data.cell_clip,
            proj_clip=data.proj_clip,
        )
        if n_batch < BLAS_BATCH:
            _recurrence.lstm_sequence(
                pre,
                packed.recurrent_t,
                out=out,
                forward=data.forward[k],
                num_threads=data.num_threads,
                **shared,
            )
            continue
        gates = np.empty((n_batch, packed.recurrent_t.shape[1]), np.float32)
        steps = range(x.shape[0]) if data.forward[k] else range(x.shape[0] - 1, -1, -1)
        for t in steps:
            np.matmul(h, packed.recurrent_t, out=gates)
            gates += pre[t]
            _recurrence.lstm_update(gates, **shared)
            out[t] = h
