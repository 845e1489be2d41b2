"""SLICE and STRIDED_SLICE: copy a (strided) window of the input (any dtype, bit-exact).

Prepare turns begin/size (or begin/end/strides plus the five masks) into one
numpy index tuple over a view of the input; invoke is a single copy into the
output, reshaped to the un-shrunk window so no temporary is made.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ._shape_util import all_known, check_same_dtype, index_values
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_inputs


class WindowData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("view_shape", "index", "window_shape")
    view_shape: tuple[int, ...]  # the input seen with new axes inserted
    index: tuple[slice, ...]  # one slice per view dimension
    window_shape: tuple[int, ...]  # the output before shrunk axes are dropped


def _prepare_slice(node: Node) -> Prepared:
    check_inputs(node, 3)
    x, begin_info, size_info, out = node.input(0), node.input(1), node.input(2), node.outputs[0]
    check_same_dtype(node, x, out)
    if not all_known(begin_info, size_info):
        return Prepared(dynamic=True)
    begin = index_values(begin_info, "begin")
    size = index_values(size_info, "size")
    rank = len(x.shape)
    if len(begin) != rank or len(size) != rank:
        raise PrepareError(
            f"begin {begin} and size {size} need one entry per input dimension ({rank})"
        )
    index, shape = [], []
    for dim, b, s in zip(x.shape, begin, size):
        if s == -1:
            s = dim - b
        if b < 0 or s < 0 or b + s > dim:
            raise PrepareError(f"slice begin {begin} size {size} is outside input {list(x.shape)}")
        index.append(slice(b, b + s))
        shape.append(s)
    return Prepared([tuple(shape)], data=WindowData(x.shape, tuple(index), tuple(shape)))


def _strided_spec(node: Node, rank: int, count: int) -> list[tuple[str, int]]:
    """Expand ellipsis/new-axis masks: one (kind, spec entry) per effective dimension.

    kind is 'full' (whole axis: ellipsis or past the end of the spec), 'new' (a new
    axis of size 1) or 'spec' (sliced by entry i of begin/end/strides). This follows
    TFLite: an ellipsis covers as many input dims as the other entries leave over, and
    a bit set in both the ellipsis and new-axis masks is an ellipsis. More than one
    ellipsis is an error (as in TensorFlow).
    """
    opts = node.options
    ellipsis = opts.ellipsis_mask if opts is not None else 0
    new_axis = opts.new_axis_mask if opts is not None else 0
    if bin(ellipsis & ((1 << count) - 1)).count("1") > 1:
        raise PrepareError(f"ellipsis_mask {ellipsis:#b} has more than one bit set")
    num_new = sum(1 for i in range(count) if new_axis >> i & 1 and not ellipsis >> i & 1)
    effective = rank + num_new
    kinds: list[tuple[str, int]] = []
    i = 0  # spec entry
    while len(kinds) < effective:
        if i < count and ellipsis >> i & 1:
            # Entries after the ellipsis that consume input dims, plus new axes anywhere.
            covered = max(1, min(1 + num_new + rank - count, effective - len(kinds)))
            kinds.extend([("full", -1)] * covered)
        elif i < count and new_axis >> i & 1 and not ellipsis >> i & 1:
            kinds.append(("new", i))
        elif i < count:
            kinds.append(("spec", i))
        else:
            kinds.append(("full", -1))
        i += 1
    return kinds


def _axis_window(
    size: int, begin: int, end: int, stride: int, masks: tuple[bool, bool, bool], offset: bool
) -> tuple[int, int]:
    """TFLite's start/stop for one axis (after clamping); masks are (begin, end, shrink)."""
    begin_mask, end_mask, shrink = masks
    start = begin + size if begin < 0 else begin
    start = min(max(start, 0), size) if stride > 0 else min(max(start, -1), size - 1)
    if begin_mask:
        start = 0 if stride > 0 else size - 1
    if shrink:
        return start, start if start >= size else start + 1
    stop = end + start if offset else end
    stop = stop + size if stop < 0 else stop
    stop = min(max(stop, 0), size) if stride > 0 else min(max(stop, -1), size - 1)
    if end_mask:
        stop = size if stride > 0 else -1
    return start, stop


def _prepare_strided_slice(node: Node) -> Prepared:
    check_inputs(node, 4)
    x, out = node.input(0), node.outputs[0]
    begin_info, end_info, strides_info = node.input(1), node.input(2), node.input(3)
    check_same_dtype(node, x, out)
    for info in (begin_info, end_info, strides_info):
        if len(info.shape) != 1:
            raise PrepareError(f"{info.name!r} must be 1-D, got shape {list(info.shape)}")
    if not all_known(begin_info, end_info, strides_info):
        return Prepared(dynamic=True)
    begin = index_values(begin_info, "begin")
    end = index_values(end_info, "end")
    strides = index_values(strides_info, "strides")
    if not len(begin) == len(end) == len(strides):
        raise PrepareError(f"begin {begin}, end {end} and strides {strides} differ in length")
    if len(begin) > 31:
        raise PrepareError("STRIDED_SLICE supports up to 31 index entries")
    opts = node.options
    masks = [
        opts.begin_mask if opts else 0,
        opts.end_mask if opts else 0,
        opts.shrink_axis_mask if opts else 0,
    ]
    offset = bool(opts.offset) if opts else False
    view_shape, index, window, out_shape = [], [], [], []
    in_dim = 0
    for kind, i in _strided_spec(node, len(x.shape), len(begin)):
        if kind == "new":
            view_shape.append(1)
            index.append(slice(None))
            window.append(1)
            out_shape.append(1)
            continue
        size = x.shape[in_dim]
        in_dim += 1
        view_shape.append(size)
        if kind == "full":
            index.append(slice(None))
            window.append(size)
            out_shape.append(size)
            continue
        stride = strides[i]
        if stride == 0:
            raise PrepareError("STRIDED_SLICE strides must be non-zero")
        axis_masks = (bool(masks[0] >> i & 1), bool(masks[1] >> i & 1), bool(masks[2] >> i & 1))
        start, stop = _axis_window(size, begin[i], end[i], stride, axis_masks, offset)
        count = len(range(start, stop, stride))
        if axis_masks[2] and count != 1:
            raise PrepareError(
                f"shrink index {begin[i]} is outside axis {in_dim - 1} (size {size})"
            )
        index.append(slice(start, stop if stop >= 0 else None, stride) if count else slice(0, 0))
        window.append(count)
        if not axis_masks[2]:
            out_shape.append(count)
    data = WindowData(tuple(view_shape), tuple(index), tuple(window))
    return Prepared([tuple(out_shape)], data=data)


def _invoke_window(data: WindowData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    view = inputs[0].reshape(data.view_shape)[data.index]
    np.copyto(outputs[0].reshape(data.window_shape), view)


KERNELS = {
    BuiltinOperator.SLICE: KernelSpec(_prepare_slice, _invoke_window, versions=(1, 8)),
    BuiltinOperator.STRIDED_SLICE: KernelSpec(
        _prepare_strided_slice, _invoke_window, versions=(1, 8)
    ),
}
