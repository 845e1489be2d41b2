"""VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE (v1): resource variables.

A resource tensor holds an int32 id; the values live in the interpreter's
runtime (``node.runtime``), shared by every subgraph, kept across invokes and
cleared by ``reset_all_variables``. VAR_HANDLE maps (container, shared_name) to
an id (same name, same variable); ASSIGN_VARIABLE stores a copy of its value
(any dtype and shape); READ_VARIABLE's output takes the variable's shape.

TFLite makes READ_VARIABLE's output dynamic, which would push every node after it
out of the static memory plan. When the model declares a fully known output
shape (no -1 in its signature) we plan with that shape instead and check at
invoke that the variable has it; otherwise the node is prepared at invoke time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from .base import KernelSpec, Node, Prepared, PrepareError, TensorInfo


def _runtime(node: Node) -> Any:
    if node.runtime is None:
        raise PrepareError(f"{node.op} keeps state in the interpreter: it needs one to run in")
    return node.runtime


def _check_handle(info: TensorInfo) -> None:
    if info.dtype != np.int32:
        raise PrepareError(f"resource handle {info.name!r} has type {info.dtype}; needs RESOURCE")
    if int(np.prod(info.shape, dtype=np.int64)) != 1:
        raise PrepareError(f"resource handle {info.name!r} has shape {list(info.shape)}")


def _prepare_var_handle(node: Node) -> Prepared:
    runtime = _runtime(node)
    if node.inputs or len(node.outputs) != 1:
        raise PrepareError("VAR_HANDLE takes no inputs and gives one resource output")
    out = node.outputs[0]
    shape = tuple(out.shape) if int(np.prod(out.shape, dtype=np.int64)) == 1 else (1,)
    _check_handle(TensorInfo(out.index, out.name, shape, out.dtype, out.type))
    opts = node.options
    container = (opts.container or "") if opts is not None else ""
    shared_name = (opts.shared_name or "") if opts is not None else ""
    return Prepared([shape], data=runtime.resource_id(container, shared_name))


def _invoke_var_handle(data: int, inputs: list, outputs: list) -> None:
    outputs[0][...] = data


def _prepare_read_variable(node: Node) -> Prepared:
    runtime = _runtime(node)
    if len(node.inputs) != 1 or len(node.outputs) != 1:
        raise PrepareError("READ_VARIABLE takes one resource input and gives one output")
    handle, out = node.input(0), node.outputs[0]
    _check_handle(handle)
    if handle.data is None:
        signature = out.shape_signature if out.shape_signature is not None else out.shape
        if any(d < 0 for d in signature):
            return Prepared(dynamic=True)  # the shape is the variable's: known once read
        return Prepared([tuple(out.shape)], data=runtime)
    value = _read(runtime, handle.data, out)
    return Prepared([tuple(value.shape)], data=runtime)


def _read(runtime: Any, handle: np.ndarray, out: TensorInfo) -> np.ndarray:
    resource = int(np.asarray(handle).reshape(-1)[0])
    value = runtime.read_variable(resource)
    if value is None:
        raise PrepareError(f"variable {resource} is read before any value was assigned to it")
    if value.dtype != out.dtype:
        raise PrepareError(
            f"variable {resource} holds {value.dtype}, output {out.name!r} is {out.dtype}"
        )
    return value


def _invoke_read_variable(runtime: Any, inputs: list, outputs: list) -> None:
    out = outputs[0]
    resource = int(np.asarray(inputs[0]).reshape(-1)[0])
    value = runtime.read_variable(resource)
    if value is None:
        raise PrepareError(f"variable {resource} is read before any value was assigned to it")
    if value.shape != out.shape or value.dtype != out.dtype:
        raise PrepareError(
            f"variable {resource} is {value.dtype}{list(value.shape)}; the model declares the "
            f"output as {out.dtype}{list(out.shape)}"
        )
    out[...] = value


def _prepare_assign_variable(node: Node) -> Prepared:
    runtime = _runtime(node)
    if len(node.inputs) != 2 or node.outputs:
        raise PrepareError("ASSIGN_VARIABLE takes a resource and a value and gives no output")
    _check_handle(node.input(0))
    node.input(1)
    return Prepared([], data=runtime)


def _invoke_assign_variable(runtime: Any, inputs: list, outputs: list) -> None:
    resource = int(np.asarray(inputs[0]).reshape(-1)[0])
    runtime.assign_variable(resource, inputs[1])


KERNELS = {
    BuiltinOperator.VAR_HANDLE: KernelSpec(_prepare_var_handle, _invoke_var_handle),
    BuiltinOperator.READ_VARIABLE: KernelSpec(_prepare_read_variable, _invoke_read_variable),
    BuiltinOperator.ASSIGN_VARIABLE: KernelSpec(_prepare_assign_variable, _invoke_assign_variable),
}
