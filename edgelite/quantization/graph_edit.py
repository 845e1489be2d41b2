"""Graph editing the quantizer shares: copying a model, adding tensors and ops, clean-up."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..schema.builder import quant
from ..schema.dtypes import tensor_type
from ..schema.generated.enums import BuiltinOperator, TensorType
from ..schema.model import Model, Operator, QuantizationParameters, Subgraph, Tensor


def clone_model(model: Model) -> Model:
    """A deep copy whose buffers still share the (read-only) constant bytes.

    Constant data can be the memory-mapped file; the quantizer never writes into it,
    it adds new buffers instead, so copying it would only cost memory.
    """
    memo: dict[int, object] = {}
    for buf in model.buffers:
        if buf.data is not None:
            memo[id(buf.data)] = buf.data
    return copy.deepcopy(model, memo)


def add_tensor_like(
    sg: Subgraph,
    source: Tensor,
    name: str,
    dtype: np.dtype | TensorType,
    quantization: QuantizationParameters | None,
) -> int:
    """A new non-constant tensor with ``source``'s shape and shape signature."""
    ttype = dtype if isinstance(dtype, TensorType) else tensor_type(dtype)
    return sg.add_tensor(
        Tensor(
            name=name,
            shape=list(source.shape),
            type=ttype,
            quantization=quantization,
            shape_signature=list(source.shape_signature) if source.shape_signature else None,
            has_rank=source.has_rank,
        )
    )


def add_constant(
    model: Model,
    sg: Subgraph,
    name: str,
    values: np.ndarray,
    quantization: QuantizationParameters | None = None,
) -> int:
    """A new constant tensor holding ``values`` (its own new buffer)."""
    buffer = model.add_buffer(np.ascontiguousarray(values))
    return sg.add_tensor(
        Tensor(
            name=name,
            shape=[int(d) for d in values.shape],
            type=tensor_type(values.dtype),
            buffer=buffer,
            quantization=quantization,
            has_rank=True,
        )
    )


def per_tensor(scale: float, zero_point: int) -> QuantizationParameters:
    return quant(float(scale), int(zero_point))


def make_op(model: Model, code: BuiltinOperator, version: int, inputs, outputs) -> Operator:
    """A builtin operator without options (QUANTIZE, DEQUANTIZE)."""
    return Operator(
        opcode_index=model.opcode_index(code, version), inputs=list(inputs), outputs=list(outputs)
    )


def with_options(options: Any, **changes: Any) -> Any:
    """A copy of a builtin-options object with some fields changed (the original may be shared)."""
    changed = copy.copy(options)
    for name, value in changes.items():
        setattr(changed, name, value)
    return changed


def remove_unused(model: Model, subgraph_index: int = 0) -> None:
    """Drop unreferenced tensors (renumbering signatures too), buffers and op codes."""
    sg = model.subgraphs[subgraph_index]
    removed = sorted(sg.remove_unused_tensors())
    if removed:
        kept = np.setdiff1d(np.arange(len(sg.tensors) + len(removed)), removed)
        new_index = {int(old): new for new, old in enumerate(kept)}
        for sig in model.signature_defs:
            if sig.subgraph_index == subgraph_index:
                sig.inputs = {k: new_index[t] for k, t in sig.inputs.items()}
                sig.outputs = {k: new_index[t] for k, t in sig.outputs.items()}
    model.deduplicate_buffers()
    prune_operator_codes(model)


def prune_operator_codes(model: Model) -> None:
    """Remove operator codes no operator uses and renumber the rest."""
    used = sorted({op.opcode_index for sg in model.subgraphs for op in sg.operators})
    new_index = {old: new for new, old in enumerate(used)}
    model.operator_codes = [model.operator_codes[i] for i in used]
    for sg in model.subgraphs:
        for op in sg.operators:
            op.opcode_index = new_index[op.opcode_index]


def rename_boundary(sg: Subgraph, original: int, boundary: int, suffix: str) -> None:
    """Give a model input/output's new tensor the original name (users look it up by name)."""
    if boundary != original:
        name = sg.tensors[original].name
        sg.tensors[boundary].name = name
        sg.tensors[original].name = f"{name}{suffix}"
