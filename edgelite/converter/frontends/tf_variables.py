"""Freezing with state: variables the function assigns stay variables.

``convert_variables_to_constants_v2`` turns every captured variable into a constant,
and fails on a function that assigns one (a model that keeps state: a counter, a
running mean, a streaming buffer). Here the assigned variables are found first in the
inlined graph (the resource input of each Assign*VariableOp, followed back to its
capture placeholder) and left out of freezing: they stay resource inputs of the frozen
function, which lowering turns into TFLite resource variables (VAR_HANDLE /
READ_VARIABLE / ASSIGN_VARIABLE, initialised once by a CALL_ONCE subgraph). Read-only
variables are frozen into constants as before.

TensorFlow's converter data classes used here are not public API; they are what
``convert_variables_to_constants_v2`` itself runs, minus the variables kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..lowering.graph import StateVariable

ASSIGN_OPS = frozenset({"AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp"})
_PASS_THROUGH = frozenset({"Identity", "IdentityN"})


def _node_name(text: str) -> str:
    return text.lstrip("^").split(":")[0]


def assigned_placeholders(graph_def: Any) -> set[str]:
    """Names of the Placeholders whose variables an Assign*VariableOp of the (inlined)
    ``graph_def`` writes."""
    nodes = {node.name: node for node in graph_def.node}
    found = set()
    for node in graph_def.node:
        if node.op not in ASSIGN_OPS or not node.input:
            continue
        source = nodes.get(_node_name(node.input[0]))
        while source is not None and source.op in _PASS_THROUGH and source.input:
            source = nodes.get(_node_name(source.input[0]))
        if source is not None and source.op == "Placeholder":
            found.add(source.name)
    return found


def _assigns_anything(graph_def: Any) -> bool:
    """Cheap first look (before inlining): any Assign*VariableOp in the graph or library."""
    if any(node.op in ASSIGN_OPS for node in graph_def.node):
        return True
    return any(
        node.op in ASSIGN_OPS
        for function in graph_def.library.function
        for node in function.node_def
    )


def _variables_by_capture(function: Any) -> dict[str, Any]:
    """Capture placeholder name -> the tf.Variable it holds the handle of."""
    by_handle = {id(v.handle): v for v in function.graph.variables}
    found = {}
    for value, placeholder in function.graph.captures:
        variable = by_handle.get(id(value))
        if variable is not None:
            found[placeholder.name.split(":")[0]] = variable
    return found


def assigned_variables(function: Any) -> set[int]:
    """Ids of the tf.Variables ``function`` assigns (found in its inlined graph)."""
    from tensorflow.python.framework import convert_to_constants as c2c

    if not _assigns_anything(function.graph.as_graph_def()):
        return set()
    probe = c2c._FunctionConverterDataInEager(
        func=function, lower_control_flow=False, aggressive_inlining=False
    )
    captures = _variables_by_capture(function)
    placeholders = assigned_placeholders(probe.graph_def)
    return {id(captures[name]) for name in placeholders if name in captures}


def freeze_keeping_state(
    function: Any, mutable: set[int], names: dict[int, str]
) -> tuple[Any, list[StateVariable]]:
    """The frozen ConcreteFunction and the variables left as (resource) inputs.

    ``mutable``: ids of the variables any function of the model assigns (a signature
    that only reads one must read the live value, not a frozen copy). ``names``
    (variable id -> shared name) is shared by all functions of one model, so a variable
    two signatures use is one TFLite variable, and variables TensorFlow named alike get
    distinct names.
    """
    from tensorflow.python.framework import convert_to_constants as c2c

    captures = _variables_by_capture(function)
    kept = {name for name, variable in captures.items() if id(variable) in mutable}
    if not kept:
        return c2c.convert_variables_to_constants_v2(function, lower_control_flow=False), []
    data = c2c._FunctionConverterDataInEager(
        func=function,
        lower_control_flow=False,
        aggressive_inlining=False,
        variable_names_denylist=kept,
    )
    graph_def, converted = c2c._replace_variables_by_constants(converter_data=data)
    frozen = c2c._construct_concrete_function(function, graph_def, converted)
    state = []
    for name in sorted(kept):
        variable = captures[name]
        if id(variable) not in names:
            base = variable.name.split(":")[0]
            taken = set(names.values())
            names[id(variable)] = next(
                n for n in (base, *(f"{base}_{i}" for i in range(1, len(taken) + 2)))
                if n not in taken
            )  # fmt: skip
        value = np.asarray(variable.numpy())
        state.append(StateVariable(f"{name}:0", names[id(variable)], value))
    return frozen, state
