"""TILE and BROADCAST_TO: repeat a tensor (any dtype, bit-exact).

Both are written as one broadcasting copy: TILE views the output as
(m0, d0, m1, d1, ...) and the input as (1, d0, 1, d1, ...).
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ._shape_util import all_known, check_same_dtype, index_values
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_inputs

MAX_BROADCAST_RANK = 8


class TileData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("out_view", "in_view")
    out_view: tuple[int, ...]
    in_view: tuple[int, ...]


def _prepare_tile(node: Node) -> Prepared:
    check_inputs(node, 2)
    x, multiples_info, out = node.input(0), node.input(1), node.outputs[0]
    check_same_dtype(node, x, out)
    if len(multiples_info.shape) != 1 or multiples_info.shape[0] != len(x.shape):
        raise PrepareError(
            f"multiples {multiples_info.name!r} must be 1-D with {len(x.shape)} entries, "
            f"got shape {list(multiples_info.shape)}"
        )
    if not all_known(multiples_info):
        return Prepared(dynamic=True)
    multiples = index_values(multiples_info, "multiples")
    if any(m < 0 for m in multiples):
        raise PrepareError(f"multiples {multiples} must be >= 0")
    out_view = tuple(v for m, d in zip(multiples, x.shape) for v in (m, d))
    in_view = tuple(v for d in x.shape for v in (1, d))
    shape = tuple(m * d for m, d in zip(multiples, x.shape))
    return Prepared([shape], data=TileData(out_view, in_view))


def _invoke_tile(data: TileData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    np.copyto(outputs[0].reshape(data.out_view), inputs[0].reshape(data.in_view))


def _prepare_broadcast_to(node: Node) -> Prepared:
    check_inputs(node, 2)
    x, shape_info, out = node.input(0), node.input(1), node.outputs[0]
    check_same_dtype(node, x, out)
    if len(shape_info.shape) != 1:
        raise PrepareError(f"shape {shape_info.name!r} must be 1-D")
    if not all_known(shape_info):
        return Prepared(dynamic=True)
    shape = tuple(index_values(shape_info, "shape"))
    if len(shape) > MAX_BROADCAST_RANK or len(shape) < len(x.shape):
        raise PrepareError(
            f"cannot broadcast rank {len(x.shape)} to rank {len(shape)} "
            f"(need input rank <= target rank <= {MAX_BROADCAST_RANK})"
        )
    tail = shape[len(shape) - len(x.shape) :]
    if any(d != 1 and d != t for d, t in zip(x.shape, tail)):
        raise PrepareError(f"input shape {list(x.shape)} does not broadcast to {list(shape)}")
    return Prepared([shape])


def _invoke_broadcast_to(data: None, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    np.copyto(outputs[0], inputs[0])


KERNELS = {
    BuiltinOperator.TILE: KernelSpec(_prepare_tile, _invoke_tile, versions=(1, 3)),
    BuiltinOperator.BROADCAST_TO: KernelSpec(
        _prepare_broadcast_to, _invoke_broadcast_to, versions=(2, 4)
    ),
}
