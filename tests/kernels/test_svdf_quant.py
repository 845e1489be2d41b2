"""SVDF int8 (full integer) and hybrid (int8 weights, float activations) against the official
runtime, over more invokes than the memory holds (the state carries between invokes)."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator
from edgelite.schema.generated.options import SVDFOptions
from tests.kernels.stateful_runner import (
    check_interpreter_stateful,
    check_stateful,
    run_kernels_stateful,
)


def integer_model(
    batch=2, n_input=5, units=4, rank=1, memory=3, bias=True, seed=0, act=Act.RELU, scales=None
):
    rng = np.random.default_rng(seed)
    filters = units * rank
    s_in, s_feature, s_time, s_state, s_out = scales or rng.uniform(0.002, 0.05, 5)
    mb = ModelBuilder()
    x = mb.input("x", (batch, n_input), np.int8, quantization=quant(s_in, -3))
    w = rng.integers(-127, 128, (filters, n_input)).astype(np.int8)
    feature = mb.const("feature", w, quantization=quant(s_feature))
    t = rng.integers(-3000, 3000, (filters, memory)).astype(np.int16)
    time = mb.const("time", t, quantization=quant(s_time))
    b = -1
    if bias:
        values = rng.integers(-5000, 5000, units).astype(np.int32)
        b = mb.const("bias", values, quantization=quant(s_state * s_time))
    state = mb.tensor(
        "state", (batch, memory * filters), np.int16, quant(s_state), is_variable=True
    )
    y = mb.tensor("y", (batch, units), np.int8, quantization=quant(s_out, 4))
    opts = SVDFOptions(rank=rank, fused_activation_function=act)
    mb.op(BuiltinOperator.SVDF, [x, feature, time, b, state], [y], opts, version=3)
    mb.output(y)
    return mb.to_bytes(), (batch, n_input)


def hybrid_model(
    batch=2, n_input=5, units=4, rank=1, memory=3, bias=True, act=Act.NONE, asym=False, seed=0
):
    rng = np.random.default_rng(seed)
    filters = units * rank
    mb = ModelBuilder()
    x = mb.input("x", (batch, n_input))
    w = rng.integers(-127, 128, (filters, n_input)).astype(np.int8)
    feature = mb.const("feature", w, quantization=quant(0.013))
    t = rng.integers(-127, 128, (filters, memory)).astype(np.int8)
    time = mb.const("time", t, quantization=quant(0.021))
    b = mb.const("bias", rng.standard_normal(units).astype(np.float32)) if bias else -1
    state = mb.tensor("state", (batch, memory * filters), is_variable=True)
    y = mb.tensor("y", (batch, units))
    opts = SVDFOptions(rank, act, asym)
    mb.op(BuiltinOperator.SVDF, [x, feature, time, b, state], [y], opts, version=4)
    mb.output(y)
    return mb.to_bytes(), (batch, n_input)


def int_invokes(shape, count=6, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.integers(-128, 128, shape).astype(np.int8)] for _ in range(count)]


def float_invokes(shape, count=6, seed=1):
    rng = np.random.default_rng(seed)
    values = [[rng.standard_normal(shape).astype(np.float32)] for _ in range(count)]
    values[2][0][...] = 0  # an all-zero input skips the quantization in TFLite
    return values


INTEGER_CASES = {
    "rank1": {},
    "rank2": {"rank": 2, "units": 3},
    "no_bias": {"bias": False},
    "memory1": {"memory": 1},
    "memory8": {"memory": 8, "seed": 3},
    "batch1": {"batch": 1, "seed": 4},
    # Power-of-two multipliers (1/4 into the state, 2^-20 out): half the feature dot
    # products round a tie into the state.
    "pow2_scales": {"n_input": 1, "batch": 4, "scales": (0.5, 0.25, 2**-10, 0.5, 512.0)},
}


@pytest.mark.parametrize("name", list(INTEGER_CASES))
def test_integer_svdf(name):
    model, shape = integer_model(**INTEGER_CASES[name])
    check_stateful(model, int_invokes(shape))


HYBRID_CASES = {
    "rank1": {},
    "rank2_relu": {"rank": 2, "act": Act.RELU},
    "no_bias_tanh": {"bias": False, "act": Act.TANH},
    "asymmetric": {"asym": True},
    "asymmetric_rank2": {"asym": True, "rank": 2, "memory": 5},
    "batch1": {"batch": 1},
}


@pytest.mark.parametrize("name", list(HYBRID_CASES))
def test_hybrid_svdf(name):
    model, shape = hybrid_model(**HYBRID_CASES[name])
    check_stateful(model, float_invokes(shape))


def test_integer_svdf_through_interpreter():
    model, shape = integer_model(rank=2, memory=4)
    check_interpreter_stateful(model, int_invokes(shape))


def test_integer_svdf_needs_relu():
    model, shape = integer_model(act=Act.NONE)
    with pytest.raises(PrepareError, match="only the RELU activation"):
        run_kernels_stateful(model, int_invokes(shape, 1))


def test_integer_svdf_rejects_asymmetric_state():
    from edgelite.schema import read_model, write_model

    model, shape = integer_model()
    parsed = read_model(model)
    state = parsed.main.tensors[parsed.main.operators[0].inputs[4]]
    state.quantization = quant(0.01, 3)
    with pytest.raises(PrepareError, match="SVDF needs 0"):
        run_kernels_stateful(write_model(parsed), int_invokes(shape, 1))
