"""Comparisons LESS LESS_EQUAL GREATER GREATER_EQUAL EQUAL NOT_EQUAL (-> bool) and the
logical ops LOGICAL_AND LOGICAL_OR LOGICAL_NOT, all broadcasting.

One ufunc with ``out=`` each: allocation-free, so no separate optimized version.
Quantized comparisons (which rescale both sides first) are a later piece of work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator, TensorType
from .base import KernelSpec, Node, Prepared, broadcast_shape, check_inputs
from .unary import check_output, check_same_type, check_type, unary_prepare

_ORDERED = (TensorType.FLOAT32, TensorType.INT32, TensorType.INT64)
# EQUAL/NOT_EQUAL also take bool and string tensors (strings compare byte-wise).
_EQUALITY = (*_ORDERED, TensorType.BOOL, TensorType.STRING)
_BOOL = (TensorType.BOOL,)

# op -> (ufunc, input types, versions)
_BINARY: dict[
    BuiltinOperator, tuple[Callable[..., Any], tuple[TensorType, ...], tuple[int, int]]
] = {
    BuiltinOperator.LESS: (np.less, _ORDERED, (1, 3)),
    BuiltinOperator.LESS_EQUAL: (np.less_equal, _ORDERED, (1, 2)),
    BuiltinOperator.GREATER: (np.greater, _ORDERED, (1, 2)),
    BuiltinOperator.GREATER_EQUAL: (np.greater_equal, _ORDERED, (1, 3)),
    BuiltinOperator.EQUAL: (np.equal, _EQUALITY, (1, 5)),
    BuiltinOperator.NOT_EQUAL: (np.not_equal, _EQUALITY, (1, 4)),
    BuiltinOperator.LOGICAL_AND: (np.logical_and, _BOOL, (1, 1)),
    BuiltinOperator.LOGICAL_OR: (np.logical_or, _BOOL, (1, 1)),
}


@dataclass(frozen=True)
class CompareData:
    ufunc: Callable[..., Any]


def _make_prepare(ufunc: Callable[..., Any], allowed: tuple[TensorType, ...]):
    def prepare(node: Node) -> Prepared:
        check_inputs(node, 2)
        a, b = node.input(0), node.input(1)
        check_type(node, a, allowed)
        check_same_type(node, (a, b))
        check_output(node, TensorType.BOOL)
        shape = broadcast_shape(a.shape, b.shape)
        return Prepared(output_shapes=[shape], data=CompareData(ufunc))

    return prepare


def invoke(data: CompareData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Compare (or combine) elementwise with broadcasting into the bool output."""
    data.ufunc(inputs[0], inputs[1], out=outputs[0])


def prepare_not(node: Node) -> Prepared:
    """LOGICAL_NOT: bool in, bool out, same shape."""
    return unary_prepare(node, _BOOL, CompareData(np.logical_not))


def invoke_not(data: CompareData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Negate elementwise."""
    np.logical_not(inputs[0], out=outputs[0])


KERNELS = {
    op: KernelSpec(prepare=_make_prepare(ufunc, allowed), invoke=invoke, versions=versions)
    for op, (ufunc, allowed, versions) in _BINARY.items()
}
KERNELS[BuiltinOperator.LOGICAL_NOT] = KernelSpec(prepare=prepare_not, invoke=invoke_not)
