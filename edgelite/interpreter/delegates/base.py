"""The delegate interface, shaped like TFLite's SimpleDelegate.

A delegate takes over parts of the main subgraph. The interpreter, on every
``allocate_tensors``:

1. asks ``is_node_supported(node)`` for each prepared node (the node carries its
   op, version, options and every input/output with shape, dtype, quantization
   and, for constants, the value); the answer is ``True``, or ``False`` / a string
   saying why not (the reason shows up in ``Interpreter.delegate_report()``);
2. partitions the supported nodes into independent subsets that keep the
   execution order valid (see ``partition.py``), keeps at most
   ``max_partitions`` of them (0: no limit), the largest first, each with at
   least ``min_nodes_per_partition`` nodes;
3. calls ``create_kernel(nodes)`` per partition, then ``kernel.init(params)``
   once and ``kernel.prepare(inputs, outputs)`` on every allocate;
4. replaces the partition by one node whose invoke is ``kernel.invoke(inputs,
   outputs)``: the partition's input arrays, and its preallocated output
   arrays, to fill in place.

Delegates apply to the main subgraph, in the order given; a later delegate
only sees nodes the earlier ones left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..kernels.base import Node, TensorInfo


@dataclass(frozen=True)
class PartitionOptions:
    """How many partitions a delegate takes (0: unlimited) and how small they may be."""

    max_partitions: int = 0
    min_nodes_per_partition: int = 1

    def __post_init__(self) -> None:
        if self.max_partitions < 0:
            raise ValueError(
                f"max_partitions must be >= 0 (0: no limit), got {self.max_partitions}"
            )
        if self.min_nodes_per_partition < 0:
            raise ValueError(
                f"min_nodes_per_partition must be >= 0, got {self.min_nodes_per_partition}"
            )


@dataclass(frozen=True)
class DelegateParams:
    """What a delegate kernel learns at init: its nodes and the partition boundary."""

    nodes: list[Node]
    inputs: list[TensorInfo]  # tensors read from outside the partition (constants included)
    outputs: list[TensorInfo]  # tensors the rest of the graph reads
    num_threads: int = 1
    extra: dict = field(default_factory=dict)


class DelegateKernel:
    """Runs one partition. Override ``invoke``; ``init``/``prepare`` are optional."""

    def init(self, params: DelegateParams) -> None:
        """Called once, when the partition is created."""

    def prepare(self, inputs: list[TensorInfo], outputs: list[TensorInfo]) -> None:
        """Called on every allocate with the current shapes; raise PrepareError to refuse."""

    def invoke(self, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
        """Compute the partition: read ``inputs``, write ``outputs`` in place."""
        raise NotImplementedError


class SimpleDelegate:
    """Base class of Python delegates (see the module docstring for the protocol)."""

    name = "delegate"

    def __init__(self, max_partitions: int = 0, min_nodes_per_partition: int = 1) -> None:
        self.options = PartitionOptions(max_partitions, min_nodes_per_partition)

    def is_node_supported(self, node: Node) -> bool | str:
        """True to claim ``node``; False or a reason string to leave it to the CPU kernels."""
        raise NotImplementedError

    def create_kernel(self, nodes: list[Node]) -> DelegateKernel:
        """A kernel that will run ``nodes`` (one partition, in execution order)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, {self.options})"
