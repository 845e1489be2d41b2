"""Taps, profiling, custom ops, op resolution errors, load-time folds, failure recovery."""

from __future__ import annotations

import numpy as np
import pytest

import edgelite.interpreter as tflite
from edgelite.interpreter.kernels.base import Prepared, PrepareError
from edgelite.interpreter.profiling import format_profile
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated import options as opt
from edgelite.schema.generated.enums import BuiltinOperator as B
from edgelite.schema.generated.enums import DimensionType
from edgelite.schema.model import DimensionMetadata, Sparsity
from tests.oracle import assert_matches, litert_interpreter

from .models import chain_model, plus_one, same_shape_prepare


def chain(ops: int = 4, **kwargs) -> tflite.Interpreter:
    interp = tflite.Interpreter(model_content=chain_model(ops), **kwargs)
    interp.register_custom_op("PlusOne", prepare=same_shape_prepare, invoke=plus_one)
    return interp


def test_taps_see_intermediates_despite_memory_reuse() -> None:
    interp = chain(4)
    interp.allocate_tensors()
    seen: dict[str, list] = {"x": [], "t0": [], "t2": []}
    interp.set_tensor(0, np.zeros((2, 3), np.float32))
    handle = interp.add_tap("t0", lambda v: seen["t0"].append(v))  # after set: input survives
    interp.add_tap(3, lambda v: seen["t2"].append(v.copy()), copy=False)
    interp.add_tap("x", lambda v: seen["x"].append(v))
    interp.invoke()
    rt = interp._core.subgraphs[0]
    assert np.shares_memory(rt.arrays[1], rt.arrays[3])  # t0 and t2 share arena bytes
    assert seen["t0"][0][0, 0] == 1.0 and seen["t2"][0][0, 0] == 3.0
    assert seen["x"][0][0, 0] == 0.0
    assert interp.get_tensor(4)[0, 0] == 4.0
    interp.remove_tap(handle)
    interp.invoke()
    assert len(seen["t0"]) == 1 and len(seen["t2"]) == 2
    with pytest.raises(ValueError, match="no tensor named 'nope'"):
        interp.add_tap("nope", print)
    with pytest.raises(ValueError, match="no tap with handle"):
        interp.remove_tap(handle)


def test_read_only_tap_views() -> None:
    interp = chain(2)
    interp.allocate_tensors()

    def write(view):
        view[...] = 0

    interp.add_tap("t0", write, copy=False)
    with pytest.raises(tflite.InvokeError, match="tap on tensor 1 't0' failed to invoke"):
        interp.invoke()


def test_profiling() -> None:
    interp = chain(3)
    interp.allocate_tensors()
    assert interp.profile() == []
    interp.enable_profiling()
    for _ in range(3):
        interp.invoke()
    rows = interp.profile()
    assert [(r["node"], r["op"], r["calls"]) for r in rows] == [(i, "PlusOne", 3) for i in range(3)]
    assert all(r["ms"] >= 0 for r in rows)
    assert "PlusOne" in format_profile(rows)
    interp.enable_profiling(False)
    interp.invoke()
    assert interp.profile() == []  # disabling resets the totals


def test_register_custom_op_validation() -> None:
    interp = chain(1)
    with pytest.raises(ValueError, match="non-empty string"):
        interp.register_custom_op("", prepare=same_shape_prepare, invoke=plus_one)
    with pytest.raises(TypeError, match="invoke must be callable"):
        interp.register_custom_op("X", prepare=same_shape_prepare, invoke=3)


def test_unresolved_custom_op_fails_at_prepare_until_registered() -> None:
    interp = tflite.Interpreter(model_content=chain_model(2))
    with pytest.raises(
        PrepareError, match=r"node 0 PlusOne \(v1\): Encountered unresolved custom op"
    ):
        interp.allocate_tensors()
    assert interp._get_op_details(0)["op_name"] == "PlusOne"
    interp.register_custom_op("PlusOne", prepare=same_shape_prepare, invoke=plus_one)
    interp.allocate_tensors()
    interp.invoke()


def test_every_unsupported_builtin_is_listed() -> None:
    mb = ModelBuilder()
    x = mb.input("x", [2], np.float32)
    y = mb.tensor("y", [2], np.float32)
    z = mb.tensor("z", [2], np.float32)
    mb.op(B.ADD, [x, x], [y], opt.AddOptions(), version=99)
    mb.op(B.STABLEHLO_COMPOSITE, [y], [z])
    mb.output(z)
    with pytest.raises(tflite.UnsupportedOpError) as err:
        tflite.Interpreter(model_content=mb.to_bytes())
    text = str(err.value)
    assert "2 operators cannot be resolved" in text
    assert (
        "ADD (version 99) at subgraph 0 node 0 ('x', 'x') -> ('y'); supported versions: 1.." in text
    )
    assert "STABLEHLO_COMPOSITE (version 1) at subgraph 0 node 1 ('y') -> ('z')" in text
    assert isinstance(err.value, ValueError) and len(err.value.unresolved) == 2


def _failing_prepare(node):
    if node.inputs[0].shape[0] > 3:
        raise PrepareError(f"at most 3 rows, got {node.inputs[0].shape[0]}")
    return same_shape_prepare(node)


def test_prepare_failure_names_the_node_and_the_interpreter_recovers() -> None:
    interp = tflite.Interpreter(model_content=chain_model(2))
    interp.register_custom_op("PlusOne", prepare=_failing_prepare, invoke=plus_one)
    interp.resize_tensor_input(0, [5, 3])
    with pytest.raises(RuntimeError, match=r"node 0 PlusOne \(v1\): at most 3 rows, got 5"):
        interp.allocate_tensors()
    with pytest.raises(RuntimeError, match="not ready"):
        interp.invoke()
    interp.resize_tensor_input(0, [3, 3])
    interp.allocate_tensors()
    interp.set_tensor(0, np.ones((3, 3), np.float32))
    interp.invoke()
    assert interp.get_tensor(2)[0, 0] == 3.0


def test_invoke_failure_names_the_node_and_the_interpreter_recovers() -> None:
    def picky(data, inputs, outputs):
        if np.any(inputs[0] < 0):
            raise ValueError("negative input")
        np.add(inputs[0], 1, out=outputs[0])

    interp = tflite.Interpreter(model_content=chain_model(2))
    interp.register_custom_op("PlusOne", prepare=same_shape_prepare, invoke=picky)
    interp.allocate_tensors()
    interp.set_tensor(0, -np.ones((2, 3), np.float32))
    with pytest.raises(RuntimeError, match=r"node 0 PlusOne \(v1\) failed to invoke: ValueError"):
        interp.invoke()
    interp.set_tensor(0, np.ones((2, 3), np.float32))
    interp.invoke()
    assert interp.get_tensor(2)[0, 0] == 3.0


def _folding_model() -> bytes:
    """DEQUANTIZE(float16 weights) + x, and DENSIFY(sparse weights) * x."""
    mb = ModelBuilder()
    x = mb.input("x", [4], np.float32)
    half = mb.const("w16", np.array([0.5, -1.25, 3.0, 1e-3], np.float16))
    w = mb.tensor("w", [4], np.float32)
    mb.op(B.DEQUANTIZE, [half], [w])
    sparse = mb.const("sparse", np.array([2.0, -3.0], np.float32))
    mb.sg.tensors[sparse].shape = [4]
    mb.sg.tensors[sparse].sparsity = Sparsity(
        traversal_order=[0],
        dim_metadata=[
            DimensionMetadata(
                DimensionType.SPARSE_CSR, 0, np.array([0, 2], np.int32), np.array([1, 3], np.int32)
            )
        ],
    )
    dense = mb.tensor("dense", [4], np.float32)
    mb.op(B.DENSIFY, [sparse], [dense])
    a = mb.tensor("a", [4], np.float32)
    b = mb.tensor("b", [4], np.float32)
    mb.op(B.ADD, [x, w], [a], opt.AddOptions())
    mb.op(B.MUL, [a, dense], [b], opt.MulOptions())
    mb.output(b)
    return mb.to_bytes()


@pytest.mark.oracle
def test_dequantize_and_densify_of_constants_fold_at_load() -> None:
    model = _folding_model()
    x = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    results = []
    for interp in (litert_interpreter(model), tflite.Interpreter(model_content=model)):
        interp.allocate_tensors()
        interp.set_tensor(0, x)
        interp.invoke()
        results.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    assert_matches(results[1], results[0])
    interp.enable_profiling()
    interp.invoke()
    assert [row["op"] for row in interp.profile()] == ["ADD", "MUL"]
    assert [op["op_name"] for op in interp._get_ops_details()] == [
        "DEQUANTIZE",
        "DENSIFY",
        "ADD",
        "MUL",
    ]
    np.testing.assert_array_equal(interp.get_tensor(4), [0.0, 2.0, 0.0, -3.0])


def test_omitted_optional_outputs() -> None:
    mb = ModelBuilder()
    x = mb.input("x", [2], np.float32)
    y = mb.tensor("y", [2], np.float32)
    mb.op("TwoOutputs", [x], [y, -1])
    mb.output(y)
    seen = []

    def prepare(node):
        seen.append(node.outputs[1])
        return Prepared([node.inputs[0].shape, ()])

    def invoke(data, inputs, outputs):
        assert outputs[1] is None
        np.add(inputs[0], 1, out=outputs[0])

    interp = tflite.Interpreter(model_content=mb.to_bytes())
    interp.register_custom_op("TwoOutputs", prepare=prepare, invoke=invoke)
    interp.allocate_tensors()
    interp.invoke()
    assert seen == [None]
    assert interp._get_op_details(0)["result_types"] == [np.float32]
