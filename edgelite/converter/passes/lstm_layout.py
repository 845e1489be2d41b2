"""Batch-major or time-major fused LSTMs: layout facts, and stacked LSTMs made batch-major.

Keras runs its LSTM loop time-major: a TRANSPOSE [1, 0, 2] before the loop and one after.
Between two stacked LSTMs the two transposes cancel, so after fusion the first LSTM
reads its transposed input and the second reads the first's time-major sequence
directly. UNIDIRECTIONAL_SEQUENCE_LSTM takes either layout (``time_major``), for input
and output alike: a chain of fused LSTMs whose head reads a swapped input, and whose
tail's sequence is swapped back (or only sliced for its last step, or not read at all),
runs batch-major end to end without either TRANSPOSE (as the official converter's
stacked LSTMs do).
"""

from __future__ import annotations

from ...schema.model import Model, Operator, Subgraph, Tensor
from .common import B, View, add_constant, code_of, constant, replace_output

_SWAP = [1, 0, 2]  # time-major <-> batch-major


def static(t: Tensor) -> bool:
    """Every size known before run time."""
    return t.shape_signature is None or -1 not in t.shape_signature


def signature(t: Tensor) -> list[int]:
    """The shape with -1 for run-time sizes."""
    return list(t.shape_signature if t.shape_signature is not None else t.shape)


def used(sg: Subgraph, view: View, tensor: int) -> bool:
    """Read by an operator or a subgraph output."""
    return bool(view.users.get(tensor)) or tensor in sg.outputs


def swap_transpose(model: Model, sg: Subgraph, op: Operator) -> bool:
    """TRANSPOSE [1, 0, 2], or the RESHAPE it became where batch or time is 1."""
    if code_of(model, op) == B.RESHAPE:
        before, after = sg.tensors[op.inputs[0]].shape, sg.tensors[op.outputs[0]].shape
        swapped = len(before) == 3 and list(after) == [before[1], before[0], before[2]]
        return swapped and 1 in before[:2] and static(sg.tensors[op.outputs[0]])
    if code_of(model, op) != B.TRANSPOSE:
        return False
    perm = constant(model, sg, op.inputs[1])
    return perm is not None and list(perm.reshape(-1)) == _SWAP


def _time_major_lstm(model: Model, op: Operator | None) -> bool:
    return (
        op is not None
        and code_of(model, op) == B.UNIDIRECTIONAL_SEQUENCE_LSTM
        and bool(op.builtin_options.time_major)
    )


def _chain(model: Model, sg: Subgraph, view: View, head: Operator) -> list[Operator]:
    """``head`` and the time-major LSTMs that each read the previous one's sequence only."""
    chain = [head]
    while True:
        reader = view.only_user(chain[-1].outputs[0])
        op = sg.operators[reader] if reader is not None else None
        if not _time_major_lstm(model, op) or op.inputs[0] != chain[-1].outputs[0]:  # type: ignore[union-attr]
            return chain
        chain.append(op)  # type: ignore[arg-type]


def _flip(sg: Subgraph, lstm: Operator) -> None:
    lstm.builtin_options.time_major = False  # each op has its own options table
    t = sg.tensors[lstm.outputs[0]]
    t.shape = [t.shape[1], t.shape[0], *t.shape[2:]]
    if t.shape_signature is not None:
        t.shape_signature = [t.shape_signature[1], t.shape_signature[0], *t.shape_signature[2:]]


def _swap_bits(mask: int) -> int:
    return (mask & ~0b11) | ((mask & 1) << 1) | ((mask >> 1) & 1)


def _slices_one_step(model: Model, sg: Subgraph, op: Operator) -> bool:
    """A STRIDED_SLICE taking one step of a 3-D sequence (shrinking exactly one of its
    first two axes): the same values either way round once its axes are swapped."""
    if code_of(model, op) != B.STRIDED_SLICE or len(sg.tensors[op.inputs[0]].shape) != 3:
        return False
    o = op.builtin_options
    shrunk = o.shrink_axis_mask & 0b11
    return (
        not (o.ellipsis_mask or o.new_axis_mask)
        and shrunk in (1, 2)
        and all(constant(model, sg, t) is not None for t in op.inputs[1:])
    )


def _swap_slice(model: Model, sg: Subgraph, op: Operator) -> None:
    """Rewrite a :func:`_slices_one_step` slice for its input with axes 0 and 1 swapped."""
    inputs = [op.inputs[0]]
    for t in op.inputs[1:]:
        value = constant(model, sg, t).reshape(-1)  # type: ignore[union-attr]
        inputs.append(add_constant(model, sg, f"{sg.tensors[t].name}/batch_major",
                                   value[[1, 0, 2]]))  # fmt: skip
    o = op.builtin_options
    o.begin_mask, o.end_mask = _swap_bits(o.begin_mask), _swap_bits(o.end_mask)
    o.shrink_axis_mask = _swap_bits(o.shrink_axis_mask)
    op.inputs = inputs


def batch_major_chains(model: Model, sg: Subgraph) -> int:
    """Make every such chain batch-major; returns how many chains changed (the dropped
    TRANSPOSEs are left to dead-code elimination)."""
    changed = 0
    for head in list(sg.operators):
        if not _time_major_lstm(model, head):
            continue
        view = View.of(sg)
        maker = view.producer.get(head.inputs[0])
        if maker is None:
            continue
        swap_in = sg.operators[maker]
        if not swap_transpose(model, sg, swap_in) or view.only_user(head.inputs[0]) is None:
            continue
        chain = _chain(model, sg, view, head)
        sequence = chain[-1].outputs[0]
        reader = view.only_user(sequence)
        swap_out = sg.operators[reader] if reader is not None else None
        slices = [sg.operators[i] for i in view.users.get(sequence, [])]
        if swap_out is None or not swap_transpose(model, sg, swap_out):
            swap_out = None
            sliced = all(_slices_one_step(model, sg, op) for op in slices)
            if sequence in sg.outputs or not sliced:
                continue  # read time-major: flipping would move a TRANSPOSE, not drop it
        head.inputs = [swap_in.inputs[0], *head.inputs[1:]]
        for lstm in chain:
            _flip(sg, lstm)
        if swap_out is not None:
            replace_output(sg, swap_out.outputs[0], sequence)
        else:
            for op in slices:
                _swap_slice(model, sg, op)
        changed += 1
    return changed
