"""SHAPE, RANK, FILL, ZEROS_LIKE, RANGE: tensors made from shapes and scalars.

(TFLite has no ONES_LIKE builtin; converters lower it to FILL.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ._shape_util import (
    all_known,
    check_plain,
    check_same_dtype,
    check_same_quantization,
    index_values,
    known_values,
)
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_dtype, check_inputs


def _prepare_shape(node: Node) -> Prepared:
    check_inputs(node, 1)
    x, out = node.input(0), node.outputs[0]
    # The output tensor's type decides (out_type says the same in valid models).
    check_dtype(out, (np.int32, np.int64), "output")
    value = np.array(x.shape, dtype=out.dtype)
    value.setflags(write=False)
    return Prepared([value.shape], data=value)


def _prepare_rank(node: Node) -> Prepared:
    check_inputs(node, 1)
    out = node.outputs[0]
    check_dtype(out, (np.int32, np.int64), "output")
    value = np.array(len(node.input(0).shape), dtype=out.dtype)
    value.setflags(write=False)
    return Prepared([()], data=value)


def _invoke_constant(
    value: np.ndarray, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> None:
    np.copyto(outputs[0], value)


def _prepare_fill(node: Node) -> Prepared:
    check_inputs(node, 2)
    dims_info, value, out = node.input(0), node.input(1), node.outputs[0]
    check_same_dtype(node, value, out)
    check_same_quantization(node, value, out)
    if math.prod(value.shape) != 1:
        raise PrepareError(f"fill value {value.name!r} must be a scalar, got {list(value.shape)}")
    if len(dims_info.shape) != 1:
        raise PrepareError(f"dims {dims_info.name!r} must be 1-D, got {list(dims_info.shape)}")
    if not all_known(dims_info):
        return Prepared(dynamic=True)
    dims = index_values(dims_info, "dims")
    if any(d < 0 for d in dims):
        raise PrepareError(f"FILL dims {dims} must be >= 0")
    return Prepared([tuple(dims)])


def _invoke_fill(data: None, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    outputs[0].fill(inputs[1].reshape(-1)[0])


def _prepare_zeros_like(node: Node) -> Prepared:
    check_inputs(node, 1)
    x, out = node.input(0), node.outputs[0]
    check_plain(x)
    check_dtype(x, (np.float32, np.int32, np.int64), "input")
    check_same_dtype(node, x, out)
    return Prepared([x.shape])


def _invoke_zeros_like(data: None, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    outputs[0].fill(0)


class RangeData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("start", "delta")
    start: Any  # numpy scalars of the output type
    delta: Any


def _range_size(start: Any, limit: Any, delta: Any) -> int:
    """TFLite's element count: integer ceil-division, or ceil of a float32 quotient."""
    if delta == 0:
        raise PrepareError("RANGE delta must be non-zero")
    if not ((start >= limit and delta < 0) or (start <= limit and delta > 0)):
        raise PrepareError(f"RANGE from {start} to {limit} never gets there with delta {delta}")
    if isinstance(start, np.integer):
        span, step = abs(int(limit) - int(start)), abs(int(delta))
        return (span + step - 1) // step
    return int(np.ceil(np.abs((limit - start) / delta)))


def _prepare_range(node: Node) -> Prepared:
    check_inputs(node, 3)
    start_info, limit_info, delta_info, out = (
        node.input(0),
        node.input(1),
        node.input(2),
        node.outputs[0],
    )
    check_dtype(start_info, (np.float32, np.int32, np.int64), "start")
    for info in (limit_info, delta_info, out):
        check_same_dtype(node, start_info, info)
    for info in (start_info, limit_info, delta_info):
        if info.shape != ():
            raise PrepareError(
                f"RANGE input {info.name!r} must be a scalar, got {list(info.shape)}"
            )
    if not all_known(start_info, limit_info, delta_info):
        return Prepared(dynamic=True)
    start, limit, delta = (
        known_values(info)[()]  # type: ignore[index]
        for info in (start_info, limit_info, delta_info)
    )
    size = _range_size(start, limit, delta)
    return Prepared([(size,)], data=RangeData(start, delta))


def _invoke_range(data: RangeData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    """TFLite adds delta step by step (not start + i*delta), so float results follow that sum."""
    out = outputs[0]
    if not out.size:
        return
    out.fill(data.delta)
    out[0] = data.start
    np.cumsum(out, out=out)


KERNELS = {
    BuiltinOperator.SHAPE: KernelSpec(_prepare_shape, _invoke_constant, versions=(1, 1)),
    BuiltinOperator.RANK: KernelSpec(_prepare_rank, _invoke_constant, versions=(1, 1)),
    BuiltinOperator.FILL: KernelSpec(_prepare_fill, _invoke_fill, versions=(1, 5)),
    BuiltinOperator.ZEROS_LIKE: KernelSpec(
        _prepare_zeros_like, _invoke_zeros_like, versions=(1, 1)
    ),
    BuiltinOperator.RANGE: KernelSpec(_prepare_range, _invoke_range, versions=(1, 2)),
}
