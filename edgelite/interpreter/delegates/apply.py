"""Hand nodes of the main subgraph to delegates and build the delegate report.

Runs during ``allocate_tensors`` after every node was prepared (so delegates see
propagated shapes). Each delegate in turn is offered the nodes still on the CPU;
supported ones are partitioned (``partition.py``), the kept partitions become
single units of the execution order, and every node a delegate did not take gets
a reason in the report. Kernels are reused across allocations while a
partition keeps the same nodes; ``prepare`` runs again each time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...schema.generated.enums import BuiltinOperator
from ..graph_plan import Unit
from ..kernels.base import Node, PrepareError, TensorInfo
from ..prepare import DEFERRED, NodePrep, build_node, tensor_info
from .base import DelegateParams, SimpleDelegate
from .partition import dependencies, partition

if TYPE_CHECKING:
    from ..subgraph import SubgraphRuntime

# Ops whose effects no tensor shows: they keep their relative order when partitioning.
STATEFUL = {
    BuiltinOperator.VAR_HANDLE,
    BuiltinOperator.READ_VARIABLE,
    BuiltinOperator.ASSIGN_VARIABLE,
    BuiltinOperator.CALL_ONCE,
    BuiltinOperator.WHILE,
    BuiltinOperator.IF,
    BuiltinOperator.CUSTOM,
}


@dataclass
class Partition:
    """One delegated subset of nodes, run as a single unit."""

    delegate: SimpleDelegate
    nodes: tuple[int, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    kernel: Any
    label: str = ""
    op_name: str = "DELEGATE"


@dataclass
class DelegateReport:
    """What one delegate took and why it left the rest."""

    delegate: str
    partitions: list[list[int]] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "delegate": self.delegate,
            "partitions": [list(p) for p in self.partitions],
            "rejected": dict(sorted(self.rejected.items())),
        }


def _ask(delegate: SimpleDelegate, node: Node) -> str | None:
    """None when the delegate claims ``node``, else why not."""
    try:
        answer = delegate.is_node_supported(node)
    except Exception as exc:  # a delegate bug must not take the CPU path down
        return f"is_node_supported raised {type(exc).__name__}: {exc}"
    if answer is True:
        return None
    if isinstance(answer, str) and answer:
        return answer
    return "not supported by this delegate"


def _boundary(rt: SubgraphRuntime, members: list[Unit], units: list[Unit]) -> tuple[tuple, tuple]:
    """Tensors the partition reads from outside, and those read outside of it."""
    inside = {t for u in members for t in u.outputs}
    ins: dict[int, None] = {}
    for u in members:
        for t in u.inputs:
            if t not in inside:
                ins[t] = None
    member_ids = {id(u) for u in members}
    needed = set(rt.sg.outputs) | set(rt.variables)
    for u in units:
        if id(u) not in member_ids:
            needed.update(u.inputs)
    outs = tuple(t for u in members for t in u.outputs if t in needed)
    return tuple(ins), outs


def _infos(rt: SubgraphRuntime, tensors: tuple[int, ...]) -> list[TensorInfo]:
    return [tensor_info(rt, t, rt.shapes[t], rt.constants.get(t)) for t in tensors]


def _make_partition(
    rt: SubgraphRuntime, delegate: SimpleDelegate, members: list[Unit], units: list[Unit]
) -> Partition:
    nodes = tuple(i for u in members for i in u.nodes)
    ins, outs = _boundary(rt, members, units)
    key = (id(delegate), nodes)
    cached = rt.delegate_kernels.get(key)
    node_objs = [build_node(rt, i, rt.shapes) for i in nodes]
    label = f"delegate {delegate.name!r} partition of nodes {list(nodes)}"
    try:
        if cached is None:
            kernel = delegate.create_kernel(node_objs)
            kernel.init(
                DelegateParams(node_objs, _infos(rt, ins), _infos(rt, outs), rt.core.num_threads)
            )
        else:
            kernel = cached
        kernel.prepare(_infos(rt, ins), _infos(rt, outs))
    except Exception as exc:
        text = str(exc) if isinstance(exc, PrepareError) else f"{type(exc).__name__}: {exc}"
        raise PrepareError(f"{label}: {text}") from exc
    rt.delegate_kernels[key] = kernel
    return Partition(delegate, nodes, ins, outs, kernel, label, f"DELEGATE:{delegate.name}")


def _select(
    delegate: SimpleDelegate, subsets: list[tuple[bool, list[int]]], units: list[Unit], report
) -> set[int]:
    """Indices (into subsets) of the partitions kept, per max/min partition options."""
    opts = delegate.options
    candidates = [k for k, (flag, _) in enumerate(subsets) if flag]
    sizes = {k: sum(len(units[i].nodes) for i in subsets[k][1]) for k in candidates}
    ranked = sorted(candidates, key=lambda k: (-sizes[k], k))
    kept: set[int] = set()
    for k in ranked:
        nodes = [n for i in subsets[k][1] for n in units[i].nodes]
        if sizes[k] < opts.min_nodes_per_partition:
            limit = opts.min_nodes_per_partition
            why = f"partition of {sizes[k]} nodes < min_nodes_per_partition={limit}"
        elif opts.max_partitions and len(kept) >= opts.max_partitions:
            why = f"partition not among the max_partitions={opts.max_partitions} largest"
        else:
            kept.add(k)
            continue
        for n in nodes:
            report.rejected[n] = why
    return kept


def _apply_one(rt: SubgraphRuntime, delegate: SimpleDelegate, units: list[Unit]) -> list[Unit]:
    report = DelegateReport(delegate.name)
    rt.delegate_reports.append(report)
    supported = []
    for unit in units:
        reason = "already taken by an earlier delegate"
        if unit.partition is None:
            assert unit.prep is not None
            if unit.prep.kind == DEFERRED:
                reason = "shapes known only at invoke time (dynamic)"
            else:
                reason = _ask(delegate, build_node(rt, unit.prep.index, rt.shapes)) or ""
            if reason:
                report.rejected[unit.prep.index] = reason
        supported.append(not reason)
    after: list[list[int]] = []
    last_stateful: int | None = None
    for i, unit in enumerate(units):
        stateful = unit.partition is not None or any(
            rt.ops[n].builtin_code in STATEFUL for n in unit.nodes
        )
        after.append([last_stateful] if stateful and last_stateful is not None else [])
        if stateful:
            last_stateful = i
    deps = dependencies([u.inputs for u in units], [u.outputs for u in units], after)
    clustering = not rt.core.disable_delegate_clustering
    subsets = partition(supported, deps, clustering)
    if rt.core.disable_delegate_node_fusion:
        subsets = [(flag, [i]) for flag, items in subsets for i in items]
    kept = _select(delegate, subsets, units, report)
    result: list[Unit] = []
    for k, (_, items) in enumerate(subsets):
        members = [units[i] for i in items]
        if k not in kept:
            result.extend(members)
            continue
        part = _make_partition(rt, delegate, members, units)
        report.partitions.append(list(part.nodes))
        result.append(Unit(part.nodes, part.inputs, part.outputs, partition=part))
    return result


def apply_delegates(
    rt: SubgraphRuntime, preps: list[NodePrep], units: list[Unit], delegates: list
) -> list[Unit]:
    """Units of the main subgraph after every delegate took its partitions."""
    rt.delegate_reports = []
    for delegate in delegates:
        units = _apply_one(rt, delegate, units)
    live = {(id(p.delegate), p.nodes) for u in units if (p := u.partition) is not None}
    for key in list(rt.delegate_kernels):
        if key not in live:
            del rt.delegate_kernels[key]
    return units
