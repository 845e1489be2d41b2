"""FULLY_CONNECTED on int8 / uint8 / int16 activations (quantized half of fully_connected).

- int8: int8 weights, per-tensor (any zero point) or per output channel (symmetric);
- uint8 (legacy): uint8 per-tensor weights with a zero point;
- int16: int8 weights (per-tensor or per channel) with an int32 or int64 bias, or int16
  weights; zero input and output zero points.

acc[r, u] = bias[u] + sum_k (x[r, k] - zx) * (w[u, k] - zw). A per-tensor layer needs
the bias scale to match input * weight scale (TFLite's GetQuantizedConvolutionMultipler).
Official rounding ("tflite"): its ruy GEMM ("double_up") for int8, uint8 and int16 with
an int32 bias; int16 with an int64 bias runs the reference kernel, which rescales with
``round(acc * s_in * s_w / s_out)`` in double ("real"); int16 weights use the int64
multiplier. Reference rounding ("reference", the official BUILTIN_REF kernels): "real"
for every type but int16 weights. Fused activation: NONE, RELU, RELU_N1_TO_1 or RELU6 (as TFLite).

The optimized invoke is the exact float GEMM of _qconv (a 1x1 convolution), or, for an
int8 layer applied to at most ``GEMV_ROWS`` rows, _qdirect.gemv_int8 on the int8 weights
themselves (a matrix-vector product is memory bound: int8 reads a quarter of float).

Deviations: uint8 input with int16 output, sparse and shuffled weights are rejected.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import ActivationFunctionType, TensorType
from . import _qgemm
from . import _requant as rq
from . import _window as win
from ._conv_2d_quant import check_bias, int16_zero_points
from ._qparams import reference_rounding
from .base import Node, OpRecord, Prepared, PrepareError, check_dtype

INPUT, WEIGHTS, BIAS = 0, 1, 2

GEMV_ROWS = 4  # up to this many input rows, int8 layers skip the float GEMM

_ACTIVATIONS = (
    ActivationFunctionType.NONE,
    ActivationFunctionType.RELU,
    ActivationFunctionType.RELU_N1_TO_1,
    ActivationFunctionType.RELU6,
)


class QFullyConnectedData(OpRecord):
    """Prepared quantized FULLY_CONNECTED (read-only after prepare)."""

    __slots__ = ("rows", "x_zero", "w_zero", "requant", "plan", "gemv")
    rows: int
    x_zero: int
    w_zero: np.ndarray  # per unit
    requant: rq.Requant
    plan: _qgemm.GemmPlan | None
    gemv: tuple | None  # (int8 weights [units, K], epilogue) for _qdirect.gemv_int8
    _defaults = {"gemv": None}

    def invoke(self, inputs: list, outputs: list) -> None:
        invoke(self, inputs, outputs)

    def invoke_opt(self, inputs: list, outputs: list) -> None:
        invoke_opt(self, inputs, outputs)


def _weight_types(x_dtype: np.dtype) -> tuple:
    if x_dtype == np.dtype(np.uint8):
        return (np.uint8,)
    if x_dtype == np.dtype(np.int16):
        return (np.int8, np.int16)
    return (np.int8,)


def prepare(node: Node, rows: int, out_shape: tuple[int, ...]) -> Prepared:
    """Quantized FULLY_CONNECTED: validate, build the epilogue and the GEMM plan."""
    x, weights, out = node.input(INPUT), node.input(WEIGHTS), node.outputs[0]
    opts = node.options
    win.require_output_dtype(node, x.dtype)
    check_dtype(weights, _weight_types(x.dtype), "weights")
    if weights.sparsity is not None:
        raise PrepareError(f"sparse weights {weights.name!r} are not supported")
    act = opts.fused_activation_function
    if act not in _ACTIVATIONS:
        raise PrepareError(
            f"fused activation {ActivationFunctionType(act).name} is not supported on quantized "
            "FULLY_CONNECTED (NONE, RELU, RELU_N1_TO_1, RELU6)"
        )
    units = weights.shape[0]
    rq.affine(x, "input", "FULLY_CONNECTED")
    rq.affine(out, "output", "FULLY_CONNECTED")
    signed = x.dtype != np.dtype(np.uint8)
    scales, zeros = rq.affine(weights, "weights", "FULLY_CONNECTED", axis=0 if signed else None)
    per_channel = len(scales) > 1
    if per_channel and np.any(zeros != 0):
        raise PrepareError(f"per-channel weights {weights.name!r} must be symmetric (zero point 0)")
    qbt = int(getattr(opts, "quantized_bias_type", 0) or 0)
    bias = check_bias(node, x, units, "FULLY_CONNECTED", qbt)
    if x.dtype != np.dtype(np.int16) and bias is not None:
        check_dtype(bias, (np.int32,), "bias")
    if not per_channel:
        rq.check_bias_scale(node, x, weights, bias, out)
    mode = _mode(node, x, weights, bias, qbt, out)
    requant = rq.make_requant(x.scale, scales, out, units, act, mode)
    w_zero = np.broadcast_to(zeros, (units,)).astype(np.int64)
    plan = gemv = None
    constant = weights.data is not None and (bias is None or bias.data is not None)
    bias_values = None if bias is None else np.asarray(bias.data).reshape(-1)
    if constant and _gemv_fits(x, weights, w_zero, rows):
        w8 = np.ascontiguousarray(weights.data, np.int8)
        total = -x.zero_point * w8.sum(axis=1, dtype=np.int64)  # sum (x - zx) w = ...
        if bias_values is not None:
            total = total + bias_values.astype(np.int64)
        gemv = (w8, requant.epilogue(total.astype(np.int32), None))
    elif constant:
        plan = _qgemm.plan_conv(
            np.asarray(weights.data),
            w_zero,
            x.dtype,
            x.zero_point,
            bias_values,
            requant,
            (1, 1, 1, 1, 1, 1, 0, 0),
            1,
            rows,
            node.num_threads,
        )
    data = QFullyConnectedData(rows, x.zero_point, w_zero, requant, plan, gemv)
    return Prepared([out_shape], data)


def _gemv_fits(x, weights, w_zero: np.ndarray, rows: int) -> bool:
    int8 = np.dtype(np.int8)
    return (
        _qgemm.gemv_int8 is not None
        and x.dtype == int8
        and weights.dtype == int8
        and not np.any(w_zero)
        and rows <= GEMV_ROWS
    )


def _mode(node: Node, x, weights, bias, qbt: int, out) -> str:
    if x.dtype == np.dtype(np.int16):
        int16_zero_points(x, out, "FULLY_CONNECTED")
        if weights.dtype == np.dtype(np.int16):
            return rq.INT64
    if reference_rounding(node):
        # The official reference kernels rescale int8 / uint8 / int16 (8-bit weights)
        # accumulators by the real multiplier in double, not a quantized multiplier.
        return rq.REAL
    if x.dtype != np.dtype(np.int16):
        return rq.pick_rounding(node, "double_up")
    if (bias is not None and bias.dtype == np.dtype(np.int64)) or qbt == TensorType.INT64:
        # The official int16 path without ruy: rescaling by the real multiplier.
        return rq.REAL
    return rq.pick_rounding(node, "double_up")


def invoke(data: QFullyConnectedData, inputs: list, outputs: list) -> None:
    """Reference: int64 (x - zx) @ (w - zw)^T + bias, requantize."""
    x, weights, out = inputs[INPUT], inputs[WEIGHTS], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS else None
    lhs = x.reshape(data.rows, -1).astype(np.int64) - data.x_zero
    acc = lhs @ (weights.astype(np.int64) - data.w_zero.reshape(-1, 1)).T
    if bias is not None:
        acc += bias.reshape(-1).astype(np.int64)
    out[...] = rq.requantize(acc, data.requant).reshape(out.shape)


def invoke_opt(data: QFullyConnectedData, inputs: list, outputs: list) -> None:
    """Optimized: the exact float GEMM of _qconv, as a 1x1 convolution of [rows, 1, 1, K]."""
    if data.gemv is not None:
        x, out = inputs[INPUT], outputs[0]
        weights, epilogue = data.gemv
        acc = _qgemm.scratch("iacc", (data.rows, weights.shape[0]), np.int32)
        flat = x.reshape(data.rows, -1)
        _qgemm.gemv_int8(flat, weights, out.reshape(data.rows, -1), acc, epilogue)
        return
    if data.plan is None:
        invoke(data, inputs, outputs)
        return
    x, out = inputs[INPUT], outputs[0]
    _qgemm.run_conv(data.plan, x.reshape(data.rows, 1, 1, -1), out.reshape(data.rows, 1, 1, -1))
