"""SELECT and SELECT_V2: ``out = condition ? x : y``, elementwise.

Pure data movement, so every numeric and bool element type is taken as is
(quantized tensors included: the official kernel copies raw values too); like the
official runtime, strings are not.

SELECT (v1) allows a condition of x's shape, a scalar condition, or a rank-1
condition that picks whole rows along x's first dimension; x and y must have one
shape. SELECT_V2 broadcasts all three tensors against each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator, TensorType
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_inputs
from .unary import check_output, check_same_type, check_type

_VALUE_TYPES = (
    TensorType.FLOAT32,
    TensorType.FLOAT16,
    TensorType.FLOAT64,
    TensorType.INT8,
    TensorType.UINT8,
    TensorType.INT16,
    TensorType.UINT16,
    TensorType.INT32,
    TensorType.UINT32,
    TensorType.INT64,
    TensorType.BOOL,
    TensorType.COMPLEX64,
)


class SelectData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("condition_shape",)
    # Shape to view the condition with so that it broadcasts over the output
    # (None: use it as it is).
    condition_shape: tuple[int, ...] | None


def _check_values(node: Node) -> tuple[Any, Any, Any]:
    check_inputs(node, 3)
    condition, x, y = node.input(0), node.input(1), node.input(2)
    check_type(node, condition, (TensorType.BOOL,), "condition")
    check_type(node, x, _VALUE_TYPES, "input", allow_quantized=True)
    check_same_type(node, (x, y), "value inputs")
    check_output(node, x.type)
    return condition, x, y


def prepare_select(node: Node) -> Prepared:
    """SELECT v1: same shapes, or a scalar / rank-1 row condition."""
    condition, x, y = _check_values(node)
    if x.shape != y.shape:
        raise PrepareError(
            f"SELECT needs x and y of one shape; got {list(x.shape)}, {list(y.shape)}"
        )
    if condition.shape == x.shape or condition.shape == ():
        return Prepared(output_shapes=[x.shape], data=SelectData(None))
    if len(condition.shape) == 1 and len(x.shape) >= 1 and condition.shape[0] == x.shape[0]:
        # One flag per row: view it as [rows, 1, 1, ...] to broadcast over the rest.
        row_shape = (x.shape[0],) + (1,) * (len(x.shape) - 1)
        return Prepared(output_shapes=[x.shape], data=SelectData(row_shape))
    raise PrepareError(
        f"SELECT condition of shape {list(condition.shape)} does not fit x {list(x.shape)}: "
        "it must have x's shape, be a scalar, or be rank 1 with x's first dimension "
        "(SELECT_V2 broadcasts)"
    )


def prepare_select_v2(node: Node) -> Prepared:
    """SELECT_V2: condition, x and y broadcast to one output shape."""
    condition, x, y = _check_values(node)
    try:
        shape = tuple(np.broadcast_shapes(condition.shape, x.shape, y.shape))
    except ValueError:
        shapes = [list(condition.shape), list(x.shape), list(y.shape)]
        raise PrepareError(f"condition, x and y shapes {shapes} do not broadcast") from None
    return Prepared(output_shapes=[shape], data=SelectData(None))


def invoke(data: SelectData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Copy y everywhere, then x where the condition holds (no temporaries)."""
    condition, x, y = inputs
    if data.condition_shape is not None:
        condition = condition.reshape(data.condition_shape)
    out = outputs[0]
    np.copyto(out, y)
    np.copyto(out, x, where=condition)


KERNELS = {
    BuiltinOperator.SELECT: KernelSpec(prepare=prepare_select, invoke=invoke, versions=(1, 4)),
    BuiltinOperator.SELECT_V2: KernelSpec(
        prepare=prepare_select_v2, invoke=invoke, versions=(1, 2)
    ),
}
