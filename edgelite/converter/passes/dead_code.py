"""Dead-code elimination: drop operators whose results nothing reads, then unused tensors."""

from __future__ import annotations

from ...schema.model import Model, Subgraph
from .common import B, code_of

# Operators kept even when their outputs are unused: they change state.
SIDE_EFFECTS = frozenset({B.ASSIGN_VARIABLE, B.CALL_ONCE, B.VAR_HANDLE})
# Operators that write their ``is_variable`` inputs (the recurrent state) in place: such
# an input is a result too (a fused LSTM's final h is read from its state variable).
STATE_WRITERS = frozenset(
    {
        B.UNIDIRECTIONAL_SEQUENCE_LSTM,
        B.BIDIRECTIONAL_SEQUENCE_LSTM,
        B.LSTM,
        B.UNIDIRECTIONAL_SEQUENCE_RNN,
        B.BIDIRECTIONAL_SEQUENCE_RNN,
        B.RNN,
        B.SVDF,
    }
)


def _has_side_effects(model: Model, sg: Subgraph, op_index: int, seen: set[int]) -> bool:
    """True for state-changing ops, and for WHILE/IF whose bodies contain one."""
    op = sg.operators[op_index]
    code = code_of(model, op)
    if code in SIDE_EFFECTS:
        return True
    options = op.builtin_options
    bodies = [
        getattr(options, name)
        for name in (
            "cond_subgraph_index",
            "body_subgraph_index",
            "then_subgraph_index",
            "else_subgraph_index",
        )
        if hasattr(options, name)
    ]
    for body in bodies:
        if body in seen or body >= len(model.subgraphs):
            continue
        seen.add(body)
        inner = model.subgraphs[body]
        if any(_has_side_effects(model, inner, i, seen) for i in range(len(inner.operators))):
            return True
    return False


def _results(model: Model, sg: Subgraph, op) -> list[int]:
    """The tensors ``op`` writes: its outputs, and the state variables it updates."""
    if code_of(model, op) not in STATE_WRITERS:
        return op.outputs
    return [*op.outputs, *(t for t in op.inputs if t >= 0 and sg.tensors[t].is_variable)]


def eliminate_dead_code(model: Model, sg: Subgraph) -> int:
    """Remove operators no output depends on; returns how many were removed."""
    needed = set(sg.outputs)
    keep: set[int] = set()
    for op_index in range(len(sg.operators) - 1, -1, -1):
        op = sg.operators[op_index]
        written = _results(model, sg, op)
        live = any(t in needed for t in written) or _has_side_effects(model, sg, op_index, set())
        if live:
            keep.add(op_index)
            needed.update(t for t in op.inputs if t >= 0)
            needed.update(op.intermediates)
    dead = [i for i in range(len(sg.operators)) if i not in keep]
    sg.remove_operators(dead)
    sg.remove_unused_tensors()
    return len(dead)
