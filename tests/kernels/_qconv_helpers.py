"""Helpers for the quantized conv / matmul / pooling / resize kernel tests.

``Spec`` describes one operand (runtime input or constant, with its quantization);
``build`` makes a single-op model of them; ``check`` runs it in the official runtime
(the oracle) and through edgelite's reference and optimized kernels, and holds all
three bit-exact (floats under the float rule). ``run_with_rounding`` runs the kernels
with a forced ``Node.rounding`` (the oracle has only its own build to compare with) or
with several threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgelite.interpreter.kernels.base import Node, TensorInfo
from edgelite.interpreter.op_table import builtin_table
from edgelite.schema import read_model
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.model import QuantizationParameters
from tests.kernel_runner import run_kernels
from tests.oracle import assert_matches, run_litert


@dataclass
class Spec:
    """One operand: a runtime input (``const=False``) or a constant."""

    value: np.ndarray
    q: QuantizationParameters | None = None
    const: bool = False


def q(scale: Any, zero_point: Any = 0, axis: int = 0) -> QuantizationParameters:
    """Quantization parameters (a shorter name for ``quant``)."""
    return quant(scale, zero_point, axis)


def build(
    code: Any,
    operands: Sequence[Spec | None],
    out_shape: Sequence[int],
    out_dtype: Any,
    out_q: QuantizationParameters | None,
    options: Any = None,
    version: int = 1,
) -> tuple[bytes, list[np.ndarray]]:
    """A one-op model; None operands are omitted optional inputs (-1)."""
    mb = ModelBuilder()
    indices, feed = [], []
    for i, spec in enumerate(operands):
        if spec is None:
            indices.append(-1)
        elif spec.const:
            indices.append(mb.const(f"c{i}", spec.value, quantization=spec.q))
        else:
            indices.append(
                mb.input(f"x{i}", spec.value.shape, spec.value.dtype, quantization=spec.q)
            )
            feed.append(spec.value)
    y = mb.tensor("y", out_shape, out_dtype, quantization=out_q)
    mb.op(code, indices, [y], options, version=version)
    mb.output(y)
    return mb.to_bytes(), feed


def check(model: bytes, feed: list[np.ndarray], what: str = "output") -> np.ndarray:
    """Oracle == reference kernels == optimized kernels; returns the oracle's output."""
    official = run_litert(model, feed)[0]
    ref = run_kernels(model, feed)[0]
    assert_matches(ref, official, f"{what} (reference kernels)")
    opt = run_kernels(model, feed, optimized=True)[0]
    assert_matches(opt, official, f"{what} (optimized kernels)")
    return official


def run_with_rounding(
    model: bytes, feed: list[np.ndarray], rounding: str, optimized: bool, num_threads: int = 1
):
    """Run a single-op model's kernel with ``Node.rounding`` (and ``num_threads``) set."""
    model_ir = read_model(model)
    sg = model_ir.main
    op = sg.operators[0]
    code = model_ir.operator_codes[op.opcode_index]
    values = dict(zip(sg.inputs, feed))

    def info(index: int) -> TensorInfo | None:
        if index < 0:
            return None
        t = sg.tensors[index]
        data = values.get(index)
        if data is None:
            data = model_ir.constant(t)
        shape = tuple(data.shape) if data is not None else tuple(t.shape)
        return TensorInfo(index, t.name, shape, t.dtype, t.type, t.quantization, data)

    spec = builtin_table()[int(code.builtin_code)]
    node = Node(
        index=0,
        op=code.name,
        version=code.version,
        inputs=[info(i) for i in op.inputs],
        outputs=[info(i) for i in op.outputs],
        options=op.builtin_options,
        num_threads=num_threads,
        rounding=rounding,
    )
    prepared = spec.prepare(node)
    ins = [None if i < 0 else info(i).data for i in op.inputs]
    outs = [np.empty(s, sg.tensors[i].dtype) for s, i in zip(prepared.output_shapes, op.outputs)]
    invoke = spec.invoke_opt if optimized and spec.invoke_opt else spec.invoke
    invoke(prepared.data, ins, outs)
    return outs[0]


def tie_scales(rng: np.random.Generator, channels: int, base: float = 0.5) -> np.ndarray:
    """Per-channel scales: powers of two first (many exact rounding ties), then random."""
    powers = np.float32(base) * np.float32(2.0) ** -(np.arange(channels) % 3).astype(np.float32)
    randoms = rng.uniform(0.05, 0.2, channels).astype(np.float32)
    return np.where(np.arange(channels) < (channels + 1) // 2, powers, randoms).astype(np.float32)


def small_ints(rng: np.random.Generator, shape: Sequence[int], zero: int, spread: int, dtype):
    """Values zero +- spread (clipped to the type): small sums, so outputs rarely saturate."""
    info = np.iinfo(dtype)
    values = rng.integers(-spread, spread + 1, shape) + zero
    return np.clip(values, info.min, info.max).astype(dtype)
