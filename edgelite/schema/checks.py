"""Semantic checks on a decoded Model: indices in range, sizes that add up.

``read_model`` runs these after the structural verifier, so that no later layer
(interpreter, inspect, converter passes) ever indexes out of range or trusts a
forged shape. Every failure is a ModelError saying what and where.
"""

from __future__ import annotations

from ..errors import ModelError
from .dtypes import storage_bytes, type_name
from .generated.enums import BuiltinOperator, TensorType
from .model import Model, Operator, Subgraph, Tensor

# TFLite kernels index elements with int32; a larger tensor can only be forged.
MAX_ELEMENTS = 2**31 - 1

# Options fields that name subgraphs (WHILE/IF/CALL_ONCE/CALL and StableHLO regions).
SUBGRAPH_FIELDS = (
    "cond_subgraph_index",
    "body_subgraph_index",
    "then_subgraph_index",
    "else_subgraph_index",
    "init_subgraph_index",
    "subgraph",
    "decomposition_subgraph_index",
    "comparator_subgraph_index",
    "update_computation_subgraph_index",
)


def check_model(model: Model) -> None:
    """Raise ModelError on the first broken reference or inconsistent size."""
    src = model.source
    if model.version != 3:
        raise ModelError(f"{src}: schema version {model.version} is not supported (expected 3)")
    if not model.subgraphs:
        raise ModelError(f"{src}: model has no subgraphs")
    for i, code in enumerate(model.operator_codes):
        if code.version < 1:
            raise ModelError(f"{src}: operator_codes[{i}] {code.name}: version {code.version} < 1")
    for sg_index, sg in enumerate(model.subgraphs):
        where = f"{src}: subgraph {sg_index}"
        for t_index, tensor in enumerate(sg.tensors):
            _check_tensor(model, tensor, f"{where} tensor {t_index} {tensor.name!r}")
        _check_refs(sg.inputs, len(sg.tensors), f"{where} inputs", allow_optional=False)
        _check_refs(sg.outputs, len(sg.tensors), f"{where} outputs", allow_optional=False)
        for op_index, op in enumerate(sg.operators):
            _check_operator(model, sg, op, f"{where} node {op_index}")
    _check_signatures(model)
    for i, meta in enumerate(model.metadata):
        if meta.buffer >= len(model.buffers):
            raise ModelError(
                f"{src}: metadata[{i}] {meta.name!r}: buffer {meta.buffer} out of range"
            )


def _check_refs(refs: list[int], count: int, where: str, allow_optional: bool) -> None:
    for position, ref in enumerate(refs):
        if ref == -1 and allow_optional:
            continue
        if not 0 <= ref < count:
            raise ModelError(
                f"{where}[{position}]: tensor index {ref} out of range (0..{count - 1})"
            )


def _check_tensor(model: Model, tensor: Tensor, where: str) -> None:
    if not isinstance(tensor.type, TensorType):
        raise ModelError(f"{where}: unknown tensor type {tensor.type}")
    for dims, label in ((tensor.shape, "shape"), (tensor.shape_signature or [], "shape_signature")):
        low = -1 if label == "shape_signature" else 0
        if any(d < low for d in dims):
            raise ModelError(f"{where}: {label} {dims} has a negative dimension")
    elements = 1
    for d in tensor.shape:
        elements *= d
        if elements > MAX_ELEMENTS:
            raise ModelError(f"{where}: shape {tensor.shape} has more than 2^31-1 elements")
    if tensor.buffer >= len(model.buffers):
        raise ModelError(
            f"{where}: buffer {tensor.buffer} out of range ({len(model.buffers)} buffers)"
        )
    _check_buffer_size(model, tensor, elements, where)
    _check_quantization(tensor, where)


def _check_buffer_size(model: Model, tensor: Tensor, elements: int, where: str) -> None:
    nbytes = model.buffers[tensor.buffer].nbytes
    if tensor.buffer == 0 or nbytes == 0 or tensor.sparsity is not None:
        return
    need = storage_bytes(tensor.type, elements)
    if need is not None and need != nbytes:
        raise ModelError(
            f"{where}: buffer {tensor.buffer} has {nbytes} bytes, shape "
            f"[{','.join(map(str, tensor.shape))}] {type_name(tensor.type)} needs {need}"
        )
    if tensor.type == TensorType.STRING and nbytes < 4:
        raise ModelError(f"{where}: string buffer {tensor.buffer} is {nbytes} bytes, too short")


def _check_quantization(tensor: Tensor, where: str) -> None:
    q = tensor.quantization
    if q is None or len(q.scale) <= 1:
        return
    rank = len(tensor.shape)
    if not 0 <= q.quantized_dimension < max(rank, 1):
        raise ModelError(
            f"{where}: quantized_dimension {q.quantized_dimension} outside rank {rank}"
        )
    if rank and len(q.scale) != tensor.shape[q.quantized_dimension]:
        raise ModelError(
            f"{where}: {len(q.scale)} scales for dimension {q.quantized_dimension} of size "
            f"{tensor.shape[q.quantized_dimension]}"
        )
    if len(q.zero_point) not in (0, len(q.scale)):
        raise ModelError(f"{where}: {len(q.zero_point)} zero points for {len(q.scale)} scales")


def _check_operator(model: Model, sg: Subgraph, op: Operator, where: str) -> None:
    if not 0 <= op.opcode_index < len(model.operator_codes):
        raise ModelError(
            f"{where}: opcode_index {op.opcode_index} out of range "
            f"({len(model.operator_codes)} operator codes)"
        )
    where = f"{where} {model.op_name(op)}"
    count = len(sg.tensors)
    _check_refs(op.inputs, count, f"{where} inputs", allow_optional=True)
    _check_refs(op.outputs, count, f"{where} outputs", allow_optional=True)
    _check_refs(op.intermediates, count, f"{where} intermediates", allow_optional=True)
    if op.mutating_variable_inputs and len(op.mutating_variable_inputs) != len(op.inputs):
        raise ModelError(f"{where}: mutating_variable_inputs length differs from inputs")
    for options in (op.builtin_options, op.builtin_options_2):
        for name in SUBGRAPH_FIELDS:
            index = getattr(options, name, None)
            if index is not None and not 0 <= index < len(model.subgraphs):
                raise ModelError(
                    f"{where}: {name} {index} out of range ({len(model.subgraphs)} subgraphs)"
                )
    code = model.operator_codes[op.opcode_index].builtin_code
    if code == BuiltinOperator.CUSTOM and model.operator_codes[op.opcode_index].custom_code is None:
        raise ModelError(f"{where}: CUSTOM operator code without a custom_code name")


def _check_signatures(model: Model) -> None:
    for i, sig in enumerate(model.signature_defs):
        where = f"{model.source}: signature_defs[{i}] {sig.key!r}"
        if not 0 <= sig.subgraph_index < len(model.subgraphs):
            raise ModelError(f"{where}: subgraph_index {sig.subgraph_index} out of range")
        count = len(model.subgraphs[sig.subgraph_index].tensors)
        for label, mapping in (("input", sig.inputs), ("output", sig.outputs)):
            for alias, index in mapping.items():
                if not 0 <= index < count:
                    raise ModelError(f"{where}: {label} {alias!r} tensor {index} out of range")
