"""Small facts shared by the lowering modules: padding, axes, shapes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...schema.generated.enums import Padding
from .context import LoweringError
from .graph import GraphNode


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def require_nhwc(node: GraphNode) -> None:
    layout = text(node.attr("data_format", "NHWC"))
    if layout not in ("NHWC", "NDHWC", "NWC"):
        raise LoweringError(f"data_format {layout} (only channels-last lowers to TFLite)")


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding that TF/TFLite SAME uses along one spatial axis."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def padding_mode(node: GraphNode) -> Padding | None:
    """SAME or VALID; None for EXPLICIT (the caller handles the explicit amounts)."""
    mode = text(node.attr("padding", "VALID"))
    if mode == "SAME":
        return Padding.SAME
    if mode == "VALID":
        return Padding.VALID
    if mode == "EXPLICIT":
        return None
    raise LoweringError(f"padding {mode}")


def explicit_pads(node: GraphNode, rank: int) -> np.ndarray:
    """The EXPLICIT padding attribute as an int32 [rank, 2] array."""
    pads = list(node.attr("explicit_paddings", []))
    if len(pads) != 2 * rank:
        raise LoweringError(f"explicit_paddings has {len(pads)} values, expected {2 * rank}")
    return np.asarray(pads, np.int32).reshape(rank, 2)


def norm_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise LoweringError(f"axis {axis} out of range for rank {rank}")
    return axis % rank if rank else 0


def window(values: Sequence[int], what: str) -> tuple[int, int]:
    """(h, w) of an NHWC strides/ksize/dilations attribute; batch and channel must be 1."""
    values = [int(v) for v in values]
    if len(values) != 4 or values[0] != 1 or values[3] != 1:
        raise LoweringError(f"{what} {values} (batch and channel entries must be 1)")
    return values[1], values[2]


def signature_shape(shape: Sequence[int | None]) -> list[int]:
    """A RESHAPE target from a static shape: unknown dimensions become -1 (at most one)."""
    dims = [-1 if d is None else int(d) for d in shape]
    if dims.count(-1) > 1:
        raise LoweringError(f"shape {dims} has more than one unknown dimension")
    return dims


def scalar(value: np.ndarray) -> float | int | bool:
    """The one element of a size-1 constant, as a Python number."""
    if value.size != 1:
        raise LoweringError(f"expected a single value, got shape {list(value.shape)}")
    return value.reshape(-1)[0].item()
