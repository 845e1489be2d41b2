"""The lowering context: source tensor names -> IR tensors of one subgraph, and op emission.

Lowering functions (``lower_x(ctx, node)``) read their inputs through the context,
which knows each source tensor's spec and, for constants, its value; they add IR
tensors and TFLite operators through it. An operator whose inputs are all constant is
evaluated on the spot by the constant-folding pass, so weight re-layouts and shape
arithmetic become constants as they are lowered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...schema.builder import ModelBuilder
from ...schema.generated.enums import BuiltinOperator
from ...schema.generated.options import AddOptions, DivOptions, MulOptions, SubOptions
from ...schema.model import Model, Operator, Subgraph
from ..passes.constant_folding import fold_operator, infer_shapes
from .graph import FunctionLoader, GraphNode, TensorSpec, node_of, shape_signature, static_shape

if TYPE_CHECKING:
    from .driver import ConversionState


# Ops whose options carry a fused activation get an explicit (NONE) one, as runtimes expect.
_DEFAULT_OPTIONS = {
    BuiltinOperator.ADD: AddOptions,
    BuiltinOperator.SUB: SubOptions,
    BuiltinOperator.MUL: MulOptions,
    BuiltinOperator.DIV: DivOptions,
}


class LoweringError(Exception):
    """This node's configuration has no TFLite equivalent (the message says which part)."""


def ir_name(tensor_name: str) -> str:
    """``'dense/MatMul:0'`` -> ``'dense/MatMul'``; other outputs keep their index."""
    node, sep, index = tensor_name.rpartition(":")
    return node if sep and index == "0" else tensor_name


class Lowering:
    """Lowers the nodes of one source graph into one IR subgraph."""

    def __init__(self, state: ConversionState, subgraph: int, specs: dict[str, TensorSpec]):
        self.state = state
        self.mb: ModelBuilder = state.builder
        self.subgraph = subgraph
        self.specs = specs
        self.values: dict[str, int] = {}  # source tensor -> IR tensor index
        self.pending: dict[str, np.ndarray] = {}  # constants not yet given an IR tensor
        self.lists: dict[str, Any] = {}  # TensorList handles (see lowering.control)
        self.made_by: dict[str, GraphNode] = {}  # source tensor -> the node producing it
        self.load_function: FunctionLoader | None = None  # loop/branch bodies by name
        self.unshaped: set[int] = set()  # IR tensors whose shape emit() must infer

    @property
    def model(self) -> Model:
        return self.mb.model

    @property
    def sg(self) -> Subgraph:
        return self.mb.model.subgraphs[self.subgraph]

    # -- reading -----------------------------------------------------------------
    def spec(self, name: str) -> TensorSpec:
        return self.specs[name]

    def shape(self, name: str) -> tuple[int | None, ...]:
        """Static shape of a source tensor (None for unknown dimensions).

        Where the source graph's shape inference gave up (calls it could not see into)
        but the lowered IR tensor has a shape, that shape is used.
        """
        shape = self.specs[name].shape
        index = self.values.get(name)
        if (shape is None or None in shape) and index is not None and index not in self.unshaped:
            return tuple(None if d < 0 else d for d in self.ir_signature(index))
        if shape is None:
            raise LoweringError(f"tensor {name!r} has unknown rank")
        return shape

    def producer(self, name: str, op_type: str | None = None) -> GraphNode | None:
        """The source node writing tensor ``name`` (only if of ``op_type``, when given)."""
        node = self.made_by.get(name)
        return node if node is not None and op_type in (None, node.type) else None

    def const(self, name: str) -> np.ndarray | None:
        """The value of source tensor ``name`` if it is a constant (after folding)."""
        if name in self.pending:
            return self.pending[name]
        index = self.values.get(name)
        if index is None:
            return None
        tensor = self.sg.tensors[index]
        if tensor.buffer == 0:
            return None
        value = self.model.constant(tensor)
        # An empty constant (an empty axis list, say) has no bytes but is still a value.
        return np.zeros(tensor.shape, tensor.dtype) if value is None else value

    def need_const(self, node: GraphNode, i: int, what: str) -> np.ndarray:
        value = self.const(node.inputs[i])
        if value is None:
            raise LoweringError(f"{what} (input {i}) must be a constant")
        return value

    def tensor(self, name: str) -> int:
        """The IR tensor holding source tensor ``name`` (a constant gets one on first use)."""
        if name not in self.values:
            if name not in self.pending:
                raise LoweringError(f"input {name!r} was not lowered")
            self.values[name] = self.constant(ir_name(name), self.pending.pop(name))
        return self.values[name]

    def input(self, node: GraphNode, i: int) -> int:
        return self.tensor(node.inputs[i])

    def ir_shape(self, index: int) -> list[int]:
        return list(self.sg.tensors[index].shape)

    def ir_signature(self, index: int) -> list[int]:
        t = self.sg.tensors[index]
        return list(t.shape_signature) if t.shape_signature is not None else list(t.shape)

    # -- writing -----------------------------------------------------------------
    def output(self, node: GraphNode, i: int = 0) -> int:
        """A new IR tensor for output ``i`` of ``node``, shaped from its spec."""
        spec = node.outputs[i]
        if not spec.is_array:
            raise LoweringError(f"output {i} has type {spec.dtype}")
        index = self.temp(ir_name(spec.name), spec.shape or (), spec.dtype)
        if spec.shape is None or (None in spec.shape and not self._dynamic_inputs(node)):
            self.unshaped.add(index)  # emit() infers it from the inputs
        self.values[spec.name] = index
        return index

    def _dynamic_inputs(self, node: GraphNode) -> bool:
        """True when an input has a dimension only known at run time (dynamic batch)."""
        for name in node.inputs:
            index = self.values.get(name)
            if index is not None and -1 in self.ir_signature(index):
                return True
        return False

    def temp(self, name: str, shape: Sequence[int | None], dtype: Any) -> int:
        """A new IR tensor; None or -1 in ``shape`` marks an unknown dimension."""
        self.mb.use_subgraph(self.subgraph)
        return self.mb.tensor(
            name, static_shape(shape), dtype, shape_signature=shape_signature(shape)
        )

    def constant(self, name: str, value: Any, dtype: Any = None) -> int:
        self.mb.use_subgraph(self.subgraph)
        return self.mb.const(name, np.asarray(value, dtype=dtype, order="C"))

    def bind(self, name: str, index: int) -> None:
        """Make source tensor ``name`` refer to IR tensor ``index``."""
        self.values[name] = index

    def bind_const(self, name: str, value: np.ndarray) -> None:
        self.pending[name] = value
        self.values.pop(name, None)

    def forward(self, node: GraphNode, i_in: int = 0, i_out: int = 0) -> None:
        """Output ``i_out`` of ``node`` is its input ``i_in`` (Identity and friends)."""
        source = node.inputs[i_in]
        out = node.outputs[i_out].name
        if source in self.pending:
            self.pending[out] = self.pending[source]
        elif source in self.lists:
            self.lists[out] = self.lists[source]
        else:
            self.values[out] = self.tensor(source)

    def emit(
        self,
        code: BuiltinOperator | str,
        inputs: Sequence[int],
        outputs: Sequence[int],
        options: Any = None,
        custom_options: bytes | None = None,
    ) -> bool:
        """Add an operator; returns True when it was folded into constants instead."""
        self.mb.use_subgraph(self.subgraph)
        if options is None and code in _DEFAULT_OPTIONS:
            options = _DEFAULT_OPTIONS[code]()  # type: ignore[index]
        index = self.mb.op(code, inputs, outputs, options, custom_options=custom_options)
        op = self.sg.operators[index]
        if self.unshaped.intersection(outputs):
            self._infer_shapes(op)
        live = [i for i in inputs if i >= 0]
        constant_inputs = live and all(self.sg.tensors[i].buffer != 0 for i in live)
        if constant_inputs and fold_operator(self.model, self.sg, op):
            del self.sg.operators[index]
            return True
        return False

    def _infer_shapes(self, op: Operator) -> None:
        shapes = infer_shapes(self.model, self.sg, op)
        if shapes is None:
            # Data-dependent sizes stay unknown (-1); an unknown rank cannot be written.
            if any(
                self.sg.tensors[i].shape_signature is None for i in op.outputs if i in self.unshaped
            ):
                raise LoweringError("output rank unknown in the source graph and not inferable")
            self.unshaped.difference_update(op.outputs)
            return
        for index, shape in zip(op.outputs, shapes):
            tensor = self.sg.tensors[index]
            tensor.shape, tensor.shape_signature = list(shape), None
            self.unshaped.discard(index)

    def unary(self, code: BuiltinOperator, node: GraphNode, options: Any = None) -> int:
        """The common case: one input, one output shaped like the node's."""
        out = self.output(node)
        self.emit(code, [self.input(node, 0)], [out], options)
        return out

    def layer_of(self, node: GraphNode) -> str | None:
        return self.state.layer_of(node_of(node.name))
