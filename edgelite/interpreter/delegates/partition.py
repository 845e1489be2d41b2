"""Partition a graph into independent subsets of supported / unsupported items.

Mirrors TFLite's ``PartitionGraphIntoIndependentNodeSubsets``. Items (nodes, or
partitions an earlier delegate made) come in a valid execution order with the
tensors they read and write. The result is a sequence of subsets, alternately
supported and not, such that running the subsets in order is still a valid
order: every item's producers run in an earlier subset or earlier in its own.
That is what makes it safe to replace a supported subset by one node.

Clustering (the default) grows each subset as far as dependencies allow, so
supported items separated only by independent unsupported ones end up in one
partition. Without clustering, subsets are maximal runs in the original order.

``after`` adds ordering constraints that no tensor expresses: stateful items
(variable reads/writes, calls into other subgraphs) keep their relative order.
"""

from __future__ import annotations

from collections.abc import Sequence


def dependencies(
    inputs: Sequence[Sequence[int]],
    outputs: Sequence[Sequence[int]],
    after: Sequence[Sequence[int]] = (),
) -> list[set[int]]:
    """For each item, the earlier items it must run after."""
    producer: dict[int, int] = {}
    deps: list[set[int]] = []
    for i, (ins, outs) in enumerate(zip(inputs, outputs)):
        need = {producer[t] for t in ins if t in producer}
        if i < len(after):
            need.update(after[i])
        need.discard(i)
        deps.append(need)
        for t in outs:
            producer[t] = i
    return deps


def partition(
    supported: Sequence[bool], deps: Sequence[set[int]], clustering: bool = True
) -> list[tuple[bool, list[int]]]:
    """Split items 0..n-1 into (supported?, items) subsets in a valid execution order."""
    n = len(supported)
    if n == 0:
        return []
    if not clustering:
        return _runs(supported)
    done: set[int] = set()
    remaining = list(range(n))
    current = supported[0]
    subsets: list[tuple[bool, list[int]]] = []
    while remaining:
        subset: list[int] = []
        members: set[int] = set()
        still = []
        for i in remaining:
            if supported[i] == current and deps[i] <= done | members:
                subset.append(i)
                members.add(i)
            else:
                still.append(i)
        remaining = still
        if subset:
            subsets.append((current, subset))
            done |= members
        current = not current
    return subsets


def _runs(supported: Sequence[bool]) -> list[tuple[bool, list[int]]]:
    subsets: list[tuple[bool, list[int]]] = []
    for i, flag in enumerate(supported):
        if subsets and subsets[-1][0] == flag:
            subsets[-1][1].append(i)
        else:
            subsets.append((flag, [i]))
    return subsets
