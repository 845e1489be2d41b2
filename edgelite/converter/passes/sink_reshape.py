"""Sink reshapes below per-channel ops, so the ops can fuse into what comes before.

Conv1D lowers to reshape -> CONV_2D -> reshape, and the bias add and activation come
after the second reshape, where they cannot fuse into the conv. A reshape that keeps
the last (channel) dimension commutes with an activation and with adding or
multiplying a per-channel constant, so the op moves above it:

    conv -> reshape -> add(c) -> relu   becomes   conv -> add(c) -> relu -> reshape

and the bias / activation fusion passes finish the job.
"""

from __future__ import annotations

import numpy as np

from ...quantization.ranges import carry_range
from ...schema.model import Model, Operator, Subgraph
from .affine import AFFINE
from .common import ACT_NONE, B, View, add_constant, code_of, constant
from .fuse_activation import ACTIVATIONS

_RESHAPES = (B.RESHAPE, B.SQUEEZE, B.EXPAND_DIMS)
_ARITHMETIC = (B.ADD, B.SUB, B.MUL)


def _channel_constant(model: Model, sg: Subgraph, op: Operator, through: int) -> int | None:
    """Position of a per-channel (or scalar) constant operand of ``op``, else None."""
    if code_of(model, op) not in _ARITHMETIC or len(op.inputs) != 2:
        return None
    position = 1 if op.inputs[0] == through else 0
    if code_of(model, op) == B.SUB and position == 0:
        return None
    value = constant(model, sg, op.inputs[position])
    channels = sg.tensors[through].shape[-1] if sg.tensors[through].shape else 0
    if value is None or (value.size != 1 and value.size != channels):
        return None
    if value.size == channels and value.shape[-1] != channels:
        return None
    return position


def _movable(model: Model, sg: Subgraph, view: View, reshape: Operator):
    """The op after ``reshape`` that may move above it, and its constant's position."""
    source, result = reshape.inputs[0], reshape.outputs[0]
    producer = view.producer.get(source)
    user = view.only_user(result)
    if producer is None or user is None or view.only_user(source) is None:
        return None
    made_by = sg.operators[producer]
    if code_of(model, made_by) not in AFFINE and code_of(model, made_by) not in _ARITHMETIC:
        return None
    if getattr(made_by.builtin_options, "fused_activation_function", None) != ACT_NONE:
        return None
    x, y = sg.tensors[source], sg.tensors[result]
    if not x.shape or not y.shape or x.shape[-1] != y.shape[-1] or x.type != 0:
        return None
    op = sg.operators[user]
    if code_of(model, op) in ACTIVATIONS:
        return user, None
    position = _channel_constant(model, sg, op, result)
    if position is None or code_of(model, made_by) not in AFFINE:
        return None
    return user, position


def sink_reshapes(model: Model, sg: Subgraph) -> int:
    """Move per-channel ops above channel-preserving reshapes; returns how many moved."""
    view = View.of(sg)
    moved = 0
    touched: set[int] = set()
    for index, reshape in enumerate(sg.operators):
        if code_of(model, reshape) not in _RESHAPES or index in touched:
            continue
        found = _movable(model, sg, view, reshape)
        if found is None or found[0] in touched:
            continue
        user, position = found
        op = sg.operators[user]
        source, result, final = reshape.inputs[0], reshape.outputs[0], op.outputs[0]
        before = sg.tensors[source]
        staged = sg.add_tensor(
            type(before)(
                name=f"{sg.tensors[final].name}/before_reshape",
                shape=list(before.shape),
                type=before.type,
                shape_signature=before.shape_signature,
                has_rank=True,
            )
        )
        carry_range(sg.tensors[final], sg.tensors[staged])  # same values, other shape
        if position is not None:
            value = constant(model, sg, op.inputs[position])
            assert value is not None  # checked by _channel_constant
            flat = value.reshape(()) if value.size == 1 else value.reshape(-1)
            op.inputs[position] = add_constant(
                model, sg, f"{sg.tensors[final].name}/c", np.asarray(flat)
            )
        op.inputs = [source if t == result else t for t in op.inputs]
        op.outputs[0] = staged
        reshape.inputs[0], reshape.outputs[0] = staged, final
        sg.operators[index], sg.operators[user] = op, reshape  # keep execution order valid
        touched.update((index, user))
        moved += 1
    return moved
