"""UNIDIRECTIONAL_SEQUENCE_RNN and RNN float32: official runtime == reference == optimized.

The official converter lowers Keras SimpleRNN (Keras 2 and 3) to a WHILE loop, not to
UNIDIRECTIONAL_SEQUENCE_RNN, so the models are built with ModelBuilder. The hidden state is
a variable: several consecutive invokes check that it is carried over.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator
from edgelite.schema.generated.options import RNNOptions, SequenceRNNOptions
from tests.kernels.stateful_runner import (
    check_interpreter_stateful,
    check_stateful,
    run_kernels_stateful,
)


def rnn_model(
    batch=2,
    time=4,
    n_input=3,
    units=5,
    act=Act.TANH,
    time_major=False,
    single_step=False,
    version=1,
    seed=0,
) -> tuple[bytes, tuple[int, ...]]:
    rng = np.random.default_rng(seed)
    if single_step:
        x_shape = (batch, n_input)
    else:
        x_shape = (time, batch, n_input) if time_major else (batch, time, n_input)
    mb = ModelBuilder()
    x = mb.input("x", x_shape)
    w = mb.const("w", (rng.standard_normal((units, n_input)) * 0.6).astype(np.float32))
    r = mb.const("r", (rng.standard_normal((units, units)) * 0.4).astype(np.float32))
    b = mb.const("b", (rng.standard_normal(units) * 0.3).astype(np.float32))
    h = mb.tensor("h", (batch, units), is_variable=True)
    y = mb.tensor("y", (*x_shape[:-1], units))
    if single_step:
        mb.op(
            BuiltinOperator.RNN,
            [x, w, r, b, h],
            [y],
            RNNOptions(fused_activation_function=act),
            version=version,
        )
    else:
        opts = SequenceRNNOptions(time_major=time_major, fused_activation_function=act)
        mb.op(
            BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_RNN, [x, w, r, b, h], [y], opts, version=version
        )
    mb.output(y)
    return mb.to_bytes(), x_shape


def invokes(shape, count=3, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(shape).astype(np.float32)] for _ in range(count)]


CASES = {
    "tanh": {},
    "time_major": {"time_major": True},
    "relu": {"act": Act.RELU},
    "relu6": {"act": Act.RELU6},
    "relu_n1_to_1": {"act": Act.RELU_N1_TO_1},
    "none": {"act": Act.NONE, "time": 3},
    "sign_bit": {"act": Act.SIGN_BIT},
    "batch1_long": {"batch": 1, "time": 9},
    "wide": {"batch": 3, "units": 17, "n_input": 6},
    "batch5": {"batch": 5, "units": 7},  # the optimized kernel's GEMM-per-step path
    "batch4_time_major_relu": {"batch": 4, "time_major": True, "act": Act.RELU},
    "version3": {"version": 3},
}


@pytest.mark.parametrize("name", list(CASES))
def test_sequence_rnn_matches_oracle(name):
    model, shape = rnn_model(**CASES[name])
    check_stateful(model, invokes(shape))


@pytest.mark.parametrize("act", [Act.TANH, Act.RELU, Act.NONE])
def test_rnn_step_matches_oracle(act):
    model, shape = rnn_model(act=act, single_step=True)
    check_stateful(model, invokes(shape, count=4))


def test_threads_do_not_change_results():
    model, shape = rnn_model(batch=4, time=5)
    inv = invokes(shape)
    one = run_kernels_stateful(model, inv, optimized=True, num_threads=1)
    two = run_kernels_stateful(model, inv, optimized=True, num_threads=2)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a[0], b[0])


def test_rejects_quantized_input():
    mb = ModelBuilder()
    x = mb.input("x", (1, 2, 3), np.int8)
    ins = [x] + [mb.const(n, np.zeros(s, np.int8)) for n, s in (("w", (4, 3)), ("r", (4, 4)))]
    ins += [mb.const("b", np.zeros(4, np.int32)), mb.tensor("h", (1, 4), np.int8, is_variable=True)]
    y = mb.tensor("y", (1, 2, 4), np.int8)
    mb.op(BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_RNN, ins, [y], SequenceRNNOptions())
    mb.output(y)
    with pytest.raises(PrepareError, match="quantized UNIDIRECTIONAL_SEQUENCE_RNN"):
        run_kernels_stateful(mb.to_bytes(), [[np.zeros((1, 2, 3), np.int8)]])


def test_rejects_wrong_state_shape():
    from edgelite.schema import read_model, write_model

    model, shape = rnn_model()
    m = read_model(model)
    m.main.tensors[m.main.operators[0].inputs[4]].shape = [5, 2]
    with pytest.raises(PrepareError, match="hidden state"):
        run_kernels_stateful(write_model(m), invokes(shape, count=1))


@pytest.mark.parametrize("name", ["tanh", "batch5"])
def test_through_interpreter(name):
    model, shape = rnn_model(**CASES[name])
    check_interpreter_stateful(model, invokes(shape))
