"""Transposed convolutions: Conv2DBackpropInput -> TRANSPOSE_CONV, Conv3DBackpropInputV2
-> CONV_3D_TRANSPOSE.

TensorFlow's transposed convolution is the gradient of a convolution with respect to
its input: every input pixel scatters ``filter * x`` over a window, into a "full" output
of (in - 1) * stride + effective_filter rows, of which rows [pad_top, pad_top + H) are
the result (rows past the full output are zero). TFLite's TRANSPOSE_CONV computes the
same with pad_top = 0 (VALID) or the SAME split of the excess; so

* SAME / VALID map straight across;
* EXPLICIT padding is SAME or VALID when its leading pads are what those would take,
  else TRANSPOSE_CONV VALID onto the full output (grown to pad_top + H where the pads
  reach past it) and a SLICE of the rows and columns after the pads (the official
  converter rejects EXPLICIT: a TF Select op);
* dilation (which TensorFlow's CPU kernel cannot run, and the official converter
  rejects) is a transposed convolution with the filter's taps spread out by zeros: a
  constant filter is rewritten so.

TFLite keeps TF's filter layout for CONV_3D_TRANSPOSE ([d, h, w, out, in]) and wants
[out, h, w, in] for TRANSPOSE_CONV.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator, Padding, TensorType
from ...schema.generated.options import Conv3DOptions, SliceOptions, TransposeConvOptions
from .context import Lowering, LoweringError
from .graph import GraphNode
from .helpers import explicit_pads, padding_mode, require_nhwc, window
from .nn import relayout

B = BuiltinOperator


def _dilated(filters: np.ndarray, dilations: list[int]) -> np.ndarray:
    """``filters`` [*window, out, in] with (d - 1) zeros between taps along each axis."""
    window_shape = [(k - 1) * d + 1 for k, d in zip(filters.shape, dilations)]
    spread = np.zeros((*window_shape, *filters.shape[len(dilations) :]), filters.dtype)
    spread[tuple(slice(None, None, d) for d in dilations)] = filters
    return spread


def _filter(ctx: Lowering, node: GraphNode, dilations: list[int]) -> np.ndarray | None:
    """The constant filter with dilation spread out; None when it is 1 (filter as is)."""
    if all(d == 1 for d in dilations):
        return None
    value = ctx.const(node.inputs[1])
    if value is None:
        raise LoweringError("dilated transposed convolution needs a constant filter")
    return _dilated(value, dilations)


def _explicit_mode(
    pads: np.ndarray, sizes: list[int], inner: list[int], kernel: list[int], strides: list[int]
) -> Padding | None:
    """SAME or VALID where TFLite's TRANSPOSE_CONV takes the same leading pads as ``pads``
    and accepts the output size (it checks that the convolution it inverts would give
    the input size back); else None."""
    lead = [int(p) for p in pads[1:3, 0]]
    excess = [max((i - 1) * s + k - n, 0) for i, s, k, n in zip(inner, strides, kernel, sizes)]
    valid = all((n - k) // s + 1 == i for n, k, s, i in zip(sizes, kernel, strides, inner))
    same = all(-(-n // s) == i for n, s, i in zip(sizes, strides, inner))
    if lead == [0, 0] and valid:
        return Padding.VALID
    if lead == [e // 2 for e in excess] and same:
        return Padding.SAME
    return None


def lower_conv2d_transpose(ctx: Lowering, node: GraphNode) -> None:
    """Conv2DBackpropInput(output_shape, filter [h, w, out, in], x) -> TRANSPOSE_CONV."""
    require_nhwc(node)
    output_shape = ctx.input(node, 0)
    if ctx.sg.tensors[output_shape].type != TensorType.INT32:
        raise LoweringError("output shape must be int32")
    sh, sw = window(node.attr("strides"), "strides")
    dilations = list(window(node.attr("dilations", [1, 1, 1, 1]), "dilations"))
    spread = _filter(ctx, node, dilations)
    if spread is None:
        filters = relayout(ctx, node, 1, [2, 0, 1, 3], "filter")
        kernel = list(ctx.ir_shape(filters)[1:3])
    else:
        filters = ctx.constant(f"{node.name}/filter", np.transpose(spread, [2, 0, 1, 3]))
        kernel = list(spread.shape[:2])
    mode = padding_mode(node)
    if mode is not None:
        out = ctx.output(node)
        inputs = [output_shape, filters, ctx.input(node, 2)]
        ctx.emit(B.TRANSPOSE_CONV, inputs, [out], TransposeConvOptions(mode, sw, sh))
        return
    _explicit(ctx, node, filters, kernel, [sh, sw])


def _explicit(ctx: Lowering, node: GraphNode, filters: int, kernel: list[int], strides) -> None:
    """EXPLICIT padding: SAME/VALID when equivalent, else TRANSPOSE_CONV VALID + SLICE."""
    pads = explicit_pads(node, 4)
    if pads[[0, 3]].any():
        raise LoweringError(f"explicit padding {pads.tolist()} on batch or channels")
    value = ctx.const(node.inputs[0])
    if value is None:
        raise LoweringError("explicit padding needs a constant output shape")
    sizes = [int(d) for d in value]
    known = ctx.shape(node.inputs[2])[1:3]
    if None in known:
        raise LoweringError("explicit padding needs known input height and width")
    inner = [int(d) for d in known]  # type: ignore[arg-type]
    sh, sw = strides
    x = ctx.input(node, 2)
    mode = _explicit_mode(pads, sizes[1:3], inner, kernel, strides)
    if mode is not None:
        out = ctx.output(node)
        ctx.emit(B.TRANSPOSE_CONV, [ctx.input(node, 0), filters, x], [out],
                 TransposeConvOptions(mode, sw, sh))  # fmt: skip
        return
    # The full output (what VALID gives), grown where the pads reach past it (zeros).
    top, left = int(pads[1, 0]), int(pads[2, 0])
    full_size = [(i - 1) * s + k for i, s, k in zip(inner, strides, kernel)]
    grown = [sizes[0], max(full_size[0], top + sizes[1]), max(full_size[1], left + sizes[2])]
    grown.append(sizes[3])
    full_shape = ctx.constant(f"{node.name}/padded_shape", grown, "int32")
    batch = ctx.shape(node.outputs[0].name)[0]
    full = ctx.temp(f"{node.name}/padded", [batch, *grown[1:]], np.float32)
    ctx.emit(B.TRANSPOSE_CONV, [full_shape, filters, x], [full],
             TransposeConvOptions(Padding.VALID, sw, sh))  # fmt: skip
    begin = ctx.constant(f"{node.name}/begin", [0, top, left, 0], "int32")
    size = ctx.constant(f"{node.name}/size", [-1, *sizes[1:]], "int32")
    ctx.emit(B.SLICE, [full, begin, size], [ctx.output(node)], SliceOptions())


def lower_conv3d_transpose(ctx: Lowering, node: GraphNode) -> None:
    """Conv3DBackpropInputV2(output_shape, filter [d, h, w, out, in], x) -> CONV_3D_TRANSPOSE."""
    require_nhwc(node)
    mode = padding_mode(node)
    if mode is None:
        raise LoweringError("EXPLICIT padding on a 3D transposed convolution")
    strides = [int(s) for s in node.attr("strides")]
    dilations = [int(s) for s in node.attr("dilations", [1] * 5)]
    if strides[0] != 1 or strides[4] != 1 or dilations[0] != 1 or dilations[4] != 1:
        raise LoweringError(f"strides {strides} / dilations {dilations} on batch or channels")
    output_shape = ctx.input(node, 0)
    if ctx.sg.tensors[output_shape].type != TensorType.INT32:
        raise LoweringError("output shape must be int32")
    spread = _filter(ctx, node, dilations[1:4])
    filters = ctx.input(node, 1) if spread is None else ctx.constant(f"{node.name}/filter", spread)
    options = Conv3DOptions(mode, strides[1], strides[3], strides[2])
    inputs = [output_shape, filters, ctx.input(node, 2), -1]
    ctx.emit(B.CONV_3D_TRANSPOSE, inputs, [ctx.output(node)], options)


LOWERINGS = {
    "Conv2DBackpropInput": lower_conv2d_transpose,
    "Conv3DBackpropInputV2": lower_conv3d_transpose,
}
