"""IF, WHILE, CALL_ONCE (v1): run other subgraphs through the interpreter's runtime.

Any dtype (the values are only copied). The branch/loop subgraphs are prepared
with the node's input shapes at prepare time; outputs are static when the
shapes are known and agree (both IF branches; a WHILE body that keeps its
shapes), else dynamic. CALL_ONCE runs its initializer subgraph on the first
invoke only (again after ``reset_all_variables``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from .base import KernelSpec, Node, Prepared, PrepareError, TensorInfo


def _runtime(node: Node) -> Any:
    if node.runtime is None:
        raise PrepareError(f"{node.op} runs other subgraphs: it needs an Interpreter to run in")
    if node.options is None:
        raise PrepareError(f"{node.op} has no builtin options (subgraph indices)")
    return node.runtime


def _check_signature(
    node: Node, index: int, role: str, inputs: list[TensorInfo | None], outputs: list[TensorInfo]
) -> None:
    """Subgraph ``index`` must take ``inputs`` and give ``outputs`` (count and dtype)."""
    runtime = node.runtime
    runtime.check_subgraph(index, f"{role} subgraph")
    sub_in, sub_out = runtime.subgraph_inputs(index), runtime.subgraph_outputs(index)
    if len(sub_in) != len(inputs) or len(sub_out) != len(outputs):
        raise PrepareError(
            f"{role} subgraph {index} takes {len(sub_in)} inputs and gives {len(sub_out)} "
            f"outputs; the node has {len(inputs)} and {len(outputs)}"
        )
    for which, ours, theirs in (("input", inputs, sub_in), ("output", outputs, sub_out)):
        for k, (a, b) in enumerate(zip(ours, theirs)):
            if a is not None and a.dtype != b.dtype:
                raise PrepareError(
                    f"{role} subgraph {index} {which} {k} is {b.dtype}, the node's is {a.dtype}"
                )


def _copy_out(results: list[np.ndarray], outputs: list[np.ndarray]) -> list[np.ndarray] | None:
    """Write results into preallocated outputs, or return copies (dynamic outputs)."""
    if not outputs:
        return [np.array(r, copy=True) for r in results]
    for k, (out, result) in enumerate(zip(outputs, results)):
        if out.shape != result.shape:
            raise PrepareError(
                f"output {k} has shape {list(result.shape)}, planned {list(out.shape)}"
            )
        out[...] = result
    return None


def _truth(value: np.ndarray) -> bool:
    flat = np.asarray(value).reshape(-1)
    if flat.size != 1:
        raise PrepareError(f"condition has {flat.size} elements, needs exactly 1")
    return bool(flat[0])


# -- IF ----------------------------------------------------------------------------


def _prepare_if(node: Node) -> Prepared:
    runtime = _runtime(node)
    if len(node.inputs) < 1:
        raise PrepareError("IF needs a condition input")
    cond = node.input(0)
    if cond.dtype != np.bool_:
        raise PrepareError(f"condition {cond.name!r} has type {cond.dtype}; IF needs bool")
    if int(np.prod(cond.shape, dtype=np.int64)) != 1:
        raise PrepareError(f"condition {cond.name!r} has shape {list(cond.shape)}; needs 1 element")
    branches = [node.options.then_subgraph_index, node.options.else_subgraph_index]
    args = node.inputs[1:]
    if any(a is None for a in args):
        raise PrepareError("IF inputs cannot be omitted (-1)")
    for role, index in zip(("then", "else"), branches):
        _check_signature(node, index, role, args, node.outputs)
    shapes = [a.shape for a in args if a is not None]
    if cond.data is not None:
        branches = [branches[0]] if _truth(cond.data) else [branches[1]]
    results = [runtime.prepare_subgraph(index, shapes) for index in branches]
    data = (runtime, *(node.options.then_subgraph_index, node.options.else_subgraph_index))
    first = results[0]
    if any(s is None for s in first) or any(r != first for r in results[1:]):
        return Prepared(dynamic=True, data=data)
    return Prepared(list(first), data=data)


def _invoke_if(data: Any, inputs: list, outputs: list) -> list[np.ndarray] | None:
    runtime, then_index, else_index = data
    branch = then_index if _truth(inputs[0]) else else_index
    return _copy_out(runtime.invoke_subgraph(branch, inputs[1:]), outputs)


# -- WHILE -------------------------------------------------------------------------


def _prepare_while(node: Node) -> Prepared:
    runtime = _runtime(node)
    if len(node.inputs) != len(node.outputs):
        raise PrepareError(f"WHILE has {len(node.inputs)} inputs but {len(node.outputs)} outputs")
    if any(a is None for a in node.inputs):
        raise PrepareError("WHILE inputs cannot be omitted (-1)")
    cond_index = node.options.cond_subgraph_index
    body_index = node.options.body_subgraph_index
    runtime.check_subgraph(cond_index, "cond subgraph")
    cond_out = runtime.subgraph_outputs(cond_index)
    if len(cond_out) != 1 or cond_out[0].dtype != np.bool_:
        raise PrepareError(f"cond subgraph {cond_index} must give exactly one bool output")
    _check_signature(node, cond_index, "cond", node.inputs, cond_out)
    _check_signature(node, body_index, "body", node.inputs, node.outputs)
    shapes = [a.shape for a in node.inputs if a is not None]
    (cond_shape,) = runtime.prepare_subgraph(cond_index, shapes)
    if cond_shape is not None and int(np.prod(cond_shape, dtype=np.int64)) != 1:
        raise PrepareError(f"cond subgraph {cond_index} output has shape {list(cond_shape)}")
    body_shapes = runtime.prepare_subgraph(body_index, shapes)
    data = (runtime, cond_index, body_index)
    if list(body_shapes) != shapes:
        return Prepared(dynamic=True, data=data)  # shapes may change from one iteration to the next
    return Prepared(list(shapes), data=data)


def _invoke_while(data: Any, inputs: list, outputs: list) -> list[np.ndarray] | None:
    runtime, cond_index, body_index = data
    values = list(inputs)
    while _truth(runtime.invoke_subgraph(cond_index, values)[0]):
        # The body's outputs are its own buffers, overwritten by the next run: copy.
        values = [np.array(v, copy=True) for v in runtime.invoke_subgraph(body_index, values)]
    return _copy_out(values, outputs)


# -- CALL_ONCE -----------------------------------------------------------------------


def _prepare_call_once(node: Node) -> Prepared:
    runtime = _runtime(node)
    if node.inputs or node.outputs:
        raise PrepareError("CALL_ONCE takes no inputs and gives no outputs")
    init_index = node.options.init_subgraph_index
    _check_signature(node, init_index, "init", [], [])
    if runtime.needs_call(init_index):
        runtime.prepare_subgraph(init_index, [])
    return Prepared([], data=(runtime, init_index))


def _invoke_call_once(data: Any, inputs: list, outputs: list) -> None:
    runtime, init_index = data
    if runtime.needs_call(init_index):
        runtime.invoke_subgraph(init_index, [])
        runtime.mark_called(init_index)


KERNELS = {
    BuiltinOperator.IF: KernelSpec(_prepare_if, _invoke_if, versions=(1, 1)),
    BuiltinOperator.WHILE: KernelSpec(_prepare_while, _invoke_while, versions=(1, 1)),
    BuiltinOperator.CALL_ONCE: KernelSpec(_prepare_call_once, _invoke_call_once, versions=(1, 1)),
}
