"""Quantization parameters and requantization of the conv / matmul / pooling kernels.

What the windowed and GEMM kernels share once their activations are integers:

- ``affine``: a tensor's quantization parameters, validated (present, scales positive
  and finite, one per channel along the right dimension, zero points in the type's
  range, zero where the op needs symmetric values);
- ``activation_bounds``: a fused activation as an integer clamp (TFLite's
  CalculateActivationRangeQuantized);
- ``conv_multipliers``: per-channel multipliers (PopulateConvolutionQuantizationParams:
  double(in_scale) * double(filter_scale) / double(out_scale), then QuantizeMultiplier);
- ``pick_rounding``: which MultiplyByQuantizedMultiplier form applies them, the official
  runtime's for this op and path ("tflite"), its reference kernels' ("reference", which
  is "double") or a forced build ("double" / "single");
- ``Requant`` and its numpy reference ``requantize``: accumulator -> multiplier ->
  + zero point -> clamp -> narrow, with channels on the last axis.

Two epilogues are not int32 multipliers and ignore a forced rounding: "int64" (the int16
kernels' MultiplyByQuantizedMultiplier(int64 acc), which rounds the multiplier to 16 bits
and is the same code in both TFLite builds) and "real" (TFLite's reference int16 / uint8
FULLY_CONNECTED: round(double(acc) * double(s_in) * double(s_w) / double(s_out))).
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np

from ...schema.generated.enums import ActivationFunctionType
from . import fixedpoint as fp
from ._qparams import rounding_mode
from .base import Node, OpRecord, PrepareError, TensorInfo

QUANTIZED = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))

# Epilogue kinds besides the fixedpoint rounding modes, and the per-channel codes of
# all of them (fixedpoint's ROUND_* codes, then MODE_INT64 / MODE_REAL of _qepilogue.pxd).
INT64, REAL = "int64", "real"
MODE_CODES = {**fp.ROUNDING_CODES, INT64: 4, REAL: 5}
MODE_NAMES = {code: name for name, code in MODE_CODES.items()}


@cache
def qrange(dtype: np.dtype) -> tuple[int, int]:
    """The integer range of a quantized type."""
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def affine(
    info: TensorInfo,
    what: str,
    op: str,
    *,
    axis: int | None = None,
    symmetric: bool = False,
    zero_point_type: np.dtype | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(float32 scales, int64 zero points) of a quantized tensor, checked.

    ``axis`` allows per-channel parameters along that dimension (one per index);
    without it only per-tensor parameters are accepted. Zero points must lie in the
    range of ``zero_point_type`` (default: the tensor's own type), and be 0 with
    ``symmetric``. Both arrays have one entry per channel (or one).
    """
    q = info.quantization
    if q is None or len(q.scale) == 0:
        raise PrepareError(
            f"{what} {info.name!r} ({info.dtype.name}) has no quantization parameters; "
            f"quantized {op} needs a scale and zero point"
        )
    zero_type = zero_point_type if zero_point_type is not None else info.dtype
    if len(q.scale) == 1 and len(q.zero_point) <= 1:
        # Per-tensor (every activation): checked on Python scalars, without the general
        # path's ten small-array reductions; invalid values fall through to its messages.
        scale = float(np.float32(q.scale[0]))
        zero = int(np.int64(q.zero_point[0])) if len(q.zero_point) else 0
        if math.isfinite(scale) and scale > 0:
            low, high = qrange(zero_type)
            if low <= zero <= high and not (symmetric and zero):
                return np.array([scale], np.float32), np.array([zero], np.int64)
    scales = np.asarray(q.scale, np.float32).reshape(-1)
    zeros = np.asarray(q.zero_point, np.int64).reshape(-1)
    if len(zeros) == 0:
        zeros = np.zeros(1, np.int64)
    if len(zeros) not in (1, len(scales)):
        raise PrepareError(
            f"{what} {info.name!r} has {len(scales)} scales but {len(zeros)} zero points"
        )
    if not (np.isfinite(scales).all() and (scales > 0).all()):
        raise PrepareError(
            f"{what} {info.name!r} has scale {scales.tolist()}; scales must be positive and finite"
        )
    if len(scales) > 1:
        _check_per_channel(info, what, op, axis, len(scales), q.quantized_dimension)
    low, high = qrange(zero_type)
    if zeros.min() < low or zeros.max() > high:
        raise PrepareError(
            f"{what} {info.name!r} has zero point {zeros.tolist()} outside "
            f"[{low}, {high}] of {info.dtype.name}"
        )
    if symmetric and zeros.any():
        raise PrepareError(
            f"{what} {info.name!r} has zero point {zeros.tolist()}; {op} needs symmetric "
            f"{info.dtype.name} values (zero point 0)"
        )
    if len(zeros) == 1 and len(scales) > 1:
        zeros = np.repeat(zeros, len(scales))
    return scales, zeros


def _check_per_channel(
    info: TensorInfo, what: str, op: str, axis: int | None, count: int, dim: int
) -> None:
    if axis is None:
        raise PrepareError(
            f"{what} {info.name!r} has {count} scales; {op} takes per-tensor parameters here"
        )
    if dim != axis % len(info.shape) or info.shape[axis] != count:
        raise PrepareError(
            f"{what} {info.name!r} has {count} scales along dimension {dim}; {op} needs "
            f"one per index of dimension {axis % len(info.shape)} (shape {list(info.shape)})"
        )


def activation_bounds(act: int, out: TensorInfo) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized: a fused activation as a clamp."""
    low, high = qrange(out.dtype)
    scale, zero = np.float32(out.scale), out.zero_point

    def quantize(value: float) -> int:
        # float32 division, TfLiteRound (half away from zero), then the zero point.
        return zero + round_half_away(float(np.float32(value) / scale))

    if act == ActivationFunctionType.NONE:
        return low, high
    if act == ActivationFunctionType.RELU:
        return max(low, quantize(0.0)), high
    if act == ActivationFunctionType.RELU6:
        return max(low, quantize(0.0)), min(high, quantize(6.0))
    if act == ActivationFunctionType.RELU_N1_TO_1:
        return max(low, quantize(-1.0)), min(high, quantize(1.0))
    known = {int(a) for a in ActivationFunctionType}
    name = ActivationFunctionType(act).name if int(act) in known else str(act)
    raise PrepareError(f"fused activation {name} is not supported on quantized outputs")


def round_half_away(value: float) -> int:
    """TfLiteRound (std::round) of one float: ``fp.round_half_away_from_zero`` for a scalar.

    ``value - trunc(value)`` is exact, so the comparison decides like the float32 code;
    ~10x cheaper than the array form, and prepare rounds a few values per node.
    """
    whole = math.trunc(value)  # OverflowError / ValueError for inf / NaN, like int()
    return whole + (int(math.copysign(1.0, value)) if abs(value - whole) >= 0.5 else 0)


def pick_rounding(node: Node, official: str) -> str:
    """The multiplier rounding of this node: ``official`` under "tflite", else forced
    ("reference" is "double"; see _qparams.rounding_mode)."""
    return rounding_mode(node, official)


def per_channel(values: np.ndarray, channels: int, dtype: Any) -> np.ndarray:
    """``np.broadcast_to(values, (channels,)).astype(dtype)``, a new array.

    Without broadcast_to's ~8 us in the usual cases (one value, or one per channel):
    prepare calls this a few times per node.
    """
    values = np.asarray(values)
    if values.shape == (channels,):
        return values.astype(dtype)
    if values.shape in ((), (1,)):
        return np.full(channels, values.reshape(-1)[0], dtype)
    return np.broadcast_to(values, (channels,)).astype(dtype)


def effective_scales(x_scale: float, filter_scales: np.ndarray, out_scale: float, channels: int):
    """double(s_in) * double(s_w[c]) / double(s_out), one per channel (TFLite's order)."""
    filters = np.asarray(filter_scales, np.float32).astype(np.float64).reshape(-1)
    return (
        np.float64(np.float32(x_scale))
        * per_channel(filters, channels, np.float64)
        / np.float64(np.float32(out_scale))
    )


def quantize_multipliers(reals: np.ndarray, single: bool) -> tuple[np.ndarray, np.ndarray]:
    """fixedpoint.quantize_multiplier_array, vectorized (thousands of channels at load).

    frexp, then round(fraction * 2^31) half away from zero (exact in double), 2^31
    halved with shift + 1, shifts below -31 flushed to (0, 0), and with ``single``
    shifts above 30 saturated to (2^31 - 1, 30).
    """
    reals = np.asarray(reals, np.float64).reshape(-1)
    if not np.isfinite(reals).all():
        raise PrepareError(f"cannot quantize the multipliers {reals.tolist()}: not finite")
    fraction, shift = np.frexp(reals)
    q = np.copysign(np.floor(np.abs(fraction) * 2.0**31 + 0.5), fraction).astype(np.int64)
    shift = shift.astype(np.int64)
    # The corrections below rarely apply: each is skipped unless some channel needs it.
    full = q == 1 << 31
    if full.any():
        q, shift = np.where(full, q // 2, q), np.where(full, shift + 1, shift)
    flushed = (shift < -31) | (reals == 0)
    if flushed.any():
        q, shift = np.where(flushed, 0, q), np.where(flushed, 0, shift)
    if single:
        high = shift > 30
        if high.any():
            q, shift = np.where(high, fp.INT32_MAX, q), np.where(high, 30, shift)
    return q.astype(np.int32), shift.astype(np.int32)


def conv_multipliers(reals: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (int32 multiplier, int32 shift) of the effective scales.

    QuantizeMultiplier is the same in every mode except TFLITE_SINGLE_ROUNDING's
    saturation of shifts above 30; the int64 form only takes shifts up to 7.
    """
    kinds = set(names)  # one or two modes for hundreds of channels
    multipliers, shifts = quantize_multipliers(reals, "single" in kinds)
    if INT64 not in kinds:
        top: Any = 30
    elif len(kinds) == 1:
        top = 7
    else:
        top = np.array([7 if name == INT64 else 30 for name in names])
    if shifts.size and ((shifts > top).any() or shifts.min() < -31):
        raise PrepareError(
            f"effective output scale {float(reals.max()):g} (input * filter / output scale) "
            "is out of the range the integer kernels can apply"
        )
    return multipliers, shifts


def check_bias_scale(
    node: Node, x: TensorInfo, w: TensorInfo, bias: TensorInfo | None, out: TensorInfo
) -> None:
    """TFLite's GetQuantizedConvolutionMultipler check: bias scale ~ input * filter scale."""
    if bias is None:
        return
    product = float(np.float32(x.scale) * np.float32(w.scale))  # a float32 product, as in C
    diff = abs(product - float(np.float32(bias.scale)))
    if diff / float(np.float32(out.scale)) > 1e-6:
        raise PrepareError(
            f"bias {bias.name!r} has scale {bias.scale:g}; {node.op} needs input scale * "
            f"filter scale = {product:g} (|difference| / output scale must be <= 1e-6)"
        )


class Requant(OpRecord):
    """Everything the requantizing epilogue needs, one entry per output channel."""

    __slots__ = ("codes", "multiplier", "shift", "real", "zero_point", "low", "high", "dtype")
    codes: np.ndarray  # int8 [C]: MODE_CODES of each channel's multiplication
    multiplier: np.ndarray  # int32 [C]
    shift: np.ndarray  # int32 [C]
    real: np.ndarray  # float64 [C] (REAL channels)
    zero_point: int
    low: int
    high: int
    dtype: np.dtype

    def epilogue(self, bias32: np.ndarray | None, bias64: np.ndarray | None) -> tuple:
        """The argument tuple of the Cython epilogue (_qconv.requant / conv_gemm)."""
        empty32, empty64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
        return (
            np.ascontiguousarray(bias32, np.int32) if bias32 is not None else empty32,
            np.ascontiguousarray(bias64, np.int64) if bias64 is not None else empty64,
            self.multiplier,
            self.shift,
            self.codes,
            self.real,
            self.zero_point,
            self.low,
            self.high,
        )


def make_requant(
    x_scale: float,
    filter_scales: np.ndarray,
    out: TensorInfo,
    channels: int,
    act: int,
    modes: str | list[str],
) -> Requant:
    """The epilogue of a convolution-like op: s_in * s_w[c] / s_out, output zp and clamp.

    ``modes`` is one mode for every channel or a list with one per channel.
    """
    low, high = activation_bounds(act, out)
    if low > high:
        raise PrepareError(f"fused activation leaves an empty range [{low}, {high}]")
    names = [modes] * channels if isinstance(modes, str) else list(modes)
    reals = effective_scales(x_scale, filter_scales, out.scale, channels)
    multiplier, shift = conv_multipliers(reals, names)
    kinds = {modes} if isinstance(modes, str) else set(names)
    if len(kinds) == 1:  # the usual case: one mode for every channel
        codes = np.full(channels, MODE_CODES[kinds.pop()], np.int8)
    else:
        codes = np.array([MODE_CODES[name] for name in names], np.int8)
    return Requant(codes, multiplier, shift, reals, out.zero_point, low, high, out.dtype)


def requantize(acc: np.ndarray, rq: Requant) -> np.ndarray:
    """Reference epilogue: clamp(multiply(acc) + zero point), channels on the last axis.

    ``acc`` holds exact integer sums (int64), bias included; int32 epilogues see them
    wrapped to int32 like the C accumulators.
    """
    acc = np.asarray(acc, np.int64)
    scaled = np.zeros(acc.shape, np.int64)
    for code in np.unique(rq.codes):
        channels = rq.codes == code
        part, mode = acc[..., channels], MODE_NAMES[int(code)]
        mult, shift = rq.multiplier[channels], rq.shift[channels]
        if mode == REAL:
            value = fp.multiply_by_real_multiplier(part, rq.real[channels])
        elif mode == INT64:
            value = fp.multiply_by_quantized_multiplier_int64(part, mult, shift)
        else:
            value = fp.multiply_by_quantized_multiplier(fp.wrap(part), mult, shift, mode)
        scaled[..., channels] = value
    return np.clip(scaled + rq.zero_point, rq.low, rq.high).astype(rq.dtype)
