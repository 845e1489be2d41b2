"""SVDF: a fully connected layer factored into feature and time filters (float32, hybrid, int8).

Inputs: x [batch, input], weights_feature [filters, input], weights_time [filters, memory],
bias [units] (optional), state (variable) [batch, memory * filters]; ``units = filters /
rank``. Per invoke, as TFLite's svdf kernels:

    state[b, f, :] shifts left by one; state[b, f, -1] = weights_feature[f] . x[b]
    out[b, u] = act(bias[u] + sum over the rank filters f of unit u of
                    weights_time[f] . state[b, f])

The state keeps the last ``memory`` feature activations of every filter between invokes.
Three variants, chosen by the types:

- float32 everything (EvalFloatSVDF).
- hybrid: float32 input/state/output with int8 (or uint8) weights. Each input row is
  quantized to int8 on the fly (``_hybrid_util``), the feature activations are exact int32
  dot products scaled back to float; weights_time is dequantized once and the time part
  runs in float.
- integer: int8 input/output, int8 weights_feature, int16 weights_time and state, int32
  bias. The feature activation ``dot(w, x - z_in)`` is rescaled by ``s_in * s_wf /
  s_state`` (float32 product, as TFLite) into the int16 state, the time sums plus bias by
  ``s_state * s_wt / s_out`` into int8. TFLite requires the RELU activation here and then
  applies no clamp besides the int8 range; so does this kernel.

One invoke is one time step: no loop to optimize, so there is no separate optimized kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...schema.generated.enums import ActivationFunctionType as Act
from ...schema.generated.enums import BuiltinOperator
from ...schema.generated.options import SVDFOptions
from . import _hybrid_util as hybrid
from . import fixedpoint as fp
from ._qparams import per_tensor, rounding_mode, symmetric_scale
from ._recurrent import activate, check_state
from .base import KernelSpec, Node, Prepared, PrepareError, TensorInfo

_FEATURE, _TIME, _BIAS, _STATE = 1, 2, 3, 4
FLOAT, HYBRID, INTEGER = "float", "hybrid", "integer"


@dataclass(frozen=True)
class SvdfData:
    rank: int
    filters: int
    memory: int
    activation: int
    mode: str = FLOAT
    # hybrid
    feature_scale: float = 0.0
    time_scale: float = 0.0
    time_weights: np.ndarray | None = None  # dequantized weights_time (constant), float32
    asymmetric: bool = False
    # integer
    input_zero_point: int = 0
    output_zero_point: int = 0
    scale_1: tuple[int, int] = (0, 0)  # (multiplier, shift): feature -> state
    scale_2: tuple[int, int] = (0, 0)  # (multiplier, shift): time sums -> output
    rounding: str = fp.DEFAULT_ROUNDING


def _weight(node: Node, pos: int, rank: int, dtypes: tuple, what: str) -> TensorInfo:
    info = node.input(pos)
    if info.dtype not in [np.dtype(d) for d in dtypes]:
        names = ", ".join(np.dtype(d).name for d in dtypes)
        raise PrepareError(f"{what} {info.name!r} is {info.dtype.name}; this SVDF needs {names}")
    if len(info.shape) != rank:
        raise PrepareError(f"{what} {info.name!r} has {len(info.shape)} dims; expected {rank}")
    return info


def _mode(x: TensorInfo, feature: TensorInfo) -> str:
    if x.dtype == np.int8:
        return INTEGER
    if x.dtype != np.float32:
        raise PrepareError(f"input {x.name!r} has type {x.dtype.name}; SVDF takes float32 or int8")
    return HYBRID if feature.dtype in (np.int8, np.uint8) else FLOAT


def _check_shapes(node: Node, x: TensorInfo, rank: int) -> tuple[int, int, int]:
    """(filters, memory, units) after TFLite's shape checks."""
    if len(x.shape) != 2:
        raise PrepareError(f"input {x.name!r} has {len(x.shape)} dims; SVDF needs [batch, input]")
    feature, time = node.input(_FEATURE), node.input(_TIME)
    if len(feature.shape) != 2 or len(time.shape) != 2:
        raise PrepareError("weights_feature and weights_time must be 2-D")
    filters, memory = feature.shape[0], time.shape[1]
    if rank <= 0 or filters % rank:
        raise PrepareError(f"rank {rank} must be > 0 and divide the {filters} filters")
    if feature.shape[1] != x.shape[1]:
        raise PrepareError(
            f"weights_feature {list(feature.shape)} does not match input {list(x.shape)}"
        )
    if time.shape[0] != filters:
        raise PrepareError(f"weights_time {list(time.shape)} needs {filters} rows (one per filter)")
    units = filters // rank
    bias = node.optional_input(_BIAS)
    if bias is not None and (len(bias.shape) != 1 or bias.shape[0] != units):
        raise PrepareError(f"bias {bias.name!r} has shape {list(bias.shape)}; expected [{units}]")
    return filters, memory, units


def _check_int_state(node: Node, size: int) -> TensorInfo:
    state = node.input(_STATE)
    if not state.is_variable:
        raise PrepareError(f"state {state.name!r} must be a variable tensor")
    if state.dtype != np.int16 or int(np.prod(state.shape)) != size:
        raise PrepareError(
            f"state {state.name!r} must be int16 with {size} elements, got {state.dtype.name} "
            f"{list(state.shape)}"
        )
    return state


def _integer(node: Node, x: TensorInfo, data: SvdfData) -> SvdfData:
    """Quantization parameters and multipliers of the int8 SVDF."""
    _weight(node, _FEATURE, 2, (np.int8,), "weights_feature")
    _weight(node, _TIME, 2, (np.int16,), "weights_time")
    if node.optional_input(_BIAS) is not None:
        _weight(node, _BIAS, 1, (np.int32,), "bias")
    if data.activation != Act.RELU:
        raise PrepareError(
            f"integer SVDF supports only the RELU activation (as TFLite), got "
            f"{Act(data.activation).name}"
        )
    out = node.outputs[0]
    if out.dtype != np.int8:
        raise PrepareError(f"output {out.name!r} is {out.dtype.name}; integer SVDF gives int8")
    state = _check_int_state(node, x.shape[0] * data.memory * data.filters)
    s_in, z_in = per_tensor(x, "input")
    s_feature = symmetric_scale(node.input(_FEATURE), "weights_feature")
    s_time = symmetric_scale(node.input(_TIME), "weights_time")
    s_state, z_state = per_tensor(state, "state")
    s_out, z_out = per_tensor(out, "output")
    if z_state != 0:
        raise PrepareError(f"state {state.name!r} has zero point {z_state}; SVDF needs 0")
    f32 = np.float32
    # TFLite multiplies and divides the float scales in float32, then widens to double.
    scale_1 = float(f32(f32(s_in) * f32(s_feature)) / f32(s_state))
    scale_2 = float(f32(f32(s_state) * f32(s_time)) / f32(s_out))
    rounding = rounding_mode(node, "double")
    return replace(
        data,
        mode=INTEGER,
        input_zero_point=z_in,
        output_zero_point=z_out,
        scale_1=fp.quantize_multiplier(scale_1, rounding),
        scale_2=fp.quantize_multiplier(scale_2, rounding),
        rounding=rounding,
    )


def _dequantize_time(values: np.ndarray, scale: float) -> np.ndarray:
    """weights_time as the hybrid kernel uses it: int8 (uint8 read as int8) * scale in float32."""
    return (hybrid.int8_view(values).astype(np.float32) * np.float32(scale)).astype(np.float32)


def _hybrid(node: Node, opts: SVDFOptions, data: SvdfData) -> SvdfData:
    feature = _weight(node, _FEATURE, 2, (np.int8, np.uint8), "weights_feature")
    time = _weight(node, _TIME, 2, (np.int8, np.uint8), "weights_time")
    s_feature = symmetric_scale(feature, "weights_feature")
    s_time = symmetric_scale(time, "weights_time")
    time_weights = None if time.data is None else _dequantize_time(time.data, s_time)
    return replace(
        data,
        mode=HYBRID,
        feature_scale=s_feature,
        time_scale=s_time,
        time_weights=time_weights,
        asymmetric=bool(opts.asymmetric_quantize_inputs),
    )


def _prepare(node: Node) -> Prepared:
    if len(node.inputs) != 5 or len(node.outputs) != 1:
        raise PrepareError("SVDF expects 5 inputs (bias may be -1) and 1 output")
    opts = node.options or SVDFOptions()
    x = node.input(0)
    mode = _mode(x, node.input(_FEATURE))
    filters, memory, units = _check_shapes(node, x, opts.rank)
    data = SvdfData(opts.rank, filters, memory, int(opts.fused_activation_function))
    if mode == INTEGER:
        data = _integer(node, x, data)
    else:
        if mode == FLOAT:
            _weight(node, _FEATURE, 2, (np.float32,), "weights_feature")
            _weight(node, _TIME, 2, (np.float32,), "weights_time")
        else:
            data = _hybrid(node, opts, data)
        if node.optional_input(_BIAS) is not None:
            _weight(node, _BIAS, 1, (np.float32,), "bias")
        state = check_state(node, _STATE, x.shape[0] * memory * filters, "state")
        if state.shape != (x.shape[0], memory * filters):
            raise PrepareError(f"state {state.name!r} must be [batch, memory * filters]")
    return Prepared([(x.shape[0], units)], data)


# -- invoke -------------------------------------------------------------------------------


def _memory(state: np.ndarray, batch: int, data: SvdfData) -> np.ndarray:
    """The state as a writable [batch, filters, memory] view, shifted left by one step."""
    memory = state.reshape(batch, data.filters, data.memory)
    if not np.may_share_memory(memory, state):
        raise RuntimeError("the SVDF state tensor must be contiguous")
    memory[:, :, :-1] = memory[:, :, 1:].copy()
    return memory


def _time_and_output(data: SvdfData, memory, time, bias, out) -> None:
    """Float time filters, rank reduction, bias and activation (ApplyTimeWeightsBias...)."""
    per_filter = np.einsum("bfm,fm->bf", memory, time)
    total = per_filter.reshape(memory.shape[0], -1, data.rank).sum(axis=2, dtype=np.float32)
    if bias is not None:
        total = bias + total
    out[...] = activate(total.astype(np.float32), data.activation)


def _invoke_float(data: SvdfData, inputs, outputs) -> None:
    x, feature, time, bias, state = inputs[:5]
    memory = _memory(state, x.shape[0], data)
    memory[:, :, -1] = x @ feature.T
    _time_and_output(data, memory, time, bias, outputs[0])


def _invoke_hybrid(data: SvdfData, inputs, outputs) -> None:
    x, feature, time, bias, state = inputs[:5]
    memory = _memory(state, x.shape[0], data)
    activations = np.zeros((x.shape[0], data.filters), np.float32)
    weights = hybrid.int8_view(feature)
    q, scales, offsets = hybrid.quantize_rows(x.reshape(x.shape[0], -1), data.asymmetric)
    sums = hybrid.row_sums(weights) if offsets is not None else None
    hybrid.accumulate(activations, weights, q, scales, offsets, sums, data.feature_scale)
    memory[:, :, -1] = activations
    times = data.time_weights if data.time_weights is not None else None
    if times is None:
        times = _dequantize_time(time, data.time_scale)
    _time_and_output(data, memory, times, bias, outputs[0])


def _invoke_integer(data: SvdfData, inputs, outputs) -> None:
    x, feature, time, bias, state = inputs[:5]
    memory = _memory(state, x.shape[0], data)
    dots = (x.astype(np.int64) - data.input_zero_point) @ feature.astype(np.int64).T
    scaled = fp.multiply_by_quantized_multiplier(fp.wrap(dots), *data.scale_1, data.rounding)
    memory[:, :, -1] = np.clip(scaled, fp.INT16_MIN, fp.INT16_MAX)
    # int16 x int16 products summed in int32 (wrapping, as C does) per filter, then per unit.
    per_filter = fp.wrap(np.einsum("bfm,fm->bf", memory.astype(np.int64), time.astype(np.int64)))
    total = per_filter.reshape(x.shape[0], -1, data.rank).sum(axis=2)
    if bias is not None:
        total = total + bias.astype(np.int64)
    result = fp.multiply_by_quantized_multiplier(fp.wrap(total), *data.scale_2, data.rounding)
    outputs[0][...] = np.clip(np.asarray(result, np.int64) + data.output_zero_point, -128, 127)


def invoke(data: SvdfData, inputs, outputs) -> None:
    """One time step of the prepared variant."""
    if data.mode == INTEGER:
        _invoke_integer(data, inputs, outputs)
    elif data.mode == HYBRID:
        _invoke_hybrid(data, inputs, outputs)
    else:
        _invoke_float(data, inputs, outputs)


KERNELS = {
    BuiltinOperator.SVDF: KernelSpec(prepare=_prepare, invoke=invoke, versions=(1, 4)),
}
