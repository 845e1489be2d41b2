"""RESIZE_BILINEAR (float32, v1-4) and RESIZE_NEAREST_NEIGHBOR (float32, int8, uint8,
int16, int32; v1-4), NHWC.

Inputs: input [N, H, W, C], size (int32 [2] = new height, width). Source coordinates
follow TFLite's float32 formulas exactly, per axis (scale = in/out, or
(in-1)/(out-1) with align_corners when out > 1):

- bilinear: ``v = (o + 0.5) * scale - 0.5`` with half_pixel_centers, else
  ``o * scale``; lower = max(floor(v), 0), upper = min(ceil(v), in - 1), and the
  weights use ``v - lower`` (v itself is not clamped).
- nearest: ``v = (o + offset) * scale`` (offset 0.5 with half_pixel_centers);
  align_corners rounds half away from zero, otherwise floor; then min(v, in - 1),
  and max(v, 0) with half_pixel_centers.

Nearest neighbour only copies elements, so it is bit-exact for every dtype; bilinear
on quantized tensors is a later issue. A non-constant size makes the output dynamic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from . import _window as win
from .base import KernelSpec, Node, Prepared, PrepareError, check_dtype, check_inputs

try:
    from ._resize import resize_bilinear, resize_nearest
except ImportError:  # extensions not built: the reference kernel still runs
    resize_bilinear = resize_nearest = None

INPUT, SIZE = 0, 1

NEAREST_DTYPES = (np.float32, np.int8, np.uint8, np.int16, np.int32)


@dataclass(frozen=True)
class OpData:
    bilinear: bool
    rows: tuple[np.ndarray, ...]  # bilinear: (lower, upper, fraction); nearest: (index,)
    cols: tuple[np.ndarray, ...]
    num_threads: int


def _scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    if align_corners and out_size > 1:
        return np.float32(in_size - 1) / np.float32(out_size - 1)
    return np.float32(in_size) / np.float32(out_size)


def bilinear_axis(in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """(lower, upper, v - lower) per output position along one axis, in float32."""
    scale = _scale(in_size, out_size, align_corners)
    pos = np.arange(out_size, dtype=np.float32)
    v = (pos + np.float32(0.5)) * scale - np.float32(0.5) if half_pixel else pos * scale
    lower = np.maximum(np.floor(v), 0).astype(np.int32)
    upper = np.minimum(np.ceil(v), in_size - 1).astype(np.int32)
    return lower, upper, (v - lower).astype(np.float32)


def nearest_axis(in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """Source index per output position along one axis (TFLite's GetNearestNeighbor)."""
    scale = _scale(in_size, out_size, align_corners)
    offset = np.float32(0.5) if half_pixel else np.float32(0.0)
    v = (np.arange(out_size, dtype=np.float32) + offset) * scale
    # TfLiteRound is round-half-away-from-zero; v >= 0 here, so floor(v + 0.5) is it.
    index = np.floor(v + np.float32(0.5)) if align_corners else np.floor(v)
    index = np.minimum(index, in_size - 1)
    if half_pixel:
        index = np.maximum(index, 0)
    return (index.astype(np.int32),)


def prepare(node: Node) -> Prepared:
    """Validate; output [N, size[0], size[1], C]; precompute the per-axis tables."""
    bilinear = node.op == "RESIZE_BILINEAR"
    name = "RESIZE_BILINEAR" if bilinear else "RESIZE_NEAREST_NEIGHBOR"
    check_inputs(node, 2)
    x, size = node.input(INPUT), node.input(SIZE)
    if bilinear:
        win.require_float(x, name)
    else:
        check_dtype(x, NEAREST_DTYPES)
    win.require_output_dtype(node, x.dtype)
    win.require_rank(x, 4, "input", "[batch, height, width, channels]")
    check_dtype(size, (np.int32,), "size")
    if size.shape != (2,):
        raise PrepareError(f"size {size.name!r} has shape {list(size.shape)}; needs [2]")
    opts = node.options
    align = bool(opts.align_corners) if opts is not None else False
    half = bool(opts.half_pixel_centers) if opts is not None else False
    if bilinear and align and half:
        raise PrepareError("half_pixel_centers and align_corners cannot both be true")
    if size.data is None:
        return Prepared(dynamic=True)  # the size arrives with the first invoke
    out_h, out_w = (int(v) for v in size.data)
    if out_h <= 0 or out_w <= 0:
        raise PrepareError(f"size {[out_h, out_w]} must be positive")
    batches, height, width, channels = x.shape
    axis = bilinear_axis if bilinear else nearest_axis
    data = OpData(
        bilinear=bilinear,
        rows=axis(height, out_h, align, half),
        cols=axis(width, out_w, align, half),
        num_threads=node.num_threads,
    )
    return Prepared([(batches, out_h, out_w, channels)], data)


def invoke(data: OpData, inputs: list, outputs: list) -> None:
    """Reference: numpy gathers with the precomputed per-axis tables."""
    x, out = inputs[INPUT], outputs[0]
    if not data.bilinear:
        (ys,), (xs,) = data.rows, data.cols
        out[...] = x[:, ys[:, None], xs[None, :], :]
        return
    (y0, y1, dy), (x0, x1, dx) = data.rows, data.cols
    dy, dx = dy[None, :, None, None], dx[None, None, :, None]
    top, bottom = x[:, y0], x[:, y1]
    one = np.float32(1)
    out[...] = (
        top[:, :, x0] * (one - dy) * (one - dx)
        + bottom[:, :, x0] * dy * (one - dx)
        + top[:, :, x1] * (one - dy) * dx
        + bottom[:, :, x1] * dy * dx
    )


def invoke_opt(data: OpData, inputs: list, outputs: list) -> None:
    """Optimized: Cython gathers (4-lane vectors for bilinear, row memcpy for nearest)."""
    x, out = inputs[INPUT], outputs[0]
    if data.bilinear:
        resize_bilinear(x, out, *data.rows, *data.cols, data.num_threads)
    else:
        # Nearest copies whole pixels: run it on byte views so every dtype shares one loop.
        as_bytes = (*x.shape[:3], x.shape[3] * x.itemsize)
        out_bytes = (*out.shape[:3], out.shape[3] * out.itemsize)
        resize_nearest(
            x.view(np.uint8).reshape(as_bytes),
            out.view(np.uint8).reshape(out_bytes),
            data.rows[0],
            data.cols[0],
            data.num_threads,
        )


KERNELS = {
    BuiltinOperator.RESIZE_BILINEAR: KernelSpec(
        prepare=prepare,
        invoke=invoke,
        versions=(1, 4),
        invoke_opt=invoke_opt if resize_bilinear is not None else None,
    ),
    BuiltinOperator.RESIZE_NEAREST_NEIGHBOR: KernelSpec(
        prepare=prepare,
        invoke=invoke,
        versions=(1, 4),
        invoke_opt=invoke_opt if resize_nearest is not None else None,
    ),
}
