"""One subgraph at run time: its tensors' shapes and arrays, its plan, its state.

``allocate()`` runs the pipeline of DESIGN.md for this subgraph: constants (and
load-time folds, once), prepare every node in order, hand nodes to delegates
(main subgraph only), plan the arena, build the execution plan. ``invoke()``
runs the plan. Control flow reaches other subgraphs through ``RuntimeServices``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..schema.generated.enums import TensorType
from .constants import fold_constant_nodes, load_constants
from .graph_plan import ExecutionPlan, Unit, build_plan, node_units
from .hybrid import dequantize_hybrid_weights
from .kernels.base import PrepareError
from .prepare import FAILED, prepare_nodes

if TYPE_CHECKING:
    from .core import Core
    from .resolver import ResolvedOp


class SubgraphRuntime:
    """Shapes, arrays and the execution plan of subgraph ``index``."""

    def __init__(self, core: Core, index: int) -> None:
        self.core = core
        self.index = index
        self.model = core.model
        self.sg = core.model.subgraphs[index]
        count = len(self.sg.tensors)
        self.arrays: list[np.ndarray | None] = [None] * count
        self.shapes: dict[int, tuple[int, ...]] = {}
        self.pending: dict[int, tuple[int, ...]] = {}  # resized (input) tensors
        self.constants: dict[int, np.ndarray] = {}
        self.folded: set[int] = set()
        # int8 weights of hybrid ops, dequantized to float32 at load (see hybrid.py)
        self.float_weights: set[int] = set()
        self.plan: ExecutionPlan | None = None
        self.units: list[Unit] = []
        self.input_arrays: list[np.ndarray] = []  # the inputs' arrays, once allocated
        self.delegate_kernels: dict[tuple, Any] = {}  # (delegate id, nodes) -> kernel
        self.delegate_reports: list = []
        self.ready = False
        self._loaded = False
        produced = {t for op in self.sg.operators for t in op.outputs if t >= 0}
        self._produced = produced
        self.variables = [i for i, t in enumerate(self.sg.tensors) if t.is_variable]

    @property
    def ops(self) -> list[ResolvedOp]:
        return self.core.resolved[self.index]

    # -- shapes -------------------------------------------------------------------

    def model_shape(self, t: int) -> tuple[int, ...]:
        """The shape the model declares for tensor ``t``."""
        return tuple(map(int, self.sg.tensors[t].shape))

    def current_shape(self, t: int) -> tuple[int, ...]:
        """Shape now: of the allocated array, else a pending resize, else the model's."""
        if t in self.constants:
            return self.constant_shape(t)
        array = self.arrays[t]
        if array is not None:
            return tuple(array.shape)
        if t in self.pending:
            return self.pending[t]
        return self.shapes.get(t, self.model_shape(t))

    def static_shape(self, t: int) -> tuple[int, ...] | None:
        """Shape known after allocate (None: decided at invoke time)."""
        return self.shapes.get(t)

    def constant_shape(self, t: int) -> tuple[int, ...]:
        """Shape of constant ``t`` as kernels see it (the dense shape for sparse ones)."""
        return self.model_shape(t) if self.is_sparse(t) else tuple(self.constants[t].shape)

    def is_sparse(self, t: int) -> bool:
        return self.sg.tensors[t].sparsity is not None

    def check_tensor_size(self, t: int, shape: tuple[int, ...]) -> None:
        """Refuse shapes whose bytes exceed the memory available (forged models)."""
        tensor = self.sg.tensors[t]
        nbytes = tensor.dtype.itemsize
        for d in shape:
            nbytes *= int(d)
        if nbytes > self.core.memory_limit:
            raise PrepareError(
                f"tensor {t} {tensor.name!r} of shape {list(shape)} needs {nbytes} bytes, more "
                f"than the {self.core.memory_limit} bytes of memory available"
            )

    def resize(self, t: int, shape: tuple[int, ...]) -> None:
        """Give input tensor ``t`` a new shape; the subgraph needs allocate() again."""
        if shape == self.current_shape(t) and self.arrays[t] is not None:
            return
        self.pending[t] = shape
        self.arrays[t] = None
        self.ready = False

    # -- allocate / invoke ----------------------------------------------------------

    def _initial_shapes(self) -> dict[int, tuple[int, ...]]:
        shapes = {}
        for t in range(len(self.sg.tensors)):
            if t in self.constants:
                shapes[t] = self.constant_shape(t)
            elif t not in self._produced:
                shapes[t] = self.pending.get(t, self.model_shape(t))
        return shapes

    def allocate(self) -> None:
        """Prepare every node and plan memory; the subgraph is then ready to invoke."""
        self.ready = False
        if not self._loaded:
            self.constants = load_constants(self.model, self.index)
            self.folded = fold_constant_nodes(self)
            if self.core.hybrid == "fast":
                self.float_weights = dequantize_hybrid_weights(self, self.folded)
            self._loaded = True
        self.shapes = self._initial_shapes()
        for t, shape in self.shapes.items():
            if t not in self.constants:
                self.check_tensor_size(t, shape)
        delegates = self.core.delegates if self.index == 0 else []
        preps = prepare_nodes(self, keep_failures=bool(delegates))
        units = node_units(self, preps)
        if delegates:
            from .delegates.apply import apply_delegates

            units = apply_delegates(self, preps, units, delegates)
        for unit in units:
            if unit.prep is not None and unit.prep.kind == FAILED:
                assert unit.prep.error is not None
                raise unit.prep.error
        self.plan = build_plan(self, units)
        self.units = units
        self.arrays = self.plan.arrays
        self.input_arrays = [a for a in (self.arrays[t] for t in self.sg.inputs) if a is not None]
        self.reset_variables()
        self.ready = True

    def invoke(self) -> None:
        """Run the execution plan once."""
        if not self.ready or self.plan is None:
            raise RuntimeError("Invoke called on model that is not ready.")
        profiler = self.core.profiler if self.index == 0 else None
        if profiler is not None and profiler.enabled:
            profiler.run(self.plan)
        else:
            self.plan.run()

    def reset_variables(self) -> None:
        """Stateful (``is_variable``) tensors back to their initial value.

        Like TFLite: zero, or the zero point for int8; a variable whose buffer holds
        data starts from that data.
        """
        for t in self.variables:
            array = self.arrays[t]
            if array is None:
                continue
            tensor = self.sg.tensors[t]
            initial = self.model.constant(tensor)
            if initial is not None and initial.nbytes == array.nbytes:
                array.reshape(-1).view(np.uint8)[...] = initial.reshape(-1).view(np.uint8)
            elif tensor.type == TensorType.INT8 and tensor.quantization is not None:
                zero = tensor.quantization.zero_point
                array[...] = int(zero[0]) if len(zero) else 0
            else:
                array.reshape(-1).view(np.uint8)[...] = 0
