"""Dynamic-range quantization of the ops with hybrid kernels beyond conv/FC."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.quantization import QuantizeOptions, check_model
from edgelite.schema import BuiltinOperator as B
from edgelite.schema import options as o
from edgelite.schema.builder import ModelBuilder
from tests.quantization.helpers import quantize_bytes, relative_error, run_real

pytestmark = pytest.mark.oracle

ALL_WEIGHTS = QuantizeOptions(mode="dynamic", weights_min_elements=0)


def _embedding_lookup():
    mb = ModelBuilder()
    ids = mb.input("ids", [3], np.int32)
    table = mb.const("table", np.random.default_rng(0).standard_normal((64, 16)).astype(np.float32))
    y = mb.tensor("y", [3, 16])
    mb.op(B.EMBEDDING_LOOKUP, [ids, table], [y])
    mb.output(y)
    return mb.to_bytes(), [np.array([3, 0, 63], np.int32)]


def _batch_matmul_const():
    mb = ModelBuilder()
    a = mb.input("a", [2, 3, 8])
    w = mb.const("w", np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32))
    y = mb.tensor("y", [2, 3, 5])
    mb.op(B.BATCH_MATMUL, [a, w], [y], o.BatchMatMulOptions())
    mb.output(y)
    return mb.to_bytes(), [np.random.default_rng(1).standard_normal((2, 3, 8)).astype(np.float32)]


def _fused_lstm(name):
    def build():
        from tests.kernels.keras_rnn import converted

        x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
        return converted(name), [x]

    return build


CASES = {
    "embedding_lookup": _embedding_lookup,
    "batch_matmul_const_rhs": _batch_matmul_const,
    "unidirectional_lstm_seq": _fused_lstm("lstm_seq0"),
    "unidirectional_lstm_last": _fused_lstm("lstm_seq1"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hybrid_op_runs_in_litert_close_to_float(name):
    float_bytes, sample = CASES[name]()
    qbytes, model, report = quantize_bytes(float_bytes, ALL_WEIGHTS)
    assert report.quantized_ops >= 1 and report.quantized_weights >= 1
    assert check_model(model) == []
    reference = run_real(float_bytes, sample)[0]
    for delegates in (False, True):
        assert relative_error(run_real(qbytes, sample, delegates=delegates)[0], reference) < 0.02


def test_small_weights_stay_float_by_default():
    float_bytes, _ = _batch_matmul_const()
    _, _, report = quantize_bytes(float_bytes, QuantizeOptions(mode="dynamic"))
    assert report.quantized_weights == 0  # 40 elements < the official 1024 threshold
