"""Graph editing on the IR: producers, consumers, ordering, removal with index fix-up.

These are what converter passes and the quantizer build on. Indices are positions
in ``Subgraph.tensors`` / ``Subgraph.operators``; removing entries renumbers the
rest, and every reference (operator inputs/outputs/intermediates, subgraph
inputs/outputs) is rewritten accordingly.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import TYPE_CHECKING

from ..errors import ModelError

if TYPE_CHECKING:
    from .model import Buffer, Model, Subgraph, Tensor


def producers(sg: Subgraph) -> dict[int, int]:
    """Map tensor index -> index of the operator that writes it."""
    out: dict[int, int] = {}
    for op_index, op in enumerate(sg.operators):
        for t in op.outputs:
            if t >= 0:
                out[t] = op_index
    return out


def consumers(sg: Subgraph) -> dict[int, list[int]]:
    """Map tensor index -> indices of the operators that read it (each once, in order)."""
    out: dict[int, list[int]] = defaultdict(list)
    for op_index, op in enumerate(sg.operators):
        for t in dict.fromkeys(op.inputs):
            if t >= 0:
                out[t].append(op_index)
    return out


def topological_order(sg: Subgraph) -> list[int]:
    """Operator indices so every producer comes before its consumers.

    Kahn's algorithm, taking the lowest ready index first so an already valid
    order comes back unchanged. A cycle raises ModelError.
    """
    import heapq

    made_by = producers(sg)
    waiting_on = [0] * len(sg.operators)
    dependents: dict[int, list[int]] = defaultdict(list)
    for op_index, op in enumerate(sg.operators):
        for t in set(op.inputs):
            src = made_by.get(t)
            if src is not None and src != op_index:
                waiting_on[op_index] += 1
                dependents[src].append(op_index)
    ready = [i for i, n in enumerate(waiting_on) if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        op_index = heapq.heappop(ready)
        order.append(op_index)
        for nxt in dependents[op_index]:
            waiting_on[nxt] -= 1
            if waiting_on[nxt] == 0:
                heapq.heappush(ready, nxt)
    if len(order) != len(sg.operators):
        stuck = [i for i, n in enumerate(waiting_on) if n > 0]
        raise ModelError(f"subgraph {sg.name!r}: operators {stuck[:10]} form a cycle")
    return order


def remove_operators(sg: Subgraph, indices: list[int]) -> None:
    """Delete operators by index (their tensors stay; see remove_unused_tensors)."""
    doomed = set(indices)
    sg.operators = [op for i, op in enumerate(sg.operators) if i not in doomed]


def replace_tensor_uses(sg: Subgraph, old: int, new: int) -> None:
    """Make every reader of tensor ``old`` (and the subgraph outputs) read ``new``."""
    for op in sg.operators:
        op.inputs = [new if t == old else t for t in op.inputs]
    sg.outputs = [new if t == old else t for t in sg.outputs]


def remove_tensors(sg: Subgraph, indices: list[int]) -> None:
    """Delete tensors by index and renumber every reference to the rest.

    Raises ModelError if a removed tensor is still referenced.
    """
    doomed = set(indices)
    used = _referenced(sg)
    still_used = sorted(doomed & used)
    if still_used:
        raise ModelError(f"cannot remove tensors {still_used[:10]}: still referenced")
    new_index: dict[int, int] = {}
    kept: list[Tensor] = []
    for i, tensor in enumerate(sg.tensors):
        if i not in doomed:
            new_index[i] = len(kept)
            kept.append(tensor)
    sg.tensors = kept

    def renumber(refs: list[int]) -> list[int]:
        return [new_index[t] if t >= 0 else t for t in refs]

    for op in sg.operators:
        op.inputs = renumber(op.inputs)
        op.outputs = renumber(op.outputs)
        op.intermediates = renumber(op.intermediates)
    sg.inputs = renumber(sg.inputs)
    sg.outputs = renumber(sg.outputs)


def remove_unused_tensors(sg: Subgraph) -> list[int]:
    """Drop tensors nothing references; returns the removed (old) indices."""
    used = _referenced(sg)
    unused = [i for i in range(len(sg.tensors)) if i not in used]
    remove_tensors(sg, unused)
    return unused


def _referenced(sg: Subgraph) -> set[int]:
    refs = set(sg.inputs) | set(sg.outputs)
    for op in sg.operators:
        refs.update(op.inputs)
        refs.update(op.outputs)
        refs.update(op.intermediates)
    refs.discard(-1)
    return refs


def deduplicate_buffers(model: Model) -> int:
    """Point tensors with byte-identical constant data at one buffer.

    Buffers left unreferenced are dropped and the rest renumbered (buffer 0
    stays the empty sentinel). Returns how many buffers were removed.
    """
    first_with: dict[tuple[int, bytes], int] = {}
    remap: dict[int, int] = {}
    for index, buf in enumerate(model.buffers):
        if index == 0 or buf.data is None or buf.data.nbytes == 0:
            continue
        key = (buf.data.nbytes, hashlib.sha256(buf.data.tobytes()).digest())
        remap[index] = first_with.setdefault(key, index)
    for sg in model.subgraphs:
        for tensor in sg.tensors:
            tensor.buffer = remap.get(tensor.buffer, tensor.buffer)
    return _drop_unreferenced_buffers(model)


def _drop_unreferenced_buffers(model: Model) -> int:
    used = {0} | {m.buffer for m in model.metadata} | set(model.metadata_buffer)
    for sg in model.subgraphs:
        used.update(t.buffer for t in sg.tensors)
    new_index: dict[int, int] = {}
    kept: list[Buffer] = []
    for i, buf in enumerate(model.buffers):
        if i in used:
            new_index[i] = len(kept)
            kept.append(buf)
    removed = len(model.buffers) - len(kept)
    model.buffers = kept
    for sg in model.subgraphs:
        for tensor in sg.tensors:
            tensor.buffer = new_index[tensor.buffer]
    for meta in model.metadata:
        meta.buffer = new_index[meta.buffer]
    model.metadata_buffer = [new_index[b] for b in model.metadata_buffer]
    return removed
