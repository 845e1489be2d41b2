"""Prepare: every node of a subgraph, in order, propagating shapes.

For each node the kernel's ``prepare`` sees its inputs' shapes (and values, for
constants) and returns the output shapes plus its immutable op data. A node is
*deferred* to invoke time when its prepare asks for input values it cannot have
yet (``Prepared(dynamic=True)``) or when an input's shape is only known at invoke
time because a deferred node produces it; deferred nodes' outputs become dynamic
heap tensors (see ``dynamic.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..schema.generated.enums import TensorType
from .kernels.base import Node, Prepared, PrepareError, TensorInfo
from .resolver import unresolved_custom_message

if TYPE_CHECKING:
    from .subgraph import SubgraphRuntime

STATIC, DEFERRED, FAILED = "static", "deferred", "failed"

_FLOAT32 = np.dtype(np.float32)


@dataclass
class NodePrep:
    """What prepare decided for one node."""

    index: int
    kind: str  # STATIC, DEFERRED or FAILED
    data: Any = None
    needs_values: bool = False  # deferred because prepare asked for input values
    error: Exception | None = None


def node_label(rt: SubgraphRuntime, node_index: int) -> str:
    """``node 3 ADD (v2)``, prefixed with the subgraph when it is not the main one."""
    resolved = rt.ops[node_index]
    where = f"subgraph {rt.index} " if rt.index else ""
    return f"{where}node {node_index} {resolved.name} (v{resolved.version})"


def wrap_prepare_error(rt: SubgraphRuntime, node_index: int, exc: Exception) -> PrepareError:
    """A PrepareError naming the node; kernel bugs keep their exception type in the text."""
    text = str(exc) if isinstance(exc, PrepareError) else f"{type(exc).__name__}: {exc}"
    return PrepareError(f"{node_label(rt, node_index)}: {text}")


def tensor_info(
    rt: SubgraphRuntime, index: int, shape: tuple[int, ...], data: np.ndarray | None
) -> TensorInfo:
    """TensorInfo of tensor ``index`` with the given current shape and value."""
    t = rt.sg.tensors[index]
    as_float = index in rt.float_weights  # hybrid weight, dequantized at load
    return TensorInfo(
        index=index,
        name=t.name,
        shape=shape,
        dtype=_FLOAT32 if as_float else t.dtype,
        type=TensorType.FLOAT32 if as_float else t.type,
        quantization=None if as_float else t.quantization,
        data=data,
        shape_signature=tuple(t.shape_signature) if t.shape_signature else None,
        is_variable=t.is_variable,
        sparsity=t.sparsity,
    )


def build_node(
    rt: SubgraphRuntime,
    node_index: int,
    shapes: dict[int, tuple[int, ...]],
    with_values: bool = False,
    values: list[np.ndarray | None] | None = None,
) -> Node:
    """The Node a kernel's prepare sees.

    Inputs take their shape from ``shapes``; their ``data`` is the constant value,
    or (``with_values``) the current value from ``values``/``rt.arrays``.
    """
    op = rt.sg.operators[node_index]
    resolved = rt.ops[node_index]
    inputs: list[TensorInfo | None] = []
    for k, t in enumerate(op.inputs):
        if t < 0:
            inputs.append(None)
            continue
        data = rt.constants.get(t)
        if data is None and with_values:
            data = values[k] if values is not None else rt.arrays[t]
        inputs.append(tensor_info(rt, t, shapes[t], data))
    # An omitted optional output (-1) is None, like an omitted input.
    outputs: list[Any] = [
        tensor_info(rt, t, rt.model_shape(t), None) if t >= 0 else None for t in op.outputs
    ]
    intermediates = [tensor_info(rt, t, rt.model_shape(t), None) for t in op.intermediates]
    return Node(
        index=node_index,
        op=resolved.name,
        version=resolved.version,
        inputs=inputs,
        outputs=outputs,
        options=op.builtin_options,
        options_2=op.builtin_options_2,
        custom_options=op.custom_options,
        intermediates=intermediates,
        subgraph=rt.index,
        num_threads=rt.core.num_threads,
        rounding=rt.core.rounding,
        runtime=rt.core.services,
    )


def check_output_shapes(
    rt: SubgraphRuntime, node_index: int, prepared: Prepared
) -> list[tuple[int, ...]]:
    """Validate what prepare returned: one non-negative int shape per output."""
    op = rt.sg.operators[node_index]
    shapes = prepared.output_shapes
    if len(shapes) != len(op.outputs):
        raise PrepareError(f"prepare returned {len(shapes)} output shapes for {len(op.outputs)}")
    clean: list[tuple[int, ...]] = []
    for t, shape in zip(op.outputs, shapes):
        if t < 0:
            clean.append(())
            continue
        dims = tuple(map(int, shape))
        if dims and min(dims) < 0:
            raise PrepareError(f"output {rt.sg.tensors[t].name!r} got negative shape {list(dims)}")
        rt.check_tensor_size(t, dims)
        clean.append(dims)
    return clean


def prepare_nodes(rt: SubgraphRuntime, keep_failures: bool) -> list[NodePrep]:
    """Prepare every (non-folded) node in order; ``rt.shapes`` gains the known shapes.

    With ``keep_failures`` (delegates may still claim a failing node) a failure is
    recorded and its outputs keep the model's shapes; otherwise it raises.
    """
    preps = []
    for node_index, op in enumerate(rt.sg.operators):
        if node_index in rt.folded:
            continue
        resolved = rt.ops[node_index]
        if any(t >= 0 and t not in rt.shapes for t in op.inputs):
            preps.append(NodePrep(node_index, DEFERRED))
            continue
        try:
            if resolved.spec is None:
                raise PrepareError(unresolved_custom_message(resolved.name))
            prepared = resolved.spec.prepare(build_node(rt, node_index, rt.shapes))
            if prepared.dynamic:
                preps.append(NodePrep(node_index, DEFERRED, needs_values=True))
                continue
            shapes = check_output_shapes(rt, node_index, prepared)
        except Exception as exc:
            error = wrap_prepare_error(rt, node_index, exc)
            if not keep_failures:
                raise error from exc
            preps.append(NodePrep(node_index, FAILED, error=error))
            for t in op.outputs:
                if t >= 0:
                    rt.shapes[t] = rt.model_shape(t)
            continue
        rt.shapes.update((t, s) for t, s in zip(op.outputs, shapes) if t >= 0)
        preps.append(NodePrep(node_index, STATIC, prepared.data))
    return preps
