"""WHILE, IF, CALL_ONCE and resource variables, against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

import edgelite.interpreter as tflite
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated import options as opt
from edgelite.schema.generated.enums import BuiltinOperator as B
from edgelite.schema.generated.enums import TensorType
from tests.oracle import assert_matches, litert_interpreter

from .models import accumulator_model, while_model


def run_both(model: bytes, feeds: list[np.ndarray]) -> None:
    """Run once in both runtimes (resizing inputs to the feeds) and compare all outputs."""
    results = []
    for interp in (litert_interpreter(model), tflite.Interpreter(model_content=model)):
        for detail, value in zip(interp.get_input_details(), feeds):
            interp.resize_tensor_input(detail["index"], list(value.shape))
        interp.allocate_tensors()
        for detail, value in zip(interp.get_input_details(), feeds):
            interp.set_tensor(detail["index"], value)
        interp.invoke()
        results.append([interp.get_tensor(d["index"]) for d in interp.get_output_details()])
    theirs, ours = results
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert_matches(np.asarray(a), np.asarray(b), f"output {k}")


def growing_while_model() -> bytes:
    """while i < n: (i + 1, concat(x, x)): the loop changes x's shape (dynamic outputs)."""
    mb = ModelBuilder()
    i = mb.input("i", [], np.int32)
    n = mb.input("n", [], np.int32)
    x = mb.input("x", [2], np.float32)
    outs = [mb.tensor("i_out", [], np.int32), mb.tensor("n_out", [], np.int32)]
    outs.append(mb.tensor("x_out", [2], np.float32, shape_signature=[-1]))
    cond = mb.new_subgraph("cond")
    ci, cn = mb.input("ci", [], np.int32), mb.input("cn", [], np.int32)
    mb.input("cx", [2], np.float32, shape_signature=[-1])
    less = mb.tensor("less", [], np.bool_)
    mb.op(B.LESS, [ci, cn], [less])
    mb.output(less)
    body = mb.new_subgraph("body")
    bi, bn = mb.input("bi", [], np.int32), mb.input("bn", [], np.int32)
    bx = mb.input("bx", [2], np.float32, shape_signature=[-1])
    one = mb.const("one", np.array(1, np.int32))
    bi2 = mb.tensor("bi2", [], np.int32)
    bx2 = mb.tensor("bx2", [4], np.float32, shape_signature=[-1])
    mb.op(B.ADD, [bi, one], [bi2], opt.AddOptions())
    mb.op(B.CONCATENATION, [bx, bx], [bx2], opt.ConcatenationOptions(axis=0))
    mb.output(bi2, bn, bx2)
    mb.use_subgraph(0)
    mb.op(B.WHILE, [i, n, x], outs, opt.WhileOptions(cond, body))
    mb.output(*outs)
    return mb.to_bytes()


def branchy_if_model(cond_value: bool | None) -> bytes:
    """IF whose branches give different shapes (x*2 of [2] vs concat(x, x) of [4])."""
    mb = ModelBuilder()
    if cond_value is None:
        c = mb.input("c", [], np.bool_)
    else:
        c = mb.const("c", np.array(cond_value))
    x = mb.input("x", [2], np.float32)
    out = mb.tensor("out", [2], np.float32, shape_signature=[-1])
    then = mb.new_subgraph("then")
    tx = mb.input("tx", [2], np.float32)
    two = mb.const("two", np.array(2.0, np.float32))
    t2 = mb.tensor("t2", [2], np.float32)
    mb.op(B.MUL, [tx, two], [t2], opt.MulOptions())
    mb.output(t2)
    other = mb.new_subgraph("else")
    ex = mb.input("ex", [2], np.float32)
    e2 = mb.tensor("e2", [4], np.float32)
    mb.op(B.CONCATENATION, [ex, ex], [e2], opt.ConcatenationOptions(axis=0))
    mb.output(e2)
    mb.use_subgraph(0)
    mb.op(B.IF, [c, x], [out], opt.IfOptions(then, other))
    mb.output(out)
    return mb.to_bytes()


@pytest.mark.oracle
@pytest.mark.parametrize(("i", "x"), [(0, [1.0, -2.0]), (3, [4.0, 5.0, 6.0]), (9, [])])
def test_while_counter(i: int, x: list[float]) -> None:
    run_both(while_model(), [np.array(i, np.int32), np.array(x, np.float32)])


@pytest.mark.oracle
@pytest.mark.parametrize("n", [0, 1, 3])
def test_while_with_shape_changing_body(n: int) -> None:
    feeds = [np.array(0, np.int32), np.array(n, np.int32), np.array([1.0, 2.0], np.float32)]
    run_both(growing_while_model(), feeds)


@pytest.mark.oracle
@pytest.mark.parametrize("cond", [True, False])
def test_if_dynamic_branches(cond: bool) -> None:
    run_both(branchy_if_model(None), [np.array(cond), np.array([1.0, 3.0], np.float32)])


@pytest.mark.oracle
@pytest.mark.parametrize("cond", [True, False])
def test_if_constant_condition(cond: bool) -> None:
    run_both(branchy_if_model(cond), [np.array([1.0, 3.0], np.float32)])


@pytest.mark.oracle
def test_resource_variable_accumulates_across_invokes() -> None:
    model = accumulator_model()
    interps = [litert_interpreter(model), tflite.Interpreter(model_content=model)]
    for interp in interps:
        interp.allocate_tensors()
    for step in range(4):
        value = np.array([step, -step], np.float32)
        results = []
        for interp in interps:
            interp.set_tensor(0, value)
            interp.invoke()
            results.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
        assert_matches(results[1], results[0], f"step {step}")
    # Signature runners share the same variables.
    runner = interps[1].get_signature_runner("accumulate")
    total = runner(x=np.array([10.0, 10.0], np.float32))["acc"]
    np.testing.assert_array_equal(total, [16.0, 4.0])


def test_reset_all_variables_clears_resources_and_reruns_call_once() -> None:
    # Deliberate difference: ai-edge-litert leaves resource variables alone here.
    interp = tflite.Interpreter(model_content=accumulator_model())
    interp.allocate_tensors()
    for _ in range(2):
        interp.set_tensor(0, np.ones(2, np.float32))
        interp.invoke()
    assert interp.get_tensor(interp.get_output_details()[0]["index"]).tolist() == [2.0, 2.0]
    interp.reset_all_variables()
    interp.invoke()
    assert interp.get_tensor(interp.get_output_details()[0]["index"]).tolist() == [1.0, 1.0]


def _assign_read_model() -> bytes:
    mb = ModelBuilder()
    x = mb.input("x", [2], np.float32)
    h = mb.tensor("h", [], TensorType.RESOURCE)
    mb.op(B.VAR_HANDLE, [], [h], opt.VarHandleOptions("", "v"))
    mb.op(B.ASSIGN_VARIABLE, [h, x], [], opt.AssignVariableOptions())
    mb.signature("assign", {"x": x}, {})
    mb.new_subgraph("read")
    h1 = mb.tensor("h1", [], TensorType.RESOURCE)
    o = mb.tensor("o", [2], np.float32)
    mb.op(B.VAR_HANDLE, [], [h1], opt.VarHandleOptions("", "v"))
    mb.op(B.READ_VARIABLE, [h1], [o], opt.ReadVariableOptions())
    mb.output(o)
    mb.signature("read", {}, {"o": o})
    return mb.to_bytes()


@pytest.mark.oracle
def test_variables_shared_between_signatures() -> None:
    model = _assign_read_model()
    results = []
    for interp in (litert_interpreter(model), tflite.Interpreter(model_content=model)):
        interp.get_signature_runner("assign")(x=np.array([1.5, 2.5], np.float32))
        results.append(interp.get_signature_runner("read")()["o"])
    assert_matches(results[1], results[0])


def test_read_before_assign_fails_clearly_and_recovers() -> None:
    interp = tflite.Interpreter(model_content=_assign_read_model())
    read = interp.get_signature_runner("read")
    with pytest.raises(RuntimeError, match="read before any value was assigned"):
        read()
    interp.get_signature_runner("assign")(x=np.array([3.0, 4.0], np.float32))
    assert read()["o"].tolist() == [3.0, 4.0]


def test_bad_subgraph_index_and_recursion() -> None:
    mb = ModelBuilder()
    c = mb.input("c", [], np.bool_)
    x = mb.input("x", [2], np.float32)
    y = mb.tensor("y", [2], np.float32)
    mb.op(B.IF, [c, x], [y], opt.IfOptions(5, 5))
    mb.output(y)
    with pytest.raises(ValueError, match="then_subgraph_index 5 out of range"):
        tflite.Interpreter(model_content=mb.to_bytes())  # the model reader refuses it

    mb = ModelBuilder()
    c = mb.input("c", [], np.bool_)
    y = mb.tensor("y", [], np.bool_)
    mb.op(B.WHILE, [c], [y], opt.WhileOptions(0, 0))
    mb.output(y)
    interp = tflite.Interpreter(model_content=mb.to_bytes())
    with pytest.raises(tflite.PrepareError, match="recursive"):
        interp.allocate_tensors()


def test_control_flow_needs_an_interpreter() -> None:
    from tests.kernel_runner import run_kernels

    with pytest.raises(tflite.PrepareError, match="needs an Interpreter"):
        run_kernels(while_model(), [np.array(0, np.int32), np.zeros(2, np.float32)])


def _read_model(signature: list[int]) -> bytes:
    """assign(x) then read it back; the read output declares shape [2] with ``signature``."""
    mb = ModelBuilder()
    x = mb.input("x", [2], np.float32, shape_signature=[-1])
    h = mb.tensor("h", [], TensorType.RESOURCE)
    o = mb.tensor("o", [2], np.float32, shape_signature=signature)
    mb.op(B.VAR_HANDLE, [], [h], opt.VarHandleOptions("", "v"))
    mb.op(B.ASSIGN_VARIABLE, [h, x], [], opt.AssignVariableOptions())
    mb.op(B.READ_VARIABLE, [h], [o], opt.ReadVariableOptions())
    mb.output(o)
    return mb.to_bytes()


def test_read_variable_static_and_dynamic_outputs() -> None:
    static = tflite.Interpreter(model_content=_read_model([2]))
    static.resize_tensor_input(0, [3])
    static.allocate_tensors()
    assert static._core.subgraphs[0].arrays[2] is not None  # planned in the arena
    static.set_tensor(0, np.ones(3, np.float32))
    with pytest.raises(tflite.InvokeError, match=r"the model declares the output as float32\[2\]"):
        static.invoke()
    dynamic = tflite.Interpreter(model_content=_read_model([-1]))
    for n in (2, 5):
        dynamic.resize_tensor_input(0, [n])
        dynamic.allocate_tensors()
        dynamic.set_tensor(0, np.arange(n, dtype=np.float32))
        dynamic.invoke()
        np.testing.assert_array_equal(dynamic.get_tensor(2), np.arange(n, dtype=np.float32))
