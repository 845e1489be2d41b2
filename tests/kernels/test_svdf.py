"""SVDF float32: official runtime == numpy kernel, over more invokes than the memory holds.

Models are built with ModelBuilder (no Keras layer converts to SVDF). The state variable
keeps the last ``memory`` feature activations of each filter, so the outputs of later
invokes depend on the state written by earlier ones.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator
from edgelite.schema.generated.options import SVDFOptions
from tests.kernels.stateful_runner import (
    check_interpreter_stateful,
    check_stateful,
    run_kernels_stateful,
)


def svdf_model(
    batch=2, n_input=3, units=4, rank=1, memory=3, bias=True, act=Act.NONE, version=1, seed=0
) -> tuple[bytes, tuple[int, int]]:
    rng = np.random.default_rng(seed)
    filters = units * rank
    mb = ModelBuilder()
    x = mb.input("x", (batch, n_input))
    feature = mb.const("feature", rng.standard_normal((filters, n_input)).astype(np.float32))
    time = mb.const("time", rng.standard_normal((filters, memory)).astype(np.float32))
    b = mb.const("bias", rng.standard_normal(units).astype(np.float32)) if bias else -1
    state = mb.tensor("state", (batch, memory * filters), is_variable=True)
    y = mb.tensor("y", (batch, units))
    opts = SVDFOptions(rank=rank, fused_activation_function=act)
    mb.op(BuiltinOperator.SVDF, [x, feature, time, b, state], [y], opts, version=version)
    mb.output(y)
    return mb.to_bytes(), (batch, n_input)


def invokes(shape, count=6, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(shape).astype(np.float32)] for _ in range(count)]


CASES = {
    "rank1": {},
    "rank2": {"rank": 2},
    "rank3_no_bias": {"rank": 3, "bias": False, "units": 2},
    "memory1": {"memory": 1},
    "memory10": {"memory": 10, "units": 3},
    "batch1": {"batch": 1},
    "relu": {"act": Act.RELU},
    "relu6_rank2": {"act": Act.RELU6, "rank": 2},
    "tanh": {"act": Act.TANH},
    "version4": {"version": 4},
}


@pytest.mark.parametrize("name", list(CASES))
def test_svdf_matches_oracle(name):
    model, shape = svdf_model(**CASES[name])
    check_stateful(model, invokes(shape))


def test_rejects_rank_not_dividing_filters():
    from edgelite.schema import read_model, write_model

    model, shape = svdf_model(units=3, rank=1)
    m = read_model(model)
    m.main.operators[0].builtin_options.rank = 2
    with pytest.raises(PrepareError, match="rank 2"):
        run_kernels_stateful(write_model(m), invokes(shape, 1))


def test_rejects_quantized_input():
    mb = ModelBuilder()
    x = mb.input("x", (1, 3), np.int8)
    ins = [x, mb.const("f", np.zeros((2, 3), np.int8)), mb.const("t", np.zeros((2, 2), np.int16))]
    ins += [-1, mb.tensor("s", (1, 4), np.int16, is_variable=True)]
    y = mb.tensor("y", (1, 2), np.int8)
    mb.op(BuiltinOperator.SVDF, ins, [y], SVDFOptions(rank=1))
    mb.output(y)
    # int8 SVDF is supported (test_svdf_quant.py) with TFLite's constraints: RELU only.
    with pytest.raises(PrepareError, match="only the RELU activation"):
        run_kernels_stateful(mb.to_bytes(), [[np.zeros((1, 3), np.int8)]])


def test_through_interpreter():
    model, shape = svdf_model(rank=2, memory=4)
    check_interpreter_stateful(model, invokes(shape))
