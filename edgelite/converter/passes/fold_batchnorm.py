"""BatchNorm folding: a per-channel MUL after conv/depthwise/dense goes into its weights.

Inference batch norm lowers to x * a + b. The multiply scales each output channel, so
conv(x, w) * a == conv(x, w * a) with the bias scaled too; the add is then taken by the
bias fusion pass. The MUL's fused activation moves to the affine op.
"""

from __future__ import annotations

from ...schema.model import Model, Subgraph
from .affine import affine_layout, channel_vector, current_bias, set_input
from .common import B, View, add_constant, code_of, constant


def fold_multiplications(model: Model, sg: Subgraph) -> int:
    """Fold MUL-by-constant into the preceding affine op; returns how many were folded."""
    view = View.of(sg)
    folded: list[int] = []
    for op in sg.operators:
        layout = affine_layout(model, sg, op)
        user = view.only_user(op.outputs[0]) if layout else None
        if layout is None or user is None or user in folded:
            continue
        mul = sg.operators[user]
        if code_of(model, mul) != B.MUL:
            continue
        out = sg.tensors[op.outputs[0]]
        if list(sg.tensors[mul.outputs[0]].shape) != list(out.shape):
            continue
        other = mul.inputs[1] if mul.inputs[0] == op.outputs[0] else mul.inputs[0]
        value = constant(model, sg, other)
        weights = constant(model, sg, op.inputs[layout.weights])
        channels = weights.shape[layout.channel_axis] if weights is not None else 0
        scale = channel_vector(value, channels, len(out.shape)) if value is not None else None
        bias = current_bias(model, sg, op, layout, channels)
        if scale is None or weights is None or bias is None:
            continue
        shape = [1] * weights.ndim
        shape[layout.channel_axis] = channels
        name = sg.tensors[op.inputs[layout.weights]].name
        op.inputs[layout.weights] = add_constant(model, sg, name, weights * scale.reshape(shape))
        if layout.bias < len(op.inputs) and op.inputs[layout.bias] >= 0:
            set_input(op, layout.bias, add_constant(model, sg, f"{name}/bias", bias * scale))
        op.builtin_options.fused_activation_function = mul.builtin_options.fused_activation_function
        op.outputs[0] = mul.outputs[0]
        folded.append(user)
    sg.remove_operators(folded)
    return len(folded)
