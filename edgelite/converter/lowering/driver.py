"""Walk a source graph in order and lower each node through the op table.

Nodes without a lowering (or with a configuration a lowering rejects) become
placeholder custom ops named after the source op. Dead-code elimination later drops
the ones nothing needs (a pattern lowering may have made them unnecessary); the
rest are reported all at once, or kept as custom ops with ``allow_custom_ops``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache

from ...schema.builder import ModelBuilder
from ...schema.generated.enums import BuiltinOperator
from ...schema.model import Operator
from ..errors import UnsupportedOp
from .context import Lowering, LoweringError, ir_name
from .graph import Graph, GraphNode, StateVariable, TensorSpec

LowerFn = Callable[[Lowering, GraphNode], None]

# Nodes that produce nothing to lower.
_SKIP = frozenset({"NoOp", "Placeholder", "Assert", "PrintV2", "VarIsInitializedOp"})


@cache
def lowering_table() -> dict[str, LowerFn]:
    """Source op type -> lowering function, merged from the per-family modules."""
    from . import array, control, einsum, math, nn, pooling3d, quant, transposed, variables

    table: dict[str, LowerFn] = {}
    for module in (nn, transposed, pooling3d, einsum, math, array, control, quant, variables):
        for op_type, fn in module.LOWERINGS.items():
            if op_type in table:
                raise RuntimeError(f"{op_type} is lowered twice (second in {module.__name__})")
            table[op_type] = fn
    return table


@dataclass
class ConversionState:
    """What every subgraph's lowering shares: the model being built and the findings."""

    builder: ModelBuilder
    layer_names: frozenset[str] = frozenset()
    # Placeholder custom ops for unsupported nodes, with what to report if they survive.
    unsupported: list[tuple[Operator, UnsupportedOp]] = field(default_factory=list)
    # Resource variables (see lowering.variables): by shared name, the subgraphs using
    # them, and each VAR_HANDLE tensor's variable by (subgraph, tensor).
    variables: dict[str, StateVariable] = field(default_factory=dict)
    stateful_subgraphs: set[int] = field(default_factory=set)
    handles: dict[tuple[int, int], StateVariable] = field(default_factory=dict)

    def layer_of(self, node_name: str) -> str | None:
        """The Keras layer a node came from, recovered from its name scopes."""
        for part in node_name.split("/"):
            if part in self.layer_names:
                return part
            base = re.sub(r"_\d+$", "", part)
            if base in self.layer_names:
                return base
        return None


def lower_graph(
    state: ConversionState,
    graph: Graph,
    subgraph: int,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    variables: Sequence[StateVariable] = (),
) -> Lowering:
    """Lower ``graph`` into (empty) subgraph ``subgraph``; inputs/outputs become its I/O.

    ``variables``: resource inputs of ``graph`` that are state (not subgraph inputs).
    """
    ctx = Lowering(state, subgraph, graph_specs(graph))
    ctx.load_function = graph.load_function
    names = list(input_names) if input_names is not None else [s.name for s in graph.inputs]
    for spec, name in zip(graph.inputs, names):
        if not spec.is_array:
            raise LoweringError(f"input {name!r} has type {spec.dtype}")
        index = ctx.temp(ir_name(name), ctx.shape(spec.name), spec.dtype)
        ctx.sg.inputs.append(index)
        ctx.bind(spec.name, index)
    if variables:
        from .variables import bind_variable

        for variable in variables:
            bind_variable(ctx, variable)
    lower_nodes(ctx, graph)
    bind_outputs(ctx, graph.outputs, output_names)
    return ctx


def lower_nodes(ctx: Lowering, graph: Graph) -> None:
    """Lower every node of ``graph`` in order (inputs must already be bound)."""
    table = lowering_table()
    ctx.made_by.update({spec.name: node for node in graph.nodes for spec in node.outputs})
    for node in graph.nodes:
        if node.type in _SKIP:
            continue
        if node.type == "Const":
            ctx.bind_const(node.outputs[0].name, node.attr("value"))
            continue
        lower = table.get(node.type)
        try:
            if lower is None:
                raise LoweringError("")
            lower(ctx, node)
        except LoweringError as err:
            _placeholder(ctx, node, str(err))


def graph_specs(graph: Graph) -> dict[str, TensorSpec]:
    """Every tensor spec of ``graph`` by name."""
    specs = {spec.name: spec for spec in graph.inputs}
    for node in graph.nodes:
        specs.update((spec.name, spec) for spec in node.outputs)
    return specs


def _placeholder(ctx: Lowering, node: GraphNode, reason: str) -> None:
    """Emit ``node`` as a custom op named after its type and remember why."""
    inputs = []
    for name in node.inputs:
        try:
            inputs.append(ctx.tensor(name))
        except LoweringError:
            continue
    outputs = []
    for i, spec in enumerate(node.outputs):
        if spec.is_array and spec.shape is not None:
            outputs.append(ctx.output(node, i))
        else:
            outputs.append(ctx.temp(ir_name(spec.name), [], "float32"))
            ctx.bind(spec.name, outputs[-1])
    ctx.mb.use_subgraph(ctx.subgraph)
    op_index = ctx.mb.op(node.type, inputs, outputs)
    info = UnsupportedOp(node.type, node.name, ctx.layer_of(node), reason)
    ctx.state.unsupported.append((ctx.sg.operators[op_index], info))


def bind_outputs(
    ctx: Lowering,
    outputs: Sequence[str],
    names: Sequence[str] | None,
    own_tensors: bool = True,
) -> None:
    """Make the graph outputs the subgraph outputs.

    With ``own_tensors`` (model signatures) each output is written by an operator of its
    own; loop and branch bodies may hand an input straight back (but not a constant).
    """
    names = list(names) if names is not None else [ir_name(o) for o in outputs]
    for source, name in zip(outputs, names):
        index = ctx.tensor(source)
        tensor = ctx.sg.tensors[index]
        reused = index in ctx.sg.inputs or index in ctx.sg.outputs
        if tensor.buffer != 0 or (own_tensors and reused):
            shape = ctx.constant(f"{name}/shape", ctx.ir_signature(index), "int32")
            copy = ctx.mb.tensor(name, tensor.shape, tensor.type, None, tensor.shape_signature)
            ctx.mb.op(BuiltinOperator.RESHAPE, [index, shape], [copy])
            index = copy
        elif not reused:
            ctx.sg.tensors[index].name = name
        ctx.sg.outputs.append(index)
