"""Shared helpers for the shape / data-movement / reduction / index kernel tests.

``op_model`` builds a single-op model whose operands are runtime inputs
(``Var``), constants (``Const``) or omitted (``None``); ``check`` runs it in the
official runtime (the oracle), through the numpy reference kernels and through
the optimized kernels, and holds all three equal (floats under the float rule,
everything else bit-exact). ``prepare_blind`` prepares the op the way the core
does before values are known, to test the ``dynamic=True`` path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import Node, Prepared, PrepareError, TensorInfo
from edgelite.interpreter.op_table import builtin_table
from edgelite.schema import read_model
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.model import QuantizationParameters
from tests.kernel_runner import run_kernels
from tests.oracle import assert_matches, run_litert


@dataclass
class Var:
    """A runtime input fed with ``value``."""

    value: Any
    dtype: Any = None
    quantization: QuantizationParameters | None = None

    def array(self) -> np.ndarray:
        return np.asarray(self.value, dtype=self.dtype)


@dataclass
class Const:
    """A constant operand."""

    value: Any
    dtype: Any = None
    quantization: QuantizationParameters | None = None


@dataclass
class Out:
    """An output tensor (its declared shape does not matter: every runtime recomputes it)."""

    dtype: Any = np.float32
    quantization: QuantizationParameters | None = None


FLOAT_OUT = Out()


def op_model(
    code: Any,
    operands: Sequence[Var | Const | None],
    outputs: Sequence[Out],
    options: Any = None,
    version: int = 1,
) -> tuple[bytes, list[np.ndarray]]:
    """A one-op model and the values to feed its runtime inputs (in order)."""
    mb = ModelBuilder()
    indices, feeds = [], []
    for i, operand in enumerate(operands):
        if operand is None:
            indices.append(-1)
        elif isinstance(operand, Const):
            value = np.asarray(operand.value, dtype=operand.dtype)
            indices.append(mb.const(f"c{i}", value, quantization=operand.quantization))
        else:
            value = operand.array()
            indices.append(
                mb.input(f"x{i}", value.shape, value.dtype, quantization=operand.quantization)
            )
            feeds.append(value)
    outs = [
        mb.tensor(f"y{i}", [], out.dtype, quantization=out.quantization)
        for i, out in enumerate(outputs)
    ]
    mb.op(code, indices, outs, options, version=version)
    mb.output(*outs)
    return mb.to_bytes(), feeds


def check(
    code: Any,
    operands: Sequence[Var | Const | None],
    outputs: Sequence[Out] | Out = FLOAT_OUT,
    options: Any = None,
    version: int = 1,
    expected: Sequence[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Oracle == reference == optimized for one op; returns the reference outputs.

    ``expected`` stands in for the oracle where the official runtime refuses the
    case on purpose (documented at the call site).
    """
    outs = [outputs] if isinstance(outputs, Out) else list(outputs)
    model, feeds = op_model(code, operands, outs, options, version)
    want = list(expected) if expected is not None else run_litert(model, feeds)
    reference = run_kernels(model, feeds, optimized=False)
    optimized = run_kernels(model, feeds, optimized=True)
    assert len(reference) == len(want)
    for i, (ref, opt, oracle) in enumerate(zip(reference, optimized, want)):
        assert_matches(ref, oracle, f"reference output {i}")
        assert_matches(opt, oracle, f"optimized output {i}")
        if not np.issubdtype(ref.dtype, np.floating):
            assert np.array_equal(ref, opt), f"optimized output {i} differs from the reference"
    return reference


def _node(
    code: Any,
    operands: Sequence[Var | Const | None],
    outputs: Sequence[Out] | Out,
    options: Any,
    version: int,
    with_values: bool,
    num_threads: int = 1,
) -> tuple[Any, Node, list[np.ndarray | None]]:
    """(kernel spec, Node, input arrays) for the op, as the core would build them."""
    outs = [outputs] if isinstance(outputs, Out) else list(outputs)
    model_bytes, feeds = op_model(code, operands, outs, options, version)
    model = read_model(model_bytes)
    sg = model.main
    op = sg.operators[0]
    entry = model.operator_codes[op.opcode_index]
    fed = dict(zip(sg.inputs, feeds))

    def value(index: int) -> np.ndarray | None:
        if index < 0:
            return None
        return fed[index] if index in fed else model.constant(sg.tensors[index])

    def info(index: int, known: bool) -> TensorInfo | None:
        if index < 0:
            return None
        t = sg.tensors[index]
        data = value(index) if known or index not in fed else None
        shape = tuple(data.shape) if data is not None else tuple(t.shape)
        return TensorInfo(index, t.name, shape, t.dtype, t.type, t.quantization, data)

    node = Node(
        0,
        entry.name,
        entry.version,
        [info(i, with_values) for i in op.inputs],
        [info(i, False) for i in op.outputs],  # type: ignore[misc]
        op.builtin_options,
        num_threads=num_threads,
    )
    spec = builtin_table()[int(entry.builtin_code)]
    return spec, node, [value(i) for i in op.inputs]


def prepare_blind(
    code: Any,
    operands: Sequence[Var | Const | None],
    outputs: Sequence[Out] | Out = FLOAT_OUT,
    options: Any = None,
    version: int = 1,
) -> Prepared:
    """Prepare the op as the core does at allocate time: runtime inputs have no values."""
    spec, node, _ = _node(code, operands, outputs, options, version, with_values=False)
    return spec.prepare(node)


def check_threads(
    code: Any,
    operands: Sequence[Var | Const | None],
    outputs: Sequence[Out] | Out = FLOAT_OUT,
    options: Any = None,
    version: int = 1,
    num_threads: int = 2,
) -> None:
    """The optimized kernel split over ``num_threads`` equals the reference."""
    spec, node, inputs = _node(code, operands, outputs, options, version, True, num_threads)
    assert spec.invoke_opt is not None, f"{node.op} has no optimized kernel (extensions built?)"
    prepared = spec.prepare(node)
    results = []
    for invoke in (spec.invoke, spec.invoke_opt):
        outs = [
            np.empty(shape, info.dtype) for shape, info in zip(prepared.output_shapes, node.outputs)
        ]
        invoke(prepared.data, inputs, outs)
        results.append(outs)
    for i, (ref, opt) in enumerate(zip(*results)):
        assert_matches(opt, ref, f"optimized output {i} with {num_threads} threads")


def check_mismatched_quantization(
    code: Any,
    operands: Sequence[Var | Const | None],
    outputs: Sequence[Out] | Out,
    options: Any = None,
    version: int = 1,
) -> None:
    """Quantized operands whose parameters differ: refuse exactly when the oracle refuses,
    otherwise give its (raw-copy) outputs."""
    outs = [outputs] if isinstance(outputs, Out) else list(outputs)
    model, feeds = op_model(code, operands, outs, options, version)
    try:
        want = run_litert(model, feeds)
    except RuntimeError:
        spec, node, _ = _node(code, operands, outputs, options, version, with_values=True)
        with pytest.raises(PrepareError, match="scale/zero point"):
            spec.prepare(node)
        return
    check(code, operands, outputs, options, version, expected=want)


def rand(rng: np.random.Generator, shape: Sequence[int], dtype: Any = np.float32) -> np.ndarray:
    """Test data of ``dtype``: normal floats, small-range integers, random bools."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -100), min(info.max, 100), shape, endpoint=True).astype(
            dtype
        )
    return rng.standard_normal(shape).astype(dtype)


# Two different sets of int8 parameters, for the mismatched-quantization tests.
Q_IN = QuantizationParameters(np.array([0.5], np.float32), np.array([3], np.int64))
Q_OUT = QuantizationParameters(np.array([0.25], np.float32), np.array([-1], np.int64))

MOVE_DTYPES = [np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64, np.bool_]
