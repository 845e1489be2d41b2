"""Full-integer quantization of models with control flow (WHILE, IF, CALL_ONCE).

Every subgraph the main one runs is calibrated (a loop body on every iteration) and
quantized; a float value crossing a WHILE/IF boundary has one type and one set of
parameters in the caller and in the called subgraphs. Each quantized model passes
``check_model``, runs in ai-edge-litert with XNNPACK and without, and in edgelite
bit-identically to the latter, and stays close to the float model.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.quantization import CalibrationOptions, QuantizeOptions, check_model
from edgelite.quantization.calibrate import calibrate
from edgelite.quantization.control_flow import called_subgraphs
from edgelite.quantization.data import input_specs
from edgelite.schema import TensorType, read_model, write_model
from edgelite.schema.builder import quant
from tests.oracle import assert_matches, litert_interpreter
from tests.quantization.control_flow_models import MODELS, STEPS
from tests.quantization.helpers import quantize_bytes, run_raw, run_real

pytestmark = pytest.mark.oracle

# Integer outputs so that the runtimes' raw results compare bit for bit.
MODES = {
    "int8": QuantizeOptions(mode="int8", output_type="int8"),
    "int16x8": QuantizeOptions(mode="int16x8", output_type="int16"),
}
# Mean |quantized - float| over mean |float| (observed: int8 <= 0.016, 16x8 <= 0.005).
TOLERANCE = {"int8": 0.03, "int16x8": 0.01}
INTEGER = (TensorType.INT8, TensorType.INT16)


@cache
def _quantized(name: str, mode: str):
    float_bytes, samples = MODELS[name]()
    qbytes, model, report = quantize_bytes(float_bytes, MODES[mode], samples)
    return float_bytes, qbytes, model, report, samples


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", list(MODELS))
def test_passes_check_and_runs_in_litert_close_to_float(name, mode):
    float_bytes, qbytes, model, _, samples = _quantized(name, mode)
    assert [str(v) for v in check_model(model)] == []
    for delegates in (False, True):
        error = truth = 0.0
        for sample in samples[:8]:
            reference = run_real(float_bytes, sample)[0]
            error += float(
                np.mean(np.abs(run_real(qbytes, sample, delegates=delegates)[0] - reference))
            )
            truth += float(np.mean(np.abs(reference)))
        assert error <= TOLERANCE[mode] * truth, (delegates, error / truth)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", list(MODELS))
def test_edgelite_runs_them_bit_exact_with_litert(name, mode):
    _, qbytes, _, _, samples = _quantized(name, mode)
    ours = Interpreter(model_content=qbytes)
    ours.allocate_tensors()
    reference = litert_interpreter(qbytes)
    reference.allocate_tensors()
    for sample in samples[:4]:
        for got, want in zip(run_raw(qbytes, sample, ours), run_raw(qbytes, sample, reference)):
            assert got.dtype.kind == "i"
            assert_matches(got, want)


def _params(sg, t):
    tensor = sg.tensors[t]
    q = tensor.quantization
    return tensor.type, float(q.scale[0]), int(q.zero_point[0])


@pytest.mark.parametrize("mode", list(MODES))
def test_loop_values_have_one_set_of_parameters_in_every_subgraph(mode):
    _, _, model, report, _ = _quantized("rnn_loop", mode)
    main = model.main
    loop = next(op for op in main.operators if model.op_name(op) == "WHILE")
    cond = model.subgraphs[loop.builtin_options.cond_subgraph_index]
    body = model.subgraphs[loop.builtin_options.body_subgraph_index]
    for k in (1, 2, 3):  # h, x, c (0 is the int32 counter)
        copies = {
            _params(main, loop.inputs[k]),
            _params(main, loop.outputs[k]),
            _params(cond, cond.inputs[k]),
            _params(body, body.inputs[k]),
            _params(body, body.outputs[k]),
        }
        assert len(copies) == 1, (k, copies)
        assert next(iter(copies))[0] in INTEGER
    # The zero state starts only c: a constant quantized to c's parameters, no op.
    assert model.constant(main.tensors[loop.inputs[3]]) is not None
    assert not report.kept_float
    assert "3 values cross into control-flow subgraphs as integers" in report.notes
    # The body's TANH output has fixed parameters: the next h is requantized to h's.
    names = [model.op_name(op) for op in body.operators]
    assert names.count("QUANTIZE") == 1 and "DEQUANTIZE" not in names


def test_loop_of_float_only_ops_keeps_its_value_float():
    _, _, model, report, _ = _quantized("float_body_loop", "int8")
    loop = next(op for op in model.main.operators if model.op_name(op) == "WHILE")
    assert model.main.tensors[loop.outputs[1]].type == TensorType.FLOAT32
    assert [(k.where, k.op_name) for k in report.kept_float] == [("subgraph 2 #0", "SIN")]
    assert "WHILE #0 loop value 1 stays float: no integer op inside uses it" in report.notes
    head = [op for op in model.main.operators if model.op_name(op) == "FULLY_CONNECTED"]
    assert model.main.tensors[head[0].outputs[0]].type == TensorType.INT8


@pytest.mark.parametrize("mode", list(MODES))
def test_if_branches_are_integer_with_shared_boundaries(mode):
    _, _, model, _, _ = _quantized("if_branches", mode)
    main = model.main
    branch_op = next(op for op in main.operators if model.op_name(op) == "IF")
    options = branch_op.builtin_options
    branches = [model.subgraphs[options.then_subgraph_index],
                model.subgraphs[options.else_subgraph_index]]  # fmt: skip
    assert {_params(sg, sg.inputs[0]) for sg in branches} == {_params(main, branch_op.inputs[1])}
    outputs = {_params(sg, sg.outputs[0]) for sg in branches}
    assert outputs == {_params(main, branch_op.outputs[0])}
    for sg in branches:
        computed = [t for t in sg.tensors if model.constant(t) is None]
        assert all(t.type != TensorType.FLOAT32 for t in computed)


def test_call_once_init_subgraph_is_reported_and_runs():
    _, _, model, report, _ = _quantized("call_once_variable", "int8")
    kept = {(k.subgraph, k.op_name) for k in report.kept_float}
    assert kept == {(0, "READ_VARIABLE"), (1, "ASSIGN_VARIABLE")}
    add = next(op for op in model.main.operators if model.op_name(op) == "ADD")
    assert model.main.tensors[add.outputs[0]].type == TensorType.INT8


def test_a_body_run_from_two_places_keeps_float_boundaries():
    _, _, model, report, _ = _quantized("shared_body_loops", "int8")
    assert sum("runs from more than one place" in note for note in report.notes) == 2
    body = model.subgraphs[2]
    assert {body.tensors[t].type for t in body.inputs} == {TensorType.INT32, TensorType.FLOAT32}
    fc = next(op for op in body.operators if model.op_name(op) == "FULLY_CONNECTED")
    assert body.tensors[fc.outputs[0]].type == TensorType.INT8  # inside, still integer


def test_calibration_observes_every_iteration_of_a_loop_body():
    float_bytes, samples = MODELS["rnn_loop"]()
    model = read_model(float_bytes)
    subgraphs = called_subgraphs(model)
    assert subgraphs == [0, 1, 2]
    options = CalibrationOptions(progress_every=0)
    trackers = calibrate(model, samples, input_specs(model), options, None, subgraphs)
    body = model.subgraphs[2]
    h_next = next(t for t, tensor in enumerate(body.tensors) if tensor.name == "h_next")
    assert trackers[(2, h_next)].steps == STEPS * len(samples)
    cond_h = model.subgraphs[1].inputs[1]
    assert trackers[(1, cond_h)].steps == (STEPS + 1) * len(samples)  # the last test too


def test_check_flags_copies_of_a_loop_value_with_other_parameters():
    model = read_model(_quantized("rnn_loop", "int8")[1])
    body = model.subgraphs[2]
    h = body.tensors[body.inputs[1]]
    h.quantization = quant(float(h.quantization.scale[0]) * 2, int(h.quantization.zero_point[0]))
    rules = {(v.rule, v.op_name) for v in check_model(model)}
    assert ("control-flow-copy", "WHILE") in rules


def _tf_models():
    """A tf.while_loop with a runtime trip count and a tf.cond, converted by edgelite."""
    import tensorflow as tf

    from edgelite.converter import convert

    rng = np.random.default_rng(3)
    weight = (rng.standard_normal((4, 4)) * 0.5).astype(np.float32)

    @tf.function(
        input_signature=[
            tf.TensorSpec([1, 4], tf.float32, name="x"),
            tf.TensorSpec([], tf.int32, name="n"),
        ]
    )
    def loop(x, n):
        def body(i, h):
            return i + 1, tf.tanh(tf.matmul(h, weight) + x)

        return tf.while_loop(lambda i, h: i < n, body, [tf.constant(0), x])[1]

    @tf.function(input_signature=[tf.TensorSpec([2, 3], tf.float32, name="x")])
    def branch(x):
        return tf.cond(tf.reduce_sum(x) > 0, lambda: x * 2.0, lambda: tf.nn.relu(x) - 1.0)

    loop_samples = [[rng.standard_normal((1, 4)).astype(np.float32), np.int32(k % 5)]
                    for k in range(20)]  # fmt: skip
    branch_samples = [[rng.standard_normal((2, 3)).astype(np.float32)] for _ in range(20)]
    return {"while_loop": (convert(loop), loop_samples), "cond": (convert(branch), branch_samples)}


@pytest.fixture(scope="module")
def tf_models():
    return _tf_models()


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", ["while_loop", "cond"])
def test_tensorflow_control_flow_from_edgelites_converter(tf_models, name, mode):
    float_model, samples = tf_models[name]
    float_bytes = write_model(float_model)
    qbytes, model, _ = quantize_bytes(float_bytes, MODES[mode], samples)
    assert [str(v) for v in check_model(model)] == []
    called = model.subgraphs[1:]
    assert any(sg.tensors[t].type in INTEGER for sg in called for t in sg.inputs)
    ours = Interpreter(model_content=qbytes)
    ours.allocate_tensors()
    reference = litert_interpreter(qbytes)
    reference.allocate_tensors()
    for sample in samples[:8]:
        for got, want in zip(run_raw(qbytes, sample, ours), run_raw(qbytes, sample, reference)):
            assert_matches(got, want)
        truth = run_real(float_bytes, sample)[0]
        error = np.max(np.abs(run_real(qbytes, sample, delegates=True)[0] - truth))
        assert error <= TOLERANCE[mode] * 2 * max(1.0, float(np.max(np.abs(truth)))), error


def test_keep_float_on_the_while_op_keeps_its_values_float():
    float_bytes, samples = MODELS["rnn_loop"]()
    options = QuantizeOptions(mode="int8", keep_float=("^WHILE$",))
    qbytes, model, report = quantize_bytes(float_bytes, options, samples)
    loop = next(op for op in model.main.operators if model.op_name(op) == "WHILE")
    assert {model.main.tensors[t].type for t in loop.outputs} == {
        TensorType.INT32,
        TensorType.FLOAT32,
    }
    assert sum("--keep-float '^WHILE$'" in note for note in report.notes) == 3
    body = model.subgraphs[loop.builtin_options.body_subgraph_index]
    fc = next(op for op in body.operators if model.op_name(op) == "FULLY_CONNECTED")
    assert body.tensors[fc.outputs[0]].type == TensorType.INT8  # the body's ops stay integer
    assert check_model(model) == []
    run_real(qbytes, samples[0], delegates=True)


def test_nested_loop_values_are_integer_at_both_levels():
    """The outer loop's value is integer because the inner loop it feeds is (fixpoint)."""
    _, _, model, report, _ = _quantized("nested_loops", "int8")
    assert "2 values cross into control-flow subgraphs as integers" in report.notes
    for s in range(1, len(model.subgraphs)):
        sg = model.subgraphs[s]
        assert [sg.tensors[t].type for t in sg.inputs] == [TensorType.INT32, TensorType.INT8]
