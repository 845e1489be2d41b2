"""Dynamic-range quantization: int8 weights, float activations, the runtime's hybrid kernels.

Only ops with hybrid kernels get int8 weights, symmetric, per channel where the hybrid
kernel takes it (CONV_2D axis 0, DEPTHWISE_CONV_2D axis 3, TRANSPOSE_CONV axis 0, and
FULLY_CONNECTED axis 0 by default like TF 2.21's converter), per tensor otherwise.
Weights smaller than ``weights_min_elements`` (1024, the official default) stay float:
they save little and cost accuracy. Versions and ``asymmetric_quantize_inputs`` follow
what the official converter emits. A constant GATHER table becomes an int8 GATHER
followed by DEQUANTIZE, as the official converter does for embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..schema.generated.enums import BuiltinOperator as B
from ..schema.generated.enums import TensorType
from ..schema.model import Model, Operator, QuantizationParameters, Subgraph
from .graph_edit import (
    add_constant,
    add_tensor_like,
    clone_model,
    make_op,
    per_tensor,
    remove_unused,
    with_options,
)
from .options import QuantizeOptions
from .qmath import quantize_weights
from .report import QuantizeReport
from .select_ops import KeptFloat

F32 = TensorType.FLOAT32
_LSTM_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16)


@dataclass(frozen=True)
class HybridRule:
    weights: tuple[int, ...]
    axis: int | None  # per-channel axis, None: per tensor
    version_per_channel: int
    version_per_tensor: int
    asymmetric_inputs: bool = True  # set asymmetric_quantize_inputs where the op has it


RULES: dict[int, HybridRule] = {
    B.CONV_2D: HybridRule((1,), 0, 5, 2, asymmetric_inputs=False),
    B.DEPTHWISE_CONV_2D: HybridRule((1,), 3, 6, 4, asymmetric_inputs=False),
    B.TRANSPOSE_CONV: HybridRule((1,), 0, 2, 2, asymmetric_inputs=False),
    B.FULLY_CONNECTED: HybridRule((1,), 0, 12, 9),
    B.BATCH_MATMUL: HybridRule((1,), None, 4, 4),
    B.EMBEDDING_LOOKUP: HybridRule((1,), None, 1, 1),
    B.LSTM: HybridRule(_LSTM_WEIGHTS, None, 4, 4),
    B.UNIDIRECTIONAL_SEQUENCE_LSTM: HybridRule(_LSTM_WEIGHTS, None, 3, 3),
    B.RNN: HybridRule((1, 2), None, 3, 3),
    B.UNIDIRECTIONAL_SEQUENCE_RNN: HybridRule((1, 2), None, 3, 3),
    B.SVDF: HybridRule((1, 2), None, 4, 4),
}


def quantize_dynamic(model: Model, options: QuantizeOptions) -> tuple[Model, QuantizeReport]:
    """The dynamic-range model of float ``model`` (every subgraph) and what was done."""
    out = clone_model(model)
    report = QuantizeReport(mode="dynamic", total_ops=sum(len(s.operators) for s in out.subgraphs))
    cache: dict[tuple[int, int, int | None], int] = {}
    for sg in out.subgraphs:
        _quantize_subgraph(_Context(out, sg, options, cache, report))
    report.quantized_weights = len(cache)
    for index in range(len(out.subgraphs)):
        remove_unused(out, index)
    return out, report


@dataclass
class _Context:
    model: Model
    sg: Subgraph
    options: QuantizeOptions
    cache: dict  # (subgraph id, tensor, axis) -> int8 tensor
    report: QuantizeReport


def _quantize_subgraph(ctx: _Context) -> None:
    model, sg = ctx.model, ctx.sg
    patterns = ctx.options.keep_float_patterns()
    new_ops: list[Operator] = []
    for index, op in enumerate(sg.operators):
        code = model.operator_codes[op.opcode_index].builtin_code
        name = model.op_name(op)
        outputs = [sg.tensors[t].name for t in op.outputs if t >= 0]
        matched = next((p for p in patterns if any(p.search(s) for s in [name, *outputs])), None)
        if matched is not None and (code in RULES or code == B.GATHER):
            reason = f"--keep-float {matched.pattern!r}"
            ctx.report.kept_float.append(KeptFloat(index, name, (outputs or [""])[0], reason))
            new_ops.append(op)
        elif code == B.GATHER:
            new_ops.extend(_gather(ctx, op))
        else:
            rule = RULES.get(code)
            if rule is not None and _hybrid_op(ctx, op, rule):
                ctx.report.quantized_ops += 1
            new_ops.append(op)
    sg.operators = new_ops


def _big_float_weights(ctx: _Context, op: Operator, slots) -> list[int]:
    found = []
    for slot in slots:
        if slot < len(op.inputs) and op.inputs[slot] >= 0:
            tensor = ctx.sg.tensors[op.inputs[slot]]
            if tensor.type == F32 and ctx.model.constant(tensor) is not None:
                found.append(slot)
    minimum = ctx.options.weights_min_elements
    if not any(ctx.sg.tensors[op.inputs[s]].num_elements >= minimum for s in found):
        return []
    return found


def _int8_weight(ctx: _Context, t: int, axis: int | None) -> int:
    key = (id(ctx.sg), t, axis)
    if key not in ctx.cache:
        tensor = ctx.sg.tensors[t]
        values = np.asarray(ctx.model.constant(tensor), np.float32)
        q, scales = quantize_weights(values, axis)
        params = QuantizationParameters(
            scale=scales,
            zero_point=np.zeros(len(scales), np.int64),
            quantized_dimension=0 if axis is None else axis,
        )
        ctx.cache[key] = add_constant(ctx.model, ctx.sg, tensor.name, q, params)
    return ctx.cache[key]


def _hybrid_op(ctx: _Context, op: Operator, rule: HybridRule) -> bool:
    slots = _big_float_weights(ctx, op, rule.weights)
    if not slots:
        return False
    code = ctx.model.operator_codes[op.opcode_index]
    axis = rule.axis
    fc = code.builtin_code == B.FULLY_CONNECTED
    if ctx.options.per_tensor or (fc and not ctx.options.fc_per_channel):
        axis = None
    for slot in slots:
        op.inputs[slot] = _int8_weight(ctx, op.inputs[slot], axis)
    version = rule.version_per_channel if axis is not None else rule.version_per_tensor
    op.opcode_index = ctx.model.opcode_index(code.builtin_code, max(version, code.version))
    opts = op.builtin_options
    if rule.asymmetric_inputs and hasattr(opts, "asymmetric_quantize_inputs"):
        op.builtin_options = with_options(opts, asymmetric_quantize_inputs=True)
    return True


def _gather(ctx: _Context, op: Operator) -> list[Operator]:
    """int8 GATHER of a big constant float table, then DEQUANTIZE its output."""
    sg, model = ctx.sg, ctx.model
    out = op.outputs[0]
    if not _big_float_weights(ctx, op, (0,)) or sg.tensors[out].type != F32:
        return [op]
    table = _int8_weight(ctx, op.inputs[0], None)
    scale = float(sg.tensors[table].quantization.scale[0])  # type: ignore[union-attr]
    source = sg.tensors[out]
    gathered = add_tensor_like(
        sg, source, f"{source.name}_int8", np.dtype(np.int8), per_tensor(scale, 0)
    )
    op.inputs[0] = table
    op.outputs[0] = gathered
    code = model.operator_codes[op.opcode_index]
    op.opcode_index = model.opcode_index(B.GATHER, max(2, code.version))
    ctx.report.quantized_ops += 1
    return [op, make_op(model, B.DEQUANTIZE, 2, [gathered], [out])]
