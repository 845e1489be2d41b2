"""Quantization parameters for every activation of the integer ops, in every subgraph.

Three kinds of outputs (op_rules): measured ranges, parameters fixed by the kernel
(pinned), and same-scale ops whose inputs and outputs must share one set. Same-scale
tensors are merged into groups (union-find) whose range is the union of their members',
so a chain like conv -> max_pool -> concat <- resize <- conv gets one set of
parameters without any requantization, as the official converter does. A pinned
tensor (e.g. a SOFTMAX output) joins a group only through a single-input op (reshape
of a softmax keeps 1/256); into a multi-input op (concat) it is requantized instead,
so it cannot clamp the other inputs to its fixed range.

Tensors are keyed by (subgraph, tensor): a value crossing into a WHILE body or an IF
branch (control_flow.py) is a group across subgraphs, like a multi-input same-scale op
whose inputs are its sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..schema.model import Model
from .control_flow import Crossing, Key
from .op_rules import SAME, fixed_params, rule_for
from .qmath import activation_params
from .select_ops import float_tensors

Range = tuple[float, float]


@dataclass(frozen=True)
class Params:
    """Per-tensor affine parameters of an activation (or activation-like constant)."""

    scale: float
    zero_point: int
    dtype: np.dtype

    @classmethod
    def from_range(cls, lo: float, hi: float, dtype: np.dtype) -> Params:
        scale, zp = activation_params(lo, hi, dtype)
        return cls(scale, zp, np.dtype(dtype))


@dataclass
class IntegerPlan:
    """What the rewrite of one subgraph needs: integer ops, parameters per tensor,
    converted inputs, and the integer values crossing its boundaries."""

    ops: set[int]
    params: dict[int, Params] = field(default_factory=dict)
    # (op index, input slot) -> parameters that input must be converted to first.
    requantize: dict[tuple[int, int], Params] = field(default_factory=dict)
    control_ops: set[int] = field(default_factory=set)  # WHILE/IF with integer values
    entry: dict[int, Params] = field(default_factory=dict)  # integer subgraph inputs
    exits: dict[int, Params] = field(default_factory=dict)  # output position -> parameters


class _Groups:
    """Union-find over tensor keys, each root carrying an optional pinned Params."""

    def __init__(self) -> None:
        self.parent: dict[Key, Key] = {}
        self.pin: dict[Key, Params] = {}

    def find(self, t: Key) -> Key:
        self.parent.setdefault(t, t)
        while self.parent[t] != t:
            self.parent[t] = self.parent[self.parent[t]]
            t = self.parent[t]
        return t

    def pinned(self, t: Key) -> Params | None:
        return self.pin.get(self.find(t))

    def union(self, a: Key, b: Key) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
            if rb in self.pin:
                self.pin.setdefault(ra, self.pin.pop(rb))


def make_plan(
    model: Model,
    ops: dict[int, set[int]],
    ranges: dict[Key, Range],
    dtype: np.dtype,
    io_tensors: list[Key],
    crossings: Sequence[Crossing] = (),
) -> dict[int, IntegerPlan]:
    """Assign parameters to the activations of ``ops`` (op indices per subgraph), to
    ``io_tensors`` and to the integer ``crossings``; one IntegerPlan per subgraph.

    ``ranges`` holds the measured range of every activation and the value range of
    every float constant the integer ops read as data.
    """
    groups = _Groups()
    excluded: list[tuple[int, int, int]] = []  # (subgraph, op, slot) requantized
    for s, chosen in ops.items():
        excluded.extend(_op_groups(model, s, chosen, groups, dtype == np.int16))
    _cross_groups(model, crossings, groups)
    group_params = _group_params(groups, ranges, dtype)
    plans = {s: IntegerPlan(ops=set(chosen)) for s, chosen in ops.items()}
    wanted = set(io_tensors)
    for s, chosen in ops.items():
        for i in chosen:
            wanted.update((s, t) for t in _data_inputs(model, s, i))
            wanted.update(
                (s, t) for t in float_tensors(model, model.subgraphs[s].operators[i], s)[1]
            )
    for crossing in crossings:
        wanted.update(crossing.members)

    def params_of(key: Key) -> Params:
        root = groups.find(key)
        found = group_params.get(root) or groups.pinned(key)
        return found or Params.from_range(*ranges[key], dtype)

    for key in wanted:
        plans[key[0]].params[key[1]] = params_of(key)
    for s, i, slot in excluded:
        op = model.subgraphs[s].operators[i]
        out = float_tensors(model, op, s)[1][0]
        source = op.inputs[slot]
        if plans[s].params[source] != plans[s].params[out]:
            plans[s].requantize[(i, slot)] = plans[s].params[out]
    for crossing in crossings:
        _place_crossing(model, crossing, params_of(crossing.members[0]), plans)
    return plans


def _op_groups(model: Model, s: int, ops: set[int], groups: _Groups, int16: bool):
    """Union the same-scale ops of subgraph ``s``; returns the (s, op, slot) inputs that
    are requantized instead (pinned inputs of multi-input ops)."""
    sg = model.subgraphs[s]
    _pin_fixed_outputs(model, s, ops, groups, int16)
    same_ops = [i for i in sorted(ops) if _rule(model, s, i).output == SAME]
    single = [i for i in same_ops if len(_data_inputs(model, s, i)) <= 1]
    multi = [i for i in same_ops if i not in set(single)]
    for i in single:
        members = _data_inputs(model, s, i) + float_tensors(model, sg.operators[i], s)[1]
        for t in members[1:]:
            groups.union((s, members[0]), (s, t))
    excluded = []
    for i in multi:
        outs = float_tensors(model, sg.operators[i], s)[1]
        for slot, t in _data_slots(model, s, i):
            if groups.pinned((s, t)) is not None and groups.find((s, t)) != groups.find(
                (s, outs[0])
            ):
                excluded.append((s, i, slot))
            else:
                groups.union((s, outs[0]), (s, t))
        for t in outs[1:]:
            groups.union((s, outs[0]), (s, t))
    return excluded


def _cross_groups(model: Model, crossings: Sequence[Crossing], groups: _Groups) -> None:
    """Union each crossing's members, and the sources that can share their parameters.

    A source pinned elsewhere is converted where it enters (like a pinned input of a
    concat). So is a caller's tensor that is a constant or is read anywhere else: the
    conversion runs once per call, and a tensor feeding several crossings (one zero
    state starting every loop value) must not merge them into one group.
    """
    for crossing in crossings:
        first = crossing.members[0]
        for key in crossing.members[1:]:
            groups.union(first, key)
    for crossing in crossings:
        first = crossing.members[0]
        for source in crossing.sources:
            if source.op is not None and not _sole_use(model, source.key):
                continue
            pinned = groups.pinned(source.key)
            if pinned is None or groups.find(source.key) == groups.find(first):
                groups.union(first, source.key)


def _sole_use(model: Model, key: Key) -> bool:
    """Whether a computed tensor is read exactly once in its subgraph (not an output)."""
    sg = model.subgraphs[key[0]]
    if model.constant(sg.tensors[key[1]]) is not None:
        return False
    uses = sum(op.inputs.count(key[1]) for op in sg.operators) + sg.outputs.count(key[1])
    return uses == 1


def _place_crossing(
    model: Model, crossing: Crossing, params: Params, plans: dict[int, IntegerPlan]
) -> None:
    """Record where the rewrite makes the crossing integer: its members, its sources."""
    for s, t in crossing.members:
        if t in model.subgraphs[s].inputs:
            plans[s].entry[t] = params
    for source in crossing.sources:
        s = source.key[0]
        if source.op is None:
            plans[s].exits[source.slot] = params
        else:
            plans[s].control_ops.add(source.op)
            plans[s].requantize[(source.op, source.slot)] = params


def _rule(model: Model, s: int, op_index: int):
    op = model.subgraphs[s].operators[op_index]
    rule = rule_for(model.operator_codes[op.opcode_index].builtin_code)
    assert rule is not None
    return rule


def _data_slots(model: Model, s: int, op_index: int) -> list[tuple[int, int]]:
    """(slot, tensor) of the op's float inputs that are data, not weight or bias."""
    op = model.subgraphs[s].operators[op_index]
    rule = _rule(model, s, op_index)
    floats = set(float_tensors(model, op, s)[0])
    return [
        (slot, t)
        for slot, t in enumerate(op.inputs)
        if t in floats and slot not in (rule.weight, rule.bias)
    ]


def _data_inputs(model: Model, s: int, op_index: int) -> list[int]:
    return list(dict.fromkeys(t for _, t in _data_slots(model, s, op_index)))


def _pin_fixed_outputs(model: Model, s: int, ops: set[int], groups: _Groups, int16: bool) -> None:
    for i in ops:
        fixed = fixed_params(_rule(model, s, i), int16)
        if fixed is None:
            continue
        dtype = np.dtype(np.int16 if int16 else np.int8)
        for t in float_tensors(model, model.subgraphs[s].operators[i], s)[1]:
            groups.pin[groups.find((s, t))] = Params(float(np.float32(fixed[0])), fixed[1], dtype)


def _group_params(groups: _Groups, ranges: dict[Key, Range], dtype: np.dtype) -> dict[Key, Params]:
    """Params of every unpinned group with more than one member: the union of ranges."""
    members: dict[Key, list[Key]] = {}
    for t in list(groups.parent):
        members.setdefault(groups.find(t), []).append(t)
    result = {}
    for root, tensors in members.items():
        if root in groups.pin or len(tensors) < 2:
            continue
        known = [ranges[t] for t in tensors if t in ranges]
        lo, hi = min(r[0] for r in known), max(r[1] for r in known)
        result[root] = Params.from_range(lo, hi, dtype)
    return result
