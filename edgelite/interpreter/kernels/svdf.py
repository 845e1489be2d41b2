"""SVDF in float32: a fully connected layer factored into feature and time filters.

Inputs: x [batch, input], weights_feature [filters, input], weights_time [filters, memory],
bias [units] (optional), state (variable) [batch, memory * filters]; ``units = filters /
rank``. Per invoke, as TFLite's EvalFloatSVDF:

    state[b, f, :] shifts left by one; state[b, f, -1] = weights_feature[f] . x[b]
    out[b, u] = act(bias[u] + sum over the rank filters f of unit u of
                    weights_time[f] . state[b, f])

The state keeps the last ``memory`` feature activations of every filter between invokes.
One invoke is one time step: no loop to optimize, so there is no separate optimized kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ...schema.generated.options import SVDFOptions
from ._recurrent import activate, check_float_input, check_state
from .base import KernelSpec, Node, Prepared, PrepareError

_FEATURE, _TIME, _BIAS, _STATE = 1, 2, 3, 4


@dataclass(frozen=True)
class SvdfData:
    rank: int
    filters: int
    memory: int
    activation: int


def _float_weight(node: Node, pos: int, rank: int, what: str):
    info = node.input(pos)
    if info.dtype != np.float32:
        kind = "hybrid (int8-weight)" if info.dtype in (np.int8, np.uint8) else info.dtype.name
        raise PrepareError(f"{what} {info.name!r} is {kind}; only float32 SVDF is supported yet")
    if len(info.shape) != rank:
        raise PrepareError(f"{what} {info.name!r} has {len(info.shape)} dims; expected {rank}")
    return info


def _prepare(node: Node) -> Prepared:
    if len(node.inputs) != 5 or len(node.outputs) != 1:
        raise PrepareError("SVDF expects 5 inputs (bias may be -1) and 1 output")
    opts = node.options or SVDFOptions()
    x = check_float_input(node, "SVDF")
    if len(x.shape) != 2:
        raise PrepareError(f"input {x.name!r} has {len(x.shape)} dims; SVDF needs [batch, input]")
    feature = _float_weight(node, _FEATURE, 2, "weights_feature")
    time = _float_weight(node, _TIME, 2, "weights_time")
    filters, memory = feature.shape[0], time.shape[1]
    if opts.rank <= 0 or filters % opts.rank:
        raise PrepareError(f"rank {opts.rank} must be > 0 and divide the {filters} filters")
    units = filters // opts.rank
    if feature.shape[1] != x.shape[1]:
        raise PrepareError(
            f"weights_feature {list(feature.shape)} does not match input {list(x.shape)}"
        )
    if time.shape[0] != filters:
        raise PrepareError(f"weights_time {list(time.shape)} needs {filters} rows (one per filter)")
    if node.optional_input(_BIAS) is not None:
        bias = _float_weight(node, _BIAS, 1, "bias")
        if bias.shape[0] != units:
            raise PrepareError(f"bias {bias.name!r} has {bias.shape[0]} values; expected {units}")
    state = check_state(node, _STATE, x.shape[0] * memory * filters, "state")
    if state.shape != (x.shape[0], memory * filters):
        raise PrepareError(f"state {state.name!r} must be [batch, memory * filters]")
    data = SvdfData(opts.rank, filters, memory, int(opts.fused_activation_function))
    return Prepared([(x.shape[0], units)], data)


def invoke(data: SvdfData, inputs, outputs) -> None:
    """Shift the memory, add this step's feature activations, apply the time filters."""
    x, feature, time, bias, state = inputs[:5]
    memory = state.reshape(x.shape[0], data.filters, data.memory)
    if not np.may_share_memory(memory, state):
        raise RuntimeError("the SVDF state tensor must be contiguous")
    memory[:, :, :-1] = memory[:, :, 1:].copy()
    memory[:, :, -1] = x @ feature.T
    per_filter = np.einsum("bfm,fm->bf", memory, time)
    out = per_filter.reshape(x.shape[0], -1, data.rank).sum(axis=2, dtype=np.float32)
    if bias is not None:
        out += bias
    outputs[0][...] = activate(out, data.activation)


KERNELS = {
    BuiltinOperator.SVDF: KernelSpec(prepare=_prepare, invoke=invoke, versions=(1, 4)),
}
