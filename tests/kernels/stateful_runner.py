"""Run stateful single-op models (LSTM, RNN, SVDF) over several invokes.

``tests.kernel_runner`` runs one pass and has no storage for variable tensors. The
recurrent kernels read their state from variable inputs and write the new state back into
them, so these helpers keep one persistent array per variable tensor (zeros, or the
tensor's buffer when it has one) across invokes, as an interpreter does, and compare a
whole sequence of invokes with the official runtime.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgelite.interpreter.kernels.base import Node, TensorInfo
from edgelite.interpreter.op_table import builtin_table, custom_table
from edgelite.schema import read_model
from edgelite.schema.generated.enums import BuiltinOperator
from tests.oracle import assert_matches, litert_interpreter


def _info(model, sg, index: int, shape=None) -> TensorInfo | None:
    if index < 0:
        return None
    t = sg.tensors[index]
    data = None if t.is_variable else model.constant(t)
    shape = tuple(shape) if shape is not None else tuple(t.shape)
    signature = tuple(t.shape_signature) if t.shape_signature else None
    return TensorInfo(
        index, t.name, shape, t.dtype, t.type, t.quantization, data, signature, t.is_variable
    )


def run_kernels_stateful(
    model_bytes: bytes,
    invokes: Sequence[Sequence[np.ndarray]],
    optimized: bool = False,
    num_threads: int = 1,
) -> list[list[np.ndarray]]:
    """Invoke subgraph 0 once per entry of ``invokes``; variables persist between invokes."""
    model = read_model(model_bytes)
    sg = model.main
    variables: dict[int, np.ndarray] = {}
    for index, t in enumerate(sg.tensors):
        if t.is_variable:
            initial = model.constant(t)
            variables[index] = (
                np.array(initial, t.dtype) if initial is not None else np.zeros(t.shape, t.dtype)
            )
            q = t.quantization
            if initial is None and t.dtype == np.int8 and q is not None and len(q.zero_point):
                variables[index][...] = q.zero_point[0]  # TFLite starts int8 states at their zp
    shapes = {i: np.shape(v) for i, v in zip(sg.inputs, invokes[0])}
    plan = []
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
            inputs=[_info(model, sg, i, shapes.get(i)) for i in op.inputs],
            outputs=[_info(model, sg, i) for i in op.outputs],
            options=op.builtin_options,
            custom_options=op.custom_options,
            intermediates=[_info(model, sg, i) for i in op.intermediates],  # type: ignore[misc]
            num_threads=num_threads,
        )
        prepared = spec.prepare(node)
        for i, shape in zip(op.outputs, prepared.output_shapes):
            shapes[i] = shape
        invoke = spec.invoke_opt if optimized and spec.invoke_opt else spec.invoke
        plan.append((op, prepared, invoke))
    results = []
    for inputs in invokes:
        values = {i: np.asarray(v, sg.tensors[i].dtype) for i, v in zip(sg.inputs, inputs)}
        for op, prepared, invoke in plan:
            ins = [
                None if i < 0 else variables.get(i, values.get(i, model.constant(sg.tensors[i])))
                for i in op.inputs
            ]
            outs = [np.empty(shapes[i], sg.tensors[i].dtype) for i in op.outputs]
            invoke(prepared.data, ins, outs)
            values.update(zip(op.outputs, outs))
        results.append([values[i].copy() for i in sg.outputs])
    return results


def run_litert_stateful(
    model_bytes: bytes, invokes: Sequence[Sequence[np.ndarray]]
) -> list[list[np.ndarray]]:
    """The official runtime over the same invokes (its variables persist the same way)."""
    interp = litert_interpreter(model_bytes)
    details = interp.get_input_details()
    for detail, value in zip(details, invokes[0]):
        if list(detail["shape"]) != list(np.shape(value)):
            interp.resize_tensor_input(detail["index"], list(np.shape(value)))
    interp.allocate_tensors()
    results = []
    for inputs in invokes:
        for detail, value in zip(interp.get_input_details(), inputs):
            interp.set_tensor(detail["index"], np.asarray(value, dtype=detail["dtype"]))
        interp.invoke()
        results.append([interp.get_tensor(d["index"]) for d in interp.get_output_details()])
    return results


def check_stateful(
    model_bytes: bytes, invokes: Sequence[Sequence[np.ndarray]], num_threads: int = 1
) -> list[list[np.ndarray]]:
    """Oracle == reference == optimized on every output of every invoke; returns the oracle's."""
    oracle = run_litert_stateful(model_bytes, invokes)
    for optimized in (False, True):
        ours = run_kernels_stateful(model_bytes, invokes, optimized, num_threads)
        kind = "optimized" if optimized else "reference"
        for step, (mine, want) in enumerate(zip(ours, oracle)):
            assert len(mine) == len(want)
            for k, (a, b) in enumerate(zip(mine, want)):
                assert_matches(a, b, f"{kind} invoke {step} output {k}")
    return oracle


def run_interpreter_stateful(
    model_bytes: bytes, invokes: Sequence[Sequence[np.ndarray]], reference: bool = False
) -> list[list[np.ndarray]]:
    """edgelite's Interpreter (optimized or BUILTIN_REF kernels) over the same invokes."""
    from edgelite.interpreter import Interpreter, OpResolverType

    kwargs = {"experimental_op_resolver_type": OpResolverType.BUILTIN_REF} if reference else {}
    interp = Interpreter(model_content=model_bytes, **kwargs)
    interp.allocate_tensors()
    results = []
    for inputs in invokes:
        for detail, value in zip(interp.get_input_details(), inputs):
            interp.set_tensor(detail["index"], np.asarray(value, dtype=detail["dtype"]))
        interp.invoke()
        results.append([interp.get_tensor(d["index"]) for d in interp.get_output_details()])
    return results


def check_interpreter_stateful(model_bytes: bytes, invokes: Sequence[Sequence[np.ndarray]]):
    """Through the interpreter core (variables kept by the arena): == the oracle."""
    oracle = run_litert_stateful(model_bytes, invokes)
    for reference in (False, True):
        ours = run_interpreter_stateful(model_bytes, invokes, reference)
        for step, (mine, want) in enumerate(zip(ours, oracle)):
            for k, (a, b) in enumerate(zip(mine, want)):
                assert_matches(a, b, f"interpreter invoke {step} output {k}")
