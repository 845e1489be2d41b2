"""DEPTHWISE_CONV_2D: float32 here; int8 / uint8 / int16 in _depthwise_quant, hybrid in
_conv_hybrid (schema versions 1-7).

Inputs: input [N, H, W, C], filter [1, kh, kw, C * m], bias [C * m] (optional),
output [N, oh, ow, C * m]; output channel ``c * m + j`` convolves input channel ``c``
with filter channel ``c * m + j``. Padding SAME/VALID, strides, dilations (v2+),
fused NONE/RELU/RELU_N1_TO_1/RELU6/TANH.

The depth multiplier ``m`` is taken from the shapes (filter channels / input
channels), as the official runtime does; the option field is not consulted.

Optimized path: a Cython kernel (``_depthwise.pyx``): 16 channels at a time in
4-lane vector registers held across all filter taps; interior pixels two at a time
sharing every weight load, border pixels skip their padding taps; bias and
activation fused; output rows split across ``num_threads``.

Deviations: a fused TANH is applied (the official float kernel ignores it).
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from . import _window as win
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError

try:
    from ._depthwise import depthwise_conv
except ImportError:  # extensions not built: the reference kernel still runs
    depthwise_conv = None

INPUT, FILTER, BIAS = 0, 1, 2

NO_BIAS = np.empty(0, np.float32)


class OpData(OpRecord):
    """Prepared float DEPTHWISE_CONV_2D (read-only after prepare)."""

    __slots__ = ("stride", "dilation", "pad", "multiplier", "low", "high", "tanh", "num_threads")
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int]  # leading (top, left) padding
    multiplier: int
    low: float
    high: float
    tanh: bool
    num_threads: int


def prepare(node: Node) -> Prepared:
    """Validate shapes and options; compute output shape, padding and depth multiplier."""
    x, filt, quantized, hybrid = win.conv_inputs(
        node, "DEPTHWISE_CONV_2D", "[1, h, w, channels * multiplier]"
    )
    opts = node.options
    batches, height, width, channels = x.shape
    one, kh, kw, out_c = filt.shape
    if one != 1:
        raise PrepareError(f"filter {filt.name!r} has first dim {one}; DEPTHWISE_CONV_2D needs 1")
    if channels <= 0 or out_c % channels:
        raise PrepareError(
            f"filter {filt.name!r} has {out_c} channels, not a multiple of the input's {channels}"
        )
    if not quantized:
        win.float_bias(node, BIAS, out_c, "DEPTHWISE_CONV_2D")
    oh, pad_t = win.output_and_padding(
        height, kh, opts.stride_h, opts.dilation_h_factor, opts.padding, "height"
    )
    ow, pad_l = win.output_and_padding(
        width, kw, opts.stride_w, opts.dilation_w_factor, opts.padding, "width"
    )
    steps = (opts.stride_h, opts.stride_w, opts.dilation_h_factor, opts.dilation_w_factor,
             pad_t, pad_l)  # fmt: skip
    # The quantized and hybrid modules are imported only by the models that need them.
    if quantized:
        from . import _depthwise_quant

        return _depthwise_quant.prepare(node, steps, out_c // channels, (batches, oh, ow, out_c))
    if hybrid:
        from . import _conv_hybrid

        return _conv_hybrid.prepare_depthwise(
            node, steps, out_c // channels, (batches, oh, ow, out_c)
        )
    low, high, tanh = win.fused_activation(opts.fused_activation_function)
    data = OpData(
        stride=(opts.stride_h, opts.stride_w),
        dilation=(opts.dilation_h_factor, opts.dilation_w_factor),
        pad=(pad_t, pad_l),
        multiplier=out_c // channels,
        low=low,
        high=high,
        tanh=tanh,
        num_threads=node.num_threads,
    )
    return Prepared([(batches, oh, ow, out_c)], data)


def invoke(data: OpData, inputs: list, outputs: list) -> None:
    """Reference: zero-pad, repeat input channels m times, multiply-add per filter tap."""
    if type(data) is not OpData:  # quantized or hybrid: prepared by their own module
        return data.invoke(inputs, outputs)  # type: ignore[attr-defined]
    x, filt, out = inputs[INPUT], inputs[FILTER], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS else None
    (sh, sw), (dh, dw) = data.stride, data.dilation
    _, kh, kw, _ = filt.shape
    _, oh, ow, _ = out.shape
    pad_t, pad_l = data.pad
    pad_b = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - x.shape[1] - pad_t)
    pad_r = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - x.shape[2] - pad_l)
    xp = np.pad(x, ((0, 0), (pad_t, pad_b), (pad_l, pad_r), (0, 0)))
    xp = np.repeat(xp, data.multiplier, axis=3)  # channel c*m + j reads input channel c
    acc = np.zeros(out.shape, np.float32)
    for ky in range(kh):
        for kx in range(kw):
            rows = slice(ky * dh, ky * dh + (oh - 1) * sh + 1, sh)
            cols = slice(kx * dw, kx * dw + (ow - 1) * sw + 1, sw)
            acc += xp[:, rows, cols, :] * filt[0, ky, kx, :]
    if bias is not None:
        acc += bias.reshape(-1)
    win.apply_fused(acc, data.low, data.high, data.tanh)
    out[...] = acc


def invoke_opt(data: OpData, inputs: list, outputs: list) -> None:
    """Optimized: the Cython register-blocked kernel."""
    if type(data) is not OpData:
        return data.invoke_opt(inputs, outputs)  # type: ignore[attr-defined]
    x, filt, out = inputs[INPUT], inputs[FILTER], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS and inputs[BIAS] is not None else NO_BIAS
    steps = (*data.stride, *data.dilation, *data.pad)
    depthwise_conv(x, filt[0], bias.reshape(-1), out, steps, data.low, data.high, data.num_threads)
    if data.tanh:
        np.tanh(out, out=out)


KERNELS = {
    BuiltinOperator.DEPTHWISE_CONV_2D: KernelSpec(
        prepare=prepare,
        invoke=invoke,
        versions=(1, 7),
        invoke_opt=invoke_opt if depthwise_conv is not None else None,
    ),
}
