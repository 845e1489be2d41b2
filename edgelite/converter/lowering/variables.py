"""Resource variables: the state a model keeps from one invoke to the next.

A variable the function assigns (see ``frontends.tf_variables``) arrives as a resource
input of the source graph. It becomes what the official converter emits:

- a VAR_HANDLE (by shared name) at the start of each subgraph that uses it;
- ReadVariableOp -> READ_VARIABLE, AssignVariableOp -> ASSIGN_VARIABLE, and
  AssignAdd/AssignSubVariableOp -> READ_VARIABLE, ADD/SUB, ASSIGN_VARIABLE;
- one initialisation subgraph assigning every variable its value at conversion time,
  run by a CALL_ONCE first thing in each subgraph that uses variables. Runtimes run an
  init subgraph once per interpreter (keyed by the subgraph), so signatures sharing a
  variable share its state too.

The order of reads and assignments is the source graph's (automatic control
dependencies order them); the passes never reorder, fold or merge these ops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...schema.generated.enums import BuiltinOperator, TensorType
from ...schema.generated.options import CallOnceOptions, VarHandleOptions
from .context import Lowering, LoweringError, ir_name
from .graph import GraphNode, StateVariable

if TYPE_CHECKING:
    from .driver import ConversionState

B = BuiltinOperator


def bind_variable(ctx: Lowering, variable: StateVariable) -> None:
    """Give the source graph's resource input ``variable.placeholder`` a VAR_HANDLE."""
    ctx.mb.use_subgraph(ctx.subgraph)
    handle = ctx.mb.tensor(ir_name(variable.placeholder), [], TensorType.RESOURCE)
    ctx.emit(B.VAR_HANDLE, [], [handle], VarHandleOptions("", variable.shared_name))
    ctx.bind(variable.placeholder, handle)
    ctx.state.variables.setdefault(variable.shared_name, variable)
    ctx.state.handles[(ctx.subgraph, handle)] = variable
    ctx.state.stateful_subgraphs.add(ctx.subgraph)


def _handle(ctx: Lowering, node: GraphNode) -> int:
    index = ctx.input(node, 0)
    if (ctx.subgraph, index) not in ctx.state.handles:
        raise LoweringError("the variable is not a resource variable kept by the converter")
    return index


def lower_read(ctx: Lowering, node: GraphNode) -> None:
    handle = _handle(ctx, node)
    # The source graph knows no shape for a read of a captured resource: the value has it.
    value = ctx.state.handles[(ctx.subgraph, handle)].value
    out = ctx.temp(ir_name(node.outputs[0].name), value.shape, value.dtype)
    ctx.bind(node.outputs[0].name, out)
    ctx.emit(B.READ_VARIABLE, [handle], [out])


def lower_assign(ctx: Lowering, node: GraphNode) -> None:
    ctx.emit(B.ASSIGN_VARIABLE, [_handle(ctx, node), ctx.input(node, 1)], [])


def _update(code: BuiltinOperator):
    """AssignAdd / AssignSub: read, combine, assign (what the official converter emits)."""

    def lower(ctx: Lowering, node: GraphNode) -> None:
        handle, delta = _handle(ctx, node), ctx.input(node, 1)
        value = ctx.state.handles[(ctx.subgraph, handle)].value
        name = ir_name(node.name)
        current = ctx.temp(f"{name}/read", value.shape, value.dtype)
        ctx.emit(B.READ_VARIABLE, [handle], [current])
        updated = ctx.temp(f"{name}/updated", value.shape, value.dtype)
        ctx.emit(code, [current, delta], [updated])
        ctx.emit(B.ASSIGN_VARIABLE, [handle, updated], [])

    return lower


def add_initialisation(ctx_state: ConversionState) -> int | None:
    """The init subgraph of every variable, and a CALL_ONCE of it at the start of each
    subgraph using one; returns its index (None without variables)."""
    if not ctx_state.variables:
        return None
    mb = ctx_state.builder
    index = mb.new_subgraph("variable_initialisation")
    for name, variable in ctx_state.variables.items():
        handle = mb.tensor(f"{name}/handle", [], TensorType.RESOURCE)
        mb.op(B.VAR_HANDLE, [], [handle], VarHandleOptions("", name))
        value = mb.const(f"{name}/initial_value", variable.value)
        mb.op(B.ASSIGN_VARIABLE, [handle, value], [])
    for subgraph in sorted(ctx_state.stateful_subgraphs):
        mb.use_subgraph(subgraph)
        mb.op(B.CALL_ONCE, [], [], CallOnceOptions(index))
        operators = mb.model.subgraphs[subgraph].operators
        operators.insert(0, operators.pop())  # before any variable is touched
    return index


LOWERINGS = {
    "ReadVariableOp": lower_read,
    "AssignVariableOp": lower_assign,
    "AssignAddVariableOp": _update(B.ADD),
    "AssignSubVariableOp": _update(B.SUB),
}
