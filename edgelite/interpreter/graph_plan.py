"""From prepared nodes to an execution plan: storage, arena, views, steps.

A subgraph runs as a list of *units*: one node each, or a delegate partition
standing for several nodes. Every tensor gets one storage, decided once here:

- constant: a read-only view of the model (or a load-time fold);
- arena: a view into the one planned arena (non-constant, shape known after
  prepare); graph inputs, outputs and variables live the whole run, and with
  ``experimental_preserve_all_tensors`` every tensor does (no reuse);
- heap: string tensors (numpy object arrays cannot live in a byte arena);
- dynamic: outputs of deferred nodes, (re)allocated at invoke time;
- none: tensors no unit reads or writes (inside a delegate partition, unused).

Each unit becomes one step ``(invoke, data, input arrays, output arrays)`` for
the Cython loop; tap steps follow the unit producing a tapped tensor. Before the
arena is planned, chains of float convolutions may become one fused unit each
(``fusion.py``): the tensors inside a chain then get no storage, like the tensors
inside a delegate partition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EdgeliteError
from ._loop import StepFailed, run_steps, run_steps_timed
from .dynamic import DynamicStep
from .errors import InvokeError
from .fusion import Chain, apply_chains, is_tapped, plan_chains
from .kernels.base import PrepareError
from .planner import Arena, Request, plan_arena
from .prepare import DEFERRED, NodePrep, node_label

if TYPE_CHECKING:
    from .subgraph import SubgraphRuntime


@dataclass
class Unit:
    """One entry of the execution order: a node, a delegate partition or a fused chain."""

    nodes: tuple[int, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    prep: NodePrep | None = None  # for a single node
    partition: Any = None  # a delegates.apply.Partition when delegated
    fused: Chain | None = None  # a fusion.Chain when fused


@dataclass
class ExecutionPlan:
    steps: tuple[tuple, ...]
    labels: list[str]  # what failed, for error messages
    nodes: list[tuple[int, str] | None]  # (node, op) per step; None for taps
    arrays: list[np.ndarray | None]
    arena: Arena | None
    arena_bytes: int
    elapsed_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    runs: int = 0
    chains: tuple[Chain, ...] = ()  # fused chains the arena was planned for

    def run(self) -> None:
        """Execute every step once."""
        try:
            run_steps(self.steps)
        except StepFailed as failure:
            raise self._invoke_error(failure) from failure.__cause__

    def run_timed(self) -> None:
        """Execute once, adding each step's time to ``elapsed_ns``."""
        if len(self.elapsed_ns) != len(self.steps):
            self.elapsed_ns = np.zeros(len(self.steps), np.int64)
        try:
            run_steps_timed(self.steps, self.elapsed_ns)
        except StepFailed as failure:
            raise self._invoke_error(failure) from failure.__cause__
        self.runs += 1

    def _invoke_error(self, failure: Exception) -> InvokeError:
        cause = failure.__cause__
        index = failure.args[0]
        text = (
            str(cause) if isinstance(cause, EdgeliteError) else f"{type(cause).__name__}: {cause}"
        )
        return InvokeError(f"{self.labels[index]} failed to invoke: {text}")


def node_units(rt: SubgraphRuntime, preps: list[NodePrep]) -> list[Unit]:
    """One unit per prepared node, in execution order."""
    units = []
    for prep in preps:
        op = rt.sg.operators[prep.index]
        ins = tuple(t for t in op.inputs if t >= 0)
        outs = tuple(t for t in op.outputs if t >= 0)
        units.append(Unit((prep.index,), ins, outs, prep=prep))
    return units


def _lifetimes(rt: SubgraphRuntime, units: list[Unit]) -> tuple[dict[int, tuple[int, int]], set]:
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for p, unit in enumerate(units):
        for t in (*unit.inputs, *unit.outputs):
            first.setdefault(t, p)
            last[t] = p
    whole = set(rt.sg.inputs) | set(rt.sg.outputs) | set(rt.variables)
    if rt.core.preserve_all_tensors:
        whole |= set(first)
    whole.discard(-1)
    spans = {t: (first[t], last[t]) for t in first}
    for t in whole:
        spans[t] = (0, len(units))
    return spans, whole


def _allocate(rt: SubgraphRuntime, units: list[Unit]) -> tuple[list, Arena | None, int]:
    sg = rt.sg
    dynamic = {
        t for u in units if u.prep is not None and u.prep.kind == DEFERRED for t in u.outputs
    }
    spans, whole = _lifetimes(rt, units)
    arrays: list[np.ndarray | None] = [None] * len(sg.tensors)
    requests, shapes = [], {}
    for t, (first, last) in spans.items():
        if t in rt.constants or t in dynamic or t not in rt.shapes:
            continue
        shape, dtype = rt.shapes[t], sg.tensors[t].dtype
        if dtype.hasobject:
            arrays[t] = np.empty(shape, dtype)
            continue
        nbytes = math.prod(shape) * dtype.itemsize
        shapes[t] = shape
        requests.append(Request(t, nbytes, first, last, whole_run=t in whole))
    plan = plan_arena(requests)
    if plan.size > rt.core.memory_limit:
        raise PrepareError(
            f"subgraph {rt.index} needs an arena of {plan.size} bytes, more than the "
            f"{rt.core.memory_limit} bytes of memory available"
        )
    arena = Arena(plan.size) if requests else None
    for t, shape in shapes.items():
        assert arena is not None
        arrays[t] = arena.view(plan.offsets[t], shape, sg.tensors[t].dtype)
    for t, value in rt.constants.items():
        arrays[t] = value
    return arrays, arena, plan.size


def _invoke_partition(kernel: Any, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    kernel.invoke(inputs, outputs)


def _run_taps(payload: tuple, _inputs: Any, _outputs: Any) -> None:
    rt, t, callbacks = payload
    value = rt.arrays[t]
    if value is None:
        return
    for callback, copy in callbacks:
        if copy:
            callback(value.copy())
        else:
            view = value.view()
            view.flags.writeable = False
            callback(view)


def _unit_step(rt: SubgraphRuntime, unit: Unit, arrays: list) -> tuple[tuple, str, tuple]:
    if unit.fused is not None:
        chain = unit.fused
        res = arrays[chain.residual] if chain.residual >= 0 else None
        run = (chain.run, chain.block, [arrays[chain.x], res], [arrays[chain.output]])
        return run, chain.label(rt), (chain.nodes[0], chain.op_name)
    if unit.partition is not None:
        part = unit.partition
        ins = [arrays[t] for t in part.inputs]
        outs = [arrays[t] for t in part.outputs]
        return (_invoke_partition, part.kernel, ins, outs), part.label, (-1, part.op_name)
    assert unit.prep is not None
    index = unit.prep.index
    resolved = rt.ops[index]
    label = node_label(rt, index)
    if unit.prep.kind == DEFERRED:
        step = DynamicStep(rt, index, unit.prep.needs_values)
        return (step, None, None, None), label, (index, resolved.name)
    op = rt.sg.operators[index]
    ins = [None if t < 0 else arrays[t] for t in op.inputs]
    outs = [None if t < 0 else arrays[t] for t in op.outputs]
    return (resolved.invoke, unit.prep.data, ins, outs), label, (index, resolved.name)


def build_plan(rt: SubgraphRuntime, units: list[Unit]) -> ExecutionPlan:
    """Fuse chains, plan the arena for the units and turn them into the steps of the loop."""
    previous = rt.plan.chains if rt.plan is not None else ()
    chains = tuple(plan_chains(rt, units, previous))
    units = apply_chains(rt, units, list(chains))
    arrays, arena, size = _allocate(rt, units)
    return _steps(rt, units, arrays, arena, size, chains)


def make_steps(
    rt: SubgraphRuntime, units: list[Unit], arrays: list, arena: Arena | None, size: int
) -> ExecutionPlan:
    """The steps over already allocated ``arrays`` (re-run when taps change).

    Chains fused when ``arrays`` were planned stay fused unless a tap now reads one
    of their inner tensors; such a chain runs node by node, its inner tensors in
    their own buffers (the arena keeps the chain's inputs and outputs apart).
    """
    plan = rt.plan
    chains = plan.chains if plan is not None and plan.arrays is arrays else ()
    for chain in chains:
        if is_tapped(rt, chain):  # run node by node: its inner tensors need storage now
            for t in chain.internal:
                if arrays[t] is None:
                    arrays[t] = np.empty(rt.shapes[t], rt.sg.tensors[t].dtype)
    return _steps(rt, apply_chains(rt, units, list(chains)), arrays, arena, size, chains)


def _steps(
    rt: SubgraphRuntime,
    units: list[Unit],
    arrays: list,
    arena: Arena | None,
    size: int,
    chains: tuple[Chain, ...],
) -> ExecutionPlan:
    taps = rt.core.taps.get(rt.index, {})
    produced = {t for unit in units for t in unit.outputs}
    steps: list[tuple] = []
    labels: list[str] = []
    nodes: list[tuple[int, str] | None] = []

    def add_taps(tensors: Any) -> None:
        for t in tensors:
            if taps.get(t):
                steps.append((_run_taps, (rt, t, tuple(taps[t])), None, None))
                labels.append(f"tap on tensor {t} {rt.sg.tensors[t].name!r}")
                nodes.append(None)

    add_taps(t for t in sorted(taps) if t not in produced)
    for unit in units:
        step, label, node = _unit_step(rt, unit, arrays)
        steps.append(step)
        labels.append(label)
        nodes.append(node)
        add_taps(unit.outputs)
    return ExecutionPlan(tuple(steps), labels, nodes, arrays, arena, size, chains=chains)
