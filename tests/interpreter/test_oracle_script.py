"""One user-style script run against edgelite and ai-edge-litert: same results, same dicts.

The script does what user code does: read the details, fill inputs, invoke, read
outputs, resize, use the signature runner. Every detail dict is compared with the
official one key by key, value type by value type and dtype by dtype.
"""

from __future__ import annotations

import numpy as np
import pytest

import edgelite.interpreter as tflite
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated.enums import DimensionType
from edgelite.schema.model import DimensionMetadata, Sparsity
from tests.oracle import assert_matches, litert_interpreter

from .models import accumulator_model, if_model, shape_reshape_model, where_model, while_model


def assert_same_value(ours, theirs, where: str) -> None:
    assert type(ours) is type(theirs), f"{where}: {type(ours)} != {type(theirs)}"
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs), f"{where}: keys {list(ours)} != {list(theirs)}"
        for key in theirs:
            assert_same_value(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), f"{where}: {ours} != {theirs}"
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert_same_value(a, b, f"{where}[{k}]")
    elif isinstance(theirs, np.ndarray):
        assert ours.dtype == theirs.dtype, f"{where}: dtype {ours.dtype} != {theirs.dtype}"
        np.testing.assert_array_equal(ours, theirs, err_msg=where)
    else:
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


def user_script(interp, feeds: list[np.ndarray], resized: list[np.ndarray] | None) -> dict:
    """What a typical user script does; returns everything it observed."""
    seen: dict = {"inputs_before": interp.get_input_details()}
    seen["outputs_before"] = interp.get_output_details()
    interp.allocate_tensors()
    for detail, value in zip(interp.get_input_details(), feeds):
        interp.set_tensor(detail["index"], value.astype(detail["dtype"]))
    interp.invoke()
    seen["results"] = [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
    seen["tensors"] = interp.get_tensor_details()
    seen["ops"] = interp._get_ops_details()
    seen["signatures"] = interp.get_signature_list()
    seen["full_signatures"] = interp._get_full_signature_list()
    if resized is not None:
        for detail, value in zip(interp.get_input_details(), resized):
            interp.resize_tensor_input(detail["index"], list(value.shape))
        interp.allocate_tensors()
        for detail, value in zip(interp.get_input_details(), resized):
            interp.set_tensor(detail["index"], value)
        interp.invoke()
        seen["resized_inputs"] = interp.get_input_details()
        seen["resized_results"] = [
            interp.get_tensor(d["index"]) for d in interp.get_output_details()
        ]
    return seen


def compare(ours: dict, theirs: dict) -> None:
    for key in theirs:
        if "results" in key:
            assert len(ours[key]) == len(theirs[key])
            for k, (a, b) in enumerate(zip(ours[key], theirs[key])):
                assert_matches(np.asarray(a), np.asarray(b), f"{key}[{k}]")
                assert type(a) is type(b)
        else:
            assert_same_value(ours[key], theirs[key], key)


CASES = {
    "if": (
        if_model,
        [np.array(True), np.ones((2, 3), np.float32), np.full((2, 3), 2, np.float32)],
        [np.array(False), np.ones((5, 3), np.float32), np.full((5, 3), 3, np.float32)],
    ),
    "while": (
        while_model,
        [np.array(0, np.int32), np.array([1.5, -2.0], np.float32)],
        [np.array(1, np.int32), np.arange(4, dtype=np.float32)],
    ),
    "shape_reshape": (
        shape_reshape_model,
        [np.arange(8, dtype=np.float32).reshape(2, 4)],
        [np.arange(20, dtype=np.float32).reshape(5, 4)],
    ),
    "where": (where_model, [np.array([[1, -1], [0, 2], [3, -3]], np.float32)], None),
    "accumulator": (accumulator_model, [np.array([1.0, 2.0], np.float32)], None),
}


@pytest.mark.oracle
@pytest.mark.parametrize("name", sorted(CASES))
def test_user_script_matches_official(name: str) -> None:
    build, feeds, resized = CASES[name]
    model = build()
    theirs = user_script(litert_interpreter(model), feeds, resized)
    ours = user_script(tflite.Interpreter(model_content=model), feeds, resized)
    compare(ours, theirs)


def details_model() -> bytes:
    """Tensors of many kinds: per-channel quantization, sparse constant, strings, resources."""
    mb = ModelBuilder()
    c = mb.input("c", [], np.bool_)
    x = mb.input("x", [2, 2], np.int8, quantization=quant([0.5, 0.25], [1, 2], axis=1))
    mb.input("u", [3], np.uint8, quantization=quant(0.1, 128), shape_signature=[-1])
    mb.const("k", np.arange(4, dtype=np.float32).reshape(2, 2))
    s = mb.const("s", np.array([1.0, 2.0], np.float32))
    segments, indices = np.array([0, 2], np.int32), np.array([0, 3], np.int32)
    mb.sg.tensors[s].sparsity = Sparsity(
        traversal_order=[0],
        dim_metadata=[DimensionMetadata(DimensionType.SPARSE_CSR, 0, segments, indices)],
    )
    mb.sg.tensors[s].shape = [4]
    d = mb.const("d", np.array([1.0, 2.0, 3.0, 4.0], np.float32))
    mb.sg.tensors[d].sparsity = Sparsity(
        traversal_order=[0], dim_metadata=[DimensionMetadata(DimensionType.DENSE, 4)]
    )
    mb.tensor("var", [2, 2], np.float32, is_variable=True)
    mb.tensor("", [1], np.int16, quant(0.01, 0))
    for dtype in (np.int64, np.float16, np.complex64, np.uint16, np.float64):
        mb.tensor(f"t_{np.dtype(dtype).name}", [1], dtype)
    y = mb.tensor("y", [2, 2], np.int8)
    then = mb.new_subgraph("then")
    ta = mb.input("ta", [2, 2], np.int8)
    mb.input("tb", [2, 2], np.float32)
    mb.output(ta)
    mb.use_subgraph(0)
    from edgelite.schema.generated import options as opt
    from edgelite.schema.generated.enums import BuiltinOperator

    mb.op(BuiltinOperator.IF, [c, x, 3], [y], opt.IfOptions(then, then))
    mb.output(y)
    return mb.to_bytes()


@pytest.mark.oracle
def test_tensor_details_match_official_for_every_kind() -> None:
    model = details_model()
    theirs = litert_interpreter(model)
    ours = tflite.Interpreter(model_content=model)
    for sg in range(2):
        assert_same_value(ours.get_tensor_details(sg), theirs.get_tensor_details(sg), f"sg{sg}")
    theirs.allocate_tensors()
    ours.allocate_tensors()
    assert_same_value(ours.get_tensor_details(), theirs.get_tensor_details(), "allocated")
    assert_same_value(ours._get_ops_details(), theirs._get_ops_details(), "ops")
    for index in (3, 4, 5, 6):  # constants (dense and sparse) and a variable read the same
        assert_matches(ours.get_tensor(index), theirs.get_tensor(index))
