"""ReferenceDelegate: a hardware-free delegate that runs its partitions with the
numpy reference kernels.

It exists to exercise partitioning, node replacement and the delegate report
in tests and on any machine (the analogue of TFLite's dummy delegate), and as a
template for real delegates. It claims the builtin ops named in ``ops``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from .. import op_table
from ..kernels.base import KernelSpec, Node, PrepareError, TensorInfo
from .base import DelegateKernel, DelegateParams, SimpleDelegate


def _spec_for(node: Node) -> KernelSpec | None:
    try:
        code = BuiltinOperator[node.op]
    except KeyError:
        return op_table.custom_table().get(node.op)
    spec = op_table.builtin_table().get(int(code))
    if spec is None or not spec.versions[0] <= node.version <= spec.versions[1]:
        return None
    return spec


class ReferenceDelegate(SimpleDelegate):
    """Claims every node whose op is in ``ops`` (names or BuiltinOperator codes)."""

    def __init__(
        self,
        ops: Iterable[str | BuiltinOperator],
        max_partitions: int = 0,
        min_nodes_per_partition: int = 1,
        name: str = "reference",
    ) -> None:
        super().__init__(max_partitions, min_nodes_per_partition)
        self.ops = {op.name if isinstance(op, BuiltinOperator) else str(op) for op in ops}
        self.name = name

    def is_node_supported(self, node: Node) -> bool | str:
        if node.op not in self.ops:
            return f"{node.op} is not in this delegate's op set"
        if _spec_for(node) is None:
            return f"no reference kernel for {node.op} v{node.version}"
        return True

    def create_kernel(self, nodes: list[Node]) -> DelegateKernel:
        return _ReferenceKernel()


class _ReferenceKernel(DelegateKernel):
    """Runs a partition node by node with the reference kernels, in its own buffers."""

    def init(self, params: DelegateParams) -> None:
        self.nodes = params.nodes
        self.specs = []
        for node in params.nodes:
            spec = _spec_for(node)
            if spec is None:
                raise PrepareError(f"no reference kernel for {node.op} v{node.version}")
            self.specs.append(spec)
        self.input_ids = [info.index for info in params.inputs]
        self.output_ids = [info.index for info in params.outputs]

    def prepare(self, inputs: list[TensorInfo], outputs: list[TensorInfo]) -> None:
        known = {info.index: info for info in inputs}
        expected = {info.index: tuple(info.shape) for info in outputs}
        self.steps = []
        self.buffers: dict[int, np.ndarray] = {}
        for node, spec in zip(self.nodes, self.specs):
            ins = [None if i is None else known[i.index] for i in node.inputs]
            current = dataclasses.replace(node, inputs=ins)
            prepared = spec.prepare(current)
            if prepared.dynamic:
                raise PrepareError(
                    f"{node.op} has dynamic shapes; the reference delegate needs static"
                )
            for info, shape in zip(node.outputs, prepared.output_shapes):
                known[info.index] = dataclasses.replace(info, shape=tuple(shape))
                if expected.get(info.index, tuple(shape)) != tuple(shape):
                    raise PrepareError(
                        f"{node.op} output {info.name!r}: shape {list(shape)}, but the "
                        f"interpreter planned {list(expected[info.index])}"
                    )
                if info.index not in self.output_ids:
                    self.buffers[info.index] = np.empty(tuple(shape), info.dtype)
            self.steps.append((spec.invoke, prepared.data, node))

    def invoke(self, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
        values = dict(zip(self.input_ids, inputs))
        values.update(self.buffers)
        values.update(zip(self.output_ids, outputs))
        for invoke, data, node in self.steps:
            ins = [None if i is None else values[i.index] for i in node.inputs]
            outs = [values[o.index] for o in node.outputs]
            invoke(data, ins, outs)
