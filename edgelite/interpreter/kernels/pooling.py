"""AVERAGE_POOL_2D (v1-3), MAX_POOL_2D (v1-3), L2_POOL_2D (v1); float32, int8, uint8, int16.

One window per output pixel (filter_height x filter_width, strides, SAME/VALID
padding as TFLite computes it). Taps in the padding do not count: MAX takes the
maximum of the taps inside the image, AVERAGE divides by the number of taps inside
the image (not by the filter size), L2 is sqrt(sum of squares / that number). Fused
NONE/RELU/RELU_N1_TO_1/RELU6/TANH.

Quantized AVERAGE / MAX (int8, uint8, int16; L2 is float only, as in TFLite) work on the
raw integers: input and output must share scale and zero point. AVERAGE rounds the
int32 sum half away from zero, ``(sum +- count / 2) / count`` in C integer division,
then both clamp to the fused activation's quantized range.

Optimized path: the Cython kernels in ``_pool.pyx`` (float, 4-lane vectors over
channels) and ``_qdirect.qpool2d`` (integers, channels innermost).

Deviations: a fused TANH is applied (the official float kernels ignore it).
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from . import _window as win
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_inputs

try:
    from ._pool import pool2d
    from ._qdirect import qpool2d
except ImportError:  # extensions not built: the reference kernel still runs
    pool2d = qpool2d = None

INPUT = 0
MAX, AVERAGE, L2 = 0, 1, 2  # the kind codes of _pool.pool2d

_KIND = {
    "MAX_POOL_2D": MAX,
    "AVERAGE_POOL_2D": AVERAGE,
    "L2_POOL_2D": L2,
}


class OpData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = (
        "kind",
        "filter",
        "stride",
        "pad",
        "low",
        "high",
        "tanh",
        "num_threads",
        "quantized",
    )
    kind: int
    filter: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]  # leading (top, left) padding
    low: float
    high: float
    tanh: bool
    num_threads: int
    quantized: bool  # integers: low / high are the quantized activation bounds
    _defaults = {"quantized": False}


def _quantized_bounds(node: Node, name: str, kind: int) -> tuple[int, int]:
    from . import _requant as rq  # imported only by the models that need it

    x, out = node.input(INPUT), node.outputs[0]
    if kind == L2:
        raise PrepareError(f"quantized {name} is not supported ({x.dtype.name}; float32 only)")
    win.require_output_dtype(node, x.dtype)
    rq.affine(x, "input", name)
    rq.affine(out, "output", name)
    if abs(np.float32(x.scale) - np.float32(out.scale)) > 1e-6 or x.zero_point != out.zero_point:
        raise PrepareError(
            f"quantized {name} needs the output's scale and zero point equal to the input's: "
            f"{x.name!r} has ({x.scale:g}, {x.zero_point}), {out.name!r} has "
            f"({out.scale:g}, {out.zero_point})"
        )
    return rq.activation_bounds(node.options.fused_activation_function, out)


def _prepare(node: Node, kind: int, name: str) -> Prepared:
    check_inputs(node, 1)
    x = node.input(INPUT)
    quantized = x.dtype in win.QUANTIZED_DTYPES
    if not quantized:
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
    if quantized:
        bounds = _quantized_bounds(node, name, kind)
        low, high, tanh = float(bounds[0]), float(bounds[1]), False
    else:
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
        quantized=quantized,
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
    if data.quantized:
        _invoke_quantized(data, x, out)
        return
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


def _invoke_quantized(data: OpData, x: np.ndarray, out: np.ndarray) -> None:
    """int64 max or sum (and count of real taps), then TFLite's rounded division."""
    from ._qwindow import padded_taps

    _, oh, ow, _ = out.shape
    inside = np.ones((1, *x.shape[1:3], 1), np.int64)
    acc = np.full(out.shape, np.iinfo(np.int64).min if data.kind == MAX else 0, np.int64)
    count = np.zeros((1, oh, ow, 1), np.int64)
    window = (data.filter, data.stride, (1, 1), data.pad, (oh, ow))
    real_taps = padded_taps(inside, *window, fill=0)
    for (_, _, taps), (_, _, real) in zip(padded_taps(x.astype(np.int64), *window), real_taps):
        if data.kind == MAX:
            np.maximum(acc, np.where(real > 0, taps, acc), out=acc)
        else:
            acc += taps * real
        count += real
    if data.kind == AVERAGE:
        half = count // 2
        # C's integer division truncates toward zero.
        rounded = np.where(acc > 0, acc + half, acc - half)
        acc = np.sign(rounded) * (np.abs(rounded) // count)
    out[...] = np.clip(acc, data.low, data.high)


def invoke_opt(data: OpData, inputs: list, outputs: list) -> None:
    """Optimized: the Cython pooling kernel."""
    window = (*data.filter, *data.stride, *data.pad)
    if data.quantized:
        bounds = (int(data.low), int(data.high))
        qpool2d(inputs[INPUT], outputs[0], data.kind == MAX, window, *bounds, data.num_threads)
        return
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
