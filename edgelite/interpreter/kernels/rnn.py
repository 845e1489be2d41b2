"""UNIDIRECTIONAL_SEQUENCE_RNN and RNN (one time step), float32 and hybrid.

Each step is TFLite's RnnBatchStep: ``h = act(bias + W x + R h)``, where the fused
activation is applied in place (NONE is the identity) and the hidden state variable takes
the new h, which is also the step's output. Inputs: x, W [units, input], R [units, units],
bias [units], hidden state (variable) [batch, units].

Hybrid (int8 or uint8 W and R, float activations, as TFLite's EvalHybrid): each step
quantizes every batch row of x and of h to int8 on the fly (symmetric, or asymmetric with
``asymmetric_quantize_inputs``) and adds the exact integer products scaled back to float
(``_hybrid_util``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...schema.generated.enums import ActivationFunctionType as Act
from ...schema.generated.enums import BuiltinOperator
from ...schema.generated.options import RNNOptions, SequenceRNNOptions
from ._blas import use_blas_threads
from ._hybrid_util import accumulate, int8_view, quantize_rows, row_sums
from ._qparams import symmetric_scale
from ._recurrent import activate, check_float_input, check_state, state_view, time_major_view
from .base import KernelSpec, Node, Prepared, PrepareError

try:
    from . import _recurrence
except ImportError:  # extensions not built: invoke_opt falls back to the reference
    _recurrence = None  # type: ignore[assignment]

_WEIGHTS, _RECURRENT, _BIAS, _STATE = 1, 2, 3, 4


@dataclass(frozen=True)
class HybridRnn:
    """Per-tensor scales of the int8 W and R, and the input quantization mode."""

    w_scale: float
    r_scale: float
    asymmetric: bool


@dataclass(frozen=True)
class RnnData:
    activation: int
    time_major: bool
    num_threads: int = 1
    hybrid: HybridRnn | None = None


def _check_weight(node: Node, pos: int, shape: tuple[int, ...], what: str, hybrid: bool) -> None:
    info = node.input(pos)
    want = (np.dtype(np.int8), np.dtype(np.uint8)) if hybrid else (np.dtype(np.float32),)
    if info.dtype not in want:
        kind = "int8/uint8 (hybrid)" if hybrid else "float32"
        raise PrepareError(
            f"{what} {info.name!r} is {info.dtype.name}; with {node.input(_WEIGHTS).dtype.name} "
            f"input weights it must be {kind}"
        )
    if info.shape != shape:
        raise PrepareError(
            f"{what} {info.name!r} has shape {list(info.shape)}; expected {list(shape)}"
        )


def _hybrid(node: Node, opts) -> HybridRnn | None:
    """The hybrid parameters when W is int8/uint8 (TFLite's IsHybridOp), else None."""
    if node.input(_WEIGHTS).dtype not in (np.int8, np.uint8):
        return None
    w_scale = symmetric_scale(node.input(_WEIGHTS), "weights")
    r_scale = symmetric_scale(node.input(_RECURRENT), "recurrent weights")
    return HybridRnn(w_scale, r_scale, bool(opts.asymmetric_quantize_inputs))


def _prepare(node: Node, op: str, time_major: bool, act: int) -> tuple[int, int]:
    """Validate the five inputs; returns (batch, units)."""
    if len(node.inputs) != 5 or len(node.outputs) != 1:
        raise PrepareError(f"{op} expects 5 inputs and 1 output")
    x = check_float_input(node, op)
    rank = 2 if op == "RNN" else 3
    if len(x.shape) != rank:
        raise PrepareError(f"input {x.name!r} has {len(x.shape)} dims; {op} needs {rank}")
    batch = x.shape[1] if rank == 3 and time_major else x.shape[0]
    weights = node.input(_WEIGHTS)
    if len(weights.shape) != 2:
        raise PrepareError(f"weights {weights.name!r} must be [units, input]")
    units = weights.shape[0]
    hybrid = weights.dtype in (np.int8, np.uint8)
    _check_weight(node, _WEIGHTS, (units, x.shape[-1]), "weights", hybrid)
    _check_weight(node, _RECURRENT, (units, units), "recurrent weights", hybrid)
    _check_weight(node, _BIAS, (units,), "bias", False)
    state = check_state(node, _STATE, batch * units, "hidden state")
    if state.shape != (batch, units):
        raise PrepareError(f"hidden state {state.name!r} must be [batch, units] = {[batch, units]}")
    if act not in tuple(Act):
        raise PrepareError(f"unknown fused activation {act}")
    return batch, units


def _prepare_sequence(node: Node) -> Prepared:
    opts = node.options or SequenceRNNOptions()
    act = int(opts.fused_activation_function)
    _, units = _prepare(node, "UNIDIRECTIONAL_SEQUENCE_RNN", opts.time_major, act)
    shape = (*node.input(0).shape[:2], units)
    data = RnnData(act, bool(opts.time_major), node.num_threads, _hybrid(node, opts))
    return Prepared([shape], data)


def _prepare_step(node: Node) -> Prepared:
    opts = node.options or RNNOptions()
    act = int(opts.fused_activation_function)
    batch, units = _prepare(node, "RNN", True, act)
    return Prepared([(batch, units)], RnnData(act, True, node.num_threads, _hybrid(node, opts)))


def _hybrid_product(weights, values, scale: float, asymmetric: bool, out) -> None:
    """out += the hybrid product of int8 ``weights`` and float rows ``values``."""
    if not values.any():
        return  # TFLite skips an all-zero operand (adding zeros: the same result)
    w = int8_view(weights)
    q, scales, offsets = quantize_rows(values, asymmetric)
    sums = row_sums(w) if offsets is not None else None
    accumulate(out, w, q, scales, offsets, sums, scale)


def _invoke_hybrid(data: RnnData, inputs, outputs) -> None:
    assert data.hybrid is not None
    x = time_major_view(inputs[0], data.time_major)
    out = time_major_view(outputs[0], data.time_major)
    weights, recurrent, bias = inputs[_WEIGHTS], inputs[_RECURRENT], inputs[_BIAS]
    h = state_view(inputs[_STATE], x.shape[1])
    asymmetric = data.hybrid.asymmetric
    for t in range(x.shape[0]):
        acc = np.broadcast_to(bias, h.shape).astype(np.float32)
        _hybrid_product(weights, x[t].reshape(h.shape[0], -1), data.hybrid.w_scale, asymmetric, acc)
        _hybrid_product(recurrent, h, data.hybrid.r_scale, asymmetric, acc)
        h[...] = activate(acc, data.activation)
        out[t] = h


def invoke(data: RnnData, inputs, outputs) -> None:
    """Numpy reference: one step at a time, all batches together."""
    if data.hybrid is not None:
        _invoke_hybrid(data, inputs, outputs)
        return
    use_blas_threads(data.num_threads)
    x = time_major_view(inputs[0], data.time_major)
    out = time_major_view(outputs[0], data.time_major)
    weights, recurrent, bias = inputs[_WEIGHTS], inputs[_RECURRENT], inputs[_BIAS]
    h = state_view(inputs[_STATE], x.shape[1])
    for t in range(x.shape[0]):
        h[...] = activate(bias + x[t] @ weights.T + h @ recurrent.T, data.activation)
        out[t] = h


# From this many batch rows on, one BLAS GEMM per step for R h beats the per-row AXPYs.
BLAS_BATCH = 4


def invoke_opt(data: RnnData, inputs, outputs) -> None:
    """Optimized: the input part of every step in one GEMM, then the recurrence in Cython
    (whole sequence per batch row), or with many rows one GEMM per step."""
    if _recurrence is None or data.hybrid is not None:
        invoke(data, inputs, outputs)
        return
    use_blas_threads(data.num_threads)
    x = time_major_view(inputs[0], data.time_major)
    out = time_major_view(outputs[0], data.time_major)
    pre = x @ inputs[_WEIGHTS].T
    pre += inputs[_BIAS]
    h = state_view(inputs[_STATE], x.shape[1])
    recurrent_t = np.ascontiguousarray(inputs[_RECURRENT].T, np.float32)
    if x.shape[1] < BLAS_BATCH:
        _recurrence.rnn_sequence(pre, recurrent_t, h, out, data.activation, True, data.num_threads)
        return
    acc = np.empty_like(h)
    for t in range(x.shape[0]):
        np.matmul(h, recurrent_t, out=acc)
        acc += pre[t]
        h[...] = activate(acc, data.activation)
        out[t] = h


KERNELS = {
    BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_RNN: KernelSpec(
        prepare=_prepare_sequence, invoke=invoke, versions=(1, 3), invoke_opt=invoke_opt
    ),
    BuiltinOperator.RNN: KernelSpec(
        prepare=_prepare_step, invoke=invoke, versions=(1, 3), invoke_opt=invoke_opt
    ),
}
