"""Functional control flow and TensorLists.

``While`` / ``StatelessWhile`` become WHILE with cond/body subgraphs, ``If`` /
``StatelessIf`` become IF with then/else subgraphs. Loop variables that are constants
passed through the body unchanged (the frozen weights of a Keras LSTM) are not loop
variables in TFLite: they become constants inside the subgraphs.

A TensorList is lowered to a plain tensor [length, *element_shape]: reserve -> zeros,
from-tensor -> the tensor, get-item -> GATHER, set-item -> a one-element RESHAPE or a
SELECT_V2 against a one-hot row mask, stack -> the tensor itself. The length must be
known; element dimensions may be unknown (a dynamic batch: -1 in ``element_shape``). A
reserved list then starts as zeros with size 1 there, and the first set-item's
SELECT_V2 broadcasts it to the rows' run-time size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ...schema.generated.options import GatherOptions, IfOptions, WhileOptions
from .context import Lowering, LoweringError, ir_name
from .driver import bind_outputs, graph_specs, lower_nodes
from .graph import Graph, GraphNode, TensorSpec

B = BuiltinOperator


@dataclass(frozen=True)
class TensorList:
    """A TensorList held as one IR tensor [length, *element_shape]."""

    tensor: int
    length: int
    element_shape: tuple[int, ...]  # -1: known only at run time
    dtype: np.dtype

    @property
    def shape(self) -> list[int | None]:
        """The list's tensor shape, None for run-time sizes (as ``Lowering.temp`` takes)."""
        return [self.length, *(None if d < 0 else d for d in self.element_shape)]


def _list(ctx: Lowering, name: str) -> TensorList:
    found = ctx.lists.get(name)
    if found is None:
        raise LoweringError(f"TensorList {name!r} has no known length and element shape")
    return found


def _element_shape(ctx: Lowering, node: GraphNode, i: int) -> tuple[int, ...]:
    shape = ctx.const(node.inputs[i])
    if shape is None or shape.ndim != 1:
        raise LoweringError("TensorList element rank must be known")
    return tuple(-1 if d < 0 else int(d) for d in shape)


def lower_list_reserve(ctx: Lowering, node: GraphNode) -> None:
    element = _element_shape(ctx, node, 0)
    length = ctx.const(node.inputs[1])
    if length is None:
        raise LoweringError("TensorList length must be a constant")
    dtype = np.dtype(node.attr("element_dtype"))
    zeros = np.zeros((int(length.reshape(())), *(max(d, 1) for d in element)), dtype)
    index = ctx.constant(ir_name(node.outputs[0].name), zeros)
    ctx.lists[node.outputs[0].name] = TensorList(index, zeros.shape[0], element, dtype)


def lower_list_from_tensor(ctx: Lowering, node: GraphNode) -> None:
    shape = ctx.shape(node.inputs[0])
    if not shape or shape[0] is None:
        raise LoweringError("TensorList from a tensor of unknown length")
    tensor = ctx.input(node, 0)
    dtype = np.dtype(ctx.spec(node.inputs[0]).dtype)
    element = tuple(-1 if d is None else int(d) for d in shape[1:])
    ctx.lists[node.outputs[0].name] = TensorList(tensor, int(shape[0]), element, dtype)


def lower_list_get(ctx: Lowering, node: GraphNode) -> None:
    handle = _list(ctx, node.inputs[0])
    # The element's shape comes from the list (the source graph often has none for it).
    out = ctx.temp(ir_name(node.outputs[0].name), handle.shape[1:], handle.dtype)
    ctx.bind(node.outputs[0].name, out)
    ctx.emit(B.GATHER, [handle.tensor, ctx.input(node, 1)], [out], GatherOptions(0))


def lower_list_set(ctx: Lowering, node: GraphNode) -> None:
    handle = _list(ctx, node.inputs[0])
    name = ir_name(node.outputs[0].name)
    full = handle.shape
    if handle.element_shape.count(-1) > 1:
        raise LoweringError(f"TensorList element shape {list(handle.element_shape)}: one size "
                            "at most may be unknown")  # fmt: skip
    row = ctx.temp(f"{name}/row", [1, *full[1:]], handle.dtype)
    row_shape = ctx.constant(f"{name}/row_shape", [1, *handle.element_shape], "int32")
    ctx.emit(B.RESHAPE, [ctx.input(node, 2), row_shape], [row])
    if handle.length == 1:  # the only valid index is 0: the row is the whole list
        result = row
    else:
        rank = len(full)
        iota = ctx.constant(f"{name}/rows", np.arange(handle.length, dtype=np.int32))
        hit = ctx.temp(f"{name}/hit", [handle.length], np.bool_)
        ctx.emit(B.EQUAL, [iota, ctx.input(node, 1)], [hit])
        mask = ctx.temp(f"{name}/mask", [handle.length, *([1] * (rank - 1))], np.bool_)
        ones = [1] * (rank - 1)
        mask_shape = ctx.constant(f"{name}/mask_shape", [handle.length, *ones], "int32")
        ctx.emit(B.RESHAPE, [hit, mask_shape], [mask])
        result = ctx.temp(name, full, handle.dtype)
        ctx.emit(B.SELECT_V2, [mask, row, handle.tensor], [result])
    ctx.lists[node.outputs[0].name] = TensorList(
        result, handle.length, handle.element_shape, handle.dtype
    )


def lower_list_stack(ctx: Lowering, node: GraphNode) -> None:
    ctx.bind(node.outputs[0].name, _list(ctx, node.inputs[0]).tensor)


def lower_list_length(ctx: Lowering, node: GraphNode) -> None:
    ctx.bind_const(node.outputs[0].name, np.asarray(_list(ctx, node.inputs[0]).length, np.int32))


# -- While / If ------------------------------------------------------------------------


def _passes_through(body: Graph, i: int) -> bool:
    """Body output ``i`` is body input ``i`` (through Identity nodes only)."""
    made_by = {spec.name: node for node in body.nodes for spec in node.outputs}
    name = body.outputs[i]
    while name in made_by and made_by[name].type in ("Identity", "IdentityN"):
        node = made_by[name]
        name = node.inputs[[s.name for s in node.outputs].index(name)]
    return name == body.inputs[i].name


def _body(
    ctx: Lowering, graph: Graph, parents: list[str], constant: list[bool], kept: list[int] | None
) -> int:
    """Lower ``graph`` into a new subgraph whose argument i is the parent's ``parents[i]``.

    Constant arguments are bound as constants inside; the others become subgraph inputs
    (a TensorList as its tensor). ``kept`` picks the outputs to keep (None: all).
    """
    index = ctx.mb.new_subgraph(graph.name)
    inner = Lowering(ctx.state, index, graph_specs(graph))
    inner.load_function = graph.load_function
    for spec, parent, is_constant in zip(graph.inputs, parents, constant):
        value = ctx.const(parent)
        if is_constant and value is not None:
            inner.bind_const(spec.name, value)
        else:
            _bind_input(ctx, inner, spec, parent)
    lower_nodes(inner, graph)
    outputs = [graph.outputs[i] for i in kept] if kept is not None else graph.outputs
    for name in outputs:
        if name in inner.lists:
            inner.bind(name, inner.lists[name].tensor)
    bind_outputs(inner, outputs, None, own_tensors=False)
    return index


def _bind_input(ctx: Lowering, inner: Lowering, spec: TensorSpec, parent: str) -> None:
    source = ctx.lists.get(parent)
    if source is not None:
        index = inner.temp(ir_name(spec.name), source.shape, source.dtype)
        inner.lists[spec.name] = TensorList(
            index, source.length, source.element_shape, source.dtype
        )
    else:
        t = ctx.sg.tensors[ctx.tensor(parent)]
        signature = t.shape_signature if t.shape_signature is not None else t.shape
        index = inner.temp(ir_name(spec.name), [None if d < 0 else d for d in signature], t.dtype)
        inner.bind(spec.name, index)
    inner.sg.inputs.append(index)


def _loop_value(ctx: Lowering, name: str) -> int:
    return ctx.lists[name].tensor if name in ctx.lists else ctx.tensor(name)


def _loop_results(ctx: Lowering, node: GraphNode, kept: list[int]) -> list[int]:
    """IR tensors for the kept loop results (a TensorList keeps its input's layout)."""
    outputs = []
    for i in kept:
        spec = node.outputs[i]
        if spec.is_array:
            outputs.append(ctx.output(node, i))
            continue
        source = _list(ctx, node.inputs[i])
        index = ctx.temp(ir_name(spec.name), source.shape, source.dtype)
        ctx.lists[spec.name] = TensorList(index, source.length, source.element_shape, source.dtype)
        outputs.append(index)
    return outputs


def _load(ctx: Lowering, node: GraphNode, attr: str, args: list[TensorSpec]) -> Graph:
    name = node.attr(attr)
    if name is None or ctx.load_function is None:
        raise LoweringError(f"{node.type} without its {attr} function")
    return ctx.load_function(name, args)


def lower_while(ctx: Lowering, node: GraphNode) -> None:
    args = [ctx.spec(name) for name in node.inputs]
    body = _load(ctx, node, "body", args)
    cond = _load(ctx, node, "cond", args)
    constant = [
        ctx.const(name) is not None and _passes_through(body, i)
        for i, name in enumerate(node.inputs)
    ]
    kept = [i for i, c in enumerate(constant) if not c]
    cond_index = _body(ctx, cond, node.inputs, constant, None)
    body_index = _body(ctx, body, node.inputs, constant, kept)
    inputs = [_loop_value(ctx, node.inputs[i]) for i in kept]
    outputs = _loop_results(ctx, node, kept)
    for i, is_constant in enumerate(constant):
        if is_constant:
            ctx.bind_const(node.outputs[i].name, ctx.const(node.inputs[i]))  # type: ignore[arg-type]
    ctx.emit(B.WHILE, inputs, outputs, WhileOptions(cond_index, body_index))


def lower_if(ctx: Lowering, node: GraphNode) -> None:
    if any(not spec.is_array for spec in node.outputs):
        raise LoweringError("If returning a TensorList")
    args = [ctx.spec(name) for name in node.inputs[1:]]
    then_graph = _load(ctx, node, "then_branch", args)
    else_graph = _load(ctx, node, "else_branch", args)
    operands = node.inputs[1:]
    constant = [ctx.const(name) is not None for name in operands]
    then_index = _body(ctx, then_graph, operands, constant, None)
    else_index = _body(ctx, else_graph, operands, constant, None)
    operands = [name for name, c in zip(operands, constant) if not c]
    inputs = [ctx.input(node, 0)] + [_loop_value(ctx, name) for name in operands]
    outputs = [ctx.output(node, i) for i in range(len(node.outputs))]
    ctx.emit(B.IF, inputs, outputs, IfOptions(then_index, else_index))


def lower_call(ctx: Lowering, node: GraphNode) -> None:
    """(Stateful)PartitionedCall that freezing left in place (an XLA-compiled Keras op):
    the callee's nodes are lowered inline, under the call's name."""
    args = [ctx.spec(name) for name in node.inputs]
    name = node.attr("f")
    if name is None or ctx.load_function is None:
        raise LoweringError("call without its function")
    callee = ctx.load_function(name, args, f"{node.name}/")
    ctx.specs.update(graph_specs(callee))
    for spec, source in zip(callee.inputs, node.inputs):
        _alias(ctx, spec.name, source)
    lower_nodes(ctx, callee)
    for spec, result in zip(node.outputs, callee.outputs):
        _alias(ctx, spec.name, result)


def _alias(ctx: Lowering, name: str, source: str) -> None:
    if source in ctx.pending:
        ctx.bind_const(name, ctx.pending[source])
    elif source in ctx.lists:
        ctx.lists[name] = ctx.lists[source]
    else:
        ctx.bind(name, ctx.tensor(source))


LOWERINGS = {
    "PartitionedCall": lower_call,
    "StatefulPartitionedCall": lower_call,
    "While": lower_while,
    "StatelessWhile": lower_while,
    "If": lower_if,
    "StatelessIf": lower_if,
    "TensorListReserve": lower_list_reserve,
    "TensorListFromTensor": lower_list_from_tensor,
    "TensorListGetItem": lower_list_get,
    "TensorListSetItem": lower_list_set,
    "TensorListStack": lower_list_stack,
    "TensorListLength": lower_list_length,
}
