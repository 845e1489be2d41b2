"""Bias fusion: an ADD (or SUB) of a per-channel constant after conv/depthwise/dense
becomes (part of) its bias. A missing bias is created; TRANSPOSE_CONV gains its optional
bias input (version 3)."""

from __future__ import annotations

from ...schema.model import Model, Subgraph
from .affine import affine_layout, channel_vector, current_bias, set_input
from .common import B, View, add_constant, code_of, constant


def fuse_biases(model: Model, sg: Subgraph) -> int:
    """Fold ADD/SUB-of-constant into the preceding affine op's bias; returns the count."""
    view = View.of(sg)
    fused: list[int] = []
    for op in sg.operators:
        layout = affine_layout(model, sg, op)
        user = view.only_user(op.outputs[0]) if layout else None
        if layout is None or user is None or user in fused:
            continue
        add = sg.operators[user]
        code = code_of(model, add)
        # x - c folds; c - x would need negated weights.
        if code not in (B.ADD, B.SUB) or (code == B.SUB and add.inputs[0] != op.outputs[0]):
            continue
        out = sg.tensors[op.outputs[0]]
        if list(sg.tensors[add.outputs[0]].shape) != list(out.shape):
            continue
        other = add.inputs[1] if add.inputs[0] == op.outputs[0] else add.inputs[0]
        value = constant(model, sg, other)
        weights = constant(model, sg, op.inputs[layout.weights])
        channels = weights.shape[layout.channel_axis] if weights is not None else 0
        shift = channel_vector(value, channels, len(out.shape)) if value is not None else None
        bias = current_bias(model, sg, op, layout, channels)
        if shift is None or bias is None:
            continue
        new_bias = bias - shift if code == B.SUB else bias + shift
        name = f"{sg.tensors[op.outputs[0]].name}/bias"
        set_input(op, layout.bias, add_constant(model, sg, name, new_bias))
        op.builtin_options.fused_activation_function = add.builtin_options.fused_activation_function
        op.outputs[0] = add.outputs[0]
        fused.append(user)
    sg.remove_operators(fused)
    return len(fused)
