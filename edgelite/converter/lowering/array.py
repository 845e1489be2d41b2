"""Lowering of shape and data-movement ops: reshape, transpose, concat, split, slice, ...

Shapes come from the source graph's static shape inference. A reshape whose target
was computed at run time (Shape -> StridedSlice -> Pack, the usual dynamic-batch
idiom) still gets a constant target when at most one dimension is unknown: that
dimension becomes -1, and the shape arithmetic is left as dead code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...schema.dtypes import tensor_type
from ...schema.generated.enums import BuiltinOperator, MirrorPadMode
from ...schema.generated.options import (
    ConcatenationOptions,
    DepthToSpaceOptions,
    GatherOptions,
    MirrorPadOptions,
    PackOptions,
    ResizeBilinearOptions,
    ResizeNearestNeighborOptions,
    ShapeOptions,
    SpaceToDepthOptions,
    SplitOptions,
    SplitVOptions,
    SqueezeOptions,
    StridedSliceOptions,
    UnpackOptions,
)
from .context import Lowering, LoweringError, ir_name
from .graph import GraphNode
from .helpers import norm_axis, scalar, text

B = BuiltinOperator


def _i32(ctx: Lowering, name: str, value) -> int:
    return ctx.constant(name, np.asarray(value).astype(np.int32))


def _runtime_dim(ctx: Lowering, name: str) -> int | tuple[str, int] | None:
    """A shape element: an int when constant, (tensor, k) when it is tf.shape(tensor)[k]."""
    value = ctx.const(name)
    if value is not None and value.size == 1:
        return int(scalar(value))
    node = ctx.producer(name, "StridedSlice")
    if node is None or node.attr("shrink_axis_mask") != 1:
        return None
    begin, stride = ctx.const(node.inputs[1]), ctx.const(node.inputs[3])
    shape_of = ctx.producer(node.inputs[0], "Shape")
    if (
        shape_of is None
        or begin is None
        or stride is None
        or begin.size != 1
        or scalar(stride) != 1
    ):
        return None
    k = int(scalar(begin))
    known = ctx.shape(shape_of.inputs[0])[k]
    return (shape_of.inputs[0], k) if known is None else int(known)


def _batch_only(shape: tuple[int | None, ...]) -> bool:
    return len(shape) > 0 and shape[0] is None and None not in shape[1:]


def _symbolic_target(ctx: Lowering, node: GraphNode) -> list[int] | None:
    """Target of Reshape(x, Pack([tf.shape(t)[0], ..., -1])) with a dynamic batch.

    Every input's only unknown size is its batch (the front-end refuses others), so
    tf.shape(t)[0] is x's batch: it becomes the -1, and a -1 among the rest is computed.
    """
    pack = ctx.producer(node.inputs[1], "Pack")
    x_shape = ctx.shape(node.inputs[0])
    if pack is None or not _batch_only(x_shape):
        return None
    dims = [_runtime_dim(ctx, name) for name in pack.inputs]
    symbols = [d for d in dims if isinstance(d, tuple)]
    if None in dims or len(symbols) != 1 or dims.index(symbols[0]) != 0:
        return None
    if symbols[0][1] != 0 or not _batch_only(ctx.shape(symbols[0][0])):
        return None
    rest = [int(d) for d in dims[1:]]  # type: ignore[arg-type]
    per_item = int(np.prod([int(d) for d in x_shape[1:]]))  # type: ignore[arg-type]
    if rest.count(-1) == 1:
        known = int(np.prod([d for d in rest if d != -1]))
        if known == 0 or per_item % known:
            return None
        rest[rest.index(-1)] = per_item // known
    return [-1, *rest] if -1 not in rest else None


def lower_reshape(ctx: Lowering, node: GraphNode) -> None:
    """RESHAPE to the inferred output shape (-1 for its one unknown dimension)."""
    out_shape = ctx.shape(node.outputs[0].name)
    unknown = sum(d is None for d in out_shape)
    symbolic = _symbolic_target(ctx, node) if unknown > 1 and node.type == "Reshape" else None
    if unknown <= 1:
        target = _i32(ctx, f"{node.name}/shape", [-1 if d is None else d for d in out_shape])
    elif symbolic is not None:
        target = _i32(ctx, f"{node.name}/shape", symbolic)
        out = ctx.temp(ir_name(node.outputs[0].name), [None, *symbolic[1:]], node.outputs[0].dtype)
        ctx.bind(node.outputs[0].name, out)
        ctx.emit(B.RESHAPE, [ctx.input(node, 0), target], [out])
        return
    elif node.type == "Reshape":
        target = ctx.input(node, 1)
    elif node.type == "Squeeze":
        dims = [int(d) for d in node.attr("squeeze_dims", [])]
        ctx.unary(B.SQUEEZE, node, SqueezeOptions(dims))
        return
    else:  # ExpandDims with several unknown dimensions
        ctx.emit(B.EXPAND_DIMS, [ctx.input(node, 0), ctx.input(node, 1)], [ctx.output(node)])
        return
    ctx.emit(B.RESHAPE, [ctx.input(node, 0), target], [ctx.output(node)])


def lower_transpose(ctx: Lowering, node: GraphNode) -> None:
    perm = ctx.need_const(node, 1, "permutation")
    out = ctx.output(node)
    ctx.emit(B.TRANSPOSE, [ctx.input(node, 0), _i32(ctx, f"{node.name}/perm", perm)], [out])


def lower_concat(ctx: Lowering, node: GraphNode) -> None:
    """ConcatV2(values..., axis); a single value is just that value."""
    values = node.inputs[:-1]
    axis = int(scalar(ctx.need_const(node, len(values), "axis")))
    rank = len(ctx.shape(node.outputs[0].name))
    if len(values) == 1:
        ctx.forward(node)
        return
    inputs = [ctx.tensor(v) for v in values]
    options = ConcatenationOptions(axis=norm_axis(axis, rank))
    ctx.emit(B.CONCATENATION, inputs, [ctx.output(node)], options)


def lower_pack(ctx: Lowering, node: GraphNode) -> None:
    rank = len(ctx.shape(node.outputs[0].name))
    axis = norm_axis(int(node.attr("axis", 0)), rank)
    inputs = [ctx.tensor(v) for v in node.inputs]
    ctx.emit(B.PACK, inputs, [ctx.output(node)], PackOptions(len(inputs), axis))


def lower_unpack(ctx: Lowering, node: GraphNode) -> None:
    rank = len(ctx.shape(node.inputs[0]))
    axis = norm_axis(int(node.attr("axis", 0)), rank)
    outs = [ctx.output(node, i) for i in range(len(node.outputs))]
    ctx.emit(B.UNPACK, [ctx.input(node, 0)], outs, UnpackOptions(len(outs), axis))


def lower_split(ctx: Lowering, node: GraphNode) -> None:
    """Split(axis, value) keeps TFLite's argument order; SplitV(value, sizes, axis)."""
    outs = [ctx.output(node, i) for i in range(len(node.outputs))]
    if node.type == "Split":
        axis = int(scalar(ctx.need_const(node, 0, "axis")))
        inputs = [_i32(ctx, f"{node.name}/axis", axis), ctx.input(node, 1)]
        ctx.emit(B.SPLIT, inputs, outs, SplitOptions(len(outs)))
        return
    sizes = ctx.need_const(node, 1, "split sizes")
    axis = int(scalar(ctx.need_const(node, 2, "axis")))
    inputs = [ctx.input(node, 0), _i32(ctx, f"{node.name}/sizes", sizes)]
    inputs.append(_i32(ctx, f"{node.name}/axis", axis))
    ctx.emit(B.SPLIT_V, inputs, outs, SplitVOptions(len(outs)))


def lower_slice(ctx: Lowering, node: GraphNode) -> None:
    begin = ctx.need_const(node, 1, "begin")
    size = ctx.need_const(node, 2, "size")
    inputs = [ctx.input(node, 0), _i32(ctx, f"{node.name}/begin", begin)]
    inputs.append(_i32(ctx, f"{node.name}/size", size))
    ctx.emit(B.SLICE, inputs, [ctx.output(node)])


def lower_strided_slice(ctx: Lowering, node: GraphNode) -> None:
    """STRIDED_SLICE with the same begin/end/strides and masks (all five are the same bits).

    tf.shape(t)[k] of a size known statically (the time steps of a dynamic-batch
    sequence, say) is that constant: loop lengths and list sizes stay known.
    """
    masks = [int(node.attr(m, 0)) for m in ("begin_mask", "ellipsis_mask", "new_axis_mask")]
    dim = _runtime_dim(ctx, node.outputs[0].name) if not any(masks) else None
    if isinstance(dim, int):
        ctx.bind_const(node.outputs[0].name, np.asarray(dim, node.outputs[0].dtype))
        return
    inputs = [ctx.input(node, 0)]
    for i, what in ((1, "begin"), (2, "end"), (3, "strides")):
        value = ctx.const(node.inputs[i])
        inputs.append(
            _i32(ctx, f"{node.name}/{what}", value) if value is not None else ctx.input(node, i)
        )
    options = StridedSliceOptions(
        begin_mask=int(node.attr("begin_mask", 0)),
        end_mask=int(node.attr("end_mask", 0)),
        ellipsis_mask=int(node.attr("ellipsis_mask", 0)),
        new_axis_mask=int(node.attr("new_axis_mask", 0)),
        shrink_axis_mask=int(node.attr("shrink_axis_mask", 0)),
    )
    ctx.emit(B.STRIDED_SLICE, inputs, [ctx.output(node)], options)


def lower_gather(ctx: Lowering, node: GraphNode) -> None:
    """GatherV2(params, indices, axis) / Gather(params, indices) -> GATHER."""
    rank = len(ctx.shape(node.inputs[0]))
    axis = int(scalar(ctx.need_const(node, 2, "axis"))) if len(node.inputs) > 2 else 0
    options = GatherOptions(norm_axis(axis, rank), int(node.attr("batch_dims", 0)))
    ctx.emit(B.GATHER, [ctx.input(node, 0), ctx.input(node, 1)], [ctx.output(node)], options)


def lower_gather_nd(ctx: Lowering, node: GraphNode) -> None:
    ctx.emit(B.GATHER_ND, [ctx.input(node, 0), ctx.input(node, 1)], [ctx.output(node)])


def lower_pad(ctx: Lowering, node: GraphNode) -> None:
    """Pad / PadV2 (PAD when the fill is 0) / MirrorPad."""
    pads = _i32(ctx, f"{node.name}/paddings", ctx.need_const(node, 1, "paddings"))
    inputs = [ctx.input(node, 0), pads]
    if node.type == "MirrorPad":
        mode = text(node.attr("mode", "REFLECT"))
        options = MirrorPadOptions(
            MirrorPadMode.SYMMETRIC if mode == "SYMMETRIC" else MirrorPadMode.REFLECT
        )
        ctx.emit(B.MIRROR_PAD, inputs, [ctx.output(node)], options)
        return
    fill = ctx.const(node.inputs[2]) if node.type == "PadV2" else None
    if fill is not None and scalar(fill) == 0:
        fill = None
    if node.type == "PadV2" and (fill is not None or ctx.const(node.inputs[2]) is None):
        inputs.append(ctx.input(node, 2))
        ctx.emit(B.PADV2, inputs, [ctx.output(node)])
        return
    ctx.emit(B.PAD, inputs, [ctx.output(node)])


def _with_const_input(code: BuiltinOperator, what: str):
    """Ops whose second input is a small int shape/multiples/size tensor."""

    def lower(ctx: Lowering, node: GraphNode) -> None:
        value = ctx.const(node.inputs[1])
        second = (
            _i32(ctx, f"{node.name}/{what}", value) if value is not None else ctx.input(node, 1)
        )
        ctx.emit(code, [ctx.input(node, 0), second], [ctx.output(node)])

    return lower


def lower_fill(ctx: Lowering, node: GraphNode) -> None:
    out_spec = node.outputs[0]
    dims = ctx.const(node.inputs[0])
    value = ctx.const(node.inputs[1])
    if dims is not None and value is not None:
        ctx.bind_const(out_spec.name, np.full(tuple(int(d) for d in dims), value, out_spec.dtype))
        return
    ctx.emit(B.FILL, [ctx.input(node, 0), ctx.input(node, 1)], [ctx.output(node)])


def lower_like(ctx: Lowering, node: GraphNode) -> None:
    """ZerosLike / OnesLike: a constant when the shape is static."""
    spec = node.outputs[0]
    fill = 0 if node.type == "ZerosLike" else 1
    if spec.is_static:
        ctx.bind_const(spec.name, np.full(spec.shape, fill, spec.dtype))  # type: ignore[arg-type]
        return
    if fill == 0:
        ctx.unary(B.ZEROS_LIKE, node)
        return
    shape = ctx.temp(f"{node.name}/shape", [len(spec.shape or ())], np.int32)
    ctx.emit(B.SHAPE, [ctx.input(node, 0)], [shape], ShapeOptions(tensor_type(np.int32)))
    one = ctx.constant(f"{node.name}/one", np.ones((), spec.dtype))
    ctx.emit(B.FILL, [shape, one], [ctx.output(node)])


def lower_shape(ctx: Lowering, node: GraphNode) -> None:
    """Shape/Size/Rank: constants when the input's shape is static, else SHAPE (and RANK)."""
    spec = ctx.spec(node.inputs[0])
    out = node.outputs[0]
    if spec.shape is not None and (node.type == "Rank" or spec.is_static):
        dims = np.asarray(spec.shape, out.dtype)
        value = {"Shape": dims, "Size": np.prod(dims, dtype=out.dtype), "Rank": len(dims)}
        ctx.bind_const(out.name, np.asarray(value[node.type], out.dtype))
        return
    if node.type != "Shape":
        raise LoweringError(f"{node.type} of a tensor with unknown dimensions")
    ctx.unary(B.SHAPE, node, ShapeOptions(tensor_type(out.dtype)))


def lower_range(ctx: Lowering, node: GraphNode) -> None:
    inputs = [ctx.input(node, i) for i in range(3)]
    ctx.emit(B.RANGE, inputs, [ctx.output(node)])


def lower_resize(ctx: Lowering, node: GraphNode) -> None:
    corners = bool(node.attr("align_corners", False))
    half = bool(node.attr("half_pixel_centers", False))
    size = _i32(ctx, f"{node.name}/size", ctx.need_const(node, 1, "size"))
    options: Any
    if node.type == "ResizeBilinear":
        code, options = B.RESIZE_BILINEAR, ResizeBilinearOptions(corners, half)
    else:
        code, options = B.RESIZE_NEAREST_NEIGHBOR, ResizeNearestNeighborOptions(corners, half)
    ctx.emit(code, [ctx.input(node, 0), size], [ctx.output(node)], options)


def _block(code: BuiltinOperator, options_type):
    def lower(ctx: Lowering, node: GraphNode) -> None:
        if text(node.attr("data_format", "NHWC")) != "NHWC":
            raise LoweringError("only NHWC")
        ctx.unary(code, node, options_type(int(node.attr("block_size"))))

    return lower


def lower_space_batch(ctx: Lowering, node: GraphNode) -> None:
    code = B.SPACE_TO_BATCH_ND if node.type == "SpaceToBatchND" else B.BATCH_TO_SPACE_ND
    block = _i32(ctx, f"{node.name}/block", ctx.need_const(node, 1, "block shape"))
    pads = _i32(ctx, f"{node.name}/pads", ctx.need_const(node, 2, "paddings/crops"))
    ctx.emit(code, [ctx.input(node, 0), block, pads], [ctx.output(node)])


def lower_identity(ctx: Lowering, node: GraphNode) -> None:
    for i in range(len(node.outputs)):
        ctx.forward(node, i, i)


LOWERINGS = {
    "Reshape": lower_reshape,
    "Squeeze": lower_reshape,
    "ExpandDims": lower_reshape,
    "Transpose": lower_transpose,
    "ConcatV2": lower_concat,
    "Pack": lower_pack,
    "Unpack": lower_unpack,
    "Split": lower_split,
    "SplitV": lower_split,
    "Slice": lower_slice,
    "StridedSlice": lower_strided_slice,
    "GatherV2": lower_gather,
    "Gather": lower_gather,
    "ResourceGather": lower_gather,
    "GatherNd": lower_gather_nd,
    "Pad": lower_pad,
    "PadV2": lower_pad,
    "MirrorPad": lower_pad,
    "Tile": _with_const_input(B.TILE, "multiples"),
    "BroadcastTo": _with_const_input(B.BROADCAST_TO, "shape"),
    "ReverseV2": _with_const_input(B.REVERSE_V2, "axis"),
    "Fill": lower_fill,
    "ZerosLike": lower_like,
    "OnesLike": lower_like,
    "Shape": lower_shape,
    "Size": lower_shape,
    "Rank": lower_shape,
    "Range": lower_range,
    "ResizeBilinear": lower_resize,
    "ResizeNearestNeighbor": lower_resize,
    "SpaceToDepth": _block(B.SPACE_TO_DEPTH, SpaceToDepthOptions),
    "DepthToSpace": _block(B.DEPTH_TO_SPACE, DepthToSpaceOptions),
    "SpaceToBatchND": lower_space_batch,
    "BatchToSpaceND": lower_space_batch,
    "Identity": lower_identity,
    "IdentityN": lower_identity,
    "StopGradient": lower_identity,
    "PreventGradient": lower_identity,
    "Snapshot": lower_identity,
    "EnsureShape": lower_identity,
    "CheckNumerics": lower_identity,
}
