"""Hard-swish recognition: x * relu6(x + 3) / 6 becomes one HARD_SWISH.

Keras writes hard_swish (MobileNetV3) as ADD(x, 3) with a fused RELU6 (after the
activation fusion pass), then a division by 6 (or a multiplication by 1/6) and a
multiplication by x, in either operand order.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import ActivationFunctionType, BuiltinOperator
from ...schema.model import Model, Operator, Subgraph
from .common import B, View, code_of, constant, fused_activation


def _is_value(model: Model, sg: Subgraph, tensor: int, wanted: float) -> bool:
    value = constant(model, sg, tensor)
    return value is not None and value.size == 1 and bool(np.isclose(value.reshape(()), wanted))


def _relu6_of_x_plus_3(model: Model, sg: Subgraph, view: View, tensor: int) -> int | None:
    """x when ``tensor`` is ADD(x, 3) with a fused RELU6."""
    producer = view.producer.get(tensor)
    op = sg.operators[producer] if producer is not None else None
    if op is None or code_of(model, op) != B.ADD:
        return None
    if op.builtin_options.fused_activation_function != ActivationFunctionType.RELU6:
        return None
    for pos in (0, 1):
        if _is_value(model, sg, op.inputs[1 - pos], 3.0):
            return op.inputs[pos]
    return None


def _sixth(model: Model, sg: Subgraph, view: View, tensor: int) -> int | None:
    """r when ``tensor`` is r / 6 or r * (1/6), with no fused activation."""
    producer = view.producer.get(tensor)
    op = sg.operators[producer] if producer is not None else None
    if op is None or op.builtin_options is None or fused_activation(op):
        return None
    if code_of(model, op) == B.DIV and _is_value(model, sg, op.inputs[1], 6.0):
        return op.inputs[0]
    if code_of(model, op) == B.MUL:
        for pos in (0, 1):
            if _is_value(model, sg, op.inputs[1 - pos], 1.0 / 6.0):
                return op.inputs[pos]
    return None


def _hard_swish_input(model: Model, sg: Subgraph, view: View, op: Operator) -> int | None:
    if code_of(model, op) != B.MUL or op.builtin_options.fused_activation_function:
        return None
    for pos in (0, 1):
        x, other = op.inputs[pos], op.inputs[1 - pos]
        gate = _sixth(model, sg, view, other)
        if gate is not None and _relu6_of_x_plus_3(model, sg, view, gate) == x:
            return x
    return None


def recognize_hard_swish(model: Model, sg: Subgraph) -> int:
    """Rewrite each hard-swish pattern as HARD_SWISH; returns how many were found."""
    view = View.of(sg)
    found = 0
    for op in sg.operators:
        x = _hard_swish_input(model, sg, view, op)
        if x is None or sg.tensors[x].shape != sg.tensors[op.outputs[0]].shape:
            continue
        op.opcode_index = model.opcode_index(BuiltinOperator.HARD_SWISH)
        op.inputs, op.builtin_options = [x], None
        found += 1
    return found
