"""CONCATENATION, PACK, UNPACK, SPLIT, SPLIT_V: join or cut tensors along one axis.

All are bit-exact copies for every dtype. Quantized inputs must share the
output's scale and zero point, except for uint8 CONCATENATION, which rescales
inputs with other parameters as TFLite does (``_qconcat``); a fused activation is
only meaningful (and only accepted) on float tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...schema.generated.enums import ActivationFunctionType, BuiltinOperator
from ._shape_util import (
    all_known,
    check_num_outputs,
    check_same_dtype,
    check_same_quantization,
    index_values,
    normalize_axis,
    scalar_index,
)

if TYPE_CHECKING:
    from . import _qconcat
from .base import (
    KernelSpec,
    Node,
    OpRecord,
    Prepared,
    PrepareError,
    activation_range,
    apply_activation,
    check_inputs,
)


class ConcatData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("axis", "activation", "scalars", "rescale")
    axis: int
    activation: ActivationFunctionType
    scalars: bool  # concatenating rank-0 tensors stacks them into a vector
    rescale: _qconcat.ConcatRescale | None  # uint8 inputs with other parameters
    _defaults = {"rescale": None}


def _prepare_concat(node: Node) -> Prepared:
    if not node.inputs:
        raise PrepareError("CONCATENATION needs at least one input")
    inputs = [node.input(i) for i in range(len(node.inputs))]
    first, out = inputs[0], node.outputs[0]
    rank = len(first.shape)
    opts = node.options
    axis = opts.axis if opts is not None else 0
    act = opts.fused_activation_function if opts is not None else ActivationFunctionType.NONE
    if rank == 0:
        if axis not in (0, -1):
            raise PrepareError(f"axis {axis} is out of range for concatenating scalars")
        axis = 0
    else:
        axis = normalize_axis(axis, rank)
    for info in inputs:
        check_same_dtype(node, info, out)
        if out.dtype != np.uint8 or not out.scale:  # uint8 rescales (below)
            check_same_quantization(node, info, out)
        if len(info.shape) != rank:
            raise PrepareError(f"input {info.name!r} has rank {len(info.shape)}; expected {rank}")
        for d in range(rank):
            if d != axis and info.shape[d] != first.shape[d]:
                raise PrepareError(
                    f"input {info.name!r} has shape {list(info.shape)}, which does not match "
                    f"{list(first.shape)} outside axis {axis}"
                )
    if act != ActivationFunctionType.NONE:
        if not np.issubdtype(out.dtype, np.floating):
            raise PrepareError(f"fused activation on {out.dtype.name} CONCATENATION")
        activation_range(act)  # rejects activations other than the clamping ones
    if rank == 0:
        shape: tuple[int, ...] = (len(inputs),)
    else:
        total = sum(info.shape[axis] for info in inputs)
        shape = (*first.shape[:axis], total, *first.shape[axis + 1 :])
    rescale = None
    if out.dtype == np.uint8 and out.scale:
        from . import _qconcat  # uint8 rescaling only: other models never import it

        rescale = _qconcat.plan(inputs, out)
    return Prepared([shape], data=ConcatData(axis, act, rank == 0, rescale))


def _invoke_concat(data: ConcatData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    if data.rescale is not None:
        from . import _qconcat

        inputs = _qconcat.rescaled_inputs(data.rescale, inputs)
    _join(data, inputs, outputs[0])


def _invoke_concat_opt(
    data: ConcatData, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> None:
    if data.rescale is not None:
        from . import _qconcat

        inputs = _qconcat.rescaled_inputs_by_table(data.rescale, inputs)
    _join(data, inputs, outputs[0])


def _join(data: ConcatData, inputs: list[np.ndarray], out: np.ndarray) -> None:
    if data.scalars:
        np.stack(inputs, out=out)
    else:
        np.concatenate(inputs, axis=data.axis, out=out)
    apply_activation(out, data.activation)


def _prepare_pack(node: Node) -> Prepared:
    if not node.inputs:
        raise PrepareError("PACK needs at least one input")
    inputs = [node.input(i) for i in range(len(node.inputs))]
    first, out = inputs[0], node.outputs[0]
    opts = node.options
    count = opts.values_count if opts is not None else len(inputs)
    if count != len(inputs):
        raise PrepareError(f"values_count is {count} but the node has {len(inputs)} inputs")
    axis = opts.axis if opts is not None else 0
    axis = normalize_axis(axis, len(first.shape) + 1)
    for info in inputs:
        check_same_dtype(node, info, out)
        check_same_quantization(node, info, out)
        if info.shape != first.shape:
            raise PrepareError(
                f"input {info.name!r} has shape {list(info.shape)}; PACK needs every input "
                f"shaped {list(first.shape)}"
            )
    shape = (*first.shape[:axis], len(inputs), *first.shape[axis:])
    return Prepared([shape], data=axis)


def _invoke_pack(axis: int, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    np.stack(inputs, axis=axis, out=outputs[0])


def _prepare_unpack(node: Node) -> Prepared:
    check_inputs(node, 1)
    x = node.input(0)
    opts = node.options
    rank = len(x.shape)
    axis = normalize_axis(opts.axis if opts is not None else 0, rank)
    count = x.shape[axis]
    if opts is not None and opts.num not in (0, count):
        raise PrepareError(f"num is {opts.num} but axis {axis} of {x.name!r} has size {count}")
    check_num_outputs(node, count)
    for out in node.outputs:
        check_same_dtype(node, x, out)
        check_same_quantization(node, x, out)
    shape = x.shape[:axis] + x.shape[axis + 1 :]
    pieces = tuple((slice(None),) * axis + (i,) for i in range(count))
    return Prepared([shape] * count, data=pieces)


def _split_pieces(node: Node, x_shape: tuple[int, ...], axis: int, sizes: list[int]) -> Prepared:
    """Output shapes and views for cutting ``x`` along ``axis`` into ``sizes``."""
    check_num_outputs(node, len(sizes))
    shapes, pieces, start = [], [], 0
    for size in sizes:
        shapes.append((*x_shape[:axis], size, *x_shape[axis + 1 :]))
        pieces.append((slice(None),) * axis + (slice(start, start + size),))
        start += size
    return Prepared(shapes, data=tuple(pieces))


def _prepare_split(node: Node) -> Prepared:
    check_inputs(node, 2)
    axis_info, x = node.input(0), node.input(1)
    for out in node.outputs:
        check_same_dtype(node, x, out)
    if not all_known(axis_info):
        return Prepared(dynamic=True)
    axis = normalize_axis(scalar_index(axis_info, "axis", (np.int32,)), len(x.shape))
    num = node.options.num_splits if node.options is not None else len(node.outputs)
    if num <= 0 or x.shape[axis] % num:
        raise PrepareError(
            f"cannot split axis {axis} of size {x.shape[axis]} into {num} equal parts"
        )
    return _split_pieces(node, x.shape, axis, [x.shape[axis] // num] * num)


def _prepare_split_v(node: Node) -> Prepared:
    check_inputs(node, 3)
    x, sizes_info, axis_info = node.input(0), node.input(1), node.input(2)
    for out in node.outputs:
        check_same_dtype(node, x, out)
    if not all_known(sizes_info, axis_info):
        return Prepared(dynamic=True)
    axis = normalize_axis(scalar_index(axis_info, "axis", (np.int32,)), len(x.shape))
    sizes = index_values(sizes_info, "size_splits")
    unknown = [i for i, s in enumerate(sizes) if s == -1]
    if len(unknown) > 1 or any(s < -1 for s in sizes):
        raise PrepareError(f"size_splits {sizes} may hold at most one -1 and no other negatives")
    known = sum(s for s in sizes if s != -1)
    if unknown:
        sizes[unknown[0]] = x.shape[axis] - known
    if sum(sizes) != x.shape[axis] or any(s < 0 for s in sizes):
        raise PrepareError(f"size_splits {sizes} do not add up to axis {axis} size {x.shape[axis]}")
    return _split_pieces(node, x.shape, axis, sizes)


def _copy_pieces(x: np.ndarray, pieces: tuple, outputs: list[np.ndarray]) -> None:
    for out, index in zip(outputs, pieces):
        np.copyto(out, x[index])


def _invoke_cut_input0(pieces: tuple, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    """UNPACK and SPLIT_V: the data is input 0."""
    _copy_pieces(inputs[0], pieces, outputs)


def _invoke_cut_input1(pieces: tuple, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    """SPLIT: the axis comes first, the data is input 1."""
    _copy_pieces(inputs[1], pieces, outputs)


KERNELS = {
    BuiltinOperator.CONCATENATION: KernelSpec(
        _prepare_concat, _invoke_concat, versions=(1, 7), invoke_opt=_invoke_concat_opt
    ),
    BuiltinOperator.PACK: KernelSpec(_prepare_pack, _invoke_pack, versions=(1, 5)),
    BuiltinOperator.UNPACK: KernelSpec(_prepare_unpack, _invoke_cut_input0, versions=(1, 6)),
    BuiltinOperator.SPLIT: KernelSpec(_prepare_split, _invoke_cut_input1, versions=(1, 5)),
    BuiltinOperator.SPLIT_V: KernelSpec(_prepare_split_v, _invoke_cut_input0, versions=(1, 3)),
}
