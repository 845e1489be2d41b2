"""Drop subgraphs no operator calls any more (a fused loop's cond/body), renumbering.

A subgraph is live when it is the main one, a signature's, or named by a live
operator's options (WHILE cond/body, IF branches, CALL_ONCE init, CALL, StableHLO
regions): every options field whose name mentions ``subgraph`` is such a reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...schema.model import Model, Operator


def _reference_fields(options: Any) -> Iterator[str]:
    for name in getattr(options, "__slots__", ()):
        if "subgraph" in name and isinstance(getattr(options, name, None), int):
            yield name


def _references(op: Operator) -> Iterator[tuple[Any, str]]:
    for options in (op.builtin_options, op.builtin_options_2):
        if options is not None:
            for name in _reference_fields(options):
                yield options, name


def drop_unused_subgraphs(model: Model) -> int:
    """Remove unreachable subgraphs and renumber the references; returns how many."""
    live = {0} | {sig.subgraph_index for sig in model.signature_defs}
    pending = list(live)
    while pending:
        sg = model.subgraphs[pending.pop()]
        for op in sg.operators:
            for options, name in _references(op):
                target = getattr(options, name)
                if 0 <= target < len(model.subgraphs) and target not in live:
                    live.add(target)
                    pending.append(target)
    if len(live) == len(model.subgraphs):
        return 0
    removed = len(model.subgraphs) - len(live)
    new_index = {old: new for new, old in enumerate(sorted(live))}
    model.subgraphs = [sg for i, sg in enumerate(model.subgraphs) if i in live]
    for sg in model.subgraphs:
        for op in sg.operators:
            for options, name in _references(op):
                setattr(options, name, new_index.get(getattr(options, name), -1))
    for sig in model.signature_defs:
        sig.subgraph_index = new_index[sig.subgraph_index]
    return removed
