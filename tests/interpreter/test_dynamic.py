"""Dynamic shapes: resize + re-plan, deferred nodes, heap tensors, memory bounds."""

from __future__ import annotations

import numpy as np
import pytest

import edgelite.interpreter as tflite
from edgelite.interpreter.kernels.base import Prepared, PrepareError
from edgelite.schema.builder import ModelBuilder
from tests.oracle import assert_matches, litert_interpreter

from .models import chain_model, plus_one, same_shape_prepare, shape_reshape_model


@pytest.mark.oracle
def test_shape_reshape_chain_survives_many_resizes() -> None:
    model = shape_reshape_model()
    theirs, ours = litert_interpreter(model), tflite.Interpreter(model_content=model)
    for rows in (2, 5, 1, 0, 7, 5):
        x = np.arange(rows * 4, dtype=np.float32).reshape(rows, 4) - 3
        results = []
        for interp in (theirs, ours):
            interp.resize_tensor_input(0, [rows, 4])
            interp.allocate_tensors()
            interp.set_tensor(0, x)
            interp.invoke()
            results.append([interp.get_tensor(d["index"]) for d in interp.get_output_details()])
        for a, b in zip(results[1], results[0]):
            assert_matches(a, b, f"rows={rows}")
        assert ours.get_output_details()[0]["shape"].tolist() == [rows, 4]


def _dynamic_model() -> bytes:
    """x -> Expand(x, n) (output shape from n's value) -> PlusOne -> y."""
    mb = ModelBuilder()
    x = mb.input("x", [3], np.float32)
    n = mb.input("n", [], np.int32)
    e = mb.tensor("e", [1, 3], np.float32)
    y = mb.tensor("y", [1, 3], np.float32)
    mb.op("Expand", [x, n], [e])
    mb.op("PlusOne", [e], [y])
    mb.output(y)
    return mb.to_bytes()


class Counter:
    def __init__(self) -> None:
        self.expand = 0
        self.plus_one = 0


def _expand_interpreter(counter: Counter) -> tflite.Interpreter:
    def prepare_expand(node):
        counter.expand += 1
        n = node.inputs[1]
        if n.data is None:
            return Prepared(dynamic=True)
        return Prepared([(int(n.data), node.inputs[0].shape[0])])

    def invoke_expand(data, inputs, outputs):
        outputs[0][...] = inputs[0]

    def prepare_plus_one(node):
        counter.plus_one += 1
        return same_shape_prepare(node)

    interp = tflite.Interpreter(model_content=_dynamic_model())
    interp.register_custom_op("Expand", prepare=prepare_expand, invoke=invoke_expand)
    interp.register_custom_op("PlusOne", prepare=prepare_plus_one, invoke=plus_one)
    return interp


def test_value_dependent_shapes_are_prepared_at_invoke() -> None:
    counter = Counter()
    interp = _expand_interpreter(counter)
    interp.allocate_tensors()
    assert counter.expand == 1 and counter.plus_one == 0  # deferred: input shape unknown
    with pytest.raises(ValueError, match="Tensor data is null"):
        interp.get_tensor(3)  # dynamic output: no data before the first invoke
    interp.set_tensor(0, np.array([1, 2, 3], np.float32))
    outputs = []
    for n in (2, 2, 4):
        interp.set_tensor(1, np.array(n, np.int32))
        interp.invoke()
        outputs.append(interp.get_tensor(3))
        assert interp.get_output_details()[0]["shape"].tolist() == [n, 3]
    np.testing.assert_array_equal(outputs[2], np.tile([2, 3, 4], (4, 1)).astype(np.float32))
    # Expand re-prepares with values every invoke; PlusOne only when its input shape changes.
    assert counter.expand == 1 + 3
    assert counter.plus_one == 2


def test_dynamic_heap_outputs_are_reused_while_the_shape_holds() -> None:
    interp = _expand_interpreter(Counter())
    interp.allocate_tensors()
    interp.set_tensor(0, np.zeros(3, np.float32))
    interp.set_tensor(1, np.array(2, np.int32))
    interp.invoke()
    rt = interp._core.subgraphs[0]
    first = rt.arrays[3]
    interp.invoke()
    assert rt.arrays[3] is first
    interp.set_tensor(1, np.array(5, np.int32))
    interp.invoke()
    assert rt.arrays[3] is not first and rt.arrays[3].shape == (5, 3)


def _unique_like_model() -> bytes:
    mb = ModelBuilder()
    x = mb.input("x", [6], np.float32)
    u = mb.tensor("u", [6], np.float32, shape_signature=[-1])
    y = mb.tensor("y", [6], np.float32, shape_signature=[-1])
    mb.op("Positive", [x], [u])
    mb.op("PlusOne", [u], [y])
    mb.output(y)
    return mb.to_bytes()


def test_kernels_that_return_their_outputs() -> None:
    returned = []

    def invoke_positive(data, inputs, outputs):
        assert outputs == []
        view = inputs[0][inputs[0] > 0]  # fancy index: a new array
        returned.append(inputs[0][:2])  # a view into the arena, must be copied
        return [view if len(returned) > 1 else returned[-1]]

    interp = tflite.Interpreter(model_content=_unique_like_model())
    interp.register_custom_op(
        "Positive", prepare=lambda node: Prepared(dynamic=True), invoke=invoke_positive
    )
    interp.register_custom_op("PlusOne", prepare=same_shape_prepare, invoke=plus_one)
    interp.allocate_tensors()
    interp.set_tensor(0, np.array([1, -2, 3, -4, 5, 0], np.float32))
    interp.invoke()
    u = interp._core.subgraphs[0].arrays[1]
    assert not np.shares_memory(u, interp._core.subgraphs[0].arrays[0])
    np.testing.assert_array_equal(interp.get_tensor(2), [2.0, -1.0])
    interp.invoke()
    np.testing.assert_array_equal(interp.get_tensor(2), [2.0, 4.0, 6.0])


def test_dynamic_kernel_returning_the_wrong_dtype_fails_clearly() -> None:
    interp = tflite.Interpreter(model_content=_unique_like_model())
    interp.register_custom_op(
        "Positive",
        prepare=lambda node: Prepared(dynamic=True),
        invoke=lambda data, inputs, outputs: [inputs[0].astype(np.float64)],
    )
    interp.register_custom_op("PlusOne", prepare=same_shape_prepare, invoke=plus_one)
    interp.allocate_tensors()
    with pytest.raises(tflite.InvokeError, match=r"node 0 Positive \(v1\) failed to invoke"):
        interp.invoke()


def test_preserve_all_tensors_disables_reuse() -> None:
    sizes = {}
    for preserve in (False, True):
        interp = tflite.Interpreter(
            model_content=chain_model(4, (4, 16)), experimental_preserve_all_tensors=preserve
        )
        interp.register_custom_op("PlusOne", prepare=same_shape_prepare, invoke=plus_one)
        interp.allocate_tensors()
        interp.set_tensor(0, np.zeros((4, 16), np.float32))
        interp.invoke()
        sizes[preserve] = interp.arena_bytes
        if preserve:
            for k in range(4):  # every intermediate keeps its value
                assert interp.get_tensor(k + 1)[0, 0] == k + 1
    assert sizes[True] == 5 * 256 and sizes[False] < sizes[True]


def test_forged_shapes_are_refused_without_allocating() -> None:
    # A prepare (think FILL or RESHAPE with a forged shape constant) asks for 2^42 floats.
    mb = ModelBuilder()
    x = mb.input("x", [2], np.float32)
    y = mb.tensor("y", [2], np.float32)
    mb.op("Huge", [x], [y])
    mb.output(y)
    sizes = {"n": 1 << 42}
    interp = tflite.Interpreter(model_content=mb.to_bytes())
    interp.register_custom_op(
        "Huge", prepare=lambda node: Prepared([(sizes["n"],)]), invoke=plus_one
    )
    with pytest.raises(PrepareError, match=r"node 0 Huge \(v1\): .*bytes of memory available"):
        interp.allocate_tensors()
    sizes["n"] = 2
    interp.allocate_tensors()  # still usable after the error
    interp.invoke()


def test_resize_beyond_memory_is_an_error_and_recoverable() -> None:
    interp = tflite.Interpreter(model_content=chain_model())
    interp.register_custom_op("PlusOne", prepare=same_shape_prepare, invoke=plus_one)
    interp._core.memory_limit = 1 << 20
    interp.resize_tensor_input(0, [1 << 16, 3])
    with pytest.raises(PrepareError, match="memory available"):
        interp.allocate_tensors()
    interp.resize_tensor_input(0, [4, 3])
    interp.allocate_tensors()
    interp.set_tensor(0, np.zeros((4, 3), np.float32))
    interp.invoke()
    np.testing.assert_array_equal(interp.get_tensor(3), np.full((4, 3), 3, np.float32))
