"""Lowering of the neural-network ops: convolutions, pooling, bias, batch norm, matmul.

TensorFlow keeps conv filters as [h, w, in, out]; TFLite wants [out, h, w, in] (and
[1, h, w, in*multiplier] for depthwise). The re-layout is emitted as a TRANSPOSE or
RESHAPE of the constant filter, which the context folds on the spot.
"""

from __future__ import annotations

import numpy as np

from ...quantization.ranges import carry_range
from ...schema.generated.enums import BuiltinOperator, Padding
from ...schema.generated.options import (
    BatchMatMulOptions,
    Conv2DOptions,
    Conv3DOptions,
    DepthwiseConv2DOptions,
    FullyConnectedOptions,
    Pool2DOptions,
    SoftmaxOptions,
)
from .context import Lowering, LoweringError
from .graph import GraphNode
from .helpers import explicit_pads, padding_mode, require_nhwc, same_padding, window

B = BuiltinOperator


def relayout(ctx: Lowering, node: GraphNode, i: int, perm: list[int], what: str) -> int:
    """Input ``i`` transposed by ``perm`` (folded when it is a constant)."""
    source = ctx.input(node, i)
    shape = ctx.ir_shape(source)
    out = ctx.temp(f"{node.name}/{what}", [shape[p] for p in perm], ctx.sg.tensors[source].dtype)
    ctx.emit(B.TRANSPOSE, [source, ctx.constant(f"{node.name}/{what}_perm", perm, "int32")], [out])
    return out


def _filter_shape(ctx: Lowering, node: GraphNode) -> list[int]:
    shape = ctx.shape(node.inputs[1])
    if len(shape) != 4 or None in shape:
        raise LoweringError(f"filter shape {list(shape)} (needs 4 known sizes)")
    return [int(d) for d in shape]  # type: ignore[arg-type]


def _zero_bias(ctx: Lowering, node: GraphNode, channels: int) -> int:
    """TFLite's conv kernels require a bias tensor: give them zeros when the source has none."""
    return ctx.constant(f"{node.name}/bias", np.zeros(channels, np.float32))


def _spatial_padding(
    ctx: Lowering, node: GraphNode, x: int, kernel: list[int]
) -> tuple[int, Padding]:
    """Resolve EXPLICIT padding: SAME or VALID when it is one of them, else a PAD op + VALID."""
    mode = padding_mode(node)
    if mode is not None:
        return x, mode
    pads = explicit_pads(node, 4)
    shape = ctx.ir_shape(x)
    strides = window(node.attr("strides"), "strides")
    dilations = window(node.attr("dilations", [1, 1, 1, 1]), "dilations")
    same = [same_padding(shape[1 + a], kernel[a], strides[a], dilations[a]) for a in range(2)]
    if not pads.any():
        return x, Padding.VALID
    if not pads[[0, 3]].any() and [tuple(p) for p in pads[1:3]] == same:
        return x, Padding.SAME
    padded_shape = [s + int(p.sum()) for s, p in zip(ctx.ir_signature(x), pads)]
    padded = ctx.temp(f"{node.name}/pad", padded_shape, ctx.sg.tensors[x].dtype)
    ctx.emit(B.PAD, [x, ctx.constant(f"{node.name}/paddings", pads, "int32")], [padded])
    return padded, Padding.VALID


def lower_conv2d(ctx: Lowering, node: GraphNode) -> None:
    require_nhwc(node)
    kh, kw, _, out_channels = _filter_shape(ctx, node)
    x, padding = _spatial_padding(ctx, node, ctx.input(node, 0), [kh, kw])
    filters = relayout(ctx, node, 1, [3, 0, 1, 2], "filter")
    sh, sw = window(node.attr("strides"), "strides")
    dh, dw = window(node.attr("dilations", [1, 1, 1, 1]), "dilations")
    options = Conv2DOptions(padding, sw, sh, dilation_w_factor=dw, dilation_h_factor=dh)
    bias = _zero_bias(ctx, node, out_channels)
    ctx.emit(B.CONV_2D, [x, filters, bias], [ctx.output(node)], options)


def lower_depthwise(ctx: Lowering, node: GraphNode) -> None:
    require_nhwc(node)
    kh, kw, channels, multiplier = _filter_shape(ctx, node)
    x, padding = _spatial_padding(ctx, node, ctx.input(node, 0), [kh, kw])
    source = ctx.input(node, 1)
    filters = ctx.temp(f"{node.name}/filter", [1, kh, kw, channels * multiplier], np.float32)
    shape = ctx.constant(f"{node.name}/filter_shape", [1, kh, kw, channels * multiplier], "int32")
    ctx.emit(B.RESHAPE, [source, shape], [filters])
    sh, sw = window(node.attr("strides"), "strides")
    dh, dw = window(node.attr("dilations", [1, 1, 1, 1]), "dilations")
    options = DepthwiseConv2DOptions(
        padding, sw, sh, multiplier, dilation_w_factor=dw, dilation_h_factor=dh
    )
    bias = _zero_bias(ctx, node, channels * multiplier)
    ctx.emit(B.DEPTHWISE_CONV_2D, [x, filters, bias], [ctx.output(node)], options)


def lower_conv3d(ctx: Lowering, node: GraphNode) -> None:
    """Conv3D keeps TF's filter layout [d, h, w, in, out] in TFLite's CONV_3D."""
    require_nhwc(node)
    mode = padding_mode(node)
    if mode is None:
        raise LoweringError("EXPLICIT padding on Conv3D")
    strides = [int(s) for s in node.attr("strides")]
    dilations = [int(s) for s in node.attr("dilations", [1] * 5)]
    if strides[0] != 1 or strides[4] != 1 or dilations[0] != 1 or dilations[4] != 1:
        raise LoweringError(f"strides {strides} / dilations {dilations} on batch or channels")
    options = Conv3DOptions(
        mode,
        strides[1],
        strides[3],
        strides[2],
        dilation_d_factor=dilations[1],
        dilation_w_factor=dilations[3],
        dilation_h_factor=dilations[2],
    )
    ctx.emit(B.CONV_3D, [ctx.input(node, 0), ctx.input(node, 1), -1], [ctx.output(node)], options)


def _pool(code: BuiltinOperator):
    def lower(ctx: Lowering, node: GraphNode) -> None:
        require_nhwc(node)
        mode = padding_mode(node)
        if mode is None:
            raise LoweringError("EXPLICIT padding on pooling")
        kh, kw = window(node.attr("ksize"), "ksize")
        sh, sw = window(node.attr("strides"), "strides")
        ctx.unary(code, node, Pool2DOptions(mode, sw, sh, kw, kh))

    return lower


def lower_bias_add(ctx: Lowering, node: GraphNode) -> None:
    require_nhwc(node)
    out = ctx.output(node)
    ctx.emit(B.ADD, [ctx.input(node, 0), ctx.input(node, 1)], [out])


def lower_fused_batch_norm(ctx: Lowering, node: GraphNode) -> None:
    """Inference batch norm: x * a + b with a = scale / sqrt(var + eps), b = offset - mean * a."""
    require_nhwc(node)
    if node.attr("is_training", False):
        raise LoweringError("batch norm in training mode (call the model with training=False)")
    scale, offset, mean, variance = (
        ctx.need_const(node, i, name).astype(np.float32)
        for i, name in ((1, "scale"), (2, "offset"), (3, "mean"), (4, "variance"))
    )
    epsilon = np.float32(node.attr("epsilon", 1e-3))
    a = (scale / np.sqrt(variance + epsilon)).astype(np.float32)
    b = (offset - mean * a).astype(np.float32)
    shape = ctx.shape(node.outputs[0].name)
    scaled = ctx.temp(f"{node.name}/scaled", shape, np.float32)
    ctx.emit(B.MUL, [ctx.input(node, 0), ctx.constant(f"{node.name}/multiplier", a)], [scaled])
    ctx.emit(B.ADD, [scaled, ctx.constant(f"{node.name}/offset", b)], [ctx.output(node)])


def _fully_connected(
    ctx: Lowering, node: GraphNode, weights: np.ndarray, keep_dims: bool, transposed: bool
) -> None:
    """FULLY_CONNECTED with ``weights`` already [out, in] (``transposed`` from the source's)."""
    w = ctx.constant(f"{node.name}/weights", np.asarray(weights, order="C"))
    source = ctx.values.get(node.inputs[1])
    if source is not None:  # a fake-quantized weight: its range goes along
        carry_range(ctx.sg.tensors[source], ctx.sg.tensors[w], [1, 0] if transposed else None)
    options = FullyConnectedOptions(keep_num_dims=keep_dims)
    ctx.emit(B.FULLY_CONNECTED, [ctx.input(node, 0), w, -1], [ctx.output(node)], options)


def lower_matmul(ctx: Lowering, node: GraphNode) -> None:
    adj_x = bool(node.attr("transpose_a", False) or node.attr("adj_x", False))
    adj_y = bool(node.attr("transpose_b", False) or node.attr("adj_y", False))
    weights = ctx.const(node.inputs[1])
    x_rank = len(ctx.shape(node.inputs[0]))
    if weights is not None and weights.ndim == 2 and not adj_x and x_rank >= 2:
        matrix = weights if adj_y else weights.T
        _fully_connected(ctx, node, matrix, keep_dims=x_rank > 2, transposed=not adj_y)
        return
    out = ctx.output(node)
    ctx.emit(
        B.BATCH_MATMUL,
        [ctx.input(node, 0), ctx.input(node, 1)],
        [out],
        BatchMatMulOptions(adj_x, adj_y),
    )


def lower_softmax(ctx: Lowering, node: GraphNode) -> None:
    ctx.unary(B.SOFTMAX, node, SoftmaxOptions(beta=1.0))


def lower_log_softmax(ctx: Lowering, node: GraphNode) -> None:
    ctx.unary(B.LOG_SOFTMAX, node)


LOWERINGS = {
    "Conv2D": lower_conv2d,
    "DepthwiseConv2dNative": lower_depthwise,
    "Conv3D": lower_conv3d,
    "MaxPool": _pool(B.MAX_POOL_2D),
    "AvgPool": _pool(B.AVERAGE_POOL_2D),
    "BiasAdd": lower_bias_add,
    "FusedBatchNorm": lower_fused_batch_norm,
    "FusedBatchNormV2": lower_fused_batch_norm,
    "FusedBatchNormV3": lower_fused_batch_norm,
    "MatMul": lower_matmul,
    "BatchMatMul": lower_matmul,
    "BatchMatMulV2": lower_matmul,
    "BatchMatMulV3": lower_matmul,
    "Softmax": lower_softmax,
    "LogSoftmax": lower_log_softmax,
}
