"""Identity removal: operators that hand their input through unchanged disappear.

Caught here: RESHAPE/SQUEEZE/EXPAND_DIMS to the same shape, TRANSPOSE by the identity
permutation, CAST to the same type, ADD/SUB of zeros and MUL/DIV by ones (when the
constant neither broadcasts the result to a bigger shape nor carries an activation),
and single-input CONCATENATION / PACK-free copies.
"""

from __future__ import annotations

import numpy as np

from ...quantization.ranges import is_quantized
from ...schema.model import Model, Operator, Subgraph
from .common import ACT_NONE, B, View, code_of, constant, replace_output, same_shape

_SHAPE_OPS = (B.RESHAPE, B.SQUEEZE, B.EXPAND_DIMS)
_NEUTRAL: dict[int, float] = {B.ADD: 0.0, B.SUB: 0.0, B.MUL: 1.0, B.DIV: 1.0}


def _passed_through(model: Model, sg: Subgraph, op: Operator) -> int | None:
    """The input ``op`` merely copies to its output, or None."""
    code = code_of(model, op)
    out = sg.tensors[op.outputs[0]] if len(op.outputs) == 1 else None
    if out is None or not op.inputs or op.inputs[0] < 0:
        return None
    first = sg.tensors[op.inputs[0]]
    if code in _SHAPE_OPS or code == B.CAST:
        return op.inputs[0] if same_shape(first, out) and first.type == out.type else None
    if code == B.TRANSPOSE:
        perm = constant(model, sg, op.inputs[1])
        identity = perm is not None and list(perm.reshape(-1)) == list(range(perm.size))
        return op.inputs[0] if identity else None
    if code == B.CONCATENATION and len(op.inputs) == 1:
        return (
            op.inputs[0]
            if getattr(op.builtin_options, "fused_activation_function", 0) == ACT_NONE
            else None
        )
    if (
        code in _NEUTRAL
        and getattr(op.builtin_options, "fused_activation_function", ACT_NONE) == ACT_NONE
    ):
        return _neutral_operand(model, sg, op, code, out)
    return None


def _neutral_operand(model: Model, sg: Subgraph, op: Operator, code: int, out) -> int | None:
    """For x (op) c with c all zeros/ones: x, if the result has x's shape and type."""
    neutral = _NEUTRAL[code]
    positions = (1,) if code in (B.SUB, B.DIV) else (1, 0)
    for pos in positions:
        value = constant(model, sg, op.inputs[pos])
        other = op.inputs[1 - pos]
        if value is None or other < 0 or not np.all(value == neutral):
            continue
        kept = sg.tensors[other]
        if (
            same_shape(kept, out)
            and kept.type == out.type
            and not is_quantized(sg.tensors[op.inputs[pos]])
        ):
            return other
    return None


def remove_identities(model: Model, sg: Subgraph) -> int:
    """Bypass every pass-through operator; returns how many were removed."""
    view = View.of(sg)
    removed: list[int] = []
    for op_index, op in enumerate(sg.operators):
        source = _passed_through(model, sg, op)
        if source is None:
            continue
        result = op.outputs[0]
        if sg.tensors[result].is_variable:
            continue  # writing a variable is the point (a state reset), not a copy
        # A subgraph output must stay written by an operator of its own.
        if result in view.outputs and (
            source in sg.inputs or source in view.outputs or constant(model, sg, source) is not None
        ):
            continue
        replace_output(sg, result, source)
        view.outputs = set(sg.outputs)
        removed.append(op_index)
    sg.remove_operators(removed)
    return len(removed)
