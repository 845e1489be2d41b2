"""Dense layers on rank > 2 inputs: RESHAPE -> FULLY_CONNECTED -> RESHAPE back becomes one
FULLY_CONNECTED with ``keep_num_dims`` (the way TensorFlow's Tensordot writes Dense)."""

from __future__ import annotations

from ...schema.model import Model, Subgraph
from .common import B, View, code_of


def _signature(t) -> list[int]:
    return list(t.shape_signature) if t.shape_signature is not None else list(t.shape)


def fold_fc_reshapes(model: Model, sg: Subgraph) -> int:
    """Fold the reshapes around fully-connected ops; returns how many ops were folded."""
    view = View.of(sg)
    folded = 0
    dropped: list[int] = []
    for op in sg.operators:
        if code_of(model, op) != B.FULLY_CONNECTED or op.builtin_options.keep_num_dims:
            continue
        before = view.producer.get(op.inputs[0])
        after = view.only_user(op.outputs[0])
        if before is None or after is None or view.only_user(op.inputs[0]) is None:
            continue
        first, last = sg.operators[before], sg.operators[after]
        if code_of(model, first) != B.RESHAPE or code_of(model, last) != B.RESHAPE:
            continue
        x = sg.tensors[first.inputs[0]]
        result = sg.tensors[last.outputs[0]]
        weights = sg.tensors[op.inputs[1]]
        units = weights.shape[0]
        x_sig, out_sig = _signature(x), _signature(result)
        if len(x_sig) < 3 or x_sig[-1] != weights.shape[1] or out_sig != [*x_sig[:-1], units]:
            continue
        op.inputs[0] = first.inputs[0]
        op.outputs[0] = last.outputs[0]
        op.builtin_options.keep_num_dims = True
        dropped += [before, after]  # both reshapes go
        folded += 1
    # Only those: ops without outputs (ASSIGN_VARIABLE, CALL_ONCE) are not dead.
    sg.remove_operators(sorted(set(dropped)))
    return folded
