"""Hybrid (dynamic-range) CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, BATCH_MATMUL: exact mode.

A hybrid op has float32 activations and int8 weights with float scales. By default the
interpreter dequantizes such weights once at load and runs the float kernels
(edgelite/interpreter/hybrid.py); with ``Interpreter(hybrid="exact")`` the weights
reach these kernels still int8 and the official arithmetic is reproduced:

1. quantize the input on the fly (_onthefly): per batch image for the convolutions,
   per row of K values for FULLY_CONNECTED and BATCH_MATMUL; symmetric int8 or
   asymmetric (CONV_2D with distinct per-channel scales, grouped CONV_2D and every
   DEPTHWISE_CONV_2D are asymmetric; FULLY_CONNECTED / BATCH_MATMUL follow their
   ``asymmetric_quantize_inputs`` option);
2. sum (q - zero point) * w exactly in integers;
3. scale by input scale * weight scale (per tensor, or per output channel), add the
   float bias, apply the fused activation.

The integer sums are exact, so the outputs equal the official runtime's up to the
order of a few float multiplications (within the float comparison rule). The
reference sums in int64, the optimized kernels in float64 through BLAS (exact too).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _requant as rq
from . import _window as win
from ._onthefly import quantize_rows
from ._qwindow import conv_sums, depthwise_sums
from .base import Node, Prepared, PrepareError, check_dtype

INPUT, FILTER, BIAS = 0, 1, 2


class HybridData(NamedTuple):
    kind: str  # "conv", "depthwise", "fc", "bmm"
    asymmetric: bool
    scales: np.ndarray  # float32 per output channel
    per_channel: bool  # False: the input scale absorbs the single weight scale first
    low: float
    high: float
    tanh: bool
    geometry: tuple  # conv: (stride, dilation, pad, groups); depthwise: (+ multiplier)
    rows: int  # fc: input rows
    adjoint: tuple[bool, bool]  # bmm: (adj_x, adj_y)

    def invoke(self, inputs: list, outputs: list) -> None:
        _invoke(self, inputs, outputs, np.int64)

    def invoke_opt(self, inputs: list, outputs: list) -> None:
        _invoke(self, inputs, outputs, np.float64)


def _weight_scales(node: Node, weights, op: str, axis: int, channels: int) -> np.ndarray:
    check_dtype(weights, (np.int8,), "weights" if op != "CONV_2D" else "filter")
    scales, _ = rq.affine(weights, "weights", f"hybrid {op}", axis=axis, symmetric=True)
    return np.broadcast_to(scales, (channels,)).astype(np.float32)


def _per_channel(weights) -> bool:
    """More than one weight scale: the official kernels then scale per output channel."""
    q = weights.quantization
    return q is not None and len(q.scale) > 1


def _activation(node: Node) -> tuple[float, float, bool]:
    opts = node.options
    return win.fused_activation(opts.fused_activation_function if opts is not None else 0)


def _data(kind, asymmetric, scales, per_channel, node, geometry=(), rows=0, adjoint=(False, False)):
    low, high, tanh = _activation(node) if kind != "bmm" else (-np.inf, np.inf, False)
    return HybridData(kind, asymmetric, scales, per_channel, low, high, tanh, geometry, rows,
                      adjoint)  # fmt: skip


def prepare_conv(node: Node, groups: int, window: tuple[int, ...], out_shape) -> Prepared:
    """Hybrid CONV_2D: per-tensor weights quantize the input symmetrically, distinct
    per-channel scales (or groups) asymmetrically."""
    filt = node.input(FILTER)
    win.require_output_dtype(node, np.dtype(np.float32))
    scales = _weight_scales(node, filt, "CONV_2D", 0, filt.shape[0])
    win.float_bias(node, BIAS, filt.shape[0], "CONV_2D")
    per_channel = bool(np.any(scales != scales[0])) or groups > 1
    _, _, sh, sw, dh, dw, pad_t, pad_l = window
    geometry = ((sh, sw), (dh, dw), (pad_t, pad_l), groups)
    data = _data("conv", per_channel, scales, per_channel, node, geometry)
    return Prepared([out_shape], data)


def prepare_depthwise(node: Node, steps: tuple[int, ...], multiplier: int, out_shape) -> Prepared:
    """Hybrid DEPTHWISE_CONV_2D: asymmetric per-batch input quantization."""
    filt = node.input(FILTER)
    win.require_output_dtype(node, np.dtype(np.float32))
    scales = _weight_scales(node, filt, "DEPTHWISE_CONV_2D", 3, filt.shape[3])
    win.float_bias(node, BIAS, filt.shape[3], "DEPTHWISE_CONV_2D")
    geometry = ((steps[0], steps[1]), (steps[2], steps[3]), (steps[4], steps[5]), multiplier)
    return Prepared([out_shape], _data("depthwise", True, scales, True, node, geometry))


def prepare_fully_connected(node: Node, rows: int, out_shape) -> Prepared:
    """Hybrid FULLY_CONNECTED: per-row input quantization (asymmetric_quantize_inputs)."""
    weights = node.input(1)
    win.require_output_dtype(node, np.dtype(np.float32))
    scales = _weight_scales(node, weights, "FULLY_CONNECTED", 0, weights.shape[0])
    win.float_bias(node, BIAS, weights.shape[0], "FULLY_CONNECTED")
    per_channel = _per_channel(weights)
    asymmetric = bool(node.options.asymmetric_quantize_inputs)
    return Prepared([out_shape], _data("fc", asymmetric, scales, per_channel, node, rows=rows))


def prepare_batch_matmul(node: Node, out_shape, adj_x: bool, adj_y: bool) -> Prepared:
    """Hybrid BATCH_MATMUL: float lhs quantized per row, int8 rhs (per tensor or per column)."""
    rhs = node.input(1)
    win.require_output_dtype(node, np.dtype(np.float32))
    columns = rhs.shape[-2] if adj_y else rhs.shape[-1]
    axis = len(rhs.shape) - (2 if adj_y else 1)
    if _per_channel(rhs) and len(rhs.shape) != 2:
        raise PrepareError("per-channel hybrid BATCH_MATMUL needs a 2-D rhs")
    scales = _weight_scales(node, rhs, "BATCH_MATMUL", axis, columns)
    per_channel = _per_channel(rhs)
    asymmetric = bool(node.options.asymmetric_quantize_inputs) if node.options else False
    data = _data("bmm", asymmetric, scales, per_channel, node, adjoint=(adj_x, adj_y))
    return Prepared([out_shape], data)


def _quantize(values: np.ndarray, rows: int, data: HybridData, dtype):
    """(q - zero point) as ``dtype`` and the float32 scale of each of ``rows`` rows."""
    q, scale, zero = quantize_rows(values.reshape(rows, -1), data.asymmetric)
    if not data.per_channel:
        scale = (scale * data.scales[0]).astype(np.float32)  # TFLite folds it in first
    centred = q.astype(dtype) - zero.reshape(-1, 1).astype(dtype)
    return centred.reshape(values.shape), scale


def _sums(data: HybridData, inputs: list, out_shape, dtype):
    """Exact integer sums and the per-row float scale they are multiplied by."""
    x, w = inputs[INPUT], inputs[FILTER]
    if data.kind == "conv":
        stride, dilation, pad, groups = data.geometry
        centred, scale = _quantize(x, x.shape[0], data, dtype)
        acc = conv_sums(centred, w, 0, stride, dilation, pad, out_shape[1:3], groups, dtype)
        return acc, scale.reshape(-1, 1, 1, 1)
    if data.kind == "depthwise":
        stride, dilation, pad, multiplier = data.geometry
        centred, scale = _quantize(x, x.shape[0], data, np.int64)
        acc = depthwise_sums(centred, w, 0, multiplier, stride, dilation, pad, out_shape[1:3])
        return acc, scale.reshape(-1, 1, 1, 1)
    if data.kind == "fc":
        centred, scale = _quantize(x.reshape(data.rows, -1), data.rows, data, dtype)
        return centred @ w.astype(dtype).T, scale.reshape(-1, 1)
    adj_x, adj_y = data.adjoint
    lhs = np.swapaxes(x, -1, -2) if adj_x else x
    rhs = np.swapaxes(w, -1, -2) if adj_y else w
    rows = int(np.prod(lhs.shape[:-1]))
    centred, scale = _quantize(np.ascontiguousarray(lhs), rows, data, dtype)
    acc = np.matmul(centred, rhs.astype(dtype))
    return acc, scale.reshape(*lhs.shape[:-1], 1)


def _invoke(data: HybridData, inputs: list, outputs: list, dtype) -> None:
    out = outputs[0]
    acc, scale = _sums(data, inputs, out.shape, dtype)
    acc = acc.astype(np.float32)
    if data.per_channel:
        result = acc * data.scales * scale
    else:
        result = acc * scale
    bias = inputs[BIAS] if data.kind != "bmm" and len(inputs) > BIAS else None
    if bias is not None:
        result = result + bias.reshape(-1)
    win.apply_fused(result, data.low, data.high, data.tanh)
    out[...] = result.reshape(out.shape)
