"""DEPTHWISE_CONV_2D on int8 / uint8 / int16 activations (quantized half of depthwise_conv_2d).

- int8: int8 symmetric weights per-tensor or per channel (dimension 3), int32 bias;
- uint8 (legacy): uint8 per-tensor weights with a zero point, int32 bias whose scale
  must match input * filter scale;
- int16 ("16x8"): int8 symmetric weights, zero input/output zero points, int64 bias.

acc[c] = bias[c] + sum over taps (x - zx) * (w - zw). Official rounding ("tflite"):
the int8 kernel requantizes whole blocks of 8 channels with NEON-style arithmetic
("double_up") and the remaining ``channels % 8`` one by one ("double"); uint8 is
"double" throughout; int16 runs the reference kernel with the int64 form.

Optimized path: _qdirect.depthwise_int8 sums one output row at a time in int32 (the
tap loop over channels compiled for AVX2 where the CPU has it; int16 products reach
2^22, so int16 filters of 512 taps or more run the reference) and requantizes the row
while it is in cache.
"""

from __future__ import annotations

import numpy as np

from . import _qgemm
from . import _requant as rq
from . import _window as win
from ._conv_2d_quant import check_bias, int16_zero_points
from ._qwindow import depthwise_sums
from .base import Node, OpRecord, Prepared, check_dtype

INPUT, FILTER, BIAS = 0, 1, 2


class IntPlan(OpRecord):
    """The int32 row kernel's plan (_qdirect.depthwise_int8)."""

    __slots__ = ("weights", "epilogue", "row")
    weights: np.ndarray  # [kh, kw, O] int16: weight minus zero point
    epilogue: tuple
    row: int  # out_w * O: the int32 accumulators of one output row


class QDepthwiseData(OpRecord):
    """Prepared quantized DEPTHWISE_CONV_2D (read-only after prepare)."""

    __slots__ = (
        "stride",
        "dilation",
        "pad",
        "multiplier",
        "x_zero",
        "w_zero",
        "requant",
        "plan",
        "num_threads",
    )
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int]
    multiplier: int
    x_zero: int
    w_zero: np.ndarray  # per output channel
    requant: rq.Requant
    plan: IntPlan | None
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
        up, down = rq.pick_rounding(node, "double_up"), rq.pick_rounding(node, "double")
        modes = [up] * blocked + [down] * (out_c - blocked)
    requant = rq.make_requant(x.scale, scales, out, out_c, opts.fused_activation_function, modes)
    w_zero = rq.per_channel(zeros, out_c, np.int64)
    data = QDepthwiseData(
        stride=(steps[0], steps[1]),
        dilation=(steps[2], steps[3]),
        pad=(steps[4], steps[5]),
        multiplier=multiplier,
        x_zero=x.zero_point,
        w_zero=w_zero,
        requant=requant,
        plan=_int_plan(x, filt, bias, w_zero, requant, out_shape),
        num_threads=node.num_threads,
    )
    return Prepared([out_shape], data)


def _int_plan(x, filt, bias, w_zero, requant, out_shape) -> IntPlan | None:
    constant = filt.data is not None and (bias is None or bias.data is not None)
    if _qgemm.depthwise_int8 is None or not constant:
        return None
    taps = filt.shape[1] * filt.shape[2]
    wide = x.dtype == np.dtype(np.int16)
    if taps * (32768 * 128 if wide else 255 * 255) >= 1 << 31:
        return None  # the int32 row sums could overflow (the official int16 kernel uses int64)
    centred = np.asarray(filt.data)[0].astype(np.int16) - w_zero.astype(np.int16)
    values = None if bias is None else np.asarray(bias.data).reshape(-1)
    bias32 = None if values is None or wide else values.astype(np.int32)
    bias64 = None if values is None or not wide else values.astype(np.int64)
    return IntPlan(
        weights=np.ascontiguousarray(centred),
        epilogue=requant.epilogue(bias32, bias64),
        row=int(out_shape[2] * out_shape[3]),
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
    """Optimized: int32 row sums in Cython, requantized row by row."""
    plan = data.plan
    if plan is None:
        invoke(data, inputs, outputs)
        return
    acc = _qgemm.scratch("iacc", (data.num_threads, plan.row), np.int32)
    steps = (*data.stride, *data.dilation, *data.pad)
    _qgemm.depthwise_int8(
        inputs[INPUT], plan.weights, outputs[0], acc, steps, data.x_zero, plan.epilogue,
        data.num_threads,
    )  # fmt: skip
