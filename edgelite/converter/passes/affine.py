"""What the folding passes need to know about conv / depthwise / fully-connected ops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...quantization.ranges import is_quantized
from ...schema.model import Model, Operator, Subgraph
from .common import ACT_NONE, B, code_of, constant, fused_activation


@dataclass(frozen=True)
class AffineLayout:
    weights: int  # input index of the filter / weights
    bias: int  # input index of the bias
    channel_axis: int  # filter axis that runs over output channels


AFFINE = {
    B.CONV_2D: AffineLayout(1, 2, 0),
    B.DEPTHWISE_CONV_2D: AffineLayout(1, 2, 3),
    B.FULLY_CONNECTED: AffineLayout(1, 2, 0),
    B.TRANSPOSE_CONV: AffineLayout(1, 3, 0),
    B.CONV_3D: AffineLayout(1, 2, 4),
}


def affine_layout(model: Model, sg: Subgraph, op: Operator) -> AffineLayout | None:
    """The layout of a float affine op with constant weights and no activation yet."""
    layout = AFFINE.get(code_of(model, op))  # type: ignore[call-overload]
    if layout is None or fused_activation(op) != ACT_NONE:
        return None
    out = sg.tensors[op.outputs[0]]
    if out.type != 0 or is_quantized(out):  # FLOAT32 only
        return None
    if constant(model, sg, op.inputs[layout.weights]) is None:
        return None
    if code_of(model, op) == B.FULLY_CONNECTED and op.builtin_options.weights_format:
        return None
    return layout


def channel_vector(value: np.ndarray, channels: int, out_rank: int) -> np.ndarray | None:
    """A constant that broadcasts only along the last (channel) axis, as a [channels] vector."""
    if value.ndim > out_rank or value.dtype != np.float32:
        return None
    if value.size == 1:
        return np.full(channels, value.reshape(()), np.float32)
    if value.shape[-1] == channels and value.size == channels:
        return value.reshape(channels).astype(np.float32)
    return None


def current_bias(model: Model, sg: Subgraph, op: Operator, layout: AffineLayout, channels: int):
    """The op's bias as a float vector (zeros when it has none); None if not constant."""
    index = op.inputs[layout.bias] if layout.bias < len(op.inputs) else -1
    if index < 0:
        return np.zeros(channels, np.float32)
    value = constant(model, sg, index)
    return None if value is None else value.reshape(-1).astype(np.float32)


def set_input(op: Operator, position: int, tensor: int) -> None:
    while len(op.inputs) <= position:
        op.inputs.append(-1)
    op.inputs[position] = tensor
