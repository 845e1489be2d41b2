"""SOFTMAX (with beta) and LOG_SOFTMAX over the last axis, any rank >= 1, float32.

Both subtract the row maximum first, as the official kernels do:
``softmax = exp((x - max) * beta) / sum`` and
``log_softmax = (x - max) - log(sum(exp(x - max)))``. A NaN or +inf in a row makes
the whole row NaN, in both runtimes.

The reference uses numpy passes with ``out=`` (plus one per-row temporary); the
optimized version is one Cython loop per row, rows split over ``num_threads``.
Quantized inputs (int8, uint8, int16 for SOFTMAX) follow TFLite's integer kernels
bit for bit (``_qsoftmax``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator, TensorType
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_inputs
from .unary import QUANTIZED_TYPES, check_type, is_quantized, unary_prepare

try:
    from ._elementwise import softmax_f32
except ImportError:  # extensions not built: the reference kernels still run
    softmax_f32 = None


def _qsoftmax() -> Any:
    """``_qsoftmax`` (the quantized path), imported on first use: float models never load it."""
    from . import _qsoftmax as module

    return module


class SoftmaxData(OpRecord):
    """Prepared float SOFTMAX / LOG_SOFTMAX (read-only after prepare)."""

    __slots__ = ("beta", "log", "num_threads")
    beta: float
    log: bool
    num_threads: int
    _defaults = {"num_threads": 1}


def _prepare(log: bool):
    def prepare(node: Node) -> Prepared:
        check_inputs(node, 1)
        x = node.input(0)
        if x.type in QUANTIZED_TYPES and is_quantized(x):
            types = (TensorType.INT8, TensorType.UINT8) + (() if log else (TensorType.INT16,))
            check_type(node, x, types, allow_quantized=True)
            return _qsoftmax().prepare(node, log)
        # A SOFTMAX without options has beta 0 in TFLite (a uniform output), not 1.
        beta = 1.0 if log else float(np.float32(getattr(node.options, "beta", 0.0)))
        prepared = unary_prepare(
            node, (TensorType.FLOAT32,), SoftmaxData(beta, log, max(node.num_threads, 1))
        )
        if len(node.input(0).shape) < 1:
            raise PrepareError(f"{node.op} needs an input of rank >= 1, got a scalar")
        return prepared

    return prepare


def invoke(data: SoftmaxData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Reference: numpy passes over the last axis."""
    if not isinstance(data, SoftmaxData):
        _qsoftmax().invoke_reference(data, inputs, outputs)
        return
    x, out = inputs[0], outputs[0]
    if out.size == 0:
        return
    with np.errstate(all="ignore"):
        top = np.max(x, axis=-1, keepdims=True)
        np.subtract(x, top, out=out)
        if data.log:
            total = np.sum(np.exp(out), axis=-1, keepdims=True, dtype=np.float64)
            np.subtract(out, np.log(total).astype(np.float32), out=out)
        else:
            np.multiply(out, np.float32(data.beta), out=out)
            np.exp(out, out=out)
            total = np.sum(out, axis=-1, keepdims=True, dtype=np.float64)
            np.divide(out, total.astype(np.float32), out=out)


def invoke_opt(data: SoftmaxData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Optimized: one fused pass per row."""
    if not isinstance(data, SoftmaxData):
        _qsoftmax().invoke_optimized(data, inputs, outputs)
        return
    x, out = inputs[0], outputs[0]
    if softmax_f32 is None or not out.flags.c_contiguous:
        invoke(data, inputs, outputs)
        return
    rows_shape = (-1, x.shape[-1]) if x.shape[-1] else (0, 0)
    softmax_f32(
        x.reshape(rows_shape), out.reshape(rows_shape), data.beta, data.log, data.num_threads
    )


KERNELS = {
    BuiltinOperator.SOFTMAX: KernelSpec(
        prepare=_prepare(log=False), invoke=invoke, versions=(1, 4), invoke_opt=invoke_opt
    ),
    BuiltinOperator.LOG_SOFTMAX: KernelSpec(
        prepare=_prepare(log=True), invoke=invoke, versions=(1, 2), invoke_opt=invoke_opt
    ),
}
