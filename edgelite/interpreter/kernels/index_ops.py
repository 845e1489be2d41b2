"""WHERE, UNIQUE, TOPK_V2, REVERSE_V2, CUMSUM: ops about positions and order.

WHERE and UNIQUE have data-dependent output shapes: their prepare always
returns ``dynamic=True`` and their invoke returns the output arrays.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ._shape_util import (
    QUANTIZED_DTYPES,
    all_known,
    check_num_outputs,
    check_plain,
    check_same_dtype,
    index_values,
    known_values,
    normalize_axis,
    scalar_index,
)
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_dtype, check_inputs

_NUMERIC = (np.float32, np.int32, np.int64, np.int8, np.uint8, np.int16)


def _prepare_where(node: Node) -> Prepared:
    check_inputs(node, 1)
    x, out = node.input(0), node.outputs[0]
    check_plain(x)
    check_dtype(x, (np.bool_, *_NUMERIC), "condition")
    check_dtype(out, (np.int64,), "output")
    return Prepared(dynamic=True)


def _invoke_where(
    data: None, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> list[np.ndarray]:
    return [np.argwhere(inputs[0]).astype(np.int64, copy=False)]


def _prepare_unique(node: Node) -> Prepared:
    check_inputs(node, 1)
    check_num_outputs(node, 2)
    x, values, idx = node.input(0), node.outputs[0], node.outputs[1]
    check_dtype(x, _NUMERIC, "input")
    check_same_dtype(node, x, values)
    check_dtype(idx, (np.int32, np.int64), "idx output")
    if len(x.shape) != 1:
        raise PrepareError(f"UNIQUE needs a 1-D input; {x.name!r} is {list(x.shape)}")
    return Prepared(dynamic=True, data=idx.dtype)


def _invoke_unique(
    idx_dtype: np.dtype, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> list[np.ndarray]:
    """Unique values in order of first appearance, and each input's position among them."""
    x = inputs[0]
    sorted_values, first, inverse = np.unique(x, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return [sorted_values[order], rank[inverse.reshape(-1)].astype(idx_dtype)]


def _prepare_topk(node: Node) -> Prepared:
    check_inputs(node, 2)
    check_num_outputs(node, 2)
    x, k_info, values, indices = node.input(0), node.input(1), node.outputs[0], node.outputs[1]
    check_dtype(x, _NUMERIC, "input")
    check_same_dtype(node, x, values)
    check_dtype(indices, (np.int32, np.int16), "indices output")
    if not x.shape:
        raise PrepareError(f"TOPK_V2 needs an input of rank >= 1; {x.name!r} is a scalar")
    if not all_known(k_info):
        return Prepared(dynamic=True)
    k = max(0, scalar_index(k_info, "k", (np.int32, np.int16)))
    if k > x.shape[-1]:
        raise PrepareError(f"k = {k} is larger than the last dimension ({x.shape[-1]})")
    shape = (*x.shape[:-1], k)
    return Prepared([shape, shape], data=k)


def _invoke_topk(k: int, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    """Largest first; equal values keep input order (TFLite breaks ties by lower index)."""
    x, (values, indices) = inputs[0], outputs
    n = x.shape[-1]
    # A stable ascending sort of the reversed row, read backwards, is descending with
    # ties in ascending index order (no negation, so unsigned and INT_MIN are safe).
    order = np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1][..., :k]
    top = (n - 1) - order
    np.copyto(indices, top, casting="unsafe")
    np.copyto(values, np.take_along_axis(x, top, axis=-1))


def _prepare_reverse(node: Node) -> Prepared:
    check_inputs(node, 2)
    x, axis_info, out = node.input(0), node.input(1), node.outputs[0]
    check_same_dtype(node, x, out)
    if len(axis_info.shape) != 1:
        raise PrepareError(f"axis {axis_info.name!r} must be 1-D, got {list(axis_info.shape)}")
    if not all_known(axis_info):
        return Prepared(dynamic=True)
    axes = [normalize_axis(a, len(x.shape)) for a in index_values(axis_info, "axis", (np.int32,))]
    if len(set(axes)) != len(axes):
        raise PrepareError(f"REVERSE_V2 axes {axes} repeat an axis")
    index = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(len(x.shape)))
    return Prepared([x.shape], data=index)


def _invoke_reverse(index: tuple, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    np.copyto(outputs[0], inputs[0][index])


class CumsumData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("axis", "exclusive", "reverse")
    axis: int
    exclusive: bool
    reverse: bool


def _prepare_cumsum(node: Node) -> Prepared:
    check_inputs(node, 2)
    x, axis_info, out = node.input(0), node.input(1), node.outputs[0]
    if x.dtype in QUANTIZED_DTYPES:
        # The official kernel has no quantized CUMSUM either (it checks the same types).
        raise PrepareError(
            f"CUMSUM takes float32, int32 or int64; {x.name!r} is {x.dtype.name} "
            "(there is no quantized CUMSUM)"
        )
    check_dtype(x, (np.float32, np.int32, np.int64), "input")
    check_same_dtype(node, x, out)
    if known_values(axis_info) is None:
        return Prepared(dynamic=True)
    axis = normalize_axis(scalar_index(axis_info, "axis", (np.int32,)), len(x.shape))
    opts = node.options
    exclusive = bool(opts.exclusive) if opts is not None else False
    reverse = bool(opts.reverse) if opts is not None else False
    return Prepared([x.shape], data=CumsumData(axis, exclusive, reverse))


def _invoke_cumsum(data: CumsumData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    x, out = inputs[0], outputs[0]
    axis = data.axis
    if data.reverse:  # a reversed cumsum is a cumsum of reversed views
        flip = tuple(slice(None, None, -1) if i == axis else slice(None) for i in range(x.ndim))
        x, out = x[flip], out[flip]
    if not data.exclusive:
        np.cumsum(x, axis=axis, dtype=x.dtype, out=out)
        return
    head = tuple(slice(0, 1) if i == axis else slice(None) for i in range(x.ndim))
    body = tuple(slice(1, None) if i == axis else slice(None) for i in range(x.ndim))
    rest = tuple(slice(None, -1) if i == axis else slice(None) for i in range(x.ndim))
    out[head] = 0
    np.cumsum(x[rest], axis=axis, dtype=x.dtype, out=out[body])


KERNELS = {
    BuiltinOperator.WHERE: KernelSpec(_prepare_where, _invoke_where, versions=(1, 2)),
    BuiltinOperator.UNIQUE: KernelSpec(_prepare_unique, _invoke_unique, versions=(1, 1)),
    BuiltinOperator.TOPK_V2: KernelSpec(_prepare_topk, _invoke_topk, versions=(1, 3)),
    BuiltinOperator.REVERSE_V2: KernelSpec(_prepare_reverse, _invoke_reverse, versions=(1, 4)),
    BuiltinOperator.CUMSUM: KernelSpec(_prepare_cumsum, _invoke_cumsum, versions=(1, 1)),
}
