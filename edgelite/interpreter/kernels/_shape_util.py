"""Helpers shared by the shape, data-movement, reduction and index kernels.

These kernels often need the *values* of small index tensors (shapes, axes,
paddings, begin/end ...) to decide their output shapes. ``known_values`` gives
them when prepare can see them (constants, or the core's re-prepare at invoke
time) and None otherwise, in which case the kernel returns
``Prepared(dynamic=True)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import EdgeliteError
from ...schema.generated.enums import TensorType
from .base import Node, PrepareError, TensorInfo

INDEX_DTYPES = (np.int32, np.int64)
QUANTIZED_DTYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))
_NOT_PLAIN = (
    TensorType.STRING,
    TensorType.INT4,
    TensorType.RESOURCE,
    TensorType.VARIANT,
)


class KernelInvokeError(EdgeliteError, RuntimeError):
    """Input *values* make an op impossible at invoke time (an index out of bounds, say)."""


def known_values(info: TensorInfo | None) -> np.ndarray | None:
    """The tensor's value when prepare can see it; an empty tensor's value is always known."""
    if info is None:
        return None
    if info.data is not None:
        return np.asarray(info.data)
    if math.prod(info.shape) == 0:
        return np.zeros(info.shape, info.dtype)
    return None


def all_known(*infos: TensorInfo | None) -> bool:
    """Whether prepare can see the values of every given tensor."""
    return all(known_values(info) is not None for info in infos)


def index_values(info: TensorInfo, what: str, dtypes: tuple[Any, ...] = INDEX_DTYPES) -> list[int]:
    """The (known) values of an integer index tensor as a flat list of Python ints."""
    if info.dtype not in [np.dtype(d) for d in dtypes]:
        names = ", ".join(np.dtype(d).name for d in dtypes)
        raise PrepareError(f"{what} {info.name!r} has type {info.dtype.name}; supported: {names}")
    values = known_values(info)
    assert values is not None, "caller checks all_known() first"
    return [int(v) for v in values.reshape(-1)]


def scalar_index(info: TensorInfo, what: str, dtypes: tuple[Any, ...] = INDEX_DTYPES) -> int:
    """The single value of a one-element index tensor (a scalar axis, k ...)."""
    values = index_values(info, what, dtypes)
    if len(values) != 1:
        raise PrepareError(f"{what} {info.name!r} has {len(values)} elements; expected 1")
    return values[0]


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    """``axis`` in [-rank, rank) made non-negative; PrepareError outside."""
    if not -rank <= axis < rank:
        raise PrepareError(f"{what} {axis} is out of range for a rank-{rank} tensor")
    return axis + rank if axis < 0 else axis


def check_plain(info: TensorInfo) -> None:
    """Reject tensors whose numpy form is not their element values (strings, packed int4 ...)."""
    if info.type in _NOT_PLAIN:
        raise PrepareError(
            f"{info.name!r} is a {TensorType(info.type).name} tensor; not supported by this kernel"
        )


def check_same_dtype(node: Node, a: TensorInfo, b: TensorInfo) -> None:
    """``b`` (usually the output) must have ``a``'s type; both must be plain numeric tensors."""
    check_plain(a)
    check_plain(b)
    if a.dtype != b.dtype:
        raise PrepareError(
            f"{node.op} needs {b.name!r} to have the type of {a.name!r} "
            f"({a.dtype.name}), got {b.dtype.name}"
        )


def reject_quantized(node: Node, info: TensorInfo) -> None:
    """Arithmetic ops: int8/uint8/int16 activations are a later issue."""
    if info.dtype in QUANTIZED_DTYPES:
        raise PrepareError(
            f"quantized {node.op} not supported yet ({info.dtype.name} {info.name!r})"
        )


def check_same_quantization(node: Node, a: TensorInfo, b: TensorInfo) -> None:
    """Quantized ``a`` and ``b`` must share scale and zero point.

    Called exactly where the official runtime checks (EXPAND_DIMS, CONCATENATION,
    PACK, UNPACK, PADV2's constant, MIRROR_PAD, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND,
    REDUCE_MAX/MIN, FILL). The other moves (RESHAPE, TRANSPOSE, GATHER, SLICE ...)
    copy raw values whatever the parameters, as TFLite does, to stay bit-exact.
    """
    if a.dtype not in QUANTIZED_DTYPES:
        return
    if (a.scale, a.zero_point) != (b.scale, b.zero_point):
        raise PrepareError(
            f"{node.op} on quantized tensors needs equal scale/zero point: {a.name!r} has "
            f"({a.scale:g}, {a.zero_point}), {b.name!r} has ({b.scale:g}, {b.zero_point}); "
            "requantization is not supported yet"
        )


def check_num_outputs(node: Node, count: int) -> None:
    """The node must have exactly ``count`` outputs (UNPACK, SPLIT, TOPK_V2 ...)."""
    if len(node.outputs) != count:
        raise PrepareError(f"{node.op} expects {count} outputs here, got {len(node.outputs)}")
