"""Integer LSTM, TFLite's 8x8->16 kernel (EvalInteger8x8_16), bit-exact.

int8 input and output state h (asymmetric), int8 weights, int32 biases, int16 cell state
with a power-of-two scale 2^cell_scale (cell_scale <= -9), int16 peephole and layer-norm
weights. Five intermediate tensors carry the remaining parameters: the scales of the four
gates' pre-activations (used with layer norm; Q3.12 = 2^-12 otherwise) and the scale and
zero point of the hidden value o * tanh(c) that feeds the projection.

Per step and gate: ``gate = sat16(mbqm(W x + b_x)) + sat16(mbqm(R h + b_h))`` (each
product rescaled by its effective scale, both added with int16 saturation; the zero
points of x and h are folded into b_x, b_h once), plus the peephole ``mbqm(P * c)``,
then integer layer norm, then the gemmlowp sigmoid (Q3.12 -> Q0.15) or tanh (cell gate).
The cell is ``c = f*c >> 15 + (i*g >> (30 + cell_scale))`` with rounding shifts and
saturation, the hidden value ``mbqm(o * tanh(c)) + z_hidden`` (int8) and the projection
``mbqm(W_p hidden + b_p) + z_h``. Effective scales are computed in float32 as TFLite does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fixedpoint as fp
from . import fixedpoint_math as fpm
from ._qparams import per_tensor, rounding_mode, symmetric_scale
from ._recurrent import state_view
from .base import Node, PrepareError, TensorInfo

_F32 = np.float32
_Q312 = 2.0**-12  # a gate's pre-activation scale without layer norm


@dataclass(frozen=True)
class Gate:
    """One gate's weights (node input positions) and precomputed integer parameters."""

    w_input: int
    w_recurrent: int
    input_bias: np.ndarray  # int64 [n_cell]: bias (no layer norm) - z_x * row sums of W
    recurrent_bias: np.ndarray  # int64 [n_cell]: -z_h * row sums of R
    input_scale: tuple[int, int]
    recurrent_scale: tuple[int, int]
    peephole: int = -1
    peephole_scale: tuple[int, int] = (0, 0)
    norm: int = -1  # layer-norm coefficients (int16)
    norm_bias: np.ndarray | None = None  # the gate bias, added inside the layer norm
    norm_scale: tuple[int, int] = (0, 0)
    variance_guard: int = 1


@dataclass(frozen=True)
class IntegerLstm:
    gates: tuple[Gate | None, ...]  # i, f, c, o (i is None with CIFG)
    cell_scale: int  # log2 of the cell state's scale
    hidden_scale: tuple[int, int]
    hidden_zero_point: int
    output_zero_point: int  # of the output state h
    projection: int
    projection_bias: np.ndarray | None
    projection_scale: tuple[int, int]
    cell_clip: int
    proj_clip: int
    rounding: str


def _scale(info: TensorInfo | None, what: str) -> float:
    return symmetric_scale(info, what) if info is not None else 1.0


def _row_sums(values: np.ndarray) -> np.ndarray:
    return values.astype(np.int64).sum(axis=1)


def _constant(node: Node, pos: int, what: str) -> np.ndarray:
    value = node.input(pos).data
    if value is None:
        raise PrepareError(f"{what} {node.input(pos).name!r} must be constant in an integer LSTM")
    return np.asarray(value)


def _gate(node: Node, cell, gate: int, quantize, inputs: tuple, inter, cs: int) -> Gate:
    """The integer parameters of one gate (PopulateQuantizedLstmParams8x8_16 and the
    zero-point-times-weights biases of TFLite's Prepare)."""
    s_x, z_x, s_h, z_h = inputs
    w_in, w_rec = cell.w_input[gate], cell.w_recurrent[gate]
    s_gate = inter[gate][0]
    s_w = _scale(node.input(w_in), "input weights")
    s_r = _scale(node.input(w_rec), "recurrent weights")
    norm, bias_pos = cell.layer_norm[gate], cell.bias[gate]
    bias = _constant(node, bias_pos, "gate bias").astype(np.int64)
    input_bias = (0 if norm >= 0 else bias) - z_x * _row_sums(_constant(node, w_in, "weights"))
    recurrent_bias = -z_h * _row_sums(_constant(node, w_rec, "weights"))
    fields = dict(
        w_input=w_in,
        w_recurrent=w_rec,
        input_bias=np.asarray(input_bias, np.int64),
        recurrent_bias=np.asarray(recurrent_bias, np.int64),
        input_scale=quantize(_F32(_F32(s_w) * _F32(s_x)) / _F32(s_gate)),
        recurrent_scale=quantize(_F32(_F32(s_r) * _F32(s_h)) / _F32(s_gate)),
    )
    peephole = cell.peephole[gate]
    if peephole >= 0:
        s_p = _scale(node.input(peephole), "peephole weights")
        fields.update(peephole=peephole, peephole_scale=quantize(2.0**cs * s_p / s_gate))
    if norm >= 0:
        s_norm = _scale(node.input(norm), "layer norm coefficients")
        guard = max(1, int(_F32(10000) * _F32(s_norm)))
        fields.update(norm=norm, norm_bias=bias, norm_scale=quantize(s_norm))
        fields.update(variance_guard=guard)
    return Gate(**fields)


class _Quantizer:
    """QuantizeMultiplier of a float32 effective scale with the node's rounding."""

    def __init__(self, rounding: str) -> None:
        self.rounding = rounding

    def __call__(self, scale) -> tuple[int, int]:
        return fp.quantize_multiplier(float(_F32(scale)), self.rounding)


def prepare(node: Node, cell, cell_clip: float, proj_clip: float) -> IntegerLstm:
    """Parameters of the 8x8->16 integer LSTM (TFLite's Prepare of the integer path)."""
    if len(node.intermediates) != 5:
        raise PrepareError(
            f"an int8 LSTM needs 5 intermediate tensors (the 8x8->16 kernel), got "
            f"{len(node.intermediates)}; the 8x8->8 variant (12) is not supported"
        )
    x, h, c = node.input(0), node.input(cell.h_state), node.input(cell.c_state)
    s_x, z_x = per_tensor(x, "input")
    s_h, z_h = per_tensor(h, "output state")
    s_c, z_c = per_tensor(c, "cell state")
    ok, cs = fpm.checked_log2(s_c)
    if not ok or cs > -9 or z_c != 0:
        raise PrepareError(
            f"cell state {c.name!r} needs a power-of-two scale <= 2^-9 and zero point 0 "
            f"(TFLite's CheckedLog2 rule), got {s_c!r} and {z_c}"
        )
    # Without layer norm the gates are Q3.12 and only the hidden intermediate is read.
    if cell.layer_norm[1] >= 0:
        inter = [per_tensor(t, "intermediate") for t in node.intermediates]
    else:
        inter = [(_Q312, 0)] * 4 + [per_tensor(node.intermediates[4], "intermediate")]
    quantize = _Quantizer(rounding_mode(node, "double"))
    operands = (s_x, z_x, s_h, z_h)
    gates = tuple(
        None if (g == 0 and cell.cifg) else _gate(node, cell, g, quantize, operands, inter, cs)
        for g in range(4)
    )
    s_hidden, z_hidden = inter[4]
    out = node.outputs[0]
    s_out, _ = per_tensor(out, "output")
    hidden_scale = quantize(2.0**-15 / s_hidden * 2.0**-15)
    projection_bias = None
    projection_scale = (0, 0)
    if cell.projection >= 0:
        s_p = _scale(node.input(cell.projection), "projection weights")
        bias = np.zeros(cell.n_output, np.int64)
        if cell.projection_bias >= 0:
            bias = _constant(node, cell.projection_bias, "projection bias").astype(np.int64)
        sums = _row_sums(_constant(node, cell.projection, "projection weights"))
        projection_bias = bias - z_hidden * sums
        projection_scale = quantize(_F32(_F32(s_p) * _F32(s_hidden)) / _F32(s_h))
    q_cell_clip = 0
    if cell_clip > 0:
        q_cell_clip = int(np.clip(_F32(cell_clip) / _F32(s_c), -32768.0, 32767.0))
    q_proj_clip = 0
    if proj_clip > 0:
        q_proj_clip = int(np.clip(_F32(proj_clip) / _F32(s_out), -128.0, 127.0))
    return IntegerLstm(
        gates,
        cs,
        hidden_scale,
        z_hidden,
        z_h,
        cell.projection,
        projection_bias,
        projection_scale,
        q_cell_clip,
        q_proj_clip,
        quantize.rounding,
    )


# -- invoke -------------------------------------------------------------------------------


def _mbqm(values, scale: tuple[int, int], rounding: str) -> np.ndarray:
    multiplier, shift = scale
    return np.asarray(fp.multiply_by_quantized_multiplier(values, multiplier, shift, rounding))


def _product(acc, values, weights, bias, scale, rounding: str, zero_point: int, bits: int):
    """MatrixBatchVectorMultiplyAccumulate (int8 x int8 -> int16/int8): the int32 sum of
    bias + dot, rescaled, plus the zero point and what ``acc`` holds, saturated."""
    dots = fp.wrap(values.astype(np.int64) @ weights.astype(np.int64).T + bias)
    limit = 1 << (bits - 1)
    total = _mbqm(dots, scale, rounding).astype(np.int64) + zero_point + acc
    return np.clip(total, -limit, limit - 1)


def _peephole(acc, cell, weights, scale, rounding: str, size: int, per_row: bool):
    """VectorBatchVectorCwiseProductAccumulate as TFLite calls it, with ``size`` = n_output
    elements per batch (all of n_cell unless there is a projection)."""
    weights = weights.astype(np.int64)
    if per_row:  # batch-major: one call per batch row
        part = acc[:, :size] + _mbqm(weights[:size] * cell[:, :size], scale, rounding)
        acc = acc.copy()
        acc[:, :size] = np.clip(part, fp.INT16_MIN, fp.INT16_MAX)
        return acc
    flat, cells = acc.reshape(-1).copy(), cell.reshape(-1)
    count = acc.shape[0] * size
    products = weights[np.arange(count) % size] * cells[:count]
    total = flat[:count] + _mbqm(products, scale, rounding)
    flat[:count] = np.clip(total, fp.INT16_MIN, fp.INT16_MAX)
    return flat.reshape(acc.shape)


def _truncating_div(values: np.ndarray, divisor: int) -> np.ndarray:
    """C integer division (toward zero) of int64 values by a positive divisor."""
    return np.sign(values) * (np.abs(values) // divisor)


def _layer_norm(acc, gate: Gate, weights, rounding: str) -> np.ndarray:
    """ApplyLayerNorm: integer mean and variance per row, 1/sqrt by the fixed-point toolkit."""
    n = acc.shape[1]
    mean = fp.wrap(_truncating_div(acc.sum(axis=1) * 1024, n))
    variance = (acc * acc).sum(axis=1) * ((1 << 20) // n) - mean * mean
    variance = fp.wrap(_truncating_div(variance, 1 << 20))
    variance = np.where(variance < 1, gate.variance_guard, variance)
    inv_a, inv_b = fpm.get_inv_sqrt_quantized_multiplier_exp(variance, -1)
    shifted = fp.wrap(1024 * acc - mean[:, None])
    rescaled = np.asarray(
        fp.multiply_by_quantized_multiplier(shifted, inv_a[:, None], inv_b[:, None], rounding),
        np.int64,
    )
    assert gate.norm_bias is not None
    scaled = fp.wrap(rescaled * weights.astype(np.int64) + gate.norm_bias)
    rounded = fp.wrap(_truncating_div(scaled + np.where(scaled > 0, 512, -512), 1024))
    multiplier, shift = gate.norm_scale
    result = fp.multiply_by_quantized_multiplier(rounded, multiplier, shift + 12, rounding)
    return np.clip(np.asarray(result, np.int64), fp.INT16_MIN, fp.INT16_MAX)


def _gate_value(q: IntegerLstm, k: int, get, x, h, c, n_output: int, per_row: bool):
    """CalculateLstmGateInteger8x8_16: the gate in Q0.15 (sigmoid; tanh for the cell gate)."""
    gate = q.gates[k]
    assert gate is not None
    acc = np.zeros((x.shape[0], gate.input_bias.shape[0]), np.int64)
    acc = _product(acc, x, get(gate.w_input), gate.input_bias, gate.input_scale, q.rounding, 0, 16)
    acc = _product(
        acc, h, get(gate.w_recurrent), gate.recurrent_bias, gate.recurrent_scale, q.rounding, 0, 16
    )
    if gate.peephole >= 0 and c is not None:
        weights = get(gate.peephole)
        acc = _peephole(acc, c, weights, gate.peephole_scale, q.rounding, n_output, per_row)
    if gate.norm >= 0:
        acc = _layer_norm(acc, gate, get(gate.norm), q.rounding)
    if k == 2:
        return np.asarray(fpm.tanh(acc, 3, bits=16), np.int64)
    return np.asarray(fpm.logistic(acc, 3, bits=16), np.int64)


def _scaled_product(a, b, shift: int) -> np.ndarray:
    """CwiseMul with a shift: int16(RoundingDivideByPOT(a * b, shift)), wrapping like C."""
    return fp.wrap(np.asarray(fp.rounding_divide_by_pot(fp.wrap(a * b), shift), np.int64), 16)


def _step(q: IntegerLstm, cell, get, x, h, c, per_row: bool):
    """LstmStepInteger8x8_16 for all rows: returns the new (h, c)."""
    n_output = cell.n_output
    forget = _gate_value(q, 1, get, x, h, c, n_output, per_row)
    update = _gate_value(q, 2, get, x, h, None, n_output, per_row)
    if cell.cifg:
        gate_in = 32767 - forget
    else:
        gate_in = _gate_value(q, 0, get, x, h, c, n_output, per_row)
    kept = _scaled_product(forget, c, 15)
    added = _scaled_product(gate_in, update, 30 + q.cell_scale)
    new_c = np.clip(kept + added, fp.INT16_MIN, fp.INT16_MAX)
    if q.cell_clip > 0:
        new_c = np.clip(new_c, -q.cell_clip, q.cell_clip)
    out_gate = _gate_value(q, 3, get, x, h, new_c, n_output, per_row)
    squashed = np.asarray(fpm.tanh(new_c, 15 + q.cell_scale, bits=16), np.int64)
    hidden = _mbqm(fp.wrap(out_gate * squashed), q.hidden_scale, q.rounding).astype(np.int64)
    hidden = np.clip(hidden + q.hidden_zero_point, -128, 127)
    if q.projection < 0:
        return hidden, new_c
    assert q.projection_bias is not None
    zero = np.zeros((x.shape[0], n_output), np.int64)
    new_h = _product(
        zero,
        hidden,
        get(q.projection),
        q.projection_bias,
        q.projection_scale,
        q.rounding,
        q.output_zero_point,
        8,
    )
    if q.proj_clip > 0:
        new_h = np.clip(new_h, -q.proj_clip, q.proj_clip)
    return new_h, new_c


def invoke(data, inputs, outputs) -> None:
    """Step through time; batch-major sequences go row by row in TFLite, which matters only
    for its peephole indexing (mirrored by ``per_row``)."""
    from . import _lstm_eval  # the sequence views (imported here: _lstm_eval imports us)

    q = data.integer
    for k, cell in enumerate(data.cells):
        x, _, out = _lstm_eval._sequences(data, k, inputs, outputs)
        h = state_view(inputs[cell.h_state], x.shape[1])
        c = state_view(inputs[cell.c_state], x.shape[1])
        steps = range(x.shape[0]) if data.forward[k] else range(x.shape[0] - 1, -1, -1)
        for t in steps:
            new_h, new_c = _step(q, cell, inputs.__getitem__, x[t], h, c, not data.time_major)
            h[...] = new_h
            c[...] = new_c
            out[t] = new_h
