"""Common-subexpression elimination: identical constants and identical operators merge.

Two constant tensors with the same type, shape and bytes become one tensor; then two
operators with the same op code, inputs, options and custom options compute the same
thing, and the later one's readers switch to the earlier one's outputs.
"""

from __future__ import annotations

import hashlib

from ...schema.model import Model, Subgraph
from .common import code_of, replace_output
from .constant_folding import NOT_FOLDABLE


def _merge_constants(model: Model, sg: Subgraph) -> int:
    first: dict[tuple, int] = {}
    merged = 0
    for index, tensor in enumerate(sg.tensors):
        if (
            tensor.buffer == 0
            or tensor.is_variable
            or tensor.quantization is not None
            or tensor.sparsity
        ):
            continue
        data = model.buffers[tensor.buffer].data
        digest = hashlib.sha256(b"" if data is None else data.tobytes()).digest()
        key = (int(tensor.type), tuple(tensor.shape), digest)
        keeper = first.setdefault(key, index)
        if keeper != index and index not in sg.outputs:
            sg.replace_tensor_uses(index, keeper)
            merged += 1
    return merged


def _op_key(model: Model, sg: Subgraph, op_index: int) -> tuple | None:
    op = sg.operators[op_index]
    if code_of(model, op) in NOT_FOLDABLE or op.intermediates:
        return None
    return (
        op.opcode_index,
        tuple(op.inputs),
        repr(op.builtin_options),
        repr(op.builtin_options_2),
        op.custom_options,
        tuple((tuple(sg.tensors[t].shape), int(sg.tensors[t].type)) for t in op.outputs),
    )


def eliminate_common_subexpressions(model: Model, sg: Subgraph) -> int:
    """Merge duplicate constants and operators; returns how many were merged."""
    merged = _merge_constants(model, sg)
    seen: dict[tuple, int] = {}
    duplicates: list[int] = []
    for op_index, op in enumerate(sg.operators):
        key = _op_key(model, sg, op_index)
        if key is None:
            continue
        if key not in seen:
            seen[key] = op_index
            continue
        original = sg.operators[seen[key]]
        if any(t in sg.outputs for t in op.outputs):
            continue
        for old, new in zip(op.outputs, original.outputs):
            replace_output(sg, old, new)
        duplicates.append(op_index)
    sg.remove_operators(duplicates)
    return merged + len(duplicates)
