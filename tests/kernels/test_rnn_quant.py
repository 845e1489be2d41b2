"""Hybrid RNN and UNIDIRECTIONAL_SEQUENCE_RNN (int8/uint8 weights, float activations) against
the official runtime, over several invokes (the hidden state carries over)."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator
from edgelite.schema.generated.options import RNNOptions, SequenceRNNOptions
from tests.kernels.stateful_runner import check_stateful, run_litert_stateful
from tests.oracle import assert_matches


def hybrid_rnn_model(
    batch=2,
    time=4,
    n_input=3,
    units=5,
    act=Act.TANH,
    time_major=False,
    single_step=False,
    asym=False,
    dtype=np.int8,
    seed=0,
):
    rng = np.random.default_rng(seed)
    if single_step:
        x_shape = (batch, n_input)
    else:
        x_shape = (time, batch, n_input) if time_major else (batch, time, n_input)
    info = np.iinfo(dtype)
    mb = ModelBuilder()
    x = mb.input("x", x_shape)
    w_values = rng.integers(max(info.min, -127), info.max, (units, n_input)).astype(dtype)
    r_values = rng.integers(max(info.min, -127), info.max, (units, units)).astype(dtype)
    w = mb.const("w", w_values, quantization=quant(0.6 / 127))
    r = mb.const("r", r_values, quantization=quant(0.4 / 127))
    b = mb.const("b", (rng.standard_normal(units) * 0.3).astype(np.float32))
    h = mb.tensor("h", (batch, units), is_variable=True)
    y = mb.tensor("y", (*x_shape[:-1], units))
    if single_step:
        opts = RNNOptions(fused_activation_function=act, asymmetric_quantize_inputs=asym)
        mb.op(BuiltinOperator.RNN, [x, w, r, b, h], [y], opts, version=3 if asym else 2)
    else:
        opts = SequenceRNNOptions(time_major, act, asym)
        code = BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_RNN
        mb.op(code, [x, w, r, b, h], [y], opts, version=3 if asym else 2)
    mb.output(y)
    return mb.to_bytes(), x_shape


def invokes(shape, count=3, seed=1):
    rng = np.random.default_rng(seed)
    values = [[rng.standard_normal(shape).astype(np.float32)] for _ in range(count)]
    if count > 1:
        values[1][0][...] = 0  # an all-zero input: TFLite skips its quantization
    return values


CASES = {
    "sequence": {},
    "time_major": {"time_major": True},
    "relu": {"act": Act.RELU},
    "none": {"act": Act.NONE},
    "asymmetric": {"asym": True},
    "asymmetric_time_major": {"asym": True, "time_major": True},
    "single_step": {"single_step": True},
    "single_step_asymmetric": {"single_step": True, "asym": True},
    "batch1": {"batch": 1, "seed": 3},
    "uint8_weights": {"dtype": np.uint8},
}


@pytest.mark.parametrize("name", list(CASES))
def test_hybrid_rnn(name):
    model, shape = hybrid_rnn_model(**CASES[name])
    check_stateful(model, invokes(shape))


def test_hybrid_rnn_through_interpreter_exact_mode():
    model, shape = hybrid_rnn_model(asym=True)
    check_interpreter_stateful_exact(model, invokes(shape))


def check_interpreter_stateful_exact(model, feeds):
    """Through the interpreter with hybrid="exact" (int8 weights reach the kernel)."""
    want = run_litert_stateful(model, feeds)
    interp = Interpreter(model_content=model, hybrid="exact")
    interp.allocate_tensors()
    for step, ((value,), expected) in enumerate(zip(feeds, want)):
        interp.set_tensor(interp.get_input_details()[0]["index"], value)
        interp.invoke()
        got = interp.get_tensor(interp.get_output_details()[0]["index"])
        assert_matches(got, expected[0], f"invoke {step}")


def test_hybrid_rnn_fast_mode_runs_float():
    """The default fast mode dequantizes W and R at load: close to, not equal to, TFLite."""
    model, shape = hybrid_rnn_model()
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], invokes(shape)[0][0])
    interp.invoke()
    assert np.isfinite(interp.get_tensor(interp.get_output_details()[0]["index"])).all()


def test_hybrid_rnn_rejects_asymmetric_weights():
    """TFLite's hybrid kernels ignore a weight zero point: refuse instead of a wrong answer."""
    from edgelite.interpreter.kernels.base import PrepareError
    from edgelite.schema import read_model, write_model
    from tests.kernels.stateful_runner import run_kernels_stateful

    model, shape = hybrid_rnn_model()
    parsed = read_model(model)
    weights = parsed.main.tensors[parsed.main.operators[0].inputs[1]]
    weights.quantization = quant(0.01, 5)
    with pytest.raises(PrepareError, match="must be symmetric"):
        run_kernels_stateful(write_model(parsed), invokes(shape, 1))
