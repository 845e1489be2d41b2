"""Helpers for the quantized elementwise kernel tests (``test_*_quant.py``).

``qcheck`` runs a single-op quantized model in the official runtime and through our
reference and optimized kernels and holds the three bit-exact. ``run_forced`` runs
it through our kernels with a forced multiplier rounding (``Node.rounding``), which
the kernel runner does not set. Inputs are random over the whole integer range
unless given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgelite.interpreter.kernels.base import Node, PrepareError
from edgelite.interpreter.op_table import builtin_table
from edgelite.schema import read_model
from edgelite.schema.builder import quant
from edgelite.schema.model import QuantizationParameters
from tests.kernel_runner import _info, run_kernels
from tests.kernels._elementwise_helpers import Quantized, single_op_model
from tests.oracle import assert_matches, run_litert


def q(dtype: Any, scale: float, zero_point: int = 0) -> QuantizationParameters:
    """Per-tensor parameters; uint8 zero points are given int8-style and moved up by 128."""
    if np.dtype(dtype) == np.uint8:
        zero_point += 128
    if np.dtype(dtype) == np.int16:
        zero_point = 0
    return quant(scale, zero_point)


def full_range(rng: np.random.Generator, shape: Sequence[int], dtype: Any) -> np.ndarray:
    """Random values over the whole range of an integer dtype."""
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, tuple(shape)).astype(dtype)


def every_value(dtype: Any, repeat: int = 1) -> np.ndarray:
    """Every value of an 8- or 16-bit dtype (repeated), as a 2-d array."""
    info = np.iinfo(dtype)
    values = np.arange(info.min, info.max + 1, dtype=np.int64).astype(dtype)
    return np.tile(values, repeat).reshape(repeat * 2, -1)


def qcheck(
    code: Any,
    operands: Sequence[Any],
    out_dtype: Any,
    out_quant: QuantizationParameters,
    options: Any = None,
    out_shape: Sequence[int] | None = None,
    version: int = 1,
) -> np.ndarray:
    """Oracle == reference == optimized, bit-exact; returns the oracle's output."""
    model, feed = single_op_model(code, operands, out_dtype, options, version, out_shape, out_quant)
    want = run_litert(model, feed)[0]
    assert_matches(run_kernels(model, feed, optimized=False)[0], want, "reference kernel")
    assert_matches(run_kernels(model, feed, optimized=True)[0], want, "optimized kernel")
    return want


def oracle_and_ours_refuse(
    code: Any, operands: Sequence[Any], out_dtype: Any, out_quant: Any, options: Any = None
) -> tuple[str, PrepareError]:
    """Both runtimes refuse the model; returns (official message, our PrepareError)."""
    model, feed = single_op_model(code, operands, out_dtype, options, 1, None, out_quant)
    try:
        run_litert(model, feed)
    except (RuntimeError, ValueError) as error:
        official = str(error)
    else:
        raise AssertionError("the official runtime accepted the model")
    return official, our_error(code, operands, out_dtype, out_quant, options)


def our_error(
    code: Any, operands: Sequence[Any], out_dtype: Any, out_quant: Any, options: Any = None
) -> PrepareError:
    """Our PrepareError for a model we refuse."""
    model, feed = single_op_model(code, operands, out_dtype, options, 1, None, out_quant)
    try:
        run_kernels(model, feed)
    except PrepareError as error:
        return error
    raise AssertionError("our kernel accepted the model")


def run_forced(model: bytes, feed: Sequence[np.ndarray], rounding: str, optimized: bool):
    """Run a single-op model through our kernels with ``Node.rounding`` forced."""
    parsed = read_model(model)
    sg = parsed.main
    values = {index: np.asarray(v, sg.tensors[index].dtype) for index, v in zip(sg.inputs, feed)}
    op = sg.operators[0]
    code = parsed.operator_codes[op.opcode_index]
    spec = builtin_table()[int(code.builtin_code)]
    node = Node(
        index=0,
        op=code.name,
        version=code.version,
        inputs=[_info(parsed, sg, i, values) for i in op.inputs],
        outputs=[_info(parsed, sg, i, {}) for i in op.outputs],
        options=op.builtin_options,
        rounding=rounding,
    )
    prepared = spec.prepare(node)
    ins = [values.get(i, parsed.constant(sg.tensors[i])) for i in op.inputs]
    outs = [np.empty(s, sg.tensors[i].dtype) for s, i in zip(prepared.output_shapes, op.outputs)]
    invoke = spec.invoke_opt if optimized and spec.invoke_opt else spec.invoke
    invoke(prepared.data, ins, outs)
    return outs[0]


def check_forced(code: Any, operands: Sequence[Any], out_dtype: Any, out_quant: Any, options=None):
    """Forced "double" / "single": reference == optimized; returns {rounding: output}."""
    model, feed = single_op_model(code, operands, out_dtype, options, 1, None, out_quant)
    results = {}
    for rounding in ("tflite", "double", "single"):
        reference = run_forced(model, feed, rounding, optimized=False)
        assert_matches(run_forced(model, feed, rounding, optimized=True), reference, rounding)
        results[rounding] = reference
    return results


__all__ = [
    "Quantized",
    "check_forced",
    "every_value",
    "full_range",
    "oracle_and_ours_refuse",
    "our_error",
    "q",
    "qcheck",
    "run_forced",
]
