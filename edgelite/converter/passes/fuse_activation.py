"""Fused activations: RELU / RELU6 / RELU_N1_TO_1 after an op that can clamp its own
output become that op's ``fused_activation_function``.

TANH and SIGN_BIT are never fused: the official float kernels of these ops ignore
them (ADD, MUL, CONV_2D clamp only for the RELU family) or refuse them
(FULLY_CONNECTED, CONCATENATION), so fusing would silently change results.
"""

from __future__ import annotations

from ...quantization.ranges import is_quantized
from ...schema.generated.enums import ActivationFunctionType
from ...schema.model import Model, Subgraph
from .common import ACT_NONE, B, View, code_of

A = ActivationFunctionType
ACTIVATIONS = {B.RELU: A.RELU, B.RELU6: A.RELU6, B.RELU_N1_TO_1: A.RELU_N1_TO_1}
# Ops whose float kernels apply a fused RELU-family clamp.
CLAMPING = frozenset(
    {
        B.CONV_2D,
        B.DEPTHWISE_CONV_2D,
        B.FULLY_CONNECTED,
        B.TRANSPOSE_CONV,
        B.CONV_3D,
        B.ADD,
        B.SUB,
        B.MUL,
        B.DIV,
        B.MAX_POOL_2D,
        B.AVERAGE_POOL_2D,
        B.L2_POOL_2D,
    }
)


def fuse_activations(model: Model, sg: Subgraph) -> int:
    """Fold activation ops into their producer; returns how many were fused."""
    view = View.of(sg)
    fused: list[int] = []
    for op in sg.operators:
        if code_of(model, op) not in CLAMPING or len(op.outputs) != 1:
            continue
        options = op.builtin_options
        if options is None or getattr(options, "fused_activation_function", None) != ACT_NONE:
            continue
        out = sg.tensors[op.outputs[0]]
        if out.type != 0 or is_quantized(out):  # float32 only
            continue
        user = view.only_user(op.outputs[0])
        act = sg.operators[user] if user is not None and user not in fused else None
        if act is None or code_of(model, act) not in ACTIVATIONS:
            continue
        options.fused_activation_function = ACTIVATIONS[code_of(model, act)]  # type: ignore[index]
        op.outputs[0] = act.outputs[0]
        fused.append(user)  # type: ignore[arg-type]
    sg.remove_operators(fused)
    return len(fused)
