"""Constant folding: an operator whose inputs are all constants becomes a constant.

The value is computed by our own interpreter kernels (the numpy reference ``invoke``),
so a folded result is exactly what the runtime would have computed. Lowering calls
:func:`evaluate` as it emits each op, which is how weight re-layouts (TRANSPOSE of a
conv filter), shape arithmetic and constant sub-expressions never reach the file.
"""

from __future__ import annotations

import numpy as np

from ...interpreter.kernels.base import Node, PrepareError, TensorInfo
from ...interpreter.op_table import builtin_table
from ...quantization.ranges import carry_range, is_quantized
from ...schema.model import Model, Operator, Subgraph
from ..versioning import operator_version
from .common import B, View, code_of, constant, make_constant

# Ops with state, side effects, randomness or subgraphs: never folded.
NOT_FOLDABLE = frozenset(
    {
        B.CUSTOM,
        B.WHILE,
        B.IF,
        B.CALL_ONCE,
        B.VAR_HANDLE,
        B.READ_VARIABLE,
        B.ASSIGN_VARIABLE,
        B.RANDOM_UNIFORM,
        B.RANDOM_STANDARD_NORMAL,
        B.MULTINOMIAL,
    }
)
# A fold that would grow the file by this much (broadcasts, tiles) is left to run time.
MAX_GROWTH_BYTES = 1 << 20


def _info(sg: Subgraph, index: int, value: np.ndarray | None) -> TensorInfo | None:
    if index < 0:
        return None
    t = sg.tensors[index]
    shape = tuple(value.shape) if value is not None else tuple(t.shape)
    quantization = t.quantization if is_quantized(t) else None  # a range is no scale
    return TensorInfo(index, t.name, shape, t.dtype, t.type, quantization, value)


def infer_shapes(model: Model, sg: Subgraph, op: Operator) -> list[tuple[int, ...]] | None:
    """Output shapes of ``op`` as our kernel's prepare computes them (None if it cannot)."""
    spec = builtin_table().get(code_of(model, op))
    if spec is None:
        return None
    node = _node(model, sg, op, [constant(model, sg, i) for i in op.inputs])
    try:
        prepared = spec.prepare(node)
    except (PrepareError, ValueError, IndexError, TypeError):
        return None
    return None if prepared.dynamic else [tuple(s) for s in prepared.output_shapes]


def _node(model: Model, sg: Subgraph, op: Operator, values: list) -> Node:
    return Node(
        index=0,
        op=model.operator_codes[op.opcode_index].name,
        version=operator_version(model, sg, op),
        inputs=[_info(sg, i, v) for i, v in zip(op.inputs, values)],
        outputs=[_info(sg, i, None) for i in op.outputs],  # type: ignore[misc]
        options=op.builtin_options,
        options_2=op.builtin_options_2,
        custom_options=op.custom_options,
    )


def evaluate(model: Model, sg: Subgraph, op: Operator) -> list[np.ndarray] | None:
    """Run ``op`` on its constant inputs with the reference kernel; None if not foldable."""
    code = code_of(model, op)
    spec = builtin_table().get(code)
    if code in NOT_FOLDABLE or spec is None or op.intermediates:
        return None
    values = [constant(model, sg, i) for i in op.inputs]
    if any(v is None for v, i in zip(values, op.inputs) if i >= 0):
        return None
    if any(is_quantized(sg.tensors[i]) for i in op.inputs + op.outputs if i >= 0):
        return None
    node = _node(model, sg, op, values)
    try:
        prepared = spec.prepare(node)
        arrays = [None if v is None else np.array(v) for v in values]
        if prepared.dynamic:
            return [np.asarray(a) for a in spec.invoke(prepared.data, arrays, []) or []]
        outs = [
            np.empty(shape, sg.tensors[i].dtype)
            for shape, i in zip(prepared.output_shapes, op.outputs)
        ]
        spec.invoke(prepared.data, arrays, outs)
    except (PrepareError, ValueError, IndexError, TypeError):
        return None  # left in the graph: the runtime reports the problem with context
    return outs


def fold_operator(model: Model, sg: Subgraph, op: Operator) -> bool:
    """Replace ``op``'s outputs by constants when it can be evaluated now; True if folded."""
    if any(i in sg.inputs or sg.tensors[i].is_variable for i in op.outputs):
        return False  # a variable is (re)written at run time, on every invoke
    results = evaluate(model, sg, op)
    if results is None or len(results) != len(op.outputs):
        return False
    grown = sum(r.nbytes for r in results)
    used = sum(
        sg.tensors[i].num_elements * sg.tensors[i].dtype.itemsize for i in op.inputs if i >= 0
    )
    if grown > MAX_GROWTH_BYTES and grown > 2 * used:
        return False
    for index, value in zip(op.outputs, results):
        make_constant(model, sg, index, value)
    _carry_range(model, sg, op)
    return True


# Folds that only move values: a recorded (fake-quant) range moves with them.
_MOVES = frozenset({B.TRANSPOSE, B.RESHAPE, B.SQUEEZE, B.EXPAND_DIMS})


def _carry_range(model: Model, sg: Subgraph, op: Operator) -> None:
    if code_of(model, op) not in _MOVES or op.inputs[0] < 0:
        return
    perm = None
    if code_of(model, op) == B.TRANSPOSE:
        value = constant(model, sg, op.inputs[1])
        if value is None:
            return
        perm = [int(p) for p in value.reshape(-1)]
    carry_range(sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]], perm)


def _times_zero(model: Model, sg: Subgraph, op: Operator) -> bool:
    """MUL by an all-zero constant is a zero constant (finite inputs assumed, as the
    official converter does); the unknown-size case is left alone."""
    if code_of(model, op) != B.MUL or len(op.inputs) != 2:
        return False
    out = sg.tensors[op.outputs[0]]
    if out.shape_signature is not None and -1 in out.shape_signature:
        return False
    for i in op.inputs:
        value = constant(model, sg, i)
        if value is not None and value.size and not value.any() and not is_quantized(out):
            make_constant(model, sg, op.outputs[0], np.zeros(out.shape, out.dtype))
            return True
    return False


def fold_constants(model: Model, sg: Subgraph) -> int:
    """Fold every operator whose inputs are all constant; returns how many were folded."""
    folded: list[int] = []
    view = View.of(sg)
    for op_index, op in enumerate(sg.operators):
        if op.outputs and op.outputs[0] not in view.outputs and _times_zero(model, sg, op):
            folded.append(op_index)
            continue
        if not op.inputs or any(i >= 0 and constant(model, sg, i) is None for i in op.inputs):
            continue
        if any(i in view.outputs and i in sg.inputs for i in op.outputs):
            continue
        if fold_operator(model, sg, op):
            folded.append(op_index)
    sg.remove_operators(folded)
    return len(folded)
