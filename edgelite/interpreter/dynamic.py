"""Deferred nodes: prepared at invoke time, outputs in dynamic heap tensors.

A node is deferred when an input's shape is only known at invoke time, or when
its prepare needs input *values* (a non-constant shape operand, say). Each
invoke, its step:

1. reads its inputs' current arrays;
2. prepares the node: with shapes only (cached while the input shapes stay the
   same), then, if the kernel asks for values (``dynamic=True``), again with
   every input's data filled in;
3. allocates outputs of the prepared shapes (reusing last invoke's arrays when
   the shape is unchanged) and invokes; a kernel whose output shape depends on
   the computation itself returns its outputs instead (prepare says dynamic
   even with values), and views it returns are copied so no output aliases
   memory that later nodes overwrite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .kernels.base import Prepared, PrepareError
from .prepare import build_node, check_output_shapes

if TYPE_CHECKING:
    from .subgraph import SubgraphRuntime


class DynamicStep:
    """The plan step of one deferred node (called like a kernel invoke, args ignored)."""

    def __init__(self, rt: SubgraphRuntime, node_index: int, needs_values: bool) -> None:
        self.rt = rt
        self.node_index = node_index
        self.needs_values = needs_values
        op = rt.sg.operators[node_index]
        self.inputs = list(op.inputs)
        self.outputs = list(op.outputs)
        self.dtypes = [rt.sg.tensors[t].dtype if t >= 0 else None for t in self.outputs]
        self.resolved = rt.ops[node_index]
        self._key: tuple | None = None
        self._prepared: Prepared | None = None
        self._last: list[Any] = []

    def __call__(self, _data: Any, _inputs: Any, _outputs: Any) -> None:
        arrays = self.rt.arrays
        values = []
        for t in self.inputs:
            value = None if t < 0 else arrays[t]
            if t >= 0 and value is None:
                raise PrepareError(f"input tensor {t} {self.rt.sg.tensors[t].name!r} has no data")
            values.append(value)
        prepared = self._prepare(values)
        invoke = self.resolved.invoke
        assert invoke is not None
        if prepared.dynamic:
            outs = self._adopt(invoke(prepared.data, values, []))
        else:
            shapes = check_output_shapes(self.rt, self.node_index, prepared)
            outs = self._allocate(shapes)
            invoke(prepared.data, values, outs)
        self._last = outs
        for t, value in zip(self.outputs, outs):
            if t >= 0:
                arrays[t] = value

    def _shapes(self, values: list[np.ndarray | None]) -> dict[int, tuple[int, ...]]:
        shapes = {}
        for t, value in zip(self.inputs, values):
            if value is not None:
                shapes[t] = self.rt.constant_shape(t) if t in self.rt.constants else value.shape
        return shapes

    def _prepare(self, values: list[np.ndarray | None]) -> Prepared:
        spec = self.resolved.spec
        assert spec is not None
        shapes = self._shapes(values)
        if not self.needs_values:
            key = tuple(shapes.get(t) for t in self.inputs)
            if key != self._key or self._prepared is None:
                self._prepared = spec.prepare(build_node(self.rt, self.node_index, shapes))
                self._key = key
            if not self._prepared.dynamic:
                return self._prepared
        node = build_node(self.rt, self.node_index, shapes, with_values=True, values=values)
        return spec.prepare(node)

    def _allocate(self, shapes: list[tuple[int, ...]]) -> list[Any]:
        outs: list[Any] = []
        for k, (shape, dtype) in enumerate(zip(shapes, self.dtypes)):
            if dtype is None:
                outs.append(None)  # omitted optional output
                continue
            last = self._last[k] if k < len(self._last) else None
            if last is not None and last.shape == shape and last.dtype == dtype:
                outs.append(last)
            else:
                outs.append(np.empty(shape, dtype))
        return outs

    def _adopt(self, returned: list[np.ndarray] | None) -> list[np.ndarray]:
        if returned is None or len(returned) != len(self.outputs):
            got = "nothing" if returned is None else f"{len(returned)} arrays"
            raise PrepareError(f"dynamic kernel returned {got} for {len(self.outputs)} outputs")
        outs: list[Any] = []
        for t, value, dtype in zip(self.outputs, returned, self.dtypes):
            if t < 0:
                outs.append(None)
                continue
            value = np.asarray(value)
            if value.dtype != dtype:
                raise PrepareError(
                    f"dynamic kernel returned {value.dtype} for output "
                    f"{self.rt.sg.tensors[t].name!r} of type {dtype}"
                )
            self.rt.check_tensor_size(t, value.shape)
            if value.base is not None or not value.flags.c_contiguous:
                value = np.array(value, order="C")
            outs.append(value)
        return outs
