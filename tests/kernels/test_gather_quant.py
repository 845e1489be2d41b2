"""EMBEDDING_LOOKUP with quantized tables (hybrid int8 -> float32, int8 -> int8) and quantized
GATHER-family copies, bit-exact / float-rule against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.errors import ModelError
from edgelite.interpreter import Interpreter
from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import GatherOptions
from edgelite.schema.model import QuantizationParameters
from tests.kernels._shape_helpers import Const, Out, Var, check, op_model, prepare_blind
from tests.oracle import assert_matches, run_litert

IDS = np.array([3, 0, 4, 4, 1], np.int32)


def _table(dtype, shape=(5, 2, 3), seed=0):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)


def _per_row(scales, zero_points=None):
    scales = np.asarray(scales, np.float32)
    zeros = np.zeros(len(scales), np.int64) if zero_points is None else np.asarray(zero_points)
    return QuantizationParameters(scales, zeros.astype(np.int64), 0)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("per_row", [False, True])
@pytest.mark.parametrize("table_kind", [Const, Var])
def test_hybrid_embedding_lookup(dtype, per_row, table_kind):
    """float32 output: each row times its scale (uint8 tables read as int8, like TFLite)."""
    table = _table(dtype)
    q = _per_row([0.5, 0.031, 1.7, 0.0042, 0.25]) if per_row else quant(0.0173)
    operands = [Var(IDS), table_kind(table, quantization=q)]
    check(Op.EMBEDDING_LOOKUP, operands, Out(np.float32), version=3)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_quantized_embedding_lookup_copies_raw(dtype):
    table = _table(dtype, (6, 4))
    q = quant(0.25, 0 if dtype == np.int16 else 3)
    check(Op.EMBEDDING_LOOKUP, [Var(IDS), Const(table, quantization=q)], Out(dtype, q), version=3)


def test_embedding_lookup_out_of_bounds_fails_at_invoke():
    from tests.kernel_runner import run_kernels

    model, feeds = op_model(
        Op.EMBEDDING_LOOKUP,
        [Var(np.array([0, 5], np.int32)), Const(_table(np.int8), quantization=quant(0.5))],
        [Out(np.float32)],
        version=3,
    )
    with pytest.raises(Exception, match="out of bounds"):
        run_kernels(model, feeds)


@pytest.mark.parametrize(
    "q, out_dtype, message",
    [
        (quant(0.5, 3), np.float32, "symmetric table"),
        (_per_row([0.5, 0.25]), np.float32, "2 scales for dimension 0 of size 5"),
        (_per_row([0.5] * 5), np.int8, "needs an int8/uint8 table and a float32 output"),
        (None, np.float32, "without quantization parameters"),
        (quant(0.0), np.float32, "not > 0"),
    ],
)
def test_hybrid_embedding_bad_parameters(q, out_dtype, message):
    operands = [Var(IDS), Const(_table(np.int8), quantization=q)]
    # Scales that do not fit the quantized dimension are refused when the model is read.
    with pytest.raises((PrepareError, ModelError), match=message):
        prepare_blind(Op.EMBEDDING_LOOKUP, operands, Out(out_dtype, None), version=3)


def _interpret(model: bytes, feeds, hybrid: str) -> np.ndarray:
    interp = Interpreter(model_content=model, hybrid=hybrid)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], feeds[0])
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


@pytest.mark.parametrize("hybrid", ["fast", "exact"])
def test_hybrid_modes_through_the_interpreter(hybrid):
    """Symmetric int8 tables: the load-time dequantization and the exact kernel agree."""
    q = _per_row([0.5, 0.031, 1.7, 0.0042, 0.25])
    model, feeds = op_model(
        Op.EMBEDDING_LOOKUP, [Var(IDS), Const(_table(np.int8), quantization=q)], [Out()], None, 3
    )
    assert_matches(_interpret(model, feeds, hybrid), run_litert(model, feeds)[0])


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_gather_quantized_raw_copy(dtype):
    x = _table(dtype, (4, 6))
    q = quant(0.1, 0)
    operands = [Var(x, quantization=q), Const(np.array([2, 0, 3], np.int32))]
    check(Op.GATHER, operands, Out(dtype, q), GatherOptions(axis=1), version=2)
