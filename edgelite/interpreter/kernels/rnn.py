"""UNIDIRECTIONAL_SEQUENCE_RNN and RNN (one time step) in float32.

Each step is TFLite's RnnBatchStep: ``h = act(bias + W x + R h)``, where the fused
activation is applied in place (NONE is the identity) and the hidden state variable takes
the new h, which is also the step's output. Inputs: x, W [units, input], R [units, units],
bias [units], hidden state (variable) [batch, units].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...schema.generated.enums import ActivationFunctionType as Act
from ...schema.generated.enums import BuiltinOperator
from ...schema.generated.options import RNNOptions, SequenceRNNOptions
from ._blas import use_blas_threads
from ._recurrent import activate, check_float_input, check_state, state_view, time_major_view
from .base import KernelSpec, Node, Prepared, PrepareError

try:
    from . import _recurrence
except ImportError:  # extensions not built: invoke_opt falls back to the reference
    _recurrence = None  # type: ignore[assignment]

_WEIGHTS, _RECURRENT, _BIAS, _STATE = 1, 2, 3, 4


@dataclass(frozen=True)
class RnnData:
    activation: int
    time_major: bool
    num_threads: int = 1


def _check_weight(node: Node, pos: int, shape: tuple[int, ...], what: str) -> None:
    info = node.input(pos)
    if info.dtype != np.float32:
        kind = "hybrid (int8-weight)" if info.dtype in (np.int8, np.uint8) else info.dtype.name
        raise PrepareError(f"{what} {info.name!r} is {kind}; only float32 RNNs are supported yet")
    if info.shape != shape:
        raise PrepareError(
            f"{what} {info.name!r} has shape {list(info.shape)}; expected {list(shape)}"
        )


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
    _check_weight(node, _WEIGHTS, (units, x.shape[-1]), "weights")
    _check_weight(node, _RECURRENT, (units, units), "recurrent weights")
    _check_weight(node, _BIAS, (units,), "bias")
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
    return Prepared([shape], RnnData(act, bool(opts.time_major), node.num_threads))


def _prepare_step(node: Node) -> Prepared:
    opts = node.options or RNNOptions()
    act = int(opts.fused_activation_function)
    batch, units = _prepare(node, "RNN", True, act)
    return Prepared([(batch, units)], RnnData(act, True, node.num_threads))


def invoke(data: RnnData, inputs, outputs) -> None:
    """Numpy reference: one step at a time, all batches together."""
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
    if _recurrence is None:
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
