"""The ops that write a fused LSTM's initial state into its state variables each invoke.

UNIDIRECTIONAL_SEQUENCE_LSTM reads h and c from *variable* tensors and leaves the final
state there; a Keras LSTM starts every call from its initial state, so something must
write that state before the op, every invoke: a SPLIT of one constant [B, 2U] into the
two variables (both runtimes evaluate a constant-input SPLIT each invoke), or with a
dynamic batch Keras's own FILL(PACK(batch, units), 0) once per variable. The resets of
several LSTMs in one subgraph merge into one SPLIT / SPLIT_V at the first one's place
(each variable is read only by its own LSTM, which comes later).
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.options import SplitOptions, SplitVOptions
from ...schema.model import Model, Operator, Subgraph
from .common import B, add_constant


def reset_ops(model: Model, sg: Subgraph, init: list, states: list[int], const) -> list[Operator]:
    """The ops writing the initial h and c (constants, or the FILL ops making them for a
    dynamic batch) into ``states``; ``const(suffix, value)`` adds a named constant."""
    if isinstance(init[0], np.ndarray):
        batch, units = sg.tensors[states[0]].shape
        both = np.concatenate([np.broadcast_to(v, (batch, units)) for v in init], axis=1)
        axis = const("state_axis", np.array(1, np.int32))
        split = Operator(
            opcode_index=model.opcode_index(B.SPLIT, 1),
            inputs=[axis, const("initial_state", both.astype(np.float32))],
            outputs=states,
            builtin_options=SplitOptions(2),
        )
        return [split]
    fill = model.opcode_index(B.FILL, 1)
    return [
        Operator(opcode_index=fill, inputs=list(op.inputs), outputs=[state])
        for op, state in zip(init, states)
    ]


def merge_resets(model: Model, sg: Subgraph, resets: list[Operator]) -> int:
    """One SPLIT (equal widths) or SPLIT_V for all ``resets`` (constant-state SPLITs made
    by :func:`reset_ops`) of one batch size; returns how many ops it saved."""
    by_batch: dict[int, list[Operator]] = {}
    for op in resets:
        by_batch.setdefault(sg.tensors[op.inputs[1]].shape[0], []).append(op)
    saved = 0
    for group in by_batch.values():
        if len(group) < 2:
            continue
        values = [np.asarray(model.constant(sg.tensors[op.inputs[1]])) for op in group]
        outputs = [t for op in group for t in op.outputs]
        widths = [sg.tensors[t].shape[1] for t in outputs]
        name = sg.tensors[outputs[0]].name.rsplit("/", 1)[0]
        both = add_constant(model, sg, f"{name}/initial_states", np.concatenate(values, axis=1))
        axis = add_constant(model, sg, f"{name}/states_axis", np.array(1, np.int32))
        if len(set(widths)) == 1:
            merged = Operator(
                opcode_index=model.opcode_index(B.SPLIT, 1),
                inputs=[axis, both],
                outputs=outputs,
                builtin_options=SplitOptions(len(outputs)),
            )
        else:
            sizes = add_constant(model, sg, f"{name}/state_widths", np.asarray(widths, np.int32))
            merged = Operator(
                opcode_index=model.opcode_index(B.SPLIT_V, 1),
                inputs=[both, sizes, axis],
                outputs=outputs,
                builtin_options=SplitVOptions(len(outputs)),
            )
        first = next(i for i, op in enumerate(sg.operators) if op is group[0])
        sg.operators[first] = merged
        sg.operators = [op for op in sg.operators if all(op is not g for g in group[1:])]
        saved += len(group) - 1
    return saved
