"""Transpose and reshape chain simplification.

* RESHAPE of a RESHAPE/SQUEEZE/EXPAND_DIMS reads the first one's input directly.
* TRANSPOSE of a TRANSPOSE becomes one TRANSPOSE by the composed permutation.
* A TRANSPOSE that only moves size-1 dimensions (the order of the others is kept)
  is a RESHAPE.

The bypassed producers are left for dead-code elimination; identity removal then drops
any resulting no-op.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ...schema.model import Model, Operator, Subgraph
from .common import B, View, add_constant, code_of, constant

_SHAPE_OPS = (B.RESHAPE, B.SQUEEZE, B.EXPAND_DIMS)


def _target_shape(sg: Subgraph, op: Operator) -> list[int]:
    """A RESHAPE target for ``op``'s output: its signature (-1 at most once)."""
    out = sg.tensors[op.outputs[0]]
    return list(out.shape_signature) if out.shape_signature is not None else list(out.shape)


def _producer(model: Model, sg: Subgraph, view: View, tensor: int, codes) -> Operator | None:
    index = view.producer.get(tensor)
    if index is None:
        return None
    op = sg.operators[index]
    return op if code_of(model, op) in codes else None


def _reshape_of_reshape(model: Model, sg: Subgraph, view: View, op: Operator) -> bool:
    first = _producer(model, sg, view, op.inputs[0], _SHAPE_OPS)
    target = _target_shape(sg, op)
    if first is None or target.count(-1) > 1:
        return False
    op.inputs = [
        first.inputs[0],
        add_constant(
            model, sg, f"{sg.tensors[op.outputs[0]].name}/shape", np.asarray(target, np.int32)
        ),
    ]
    return True


def _transpose_of_transpose(model: Model, sg: Subgraph, view: View, op: Operator) -> bool:
    first = _producer(model, sg, view, op.inputs[0], (B.TRANSPOSE,))
    outer = constant(model, sg, op.inputs[1])
    inner = constant(model, sg, first.inputs[1]) if first is not None else None
    if first is None or outer is None or inner is None:
        return False
    composed = inner.reshape(-1)[outer.reshape(-1)].astype(np.int32)
    name = f"{sg.tensors[op.outputs[0]].name}/perm"
    op.inputs = [first.inputs[0], add_constant(model, sg, name, composed)]
    return True


def _trivial_transpose(model: Model, sg: Subgraph, op: Operator) -> bool:
    """TRANSPOSE -> RESHAPE when only size-1 dimensions move."""
    perm = constant(model, sg, op.inputs[1])
    x = sg.tensors[op.inputs[0]]
    if perm is None:
        return False
    dims = list(x.shape_signature) if x.shape_signature is not None else list(x.shape)
    moved = [int(p) for p in perm.reshape(-1) if dims[int(p)] != 1]
    target = _target_shape(sg, op)
    if moved != sorted(moved) or target.count(-1) > 1:
        return False
    op.opcode_index = model.opcode_index(BuiltinOperator.RESHAPE)
    op.builtin_options = None
    name = f"{sg.tensors[op.outputs[0]].name}/shape"
    op.inputs = [op.inputs[0], add_constant(model, sg, name, np.asarray(target, np.int32))]
    return True


def simplify_chains(model: Model, sg: Subgraph) -> int:
    """Shorten reshape/transpose chains; returns how many operators were rewritten."""
    view = View.of(sg)
    changed = 0
    for op in sg.operators:
        code = code_of(model, op)
        if code == B.RESHAPE:
            changed += _reshape_of_reshape(model, sg, view, op)
        elif code == B.TRANSPOSE:
            changed += _transpose_of_transpose(model, sg, view, op) or _trivial_transpose(
                model, sg, op
            )
    return changed
