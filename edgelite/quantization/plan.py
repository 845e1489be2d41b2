"""Quantization parameters for every activation of the integer ops.

Three kinds of outputs (op_rules): measured ranges, parameters fixed by the kernel
(pinned), and same-scale ops whose inputs and outputs must share one set. Same-scale
tensors are merged into groups (union-find) whose range is the union of their members',
so a chain like conv -> max_pool -> concat <- resize <- conv gets one set of
parameters without any requantization, as the official converter does. A pinned
tensor (e.g. a SOFTMAX output) joins a group only through a single-input op (reshape
of a softmax keeps 1/256); into a multi-input op (concat) it is requantized instead,
so it cannot clamp the other inputs to its fixed range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..schema.model import Model
from .op_rules import SAME, fixed_params, rule_for
from .qmath import activation_params
from .select_ops import float_tensors


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
    """What the rewrite needs: integer ops, parameters per tensor, requantized inputs."""

    ops: set[int]
    params: dict[int, Params] = field(default_factory=dict)
    # (op index, input slot) -> parameters that input must be converted to first.
    requantize: dict[tuple[int, int], Params] = field(default_factory=dict)


class _Groups:
    """Union-find over tensor indices, each root carrying an optional pinned Params."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.pin: dict[int, Params] = {}

    def find(self, t: int) -> int:
        self.parent.setdefault(t, t)
        while self.parent[t] != t:
            self.parent[t] = self.parent[self.parent[t]]
            t = self.parent[t]
        return t

    def pinned(self, t: int) -> Params | None:
        return self.pin.get(self.find(t))

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
            if rb in self.pin:
                self.pin.setdefault(ra, self.pin.pop(rb))


def make_plan(
    model: Model,
    ops: set[int],
    ranges: dict[int, tuple[float, float]],
    dtype: np.dtype,
    io_tensors: list[int],
) -> IntegerPlan:
    """Assign parameters to the activations of ``ops`` (and to ``io_tensors``).

    ``ranges`` holds the measured range of every activation and the value range of
    every float constant the integer ops read as data.
    """
    sg = model.main
    int16 = dtype == np.int16
    groups = _Groups()
    _pin_fixed_outputs(model, ops, groups, int16)
    same_ops = [i for i in sorted(ops) if _rule(model, i).output == SAME]
    single = [i for i in same_ops if len(_data_inputs(model, i)) <= 1]
    multi = [i for i in same_ops if i not in set(single)]
    plan = IntegerPlan(ops=set(ops))
    for i in single:
        members = _data_inputs(model, i) + float_tensors(model, sg.operators[i])[1]
        for t in members[1:]:
            groups.union(members[0], t)
    excluded: set[tuple[int, int]] = set()
    for i in multi:
        outs = float_tensors(model, sg.operators[i])[1]
        for slot, t in _data_slots(model, i):
            if groups.pinned(t) is not None and groups.find(t) != groups.find(outs[0]):
                excluded.add((i, slot))
            else:
                groups.union(outs[0], t)
        for t in outs[1:]:
            groups.union(outs[0], t)
    group_params = _group_params(groups, ranges, dtype)
    wanted = set(io_tensors)
    for i in ops:
        op = sg.operators[i]
        wanted.update(_data_inputs(model, i))
        wanted.update(float_tensors(model, op)[1])
    for t in wanted:
        root = groups.find(t)
        params = group_params.get(root) or groups.pinned(t)
        plan.params[t] = params or Params.from_range(*ranges[t], dtype)
    for i, slot in excluded:
        out = float_tensors(model, sg.operators[i])[1][0]
        source = sg.operators[i].inputs[slot]
        if plan.params[source] != plan.params[out]:
            plan.requantize[(i, slot)] = plan.params[out]
    return plan


def _rule(model: Model, op_index: int):
    op = model.main.operators[op_index]
    rule = rule_for(model.operator_codes[op.opcode_index].builtin_code)
    assert rule is not None
    return rule


def _data_slots(model: Model, op_index: int) -> list[tuple[int, int]]:
    """(slot, tensor) of the op's float inputs that are data, not weight or bias."""
    op = model.main.operators[op_index]
    rule = _rule(model, op_index)
    floats = set(float_tensors(model, op)[0])
    return [
        (slot, t)
        for slot, t in enumerate(op.inputs)
        if t in floats and slot not in (rule.weight, rule.bias)
    ]


def _data_inputs(model: Model, op_index: int) -> list[int]:
    return list(dict.fromkeys(t for _, t in _data_slots(model, op_index)))


def _pin_fixed_outputs(model: Model, ops: set[int], groups: _Groups, int16: bool) -> None:
    for i in ops:
        fixed = fixed_params(_rule(model, i), int16)
        if fixed is None:
            continue
        dtype = np.dtype(np.int16 if int16 else np.int8)
        for t in float_tensors(model, model.main.operators[i])[1]:
            groups.pin[groups.find(t)] = Params(float(np.float32(fixed[0])), fixed[1], dtype)


def _group_params(
    groups: _Groups, ranges: dict[int, tuple[float, float]], dtype: np.dtype
) -> dict[int, Params]:
    """Params of every unpinned group with more than one member: the union of ranges."""
    members: dict[int, list[int]] = {}
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
