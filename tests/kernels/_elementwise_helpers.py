"""Shared helpers for the elementwise / activation / softmax / select / cast / quantize
kernel tests.

``single_op_model`` builds a one-op model whose operands are runtime inputs (plain
arrays) or constants (``Const``); ``check`` runs it in the official runtime (the
oracle), through the numpy reference kernels and through the optimized kernels, and
holds all three equal (floats under the float rule, everything else bit-exact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgelite.schema.builder import ModelBuilder
from edgelite.schema.model import QuantizationParameters
from tests.kernel_runner import run_kernels
from tests.oracle import assert_matches, run_litert


@dataclass
class Const:
    """A constant operand (the rest are runtime inputs)."""

    value: Any
    quantization: QuantizationParameters | None = None


@dataclass
class Quantized:
    """A runtime input that carries quantization parameters."""

    value: np.ndarray
    quantization: QuantizationParameters


def single_op_model(
    code: Any,
    operands: Sequence[Any],
    out_dtype: Any = None,
    options: Any = None,
    version: int = 1,
    out_shape: Sequence[int] | None = None,
    out_quant: QuantizationParameters | None = None,
) -> tuple[bytes, list[np.ndarray]]:
    """A model running ``code`` once; returns its bytes and the runtime input values."""
    mb = ModelBuilder()
    indices, feed, shapes = [], [], []
    for i, operand in enumerate(operands):
        if isinstance(operand, Const):
            value = np.asarray(operand.value)
            indices.append(mb.const(f"c{i}", value, quantization=operand.quantization))
        elif isinstance(operand, Quantized):
            value = np.asarray(operand.value)
            indices.append(
                mb.input(f"x{i}", value.shape, value.dtype, quantization=operand.quantization)
            )
            feed.append(value)
        else:
            value = np.asarray(operand)
            indices.append(mb.input(f"x{i}", value.shape, value.dtype))
            feed.append(value)
        shapes.append(value.shape)
    if out_dtype is None:
        out_dtype = np.asarray(
            operands[0].value if isinstance(operands[0], (Const, Quantized)) else operands[0]
        ).dtype
    if out_shape is None:
        out_shape = np.broadcast_shapes(*shapes)
    y = mb.tensor("y", out_shape, out_dtype, quantization=out_quant)
    mb.op(code, indices, [y], options, version=version)
    mb.output(y)
    return mb.to_bytes(), feed


def check(
    code: Any,
    operands: Sequence[Any],
    out_dtype: Any = None,
    options: Any = None,
    version: int = 1,
    out_shape: Sequence[int] | None = None,
    out_quant: QuantizationParameters | None = None,
    reference_kernels: bool = False,
) -> np.ndarray:
    """Oracle == reference == optimized for a single-op model; returns the oracle output.

    ``reference_kernels`` makes the oracle use the official reference kernels
    (where the optimized official kernel rounds differently, e.g. QUANTIZE).
    """
    model, feed = single_op_model(code, operands, out_dtype, options, version, out_shape, out_quant)
    want = run_litert(model, feed, reference_kernels=reference_kernels)[0]
    reference = run_kernels(model, feed, optimized=False)[0]
    _assert_matches(reference, want, "reference kernel")
    optimized = run_kernels(model, feed, optimized=True)[0]
    _assert_matches(optimized, want, "optimized kernel")
    return want


def _assert_matches(ours: np.ndarray, want: np.ndarray, what: str) -> None:
    """oracle.assert_matches, with complex values compared as their float parts."""
    ours, want = np.asarray(ours), np.asarray(want)
    if want.dtype.kind == "c" and ours.dtype == want.dtype:
        ours, want = ours.view(ours.real.dtype), want.view(want.real.dtype)
    assert_matches(ours, want, what)


def oracle_error(code: Any, operands: Sequence[Any], **kwargs: Any) -> str:
    """The official runtime's error message for a model it refuses to run."""
    model, feed = single_op_model(code, operands, **kwargs)
    try:
        run_litert(model, feed)
    except (RuntimeError, ValueError) as error:
        return str(error)
    raise AssertionError("the official runtime accepted the model")


def kernel_error(code: Any, operands: Sequence[Any], optimized: bool = False, **kwargs: Any):
    """Run our kernels expecting an exception; returns it."""
    model, feed = single_op_model(code, operands, **kwargs)
    try:
        run_kernels(model, feed, optimized=optimized)
    except Exception as error:  # the caller checks the type
        return error
    raise AssertionError("our kernel accepted the model")


def rand(rng: np.random.Generator, shape: Sequence[int], scale: float = 1.0) -> np.ndarray:
    """Standard-normal float32 test data."""
    return (rng.standard_normal(tuple(shape)) * scale).astype(np.float32)


# Float edge values every elementwise op should get right (NaN/inf placement included).
SPECIAL = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, -1e30, 1e30, 1e-40], np.float32)
