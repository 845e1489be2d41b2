"""DEPTHWISE_CONV_2D on int8 / uint8 / int16 activations (quantized half of depthwise_conv_2d).

- int8: int8 symmetric weights per-tensor or per channel (dimension 3), int32 bias;
- uint8 (legacy): uint8 per-tensor weights with a zero point, int32 bias whose scale
  must match input * filter scale;
- int16 ("16x8"): int8 symmetric weights, zero input/output zero points, int64 bias.

acc[c] = bias[c] + sum over taps (x - zx) * (w - zw). Official rounding ("tflite"):
the int8 kernel requantizes whole blocks of 8 channels with NEON-style arithmetic
("double_up") and the remaining ``channels % 8`` one by one ("double"); uint8 is
"double" throughout; int16 runs the reference kernel with the int64 form.

Optimized path: the inputs minus their zero point are exact in float32, and so is
every sum while ``taps * max|x - zx| * max|w - zw|`` stays below 2^24, so the float
depthwise kernel (_depthwise.pyx) computes the accumulators and _qconv.requant
finishes. int16 (whose products alone reach 2^22) and larger filters run the
reference.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _qgemm
from . import _requant as rq
from . import _window as win
from ._conv_2d_quant import check_bias, int16_zero_points
from ._qwindow import depthwise_sums
from .base import Node, Prepared, check_dtype

try:
    from ._depthwise import depthwise_conv
except ImportError:  # extensions not built: the reference kernel still runs
    depthwise_conv = None

INPUT, FILTER, BIAS = 0, 1, 2

NO_BIAS = np.empty(0, np.float32)


class FloatPlan(NamedTuple):
    weights: np.ndarray  # [kh, kw, O] float32, weight minus zero point
    epilogue: tuple
    x_float: np.ndarray  # [N, H, W, C] scratch: x - zx
    acc: np.ndarray  # [N, oh, ow, O] scratch


class QDepthwiseData(NamedTuple):
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int]
    multiplier: int
    x_zero: int
    w_zero: np.ndarray  # per output channel
    requant: rq.Requant
    plan: FloatPlan | None
    num_threads: int

    def invoke(self, inputs: list, outputs: list) -> None:
        invoke(self, inputs, outputs)

    def invoke_opt(self, inputs: list, outputs: list) -> None:
        invoke_opt(self, inputs, outputs)


def prepare(node: Node, steps: tuple[int, ...], multiplier: int, out_shape: tuple[int, ...]):
    """Quantized DEPTHWISE_CONV_2D; ``steps`` = (sh, sw, dh, dw, pad_t, pad_l)."""
    x, filt, out = node.input(INPUT), node.input(FILTER), node.outputs[0]
    opts = node.options
    win.require_output_dtype(node, x.dtype)
    uint8 = x.dtype == np.dtype(np.uint8)
    check_dtype(filt, (np.uint8,) if uint8 else (np.int8,), "filter")
    out_c = filt.shape[3]
    rq.affine(x, "input", "DEPTHWISE_CONV_2D")
    rq.affine(out, "output", "DEPTHWISE_CONV_2D")
    scales, zeros = rq.affine(
        filt, "filter", "DEPTHWISE_CONV_2D", axis=None if uint8 else 3, symmetric=not uint8
    )
    bias = check_bias(node, x, out_c, "DEPTHWISE_CONV_2D")
    if x.dtype == np.dtype(np.int16):
        int16_zero_points(x, out, "DEPTHWISE_CONV_2D")
        if bias is not None:
            check_dtype(bias, (np.int64,), "bias")
        modes: str | list[str] = rq.INT64
    elif uint8:
        rq.check_bias_scale(node, x, filt, bias, out)
        modes = rq.pick_rounding(node, "double")
    else:
        # NEON-style blocks of 8 channels round ties up, the leftover channels don't.
        blocked = 8 * (out_c // 8)
        modes = [rq.pick_rounding(node, "double_up" if c < blocked else "double") for c in range(out_c)]
    requant = rq.make_requant(x.scale, scales, out, out_c, opts.fused_activation_function, modes)
    w_zero = np.broadcast_to(zeros, (out_c,)).astype(np.int64)
    data = QDepthwiseData(
        stride=(steps[0], steps[1]),
        dilation=(steps[2], steps[3]),
        pad=(steps[4], steps[5]),
        multiplier=multiplier,
        x_zero=x.zero_point,
        w_zero=w_zero,
        requant=requant,
        plan=_float_plan(x, filt, bias, w_zero, requant, out_shape),
        num_threads=node.num_threads,
    )
    return Prepared([out_shape], data)


def _float_plan(x, filt, bias, w_zero, requant, out_shape) -> FloatPlan | None:
    constant = filt.data is not None and (bias is None or bias.data is not None)
    if depthwise_conv is None or _qgemm.requant is None or not constant:
        return None
    if x.dtype == np.dtype(np.int16):
        return None
    centred = np.asarray(filt.data).astype(np.int64)[0] - w_zero
    taps = filt.shape[1] * filt.shape[2]
    if taps * 255 * max(int(np.abs(centred).max(initial=0)), 1) >= _qgemm.FLOAT32_EXACT:
        return None
    bias32 = None if bias is None else np.asarray(bias.data).reshape(-1).astype(np.int32)
    return FloatPlan(
        weights=np.ascontiguousarray(centred, np.float32),
        epilogue=requant.epilogue(bias32, None),
        x_float=np.empty(x.shape, np.float32),
        acc=np.empty(out_shape, np.float32),
    )


def invoke(data: QDepthwiseData, inputs: list, outputs: list) -> None:
    """Reference: int64 sums of (x - zx) * (w - zw) per tap, + bias, requantize."""
    x, filt, out = inputs[INPUT], inputs[FILTER], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS else None
    centred = filt.astype(np.int64) - data.w_zero
    acc = depthwise_sums(
        x, centred, data.x_zero, data.multiplier, data.stride, data.dilation, data.pad,
        out.shape[1:3],
    )  # fmt: skip
    if bias is not None:
        acc += bias.reshape(-1).astype(np.int64)
    out[...] = rq.requantize(acc, data.requant)


def invoke_opt(data: QDepthwiseData, inputs: list, outputs: list) -> None:
    """Optimized: exact float depthwise on x - zx, then the Cython epilogue."""
    plan = data.plan
    if plan is None:
        invoke(data, inputs, outputs)
        return
    x, out = inputs[INPUT], outputs[0]
    threads = data.num_threads
    _qgemm.shifted_float(x.reshape(-1), plan.x_float.reshape(-1), data.x_zero, threads)
    steps = (*data.stride, *data.dilation, *data.pad)
    depthwise_conv(plan.x_float, plan.weights, NO_BIAS, plan.acc, steps, -np.inf, np.inf, threads)
    channels = out.shape[3]
    _qgemm.requant(plan.acc.reshape(-1, channels), out.reshape(-1, channels), plan.epilogue, threads)
