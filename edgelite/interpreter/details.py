"""The detail dicts of the official Python API, key for key and dtype for dtype.

``get_input_details()`` & co. are an ecosystem contract: user scripts and
adapters index into them, compare ``dtype`` with ``np.float32`` and unpack
``quantization``. Every value here has the official type: ``shape`` and
``shape_signature`` int32 arrays, ``dtype`` a numpy scalar type, ``quantization``
a (float, int) tuple (per-tensor only, else (0.0, 0)), ``quantization_parameters``
with float32 scales / int32 zero points, ``sparsity_parameters`` {} when dense.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..schema.generated.enums import DimensionType, TensorType

if TYPE_CHECKING:
    from .core import Core
    from .subgraph import SubgraphRuntime

# The numpy type the official API reports where it differs from the storage dtype.
_REPORTED_TYPE = {
    TensorType.STRING: np.bytes_,
    TensorType.RESOURCE: np.object_,
    TensorType.VARIANT: np.object_,
}


def reported_dtype(tensor_type: int, storage: np.dtype) -> type:
    """The ``dtype`` entry of a detail dict (BFLOAT16 has none: ValueError, as official)."""
    if tensor_type == TensorType.BFLOAT16:
        raise ValueError("Could not get tensor details")
    return _REPORTED_TYPE.get(TensorType(tensor_type), storage.type)


def _quantization(rt: SubgraphRuntime, t: int) -> tuple[tuple[float, int], dict]:
    q = rt.sg.tensors[t].quantization
    scales = np.zeros(0, np.float32)
    zeros = np.zeros(0, np.int32)
    dim = 0
    if q is not None and len(q.scale):
        scales = np.asarray(q.scale, np.float32).copy()
        zeros = np.asarray(q.zero_point, np.int64).astype(np.int32)
        dim = int(q.quantized_dimension)
    legacy = (float(scales[0]), int(zeros[0])) if len(scales) == 1 and len(zeros) == 1 else (0.0, 0)
    params = {"scales": scales, "zero_points": zeros, "quantized_dimension": dim, "block_size": 0}
    return legacy, params


def _sparsity(rt: SubgraphRuntime, t: int) -> dict:
    sparsity = rt.sg.tensors[t].sparsity
    if sparsity is None:
        return {}
    out: dict = {}
    if sparsity.traversal_order:
        out["traversal_order"] = np.asarray(sparsity.traversal_order, np.int32)
    if sparsity.block_map:
        out["block_map"] = np.asarray(sparsity.block_map, np.int32)
    dims: list[dict[str, Any]] = []
    for meta in sparsity.dim_metadata:
        if meta.format == DimensionType.DENSE:
            dims.append({"format": int(meta.format), "dense_size": int(meta.dense_size)})
        else:
            segments: Any = meta.array_segments if meta.array_segments is not None else []
            indices: Any = meta.array_indices if meta.array_indices is not None else []
            dims.append(
                {
                    "format": int(meta.format),
                    "array_segments": np.asarray(segments, np.int32),
                    "array_indices": np.asarray(indices, np.int32),
                }
            )
    if dims:
        out["dim_metadata"] = dims
    return out


def tensor_details(rt: SubgraphRuntime, t: int) -> dict:
    """The official detail dict of tensor ``t`` of ``rt``'s subgraph."""
    tensor = rt.sg.tensors[t]
    dtype = reported_dtype(tensor.type, tensor.dtype)
    shape = np.asarray(rt.current_shape(t), np.int32)
    signature = tensor.shape_signature
    legacy, params = _quantization(rt, t)
    return {
        "name": tensor.name,
        "index": t,
        "shape": shape,
        "shape_signature": np.asarray(signature, np.int32) if signature else shape.copy(),
        "dtype": dtype,
        "quantization": legacy,
        "quantization_parameters": params,
        "sparsity_parameters": _sparsity(rt, t),
    }


def op_count(core: Core) -> int:
    """Nodes of the main subgraph, plus one DELEGATE node per delegated partition."""
    return len(core.subgraphs[0].sg.operators) + len(_partitions(core))


def _partitions(core: Core) -> list:
    rt = core.subgraphs[0]
    return [u.partition for u in rt.units if u.partition is not None] if rt.ready else []


def op_details(core: Core, index: int) -> dict:
    """The official ``_get_op_details`` dict of node ``index`` of the main subgraph."""
    rt = core.subgraphs[0]
    count = len(rt.sg.operators)
    partitions = _partitions(core)
    if not 0 <= index < count + len(partitions):
        raise ValueError("Invalid node index")
    if index < count:
        op = rt.sg.operators[index]
        name = rt.ops[index].name
        inputs, outputs = list(op.inputs), list(op.outputs)
    else:
        part = partitions[index - count]
        name, inputs, outputs = "DELEGATE", list(part.inputs), list(part.outputs)

    def types(tensors: list[int]) -> list[type]:
        return [tensor_details(rt, t)["dtype"] for t in tensors if t != -1]

    return {
        "index": int(index),
        "op_name": name,
        "inputs": np.asarray(inputs, np.int32),
        "outputs": np.asarray(outputs, np.int32),
        "operand_types": types(inputs),
        "result_types": types(outputs),
    }


def full_signature_list(core: Core) -> dict:
    """``{key: {'inputs': {name: index}, 'outputs': {name: index}}}``, names sorted like TFLite."""
    result = {}
    for sig in core.model.signature_defs:
        result[sig.key] = {
            "inputs": dict(sorted(sig.inputs.items())),
            "outputs": dict(sorted(sig.outputs.items())),
        }
    return result
