"""float16 quantization: float16 constants, DEQUANTIZE'd to float32 once, float compute.

Every float32 constant an op reads (in every subgraph) is stored as float16 and turned
back into float32 by a DEQUANTIZE at the start of its subgraph, which is what the
official converter emits; runtimes evaluate those DEQUANTIZEs once, at prepare. The
file shrinks by about half and answers change by float16 rounding of the weights only.
Constants read by an op matched by ``keep_float`` stay float32.
"""

from __future__ import annotations

import numpy as np

from ..schema.generated.enums import BuiltinOperator as B
from ..schema.generated.enums import TensorType
from ..schema.model import Model, Operator, Subgraph
from .graph_edit import add_constant, clone_model, make_op, remove_unused
from .op_rules import DEQUANTIZE_VERSION
from .options import QuantizeOptions
from .report import QuantizeReport
from .select_ops import KeptFloat


def quantize_float16(model: Model, options: QuantizeOptions) -> tuple[Model, QuantizeReport]:
    """The float16-weight model of float ``model`` and what was done."""
    out = clone_model(model)
    patterns = options.keep_float_patterns()
    report = QuantizeReport(mode="float16", total_ops=sum(len(s.operators) for s in out.subgraphs))
    for index, sg in enumerate(out.subgraphs):
        kept = _kept_ops(out, sg, patterns, report if index == 0 else None)
        _convert_subgraph(out, sg, kept, report)
    for index in range(len(out.subgraphs)):
        remove_unused(out, index)
    return out, report


def _kept_ops(model: Model, sg: Subgraph, patterns, report: QuantizeReport | None) -> set[int]:
    kept = set()
    for i, op in enumerate(sg.operators):
        name = model.op_name(op)
        outputs = [sg.tensors[t].name for t in op.outputs if t >= 0]
        for pattern in patterns:
            if any(pattern.search(text) for text in [name, *outputs]):
                kept.add(i)
                if report is not None:
                    output = outputs[0] if outputs else ""
                    report.kept_float.append(
                        KeptFloat(i, name, output, f"--keep-float {pattern.pattern!r}")
                    )
                break
    return kept


def _convert_subgraph(model: Model, sg: Subgraph, kept: set[int], report: QuantizeReport) -> None:
    readers: dict[int, list[int]] = {}
    for i, op in enumerate(sg.operators):
        for t in set(op.inputs):
            if t >= 0:
                readers.setdefault(t, []).append(i)
    dequantize: list[Operator] = []
    users: set[int] = set()
    for t, ops in sorted(readers.items()):
        tensor = sg.tensors[t]
        values = model.constant(tensor)
        if tensor.type != TensorType.FLOAT32 or values is None or kept.intersection(ops):
            continue
        if t in sg.outputs or tensor.is_variable:
            continue
        half = add_constant(
            model, sg, tensor.name, np.asarray(values, np.float32).astype(np.float16)
        )
        # The float32 tensor keeps its index (every reader stays as is) but becomes the
        # DEQUANTIZE output instead of a constant.
        tensor.buffer = 0
        dequantize.append(make_op(model, B.DEQUANTIZE, DEQUANTIZE_VERSION["float16"], [half], [t]))
        report.quantized_weights += 1
        users.update(ops)
    report.quantized_ops += len(users)
    sg.operators = dequantize + sg.operators
