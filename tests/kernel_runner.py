"""Run a single-op (or small) model straight through the kernels, without the core.

Kernel tests use this to hold each kernel to the oracle independently of the
interpreter core (arena, planner, Cython loop), and to compare the reference
and optimized invoke functions on identical inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgelite.interpreter.kernels.base import Node, TensorInfo
from edgelite.interpreter.op_table import builtin_table, custom_table
from edgelite.schema import read_model
from edgelite.schema.generated.enums import BuiltinOperator


def _info(model, sg, index: int, values: dict[int, np.ndarray]) -> TensorInfo | None:
    if index < 0:
        return None
    t = sg.tensors[index]
    data = values.get(index)
    if data is None:
        data = model.constant(t)
    shape = tuple(data.shape) if data is not None else tuple(t.shape)
    return TensorInfo(
        index,
        t.name,
        shape,
        t.dtype,
        t.type,
        t.quantization,
        data,
        tuple(t.shape_signature) if t.shape_signature else None,
        t.is_variable,
    )


def run_kernels(model_bytes: bytes, inputs: Sequence[np.ndarray], optimized: bool = False):
    """Execute subgraph 0 op by op; returns the subgraph outputs."""
    model = read_model(model_bytes)
    sg = model.main
    values: dict[int, np.ndarray] = {}
    for index, value in zip(sg.inputs, inputs):
        values[index] = np.asarray(value, dtype=sg.tensors[index].dtype)
    for op_index, op in enumerate(sg.operators):
        code = model.operator_codes[op.opcode_index]
        if code.builtin_code == BuiltinOperator.CUSTOM:
            spec = custom_table()[code.custom_code]
        else:
            spec = builtin_table()[int(code.builtin_code)]
        node = Node(
            index=op_index,
            op=code.name,
            version=code.version,
            inputs=[_info(model, sg, i, values) for i in op.inputs],
            outputs=[_info(model, sg, i, {}) for i in op.outputs],
            options=op.builtin_options,
            options_2=op.builtin_options_2,
            custom_options=op.custom_options,
            intermediates=[_info(model, sg, i, {}) for i in op.intermediates],  # type: ignore[misc]
        )
        prepared = spec.prepare(node)
        if prepared.dynamic:
            prepared = spec.prepare(node)
        ins = [None if i < 0 else values.get(i, model.constant(sg.tensors[i])) for i in op.inputs]
        invoke = spec.invoke_opt if optimized and spec.invoke_opt else spec.invoke
        if prepared.dynamic:
            outs = invoke(prepared.data, ins, [])
        else:
            outs = [
                np.empty(shape, sg.tensors[i].dtype)
                for shape, i in zip(prepared.output_shapes, op.outputs)
            ]
            invoke(prepared.data, ins, outs)
        for i, value in zip(op.outputs, outs):
            values[i] = value
    return [values[i] for i in sg.outputs]
