"""MaxPool3D / AvgPool3D as two 2-D pools (TFLite has no 3-D pooling builtin; the
official converter rejects both as TF Select ops).

A box window is separable: the max over [kd, kh, kw] is the max over kd of the maxima
over [kh, kw], and the mean is the mean over kd of the means over [kh, kw] (with SAME
padding too: the in-bounds part of a box window is a box, so its element count is the
product of the per-axis counts, which is what each 2-D pool divides by). So

    [N, D, H, W, C] -RESHAPE-> [N*D, H, W, C] -POOL kh x kw-> [N*D, H', W', C]
    -RESHAPE-> [N, D, H'*W', C] -POOL kd x 1-> [N, D', H'*W', C] -RESHAPE-> [N, D', H', W', C]

where a stage whose window and stride are all 1 is left out. Only the batch may be
unknown (it stays -1 through the reshapes).
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator, Padding
from ...schema.generated.options import Pool2DOptions
from .context import Lowering, LoweringError
from .graph import GraphNode
from .helpers import padding_mode, require_nhwc

B = BuiltinOperator


def _pooled(size: int, kernel: int, stride: int, mode: Padding) -> int:
    return -(-size // stride) if mode == Padding.SAME else (size - kernel) // stride + 1


def _window(node: GraphNode, attr: str) -> list[int]:
    values = [int(v) for v in node.attr(attr) or []]
    if len(values) != 5 or values[0] != 1 or values[4] != 1:
        raise LoweringError(f"{attr} {values} (5 entries; batch and channel entries must be 1)")
    return values[1:4]


def _reshape(ctx: Lowering, node: GraphNode, x: int, shape: list, what: str) -> int:
    """RESHAPE ``x`` to ``shape`` (None: the batch, -1 in the target)."""
    out = ctx.temp(f"{node.name}/{what}", shape, np.float32)
    target = [-1 if d is None else d for d in shape]
    ctx.emit(B.RESHAPE, [x, ctx.constant(f"{node.name}/{what}_shape", target, "int32")], [out])
    return out


def _pool3d(code: BuiltinOperator):
    def lower(ctx: Lowering, node: GraphNode) -> None:
        require_nhwc(node)
        mode = padding_mode(node)
        if mode is None:
            raise LoweringError("EXPLICIT padding on 3D pooling")
        (kd, kh, kw), (sd, sh, sw) = _window(node, "ksize"), _window(node, "strides")
        shape = ctx.shape(node.inputs[0])
        if len(shape) != 5 or None in shape[1:]:
            raise LoweringError(f"input shape {list(shape)} (5-D, only the batch unknown)")
        n, d, h, w, c = shape
        out_h, out_w = _pooled(h, kh, sh, mode), _pooled(w, kw, sw, mode)  # type: ignore[arg-type]
        out_d = _pooled(d, kd, sd, mode)  # type: ignore[arg-type]
        if min(out_d, out_h, out_w) < 1:
            raise LoweringError(f"window {[kd, kh, kw]} larger than the input {shape[1:4]}")
        if (kd, kh, kw, sd, sh, sw) == (1,) * 6:
            ctx.forward(node)
            return
        rows = None if n is None else n * d  # type: ignore[operator]
        x = ctx.input(node, 0)
        if (kh, kw, sh, sw) != (1, 1, 1, 1):
            x = _reshape(ctx, node, x, [rows, h, w, c], "frames")
            pooled = ctx.temp(f"{node.name}/frames_pooled", [rows, out_h, out_w, c], np.float32)
            ctx.emit(code, [x], [pooled], Pool2DOptions(mode, sw, sh, kw, kh))
            x = pooled
        if (kd, sd) != (1, 1):
            x = _reshape(ctx, node, x, [n, d, out_h * out_w, c], "depth")
            pooled = ctx.temp(f"{node.name}/depth_pooled", [n, out_d, out_h * out_w, c], np.float32)
            ctx.emit(code, [x], [pooled], Pool2DOptions(mode, 1, sd, 1, kd))
            x = pooled
        target = [-1 if n is None else n, out_d, out_h, out_w, c]
        shape_t = ctx.constant(f"{node.name}/shape", target, "int32")
        ctx.emit(B.RESHAPE, [x, shape_t], [ctx.output(node)])

    return lower


LOWERINGS = {"MaxPool3D": _pool3d(B.MAX_POOL_2D), "AvgPool3D": _pool3d(B.AVERAGE_POOL_2D)}
