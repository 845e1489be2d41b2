"""Dead-code elimination: drop operators whose results nothing reads, then unused tensors."""

from __future__ import annotations

from ...schema.model import Model, Subgraph
from .common import B, code_of

# Operators kept even when their outputs are unused: they change state.
SIDE_EFFECTS = frozenset({B.ASSIGN_VARIABLE, B.CALL_ONCE, B.VAR_HANDLE})


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


def eliminate_dead_code(model: Model, sg: Subgraph) -> int:
    """Remove operators no output depends on; returns how many were removed."""
    needed = set(sg.outputs)
    keep: set[int] = set()
    for op_index in range(len(sg.operators) - 1, -1, -1):
        op = sg.operators[op_index]
        live = any(t in needed for t in op.outputs) or _has_side_effects(model, sg, op_index, set())
        if live:
            keep.add(op_index)
            needed.update(t for t in op.inputs if t >= 0)
            needed.update(op.intermediates)
    dead = [i for i in range(len(sg.operators)) if i not in keep]
    sg.remove_operators(dead)
    sg.remove_unused_tensors()
    return len(dead)
