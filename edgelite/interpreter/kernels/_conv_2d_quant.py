"""CONV_2D on int8 / uint8 / int16 activations (the quantized half of conv_2d.py).

- int8: int8 symmetric weights, per-tensor or per output channel, int32 bias;
- uint8 (legacy): uint8 asymmetric per-tensor weights, int32 bias whose scale must
  match input * filter scale (TFLite's GetQuantizedConvolutionMultipler check);
- int16 ("16x8"): int8 symmetric weights, zero input and output zero points, int64
  bias, or int32 bias with ``quantized_bias_type`` INT32.

acc[c] = bias[c] + sum (x - zx) * (w - zw), then the epilogue of _requant. Which
MultiplyByQuantizedMultiplier the official runtime applies (rounding "tflite"): its
ruy GEMM rounds "double_up" (int8, uint8, and int16 with an int32 bias), grouped
convolutions fall back to its reference kernel ("double"), and int64-bias int16 uses
the int64 form. The optimized invoke is _qconv.conv_gemm (exact float GEMM).

Deviations: an int16 model with an int32 bias and no ``quantized_bias_type`` is
rejected (the official runtime reads that bias as int64 and returns garbage); a
missing bias is accepted (as zeros) where the official kernel insists on one.
"""

from __future__ import annotations

import math

import numpy as np

from ...schema.generated.enums import TensorType
from . import _qgemm
from . import _requant as rq
from . import _window as win
from ._qwindow import conv_sums
from .base import Node, OpRecord, Prepared, PrepareError, TensorInfo, check_dtype

INPUT, FILTER, BIAS = 0, 1, 2

_FILTER_TYPES = {
    np.dtype(np.int8): np.dtype(np.int8),
    np.dtype(np.uint8): np.dtype(np.uint8),
    np.dtype(np.int16): np.dtype(np.int8),
}


class QConvData(OpRecord):
    """Prepared quantized CONV_2D (read-only after prepare)."""

    __slots__ = ("stride", "dilation", "pad", "groups", "x_zero", "w_zero", "requant", "plan")
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int]
    groups: int
    x_zero: int
    w_zero: np.ndarray  # per output channel
    requant: rq.Requant
    plan: _qgemm.GemmPlan | None  # constant weights and bias: the optimized GEMM

    def invoke(self, inputs: list, outputs: list) -> None:
        invoke(self, inputs, outputs)

    def invoke_opt(self, inputs: list, outputs: list) -> None:
        invoke_opt(self, inputs, outputs)


def check_bias(
    node: Node,
    x: TensorInfo,
    channels: int,
    op: str,
    quantized_bias_type: int = 0,
    index: int = BIAS,
) -> TensorInfo | None:
    """The optional integer bias of a quantized conv-like op: type, length, zero point."""
    bias = node.optional_input(index)
    if bias is None:
        return None
    if x.dtype == np.dtype(np.int16):
        check_dtype(bias, (np.int32, np.int64), "bias")
        wanted = {
            int(TensorType.INT32): np.dtype(np.int32),
            int(TensorType.INT64): np.dtype(np.int64),
        }
        if quantized_bias_type in wanted and bias.dtype != wanted[quantized_bias_type]:
            raise PrepareError(
                f"bias {bias.name!r} is {bias.dtype.name} but quantized_bias_type is "
                f"{TensorType(quantized_bias_type).name}"
            )
    else:
        check_dtype(bias, (np.int32,), "bias")
    if math.prod(bias.shape) != channels:
        raise PrepareError(
            f"bias {bias.name!r} has shape {list(bias.shape)}; {op} needs {channels} values"
        )
    if bias.quantization is not None and np.any(np.asarray(bias.quantization.zero_point) != 0):
        raise PrepareError(f"bias {bias.name!r} has a non-zero zero point; it must be 0")
    return bias


def int16_zero_points(x: TensorInfo, out: TensorInfo, op: str) -> None:
    """16x8 kernels need symmetric activations."""
    for info, what in ((x, "input"), (out, "output")):
        if info.zero_point != 0:
            raise PrepareError(
                f"{what} {info.name!r} has zero point {info.zero_point}; int16 {op} needs 0"
            )


def prepare(node: Node, groups: int, window: tuple[int, ...], out_shape: tuple[int, ...]):
    """Quantized CONV_2D: validate parameters, build the epilogue and the GEMM plan."""
    x, filt, out = node.input(INPUT), node.input(FILTER), node.outputs[0]
    opts = node.options
    win.require_output_dtype(node, x.dtype)
    check_dtype(filt, (_FILTER_TYPES[x.dtype],), "filter")
    out_c = filt.shape[0]
    rq.affine(x, "input", "CONV_2D")
    rq.affine(out, "output", "CONV_2D")
    signed = x.dtype != np.dtype(np.uint8)
    scales, zeros = rq.affine(
        filt, "filter", "CONV_2D", axis=0 if signed else None, symmetric=signed
    )
    qbt = int(getattr(opts, "quantized_bias_type", 0) or 0)
    bias = check_bias(node, x, out_c, "CONV_2D", qbt)
    if not signed:
        rq.check_bias_scale(node, x, filt, bias, out)
    modes = _modes(node, x, bias, qbt, groups)
    requant = rq.make_requant(x.scale, scales, out, out_c, opts.fused_activation_function, modes)
    w_zero = rq.per_channel(zeros, out_c, np.int64)
    plan = None
    if filt.data is not None and (bias is None or bias.data is not None):
        weights = np.asarray(filt.data).reshape(out_c, -1)
        bias_values = None if bias is None else np.asarray(bias.data).reshape(-1)
        rows = out_shape[0] * out_shape[1] * out_shape[2]
        plan = _qgemm.plan_conv(
            weights,
            w_zero,
            x.dtype,
            x.zero_point,
            bias_values,
            requant,
            window,
            groups,
            rows,
            node.num_threads,
        )
    data = QConvData(
        stride=(window[2], window[3]),
        dilation=(window[4], window[5]),
        pad=(window[6], window[7]),
        groups=groups,
        x_zero=x.zero_point,
        w_zero=w_zero,
        requant=requant,
        plan=plan,
    )
    return Prepared([out_shape], data)


def _modes(node: Node, x: TensorInfo, bias: TensorInfo | None, qbt: int, groups: int) -> str:
    if x.dtype == np.dtype(np.int16):
        wide_bias = bias.dtype == np.dtype(np.int64) if bias is not None else True
        if bias is not None and not wide_bias and qbt != TensorType.INT32:
            raise PrepareError(
                f"int16 CONV_2D with int32 bias {bias.name!r} needs quantized_bias_type INT32 "
                "(the official runtime reads the bias as int64 otherwise)"
            )
        if wide_bias and qbt != TensorType.INT32:
            return rq.INT64
    # ruy's GEMM rounds ties up; grouped convolutions run TFLite's reference kernel.
    return rq.pick_rounding(node, "double_up" if groups == 1 else "double")


def invoke(data: QConvData, inputs: list, outputs: list) -> None:
    """Reference: int64 sums of (x - zx) * (w - zw) per tap, + bias, requantize."""
    x, filt, out = inputs[INPUT], inputs[FILTER], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS else None
    centred = filt.astype(np.int64) - data.w_zero.reshape(-1, 1, 1, 1)
    acc = conv_sums(
        x, centred, data.x_zero, data.stride, data.dilation, data.pad, out.shape[1:3], data.groups
    )
    if bias is not None:
        acc += bias.reshape(-1).astype(np.int64)
    out[...] = rq.requantize(acc, data.requant)


def invoke_opt(data: QConvData, inputs: list, outputs: list) -> None:
    """Optimized: _qconv.conv_gemm when weights and bias are constant, else the reference."""
    if data.plan is None:
        invoke(data, inputs, outputs)
        return
    _qgemm.run_conv(data.plan, inputs[INPUT], outputs[0])
