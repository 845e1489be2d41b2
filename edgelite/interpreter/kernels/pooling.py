"""AVERAGE_POOL_2D (v1-3), MAX_POOL_2D (v1-3), L2_POOL_2D (v1); float32, NHWC.

One window per output pixel (filter_height x filter_width, strides, SAME/VALID
padding as TFLite computes it). Taps in the padding do not count: MAX takes the
maximum of the taps inside the image, AVERAGE divides by the number of taps inside
the image (not by the filter size), L2 is sqrt(sum of squares / that number). Fused
NONE/RELU/RELU_N1_TO_1/RELU6/TANH.

Optimized path: the Cython kernel in ``_pool.pyx`` (4-lane vectors over channels).

Deviations: a fused TANH is applied (the official float kernels ignore it). int8 /
uint8 / int16 pooling is not supported yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from . import _window as win
from .base import KernelSpec, Node, Prepared, PrepareError, check_inputs

try:
    from ._pool import pool2d
except ImportError:  # extensions not built: the reference kernel still runs
    pool2d = None

INPUT = 0
MAX, AVERAGE, L2 = 0, 1, 2  # the kind codes of _pool.pool2d

_KIND = {
    "MAX_POOL_2D": MAX,
    "AVERAGE_POOL_2D": AVERAGE,
    "L2_POOL_2D": L2,
}


@dataclass(frozen=True)
class OpData:
    kind: int
    filter: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]  # leading (top, left) padding
    low: float
    high: float
    tanh: bool
    num_threads: int


def _prepare(node: Node, kind: int, name: str) -> Prepared:
    check_inputs(node, 1)
    x = node.input(INPUT)
    win.require_float(x, name)
    win.require_output_dtype(node, np.dtype(np.float32))
    win.require_rank(x, 4, "input", "[batch, height, width, channels]")
    opts = node.options
    if opts is None:
        raise PrepareError(f"{name} needs Pool2DOptions")
    win.check_strides(
        stride_h=opts.stride_h,
        stride_w=opts.stride_w,
        filter_height=opts.filter_height,
        filter_width=opts.filter_width,
    )
    batches, height, width, channels = x.shape
    oh, pad_t = win.output_and_padding(
        height, opts.filter_height, opts.stride_h, 1, opts.padding, "height"
    )
    ow, pad_l = win.output_and_padding(
        width, opts.filter_width, opts.stride_w, 1, opts.padding, "width"
    )
    low, high, tanh = win.fused_activation(opts.fused_activation_function)
    data = OpData(
        kind=kind,
        filter=(opts.filter_height, opts.filter_width),
        stride=(opts.stride_h, opts.stride_w),
        pad=(pad_t, pad_l),
        low=low,
        high=high,
        tanh=tanh,
        num_threads=node.num_threads,
    )
    return Prepared([(batches, oh, ow, channels)], data)


def prepare(node: Node) -> Prepared:
    """Validate options and compute the output shape and padding (kind from node.op)."""
    if node.op not in _KIND:
        raise PrepareError(f"pooling kernel asked to run {node.op}")
    return _prepare(node, _KIND[node.op], node.op)


def invoke(data: OpData, inputs: list, outputs: list) -> None:
    """Reference: pad, then reduce the strided window views tap by tap."""
    x, out = inputs[INPUT], outputs[0]
    (fh, fw), (sh, sw), (pad_t, pad_l) = data.filter, data.stride, data.pad
    _, oh, ow, _ = out.shape
    pads = (
        (0, 0),
        (pad_t, max(0, (oh - 1) * sh + fh - x.shape[1] - pad_t)),
        (pad_l, max(0, (ow - 1) * sw + fw - x.shape[2] - pad_l)),
        (0, 0),
    )
    fill = np.finfo(np.float32).min if data.kind == MAX else 0.0
    xp = np.pad(x, pads, constant_values=fill)
    inside = np.pad(np.ones(x.shape[1:3], np.float32), pads[1:3])  # 1 for real taps
    acc = np.full(out.shape, fill, np.float32)
    count = np.zeros((oh, ow, 1), np.float32)
    for ky in range(fh):
        for kx in range(fw):
            rows = slice(ky, ky + (oh - 1) * sh + 1, sh)
            cols = slice(kx, kx + (ow - 1) * sw + 1, sw)
            taps = xp[:, rows, cols, :]
            if data.kind == MAX:
                np.maximum(acc, taps, out=acc)
            else:
                acc += taps * taps if data.kind == L2 else taps
            count[..., 0] += inside[rows, cols]
    if data.kind == AVERAGE:
        acc /= count
    elif data.kind == L2:
        acc = np.sqrt(acc / count)
    win.apply_fused(acc, data.low, data.high, data.tanh)
    out[...] = acc


def invoke_opt(data: OpData, inputs: list, outputs: list) -> None:
    """Optimized: the Cython pooling kernel."""
    window = (*data.filter, *data.stride, *data.pad)
    pool2d(inputs[INPUT], outputs[0], data.kind, window, data.low, data.high, data.num_threads)
    if data.tanh:
        np.tanh(outputs[0], out=outputs[0])


def _spec(versions: tuple[int, int]) -> KernelSpec:
    return KernelSpec(
        prepare=prepare,
        invoke=invoke,
        versions=versions,
        invoke_opt=invoke_opt if pool2d is not None else None,
    )


KERNELS = {
    BuiltinOperator.AVERAGE_POOL_2D: _spec((1, 3)),
    BuiltinOperator.MAX_POOL_2D: _spec((1, 3)),
    BuiltinOperator.L2_POOL_2D: _spec((1, 1)),
}
