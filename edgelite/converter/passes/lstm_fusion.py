"""Keras LSTM loops -> UNIDIRECTIONAL_SEQUENCE_LSTM, where the maths is exactly Keras's.

A WHILE whose body ``lstm_match`` recognises, whose cond runs exactly T steps, with
constant initial states (or, for a dynamic batch, Keras's zeros FILLed to the run-time
batch), becomes one UNIDIRECTIONAL_SEQUENCE_LSTM
(no peepholes, projection or layer norm; tanh; cell_clip 0, i.e. no clipping, as
Keras). Anything else stays a WHILE loop.

Statelessness: the fused op keeps h and c in *variable* tensors, which runtimes carry
from one invoke to the next (the official converter's fused LSTMs start from the
previous call's final state unless reset_all_variables() is called). A Keras LSTM
starts from its initial state on every call, so one SPLIT of a constant writes the
initial h and c into the variables before the op, each invoke. (A constant-input
SPLIT is evaluated every invoke by both runtimes; RESHAPE would not be: runtimes
precompute a reshape of a constant once.) The official converter emits the bare op with
zero-initialised variables and no reset, so its model carries the state over from one
invoke to the next (outputs drift from Keras's from the second invoke on).

Several fused LSTMs of one subgraph share one reset op (a SPLIT / SPLIT_V of all their
initial states); see ``lstm_reset``.

So a subgraph's fused LSTMs cost exactly one op more than the official converter's
stateful form (the reset): a stateless fused op cannot be written with fewer (the
runtime takes only buffer-less variables as the state and never resets them itself).

The input TRANSPOSE to time-major that Keras adds is folded into ``time_major=False``
when the loop is its only reader, and the one back after it when that is the output's.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import ActivationFunctionType
from ...schema.generated.options import (
    ReshapeOptions,
    StridedSliceOptions,
    UnidirectionalSequenceLSTMOptions,
)
from ...schema.model import Model, Operator, Subgraph, Tensor
from .common import B, View, add_constant, code_of, constant, replace_output
from .dead_code import eliminate_dead_code
from .lstm_layout import batch_major_chains, signature, swap_transpose, used
from .lstm_match import GATES, LstmBody, match_body, trip_count
from .lstm_reset import merge_resets, reset_ops
from .unused_subgraphs import drop_unused_subgraphs


def fuse_lstm_loops(model: Model) -> int:
    """Replace every recognised LSTM loop; returns how many were fused."""
    fused = 0
    for sg in model.subgraphs:
        index, resets = 0, []
        while index < len(sg.operators):
            op = sg.operators[index]
            replacement = _fuse(model, sg, op) if code_of(model, op) == B.WHILE else None
            if replacement is None:
                index += 1
                continue
            new_ops, dropped = replacement
            if code_of(model, new_ops[0]) == B.SPLIT:  # a constant-state reset
                resets.append(new_ops[0])
            sg.operators[index : index + 1] = new_ops
            sg.operators = [o for o in sg.operators if all(o is not d for d in dropped)]
            fused += 1
        merge_resets(model, sg, resets)
        batch_major_chains(model, sg)
    if fused:
        for sg in model.subgraphs:
            eliminate_dead_code(model, sg)
        drop_unused_subgraphs(model)
    return fused


def _initial_state(model: Model, sg: Subgraph, view: View, tensor: int):
    """How to write a loop's initial h or c into the state variable each invoke: the
    constant's value, or the FILL op computing it (Keras's zeros of a dynamic batch:
    FILL(PACK(batch, units), 0)); None for anything else."""
    value = constant(model, sg, tensor)
    if value is not None:
        return value
    maker = view.producer.get(tensor)
    fill = sg.operators[maker] if maker is not None else None
    if fill is None or code_of(model, fill) != B.FILL:
        return None
    filler = constant(model, sg, fill.inputs[1])
    return fill if filler is not None and filler.size == 1 else None


def _fuse(model: Model, sg: Subgraph, loop: Operator) -> tuple[list, list] | None:
    """(ops replacing ``loop``, ops to drop) or None when the loop is not a Keras LSTM."""
    options = loop.builtin_options
    body = match_body(model, model.subgraphs[options.body_subgraph_index])
    if body is None:
        return None
    starts = {}
    for k in body.counters:
        value = constant(model, sg, loop.inputs[k])
        if value is None or value.size != 1:
            return None
        starts[k] = int(value.reshape(()))
    trips = trip_count(model, model.subgraphs[options.cond_subgraph_index], starts)
    xs = sg.tensors[loop.inputs[body.x]]
    steps, _, features = signature(xs) if len(xs.shape) == 3 else (-1, -1, -1)
    if trips != steps or trips < 1 or features < 0 or xs.type != 0:
        return None  # the batch alone may be dynamic
    view = View.of(sg)
    init = [_initial_state(model, sg, view, loop.inputs[k]) for k in (body.h, body.c)]
    if len({type(v) for v in init}) != 1 or init[0] is None:
        return None  # both constants, or both FILLs
    if any(used(sg, view, loop.outputs[k]) for k in [*body.counters, body.c]):
        return None
    if body.kind == "sequence" and sg.tensors[loop.outputs[body.out]].shape[0] != trips:
        return None
    if used(sg, view, loop.outputs[body.x]):
        replace_output(sg, loop.outputs[body.x], loop.inputs[body.x])
        view = View.of(sg)
    return _rewrite(model, sg, view, loop, body, init)


def _layout(model: Model, sg: Subgraph, view: View, loop: Operator, body: LstmBody):
    """(input, sequence output or None, time_major, output TRANSPOSE to drop or None)."""
    x_list, out_list = loop.inputs[body.x], loop.outputs[body.out]
    maker = view.producer.get(x_list)
    batch_in = None
    alone = maker is not None and view.only_user(x_list) is not None and x_list not in sg.inputs
    if alone and swap_transpose(model, sg, sg.operators[maker]):  # type: ignore[index]
        batch_in = sg.operators[maker].inputs[0]  # type: ignore[index]
    if body.kind == "last":
        return (batch_in, None, False, None) if batch_in is not None else (x_list, None, True, None)
    user = view.only_user(out_list)
    after = sg.operators[user] if user is not None else None
    if batch_in is not None and after is not None and swap_transpose(model, sg, after):
        return batch_in, after.outputs[0], False, after
    return x_list, out_list, True, None


def _rewrite(model, sg, view, loop, body: LstmBody, init) -> tuple[list, list]:
    x, seq, time_major, dropped = _layout(model, sg, view, loop, body)
    name = sg.tensors[loop.outputs[body.out]].name
    xs = sg.tensors[loop.inputs[body.x]]
    (steps, batch, _), dynamic = xs.shape, signature(xs)[1] < 0
    units = body.weights["i"].shape[0]
    if seq is None:
        shape = [steps, batch, units] if time_major else [batch, steps, units]
        seq = sg.add_tensor(Tensor(name=f"{name}/sequence", shape=shape, has_rank=True))
    if dynamic:
        dims = [steps, -1, units] if time_major else [-1, steps, units]
        sg.tensors[seq].shape_signature = dims

    def const(suffix: str, value: np.ndarray) -> int:
        return add_constant(model, sg, f"{name}/{suffix}", np.ascontiguousarray(value))

    states = [
        sg.add_tensor(
            Tensor(
                name=f"{name}/{s}",
                shape=[batch, units],
                shape_signature=[-1, units] if dynamic else None,
                is_variable=True,
            )
        )
        for s in ("output_state", "cell_state")
    ]
    reset = reset_ops(model, sg, init, states, const)
    weights = [const(f"w_{g}", body.weights[g]) for g in GATES]
    recurrent = [const(f"r_{g}", body.recurrent[g]) for g in GATES]
    biases = [const(f"b_{g}", body.bias[g]) for g in GATES]
    inputs = [x, *weights, *recurrent, -1, -1, -1, *biases, -1, -1, *states, -1, -1, -1, -1]
    lstm = Operator(
        opcode_index=model.opcode_index(B.UNIDIRECTIONAL_SEQUENCE_LSTM, 1),
        inputs=inputs,
        outputs=[seq],
        builtin_options=UnidirectionalSequenceLSTMOptions(
            fused_activation_function=ActivationFunctionType.TANH, time_major=time_major
        ),
    )
    readers = _row_readers(model, sg, view, loop.outputs[body.out]) if body.kind == "last" else []
    tail = _last_step(model, sg, view, loop, body, seq, time_major, readers)
    return [*reset, lstm, *tail], [dropped] if dropped is not None else readers


def _row_readers(model: Model, sg: Subgraph, view: View, row: int) -> list[Operator]:
    """The readers of the one-row list [1, B, U] that merely take it as [B, U]; only
    when they are all its readers (they then read the last step straight away)."""
    readers = [sg.operators[i] for i in view.users.get(row, [])]
    if row in sg.outputs or not readers:
        return []
    size = sg.tensors[row].num_elements
    for op in readers:
        out = sg.tensors[op.outputs[0]]
        if code_of(model, op) not in (B.STRIDED_SLICE, B.RESHAPE, B.SQUEEZE) or op.inputs[0] != row:
            return []
        if out.num_elements != size or signature(out) != signature(sg.tensors[row])[1:]:
            return []
        if code_of(model, op) == B.STRIDED_SLICE:
            strides = constant(model, sg, op.inputs[3])
            if strides is None or np.any(strides != 1):
                return []
    return readers


def _last_step(model, sg, view, loop, body, seq, time_major, readers) -> list[Operator]:
    """Ops giving the final h (and the one-row output list): a STRIDED_SLICE of the
    sequence's last step, as the official converter emits. (The output-state variable
    holds the same values once the op has run, but a reader of it would not depend on
    the op by dataflow: XNNPACK's partitioner then runs such a reader before the LSTM.)"""
    h_out, list_out = loop.outputs[body.h], loop.outputs[body.out]
    for op in readers:  # they take the last step from the sequence directly
        if not used(sg, view, h_out):
            h_out = op.outputs[0]
        else:
            replace_output(sg, op.outputs[0], h_out)
    wants_list = body.kind == "last" and not readers and used(sg, view, list_out)
    if not used(sg, view, h_out) and not wants_list and not readers:
        return []
    axis = 0 if time_major else 1
    sequence = sg.tensors[seq]
    steps, batch, units = sequence.shape[axis], signature(sequence)[1 - axis], sequence.shape[2]
    if not used(sg, view, h_out) and not readers:
        h_out = sg.add_tensor(Tensor(name=f"{sg.tensors[list_out].name}/last", has_rank=True))
    sg.tensors[h_out].shape = [sequence.shape[1 - axis], units]
    sg.tensors[h_out].shape_signature = [-1, units] if batch < 0 else None
    begin, end = [0, 0, 0], [0, 0, 0]
    begin[axis], end[axis] = steps - 1, steps
    others = 0b111 & ~(1 << axis)  # whole batch and units, whatever their run-time size
    name = sg.tensors[h_out].name
    ends = [add_constant(model, sg, f"{name}/{k}", np.asarray(v, np.int32))
            for k, v in (("begin", begin), ("end", end), ("strides", [1, 1, 1]))]  # fmt: skip
    options = StridedSliceOptions(begin_mask=others, end_mask=others, shrink_axis_mask=1 << axis)
    code = model.opcode_index(B.STRIDED_SLICE, 1)
    ops = [Operator(opcode_index=code, inputs=[seq, *ends], outputs=[h_out])]
    ops[0].builtin_options = options
    if wants_list:
        shape = add_constant(model, sg, f"{name}/row", np.asarray([1, batch, units], np.int32))
        ops.append(
            Operator(
                opcode_index=model.opcode_index(B.RESHAPE, 1),
                inputs=[h_out, shape],
                outputs=[list_out],
                builtin_options=ReshapeOptions([1, batch, units]),
            )
        )
    return ops
