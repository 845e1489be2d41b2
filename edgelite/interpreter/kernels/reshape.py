"""RESHAPE, SQUEEZE, EXPAND_DIMS: same bytes, new shape (any dtype, bit-exact copies)."""

from __future__ import annotations

import math

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ._shape_util import (
    all_known,
    check_same_dtype,
    check_same_quantization,
    index_values,
    known_values,
    scalar_index,
)
from .base import KernelSpec, Node, Prepared, PrepareError, check_inputs


def _resolve_shape(node: Node, in_shape: tuple[int, ...], new_shape: list[int]) -> tuple[int, ...]:
    """Fill in the -1 of ``new_shape`` the way TFLite does (zero-sized dims included)."""
    num_in = math.prod(in_shape)
    nonzero_in = math.prod(d for d in in_shape if d != 0)
    stretch = [i for i, d in enumerate(new_shape) if d == -1]
    if len(stretch) > 1:
        raise PrepareError(f"new shape {new_shape} has more than one -1")
    if any(d < -1 for d in new_shape):
        raise PrepareError(f"new shape {new_shape} has a negative dimension")
    known = [d for d in new_shape if d != -1]
    num_out = math.prod(known)
    shape = list(new_shape)
    if stretch:
        nonzero_out = math.prod(d for d in known if d != 0)
        # TFLite infers 0 when the input is empty and the known part is not.
        shape[stretch[0]] = 0 if num_in == 0 and num_out != 0 else nonzero_in // nonzero_out
        num_out *= shape[stretch[0]]
    if num_out != num_in:
        raise PrepareError(
            f"cannot reshape {list(in_shape)} ({num_in} elements) to {new_shape} "
            f"({num_out} elements)"
        )
    return tuple(shape)


def _prepare_reshape(node: Node) -> Prepared:
    check_inputs(node, 1, 2)
    x, out = node.input(0), node.outputs[0]
    check_same_dtype(node, x, out)
    shape_info = node.optional_input(1)
    if shape_info is not None and not all_known(shape_info):
        return Prepared(dynamic=True)
    # Like TFLite: a 1-D int32 shape tensor wins; anything else falls back to the options.
    if shape_info is not None and len(shape_info.shape) == 1 and shape_info.dtype == np.int32:
        new_shape = index_values(shape_info, "shape")
    else:
        new_shape = list(node.options.new_shape) if node.options is not None else []
        if new_shape == [0]:
            new_shape = []  # legacy converters wrote [0] for a scalar
    return Prepared([_resolve_shape(node, x.shape, new_shape)])


def _prepare_squeeze(node: Node) -> Prepared:
    check_inputs(node, 1)
    x, out = node.input(0), node.outputs[0]
    check_same_dtype(node, x, out)
    rank = len(x.shape)
    dims = list(node.options.squeeze_dims) if node.options is not None else []
    if not dims:
        return Prepared([tuple(d for d in x.shape if d != 1)])
    drop = set()
    for dim in dims:
        if not -rank <= dim < rank:
            raise PrepareError(f"squeeze dim {dim} is out of range for a rank-{rank} input")
        dim %= rank
        if x.shape[dim] != 1:
            raise PrepareError(f"cannot squeeze dim {dim} of size {x.shape[dim]} (must be 1)")
        drop.add(dim)
    return Prepared([tuple(d for i, d in enumerate(x.shape) if i not in drop)])


def _prepare_expand_dims(node: Node) -> Prepared:
    check_inputs(node, 2)
    x, axis_info, out = node.input(0), node.input(1), node.outputs[0]
    check_same_dtype(node, x, out)
    check_same_quantization(node, x, out)  # TFLite checks here (not in RESHAPE/SQUEEZE)
    if known_values(axis_info) is None:
        return Prepared(dynamic=True)
    rank = len(x.shape)
    axis = scalar_index(axis_info, "axis")
    if not -rank - 1 <= axis <= rank:
        raise PrepareError(f"axis {axis} is out of range for expanding a rank-{rank} input")
    if axis < 0:
        axis += rank + 1
    return Prepared([(*x.shape[:axis], 1, *x.shape[axis:])])


def _invoke_copy(data: object, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    """Reshaping the contiguous output (not the input) keeps this a single copy."""
    out = outputs[0]
    np.copyto(out.reshape(inputs[0].shape), inputs[0])


KERNELS = {
    BuiltinOperator.RESHAPE: KernelSpec(_prepare_reshape, _invoke_copy, versions=(1, 1)),
    BuiltinOperator.SQUEEZE: KernelSpec(_prepare_squeeze, _invoke_copy, versions=(1, 2)),
    BuiltinOperator.EXPAND_DIMS: KernelSpec(_prepare_expand_dims, _invoke_copy, versions=(1, 1)),
}
