"""RESIZE_BILINEAR (float32, int8, uint8, int16; v1-4) and RESIZE_NEAREST_NEIGHBOR
(float32, int8, uint8, int16, int32; v1-4), NHWC.

Inputs: input [N, H, W, C], size (int32 [2] = new height, width). Source coordinates
follow TFLite's float32 formulas exactly, per axis (scale = in/out, or
(in-1)/(out-1) with align_corners when out > 1):

- bilinear: ``v = (o + 0.5) * scale - 0.5`` with half_pixel_centers, else
  ``o * scale``; lower = max(floor(v), 0), upper = min(ceil(v), in - 1), and the
  weights use ``v - lower`` (v itself is not clamped).
- nearest: ``v = (o + offset) * scale`` (offset 0.5 with half_pixel_centers);
  align_corners rounds half away from zero, otherwise floor; then min(v, in - 1),
  and max(v, 0) with half_pixel_centers.

Quantized bilinear interpolates the raw integers (input and output must share scale
and zero point), as the official runtime does:

- int8 / int16: TFLite's ResizeBilinearInteger, in 10-bit fixed point: per axis
  ``scale_10 = (1024 * in + out / 2) / out`` (align_corners: (in-1, out-1)),
  ``v = o * scale_10`` (half pixel: ``+ scale_10 / 2 - 512``), lower = max(v / 1024, 0),
  upper = min((v + 1023) / 1024, in - 1) in C division; the four taps weighted by
  (1024 - f) or f per axis (f = v - 1024 * lower) sum to ``s`` in 2^-20 units, and
  the output is ``(s +- 2^19) / 2^20`` (C division; rounding "single":
  ``(s + 2^19) >> 20``, TFLITE_SINGLE_ROUNDING's form);
- uint8: the optimized kernel's float formula, ``(uint8)(v00 * w00 + v01 * w01 +
  v10 * w10 + v11 * w11 + 0.5f)`` with the float32 weights of the float kernel;
  under rounding="reference" (BUILTIN_REF) the float kernel's own products and sum
  order, + 0.5f, truncated.

Nearest neighbour only copies elements, so it is bit-exact for every dtype. A
non-constant size makes the output dynamic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    integer: str = ""  # quantized bilinear: "integer" (int8/int16) or "uint8"
    single_rounding: bool = False  # integer: TFLITE_SINGLE_ROUNDING's final shift


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


def integer_axis(in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """(lower, upper, fraction in 1/1024) per output position: ResizeBilinearInteger."""
    if align_corners and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    else:
        scale = ((1 << 10) * in_size + out_size // 2) // out_size
    v = np.arange(out_size, dtype=np.int64) * scale
    if half_pixel:
        v += scale // 2 - (1 << 9)
    # C division truncates toward zero (v may be negative with half pixel centers).
    lower = np.maximum(np.trunc(v / 1024).astype(np.int64), 0)
    upper = np.minimum(np.trunc((v + 1023) / 1024).astype(np.int64), in_size - 1)
    return lower, upper, v - 1024 * lower


def _quantized_bilinear(node: Node, x) -> str:
    from . import _requant as rq  # imported only by the models that need it

    out = node.outputs[0]
    rq.affine(x, "input", "RESIZE_BILINEAR")
    rq.affine(out, "output", "RESIZE_BILINEAR")
    if np.float32(x.scale) != np.float32(out.scale) or x.zero_point != out.zero_point:
        raise PrepareError(
            f"quantized RESIZE_BILINEAR needs the output's scale and zero point equal to the "
            f"input's: ({x.scale:g}, {x.zero_point}) vs ({out.scale:g}, {out.zero_point})"
        )
    if x.dtype != np.dtype(np.uint8):
        return "integer"
    return "uint8_ref" if getattr(node, "rounding", "tflite") == "reference" else "uint8"


def prepare(node: Node) -> Prepared:
    """Validate; output [N, size[0], size[1], C]; precompute the per-axis tables."""
    bilinear = node.op == "RESIZE_BILINEAR"
    name = "RESIZE_BILINEAR" if bilinear else "RESIZE_NEAREST_NEIGHBOR"
    check_inputs(node, 2)
    x, size = node.input(INPUT), node.input(SIZE)
    integer = ""
    if bilinear and x.dtype in win.QUANTIZED_DTYPES:
        integer = _quantized_bilinear(node, x)
    elif bilinear:
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
    if integer == "integer":
        axis = integer_axis
    data = OpData(
        bilinear=bilinear,
        rows=axis(height, out_h, align, half),
        cols=axis(width, out_w, align, half),
        num_threads=node.num_threads,
        integer=integer,
        single_rounding=getattr(node, "rounding", "tflite") == "single",
    )
    return Prepared([(batches, out_h, out_w, channels)], data)


def invoke(data: OpData, inputs: list, outputs: list) -> None:
    """Reference: numpy gathers with the precomputed per-axis tables."""
    x, out = inputs[INPUT], outputs[0]
    if not data.bilinear:
        (ys,), (xs,) = data.rows, data.cols
        out[...] = x[:, ys[:, None], xs[None, :], :]
        return
    if data.integer:
        _invoke_integer(data, x, out)
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


def _invoke_integer(data: OpData, x: np.ndarray, out: np.ndarray) -> None:
    """Quantized bilinear (numpy, also the optimized path: memory bound either way)."""
    (y0, y1, fy), (x0, x1, fx) = data.rows, data.cols
    if data.integer == "uint8_ref":
        # BUILTIN_REF: the float kernel's formula, + 0.5f, truncated.
        float_out = np.empty(out.shape, np.float32)
        invoke(replace(data, integer=""), [x.astype(np.float32)], [float_out])
        out[...] = (float_out + np.float32(0.5)).astype(np.int64)
        return
    if data.integer == "uint8":
        # ResizeBilinearGenericSmallChannel: float32 weights, one sum left to right.
        one = np.float32(1)
        fy, fx = fy[None, :, None, None], fx[None, None, :, None]
        top, bottom = x[:, y0].astype(np.float32), x[:, y1].astype(np.float32)
        total = top[:, :, x0] * ((one - fy) * (one - fx)) + top[:, :, x1] * ((one - fy) * fx)
        total = total + bottom[:, :, x0] * (fy * (one - fx)) + bottom[:, :, x1] * (fy * fx)
        out[...] = (total + np.float32(0.5)).astype(np.int64)
        return
    fy, fx = fy[None, :, None, None], fx[None, None, :, None]
    top, bottom = x[:, y0].astype(np.int64), x[:, y1].astype(np.int64)
    total = (
        top[:, :, x0] * ((1024 - fy) * (1024 - fx))
        + bottom[:, :, x0] * (fy * (1024 - fx))
        + top[:, :, x1] * ((1024 - fy) * fx)
        + bottom[:, :, x1] * (fy * fx)
    )
    if data.single_rounding:
        out[...] = (total + (1 << 19)) >> 20
    else:
        rounded = total + np.where(total > 0, 1 << 19, -(1 << 19))
        out[...] = np.sign(rounded) * (np.abs(rounded) >> 20)  # C division: toward zero


def invoke_opt(data: OpData, inputs: list, outputs: list) -> None:
    """Optimized: Cython gathers (4-lane vectors for bilinear, row memcpy for nearest)."""
    x, out = inputs[INPUT], outputs[0]
    if data.integer:
        _invoke_integer(data, x, out)
        return
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
