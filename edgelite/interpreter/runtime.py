"""Services the interpreter offers to control-flow and variable kernels (``node.runtime``).

WHILE, IF and CALL_ONCE run other subgraphs through :meth:`prepare_subgraph` and
:meth:`invoke_subgraph`; VAR_HANDLE, READ_VARIABLE and ASSIGN_VARIABLE keep
resource variables here, shared by every subgraph of the interpreter and kept
across invokes. ``Interpreter.reset_all_variables`` clears them (and re-arms
CALL_ONCE, so an initializer subgraph runs again on the next invoke).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .kernels.base import PrepareError, TensorInfo
from .prepare import tensor_info

if TYPE_CHECKING:
    from .core import Core

# Subgraphs calling subgraphs: deeper than this is a cycle in the model, not a program.
MAX_NESTING = 64


class RuntimeServices:
    """The interpreter as kernels may see it; one per Interpreter."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._resource_ids: dict[tuple[str, str], int] = {}
        self._variables: dict[int, np.ndarray] = {}
        self._called_once: set[int] = set()
        self._depth = 0
        self._preparing: list[int] = []

    # -- subgraphs -------------------------------------------------------------

    @property
    def num_subgraphs(self) -> int:
        return len(self._core.model.subgraphs)

    def check_subgraph(self, index: int, what: str = "subgraph") -> None:
        """Raise PrepareError unless ``index`` names a subgraph of this model."""
        if not 0 <= index < self.num_subgraphs:
            raise PrepareError(
                f"{what} index {index} is out of range (model has {self.num_subgraphs} subgraphs)"
            )

    def subgraph_inputs(self, index: int) -> list[TensorInfo]:
        """The model-declared input tensors of subgraph ``index``."""
        rt = self._core.subgraph(index)
        return [tensor_info(rt, t, rt.model_shape(t), None) for t in rt.sg.inputs]

    def subgraph_outputs(self, index: int) -> list[TensorInfo]:
        """The model-declared output tensors of subgraph ``index``."""
        rt = self._core.subgraph(index)
        return [tensor_info(rt, t, rt.model_shape(t), None) for t in rt.sg.outputs]

    def prepare_subgraph(
        self, index: int, input_shapes: list[tuple[int, ...]]
    ) -> list[tuple[int, ...] | None]:
        """Resize subgraph ``index``'s inputs, allocate it; its output shapes (None: dynamic)."""
        self.check_subgraph(index)
        if index in self._preparing:
            raise PrepareError(f"subgraph {index} calls itself (recursive control flow)")
        rt = self._core.subgraph(index)
        if len(input_shapes) != len(rt.sg.inputs):
            raise PrepareError(
                f"subgraph {index} takes {len(rt.sg.inputs)} inputs, got {len(input_shapes)}"
            )
        self._preparing.append(index)
        try:
            for t, shape in zip(rt.sg.inputs, input_shapes):
                rt.resize(t, tuple(shape))
            if not rt.ready:
                rt.allocate()
        finally:
            self._preparing.pop()
        return [rt.static_shape(t) for t in rt.sg.outputs]

    def invoke_subgraph(self, index: int, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Run subgraph ``index`` on ``inputs`` (copied in); returns its output arrays.

        The outputs are the subgraph's own buffers: copy what you keep before the
        subgraph runs again. Input shapes different from the last run re-plan it.
        """
        rt = self._core.subgraph(index)
        if self._depth >= MAX_NESTING:
            raise RuntimeError(f"subgraphs nested deeper than {MAX_NESTING} (recursion?)")
        targets = rt.input_arrays
        if not rt.ready or any(a.shape != np.shape(v) for a, v in zip(targets, inputs)):
            self.prepare_subgraph(index, [tuple(np.shape(v)) for v in inputs])
            targets = rt.input_arrays
        for target, value in zip(targets, inputs):
            np.copyto(target, value, casting="no")
        self._depth += 1
        try:
            rt.invoke()
        finally:
            self._depth -= 1
        outputs = [rt.arrays[t] for t in rt.sg.outputs]
        missing = [t for t, a in zip(rt.sg.outputs, outputs) if a is None]
        if missing:
            raise RuntimeError(f"subgraph {index} left outputs {missing} without data")
        return outputs  # type: ignore[return-value]

    # -- resource variables ------------------------------------------------------

    def resource_id(self, container: str, shared_name: str) -> int:
        """The id of the resource named (container, shared_name); same name, same id."""
        key = (container or "", shared_name or "")
        return self._resource_ids.setdefault(key, len(self._resource_ids))

    def read_variable(self, resource: int) -> np.ndarray | None:
        """The variable's current value (None when never assigned)."""
        return self._variables.get(resource)

    def assign_variable(self, resource: int, value: np.ndarray) -> None:
        """Store a copy of ``value`` as the variable's new value."""
        self._variables[resource] = np.array(value, copy=True, order="C")

    # -- CALL_ONCE ---------------------------------------------------------------

    def needs_call(self, subgraph: int) -> bool:
        return subgraph not in self._called_once

    def mark_called(self, subgraph: int) -> None:
        self._called_once.add(subgraph)

    def reset(self) -> None:
        """Forget every resource variable and CALL_ONCE initialization."""
        self._variables.clear()
        self._called_once.clear()
