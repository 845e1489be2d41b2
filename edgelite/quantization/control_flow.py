"""Control flow in full-integer models: the subgraphs the main one runs, and the float
values that cross their boundaries.

WHILE, IF and CALL_ONCE run other subgraphs; their ops are calibrated (calibrate.py
taps them) and quantized like the main subgraph's. A float value that crosses a
subgraph boundary is a *crossing*. Its *members*, the copies the runtime makes of it
on each side, hold the same values, so they share one set of parameters; its
*sources*, the tensors it is copied from, are converted to that set (or share it) where
they enter. For WHILE loop value k the members are the WHILE output k and the cond and
body inputs k, the sources the WHILE input k (the first value) and the body output k
(every next one): values flow around the loop, so the caller and the body must agree,
and the members' calibration ranges, observed on every iteration, cover them all. For
IF input k the members are the branches' inputs (source: the IF input); for IF output
k the member is the IF output (sources: the branches' outputs).

A crossing becomes integer when all its tensors have a range and an integer op inside
the called subgraph reads or writes it; a loop whose ops stay float keeps its values
float rather than converting them on every iteration. A subgraph run from more than
one place keeps its boundary float, and so does a WHILE/IF that --keep-float names.
Every crossing left float is reported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..schema.generated.enums import BuiltinOperator, TensorType
from ..schema.model import Model, Operator

Key = tuple[int, int]  # (subgraph, tensor)


@dataclass(frozen=True)
class Source:
    """A tensor a crossing is copied from: input ``slot`` of control-flow op ``op`` in the
    caller, or (``op`` None) output position ``slot`` of a called subgraph."""

    key: Key
    op: int | None
    slot: int


@dataclass
class Crossing:
    """One float value crossing subgraph boundaries (see the module docstring)."""

    label: str  # for reports: "WHILE #2 loop value 1"
    members: list[Key]
    sources: list[Source]
    inner: list[Key] = field(default_factory=list)  # its tensors inside the called subgraphs
    names: tuple[str, ...] = ()  # the op's name and its output names, for --keep-float


def callees(model: Model, op: Operator) -> list[int]:
    """The subgraphs a WHILE (cond, body), IF (then, else) or CALL_ONCE (init) runs."""
    code = model.operator_codes[op.opcode_index].builtin_code
    options = op.builtin_options
    if options is None:
        return []
    if code == BuiltinOperator.WHILE:
        return [options.cond_subgraph_index, options.body_subgraph_index]
    if code == BuiltinOperator.IF:
        return [options.then_subgraph_index, options.else_subgraph_index]
    if code == BuiltinOperator.CALL_ONCE:
        return [options.init_subgraph_index]
    return []


def called_subgraphs(model: Model) -> list[int]:
    """The main subgraph and every subgraph control flow runs from it (directly or not)."""
    seen, todo = {0}, [0]
    while todo:
        for op in model.subgraphs[todo.pop()].operators:
            for callee in callees(model, op):
                if 0 <= callee < len(model.subgraphs) and callee not in seen:
                    seen.add(callee)
                    todo.append(callee)
    return sorted(seen)


def find_crossings(model: Model, subgraphs: list[int]) -> tuple[list[Crossing], list[str]]:
    """Every float crossing of the control-flow ops in ``subgraphs``, and notes on the
    boundaries left float because their subgraph runs from more than one place."""
    sites: dict[int, int] = {}
    for s in subgraphs:
        for op in model.subgraphs[s].operators:
            for callee in callees(model, op):
                sites[callee] = sites.get(callee, 0) + 1
    found: list[Crossing] = []
    notes: list[str] = []
    for s in subgraphs:
        for i, op in enumerate(model.subgraphs[s].operators):
            called = callees(model, op)
            if not called or not (op.inputs or op.outputs):
                continue
            label = f"{model.op_name(op)} #{i}" + (f" in subgraph {s}" if s else "")
            shared = [c for c in called if sites.get(c, 0) > 1]
            if shared:
                notes.append(
                    f"{label}: subgraph {shared[0]} runs from more than one place; "
                    "its float values stay float"
                )
                continue
            if model.operator_codes[op.opcode_index].builtin_code == BuiltinOperator.WHILE:
                made = list(_while_crossings(model, s, i, op, called, label))
            else:
                made = list(_if_crossings(model, s, i, op, called, label))
            sg = model.subgraphs[s]
            names = (model.op_name(op), *(sg.tensors[t].name for t in op.outputs if t >= 0))
            for crossing in made:
                crossing.names = names
            found.extend(made)
    return found, notes


def _is_float(model: Model, key: Key) -> bool:
    return model.subgraphs[key[0]].tensors[key[1]].type == TensorType.FLOAT32


def _while_crossings(model: Model, s: int, i: int, op: Operator, called: list[int], label: str):
    cond, body = (model.subgraphs[c] for c in called)
    for k, (first, result) in enumerate(zip(op.inputs, op.outputs)):
        if not _is_float(model, (s, result)):
            continue
        members = [(s, result), (called[0], cond.inputs[k]), (called[1], body.inputs[k])]
        nxt = Source((called[1], body.outputs[k]), None, k)
        yield Crossing(
            f"{label} loop value {k}",
            members,
            [Source((s, first), i, k), nxt],
            inner=[*members[1:], nxt.key],
        )


def _if_crossings(model: Model, s: int, i: int, op: Operator, called: list[int], label: str):
    branches = [model.subgraphs[c] for c in called]
    for k, t in enumerate(op.inputs[1:]):
        if _is_float(model, (s, t)):
            members = [(c, sg.inputs[k]) for c, sg in zip(called, branches)]
            yield Crossing(f"{label} input {k + 1}", members, [Source((s, t), i, k + 1)], members)
    for k, t in enumerate(op.outputs):
        if _is_float(model, (s, t)):
            sources = [Source((c, sg.outputs[k]), None, k) for c, sg in zip(called, branches)]
            yield Crossing(f"{label} output {k}", [(s, t)], sources, [x.key for x in sources])


def integer_crossings(
    crossings: list[Crossing],
    known: set[Key],
    touched: set[Key],
    patterns: Sequence[re.Pattern] = (),
) -> tuple[list[Crossing], list[str]]:
    """The crossings to make integer, and a note for each that stays float.

    ``known``: tensors with a range (measured activations, constants); ``touched``: the
    float inputs and outputs of the integer ops; ``patterns``: --keep-float expressions
    (one matching the WHILE/IF op's name or an output name keeps its values float).
    Repeated until nothing changes, so an integer inner loop makes the value that feeds
    it integer in the outer one too.
    """
    chosen: list[Crossing] = []
    touched = set(touched)
    notes = []
    allowed = []
    for crossing in crossings:
        pattern = next((p for p in patterns if any(p.search(n) for n in crossing.names)), None)
        if pattern is None:
            allowed.append(crossing)
        else:
            notes.append(f"{crossing.label} stays float: --keep-float {pattern.pattern!r}")
    ready = [c for c in allowed if all(k in known for k in _tensors(c))]
    changed = True
    while changed:
        changed = False
        for crossing in ready:
            if crossing not in chosen and any(k in touched for k in crossing.inner):
                chosen.append(crossing)
                touched.update(_tensors(crossing))
                changed = True
    for crossing in allowed:
        if crossing in chosen:
            continue
        if crossing in ready:
            why = "no integer op inside uses it"
        else:
            why = "it was never computed during calibration"
        notes.append(f"{crossing.label} stays float: {why}")
    return chosen, notes


def _tensors(crossing: Crossing) -> list[Key]:
    return crossing.members + [source.key for source in crossing.sources]
