"""CONV_3D, float32 (schema version 1).

Inputs: input [N, D, H, W, C], filter [kd, kh, kw, C, out] (DHWIO, unlike CONV_2D),
bias [out] (optional). Output [N, od, oh, ow, out]. Padding SAME/VALID per spatial
axis (TFLite's ComputePadding3DValues), strides and dilations per axis, fused
NONE/RELU/RELU_N1_TO_1/RELU6/TANH.

There is one kernel: per filter tap, a batched matrix product of the strided input
window with the tap's [C, out] weights, accumulated in float32. Each product is a
BLAS GEMM, so this is also the fast path; CONV_3D gets no separate optimized kernel.

Deviations: a fused TANH is applied (the official float kernel ignores it). Only
float32 exists in the official runtime too.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from . import _window as win
from ._blas import use_blas_threads
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_inputs

INPUT, FILTER, BIAS = 0, 1, 2


class OpData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("stride", "dilation", "pad", "low", "high", "tanh", "num_threads")
    stride: tuple[int, int, int]
    dilation: tuple[int, int, int]
    pad: tuple[int, int, int]  # leading (front, top, left) padding
    low: float
    high: float
    tanh: bool
    num_threads: int


def prepare(node: Node) -> Prepared:
    """Validate shapes and options; compute the output shape and padding."""
    check_inputs(node, 2, 3)
    x, filt = node.input(INPUT), node.input(FILTER)
    win.require_float(x, "CONV_3D")
    win.require_float_weights(filt, "CONV_3D")
    win.require_output_dtype(node, np.dtype(np.float32))
    win.require_rank(x, 5, "input", "[batch, depth, height, width, channels]")
    win.require_rank(filt, 5, "filter", "[d, h, w, in, out]")
    opts = node.options
    if opts is None:
        raise PrepareError("CONV_3D needs Conv3DOptions")
    strides = (opts.stride_d, opts.stride_h, opts.stride_w)
    dilations = (opts.dilation_d_factor, opts.dilation_h_factor, opts.dilation_w_factor)
    win.check_strides(
        stride_d=strides[0],
        stride_h=strides[1],
        stride_w=strides[2],
        dilation_d=dilations[0],
        dilation_h=dilations[1],
        dilation_w=dilations[2],
    )
    if x.shape[4] != filt.shape[3]:
        raise PrepareError(
            f"input {x.name!r} has {x.shape[4]} channels; filter {filt.name!r} expects "
            f"{filt.shape[3]}"
        )
    out_c = filt.shape[4]
    win.float_bias(node, BIAS, out_c, "CONV_3D")
    sizes, pads = [], []
    for axis, name in enumerate(("depth", "height", "width")):
        size, pad = win.output_and_padding(
            x.shape[1 + axis], filt.shape[axis], strides[axis], dilations[axis], opts.padding, name
        )
        sizes.append(size)
        pads.append(pad)
    low, high, tanh = win.fused_activation(opts.fused_activation_function)
    data = OpData(
        strides, dilations, (pads[0], pads[1], pads[2]), low, high, tanh, node.num_threads
    )
    return Prepared([(x.shape[0], *sizes, out_c)], data)


def invoke(data: OpData, inputs: list, outputs: list) -> None:
    """Zero-pad, then one matrix product per filter tap, then bias and activation."""
    x, filt, out = inputs[INPUT], inputs[FILTER], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS else None
    kernel = filt.shape[:3]
    out_sizes = out.shape[1:4]
    pads = [(0, 0)]
    for axis in range(3):
        reach = (out_sizes[axis] - 1) * data.stride[axis] + (kernel[axis] - 1) * data.dilation[axis]
        pads.append((data.pad[axis], max(0, reach + 1 - x.shape[1 + axis] - data.pad[axis])))
    xp = np.pad(x, [*pads, (0, 0)])
    use_blas_threads(data.num_threads)
    acc = np.zeros(out.shape, np.float32)
    for kd in range(kernel[0]):
        for kh in range(kernel[1]):
            for kw in range(kernel[2]):
                taps = _tap_slices((kd, kh, kw), out_sizes, data)
                window = xp[(slice(None), *taps, slice(None))]
                acc += window @ filt[kd, kh, kw]
    if bias is not None:
        acc += bias.reshape(-1)
    win.apply_fused(acc, data.low, data.high, data.tanh)
    out[...] = acc


def _tap_slices(tap: tuple[int, int, int], out_sizes, data: OpData) -> tuple[slice, ...]:
    """The strided input positions one filter tap reads, per spatial axis."""
    return tuple(
        slice(
            tap[a] * data.dilation[a],
            tap[a] * data.dilation[a] + (out_sizes[a] - 1) * data.stride[a] + 1,
            data.stride[a],
        )
        for a in range(3)
    )


KERNELS = {
    BuiltinOperator.CONV_3D: KernelSpec(prepare=prepare, invoke=invoke, versions=(1, 1)),
}
