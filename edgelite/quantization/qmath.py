"""The arithmetic of affine quantization: choosing scale/zero point, quantizing arrays.

``real = scale * (q - zero_point)``. Activations: int8 asymmetric over a range that
always holds 0 (so zero padding and ReLU outputs are exact), int16 symmetric with zero
point 0. Weights: int8 symmetric in [-127, 127] (the spec keeps -128 out so that
``-w`` is representable and the int8 x int8 products fit the kernels' accumulators),
per tensor or per channel. Biases: int32 (int64 for int16 activations) with scale
``input_scale * weight_scale`` and zero point 0, so they add straight onto the
accumulator.
"""

from __future__ import annotations

import numpy as np

# Below this width a range is treated as a single value: a scale of (almost) zero
# would make every requantization multiplier in the kernels overflow.
MIN_RANGE = 1e-6


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Round like C's std::round (TFLite's quantizer), not numpy's round-half-to-even."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def qlimits(dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def activation_params(lo: float, hi: float, dtype: np.dtype) -> tuple[float, int]:
    """Scale and zero point of an activation whose real values span [lo, hi].

    int8/uint8: asymmetric over [min(lo, 0), max(hi, 0)], zero point rounded so 0.0 is
    exactly representable. int16: symmetric, zero point 0 (the 16x8 kernels need it).
    """
    dtype = np.dtype(dtype)
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    qmin, qmax = qlimits(dtype)
    if dtype == np.int16:
        bound = max(-lo, hi, MIN_RANGE)
        return float(np.float32(bound / qmax)), 0
    if hi - lo < MIN_RANGE:
        hi = lo + MIN_RANGE
    scale = float(np.float32((hi - lo) / (qmax - qmin)))
    zero_point = int(np.clip(round_half_away(np.asarray(qmin - lo / scale)), qmin, qmax))
    return scale, zero_point


def quantize(
    values: np.ndarray,
    scale: np.ndarray | float,
    zero_point: np.ndarray | int,
    dtype: np.dtype,
    axis: int | None = None,
) -> np.ndarray:
    """``clip(round(values / scale) + zero_point)`` in ``dtype``, per tensor or along ``axis``."""
    values = np.asarray(values, np.float64)
    scale = np.asarray(scale, np.float64)
    zero_point = np.asarray(zero_point, np.float64)
    if axis is not None and scale.size > 1:
        shape = [1] * values.ndim
        shape[axis] = scale.size
        scale = scale.reshape(shape)
        zero_point = np.broadcast_to(zero_point, scale.shape[axis : axis + 1]).reshape(shape)
    qmin, qmax = qlimits(np.dtype(dtype))
    q = round_half_away(values / scale) + zero_point
    return np.clip(q, qmin, qmax).astype(dtype)


def dequantize(
    q: np.ndarray, scale: np.ndarray | float, zero_point: np.ndarray | int, axis: int | None = None
) -> np.ndarray:
    """``scale * (q - zero_point)`` as float64, per tensor or along ``axis``."""
    scale = np.asarray(scale, np.float64)
    zero_point = np.asarray(zero_point, np.float64)
    if axis is not None and scale.size > 1:
        shape = [1] * q.ndim
        shape[axis] = scale.size
        scale = scale.reshape(shape)
        zero_point = np.broadcast_to(zero_point, scale.shape[axis : axis + 1]).reshape(shape)
    return (q.astype(np.float64) - zero_point) * scale


def weight_scales(weights: np.ndarray, axis: int | None) -> np.ndarray:
    """Symmetric int8 scales: max|w| / 127 per channel along ``axis`` (None: one scale).

    An all-zero channel gets scale 1: any positive scale represents it exactly, and the
    spec forbids 0.
    """
    w = np.abs(np.asarray(weights, np.float64))
    if axis is None:
        peak = np.array([w.max() if w.size else 0.0])
    else:
        peak = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1).max(axis=1)
    scales = (peak / 127.0).astype(np.float32)
    scales[scales <= 0] = 1.0
    return scales


def quantize_weights(weights: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """int8 symmetric weights in [-127, 127] and their float32 scales."""
    scales = weight_scales(weights, axis)
    q = quantize(weights, scales, 0, np.dtype(np.int8), axis)
    return np.clip(q, -127, 127).astype(np.int8), scales


def bias_scales(input_scale: float, weight_scales_: np.ndarray) -> np.ndarray:
    """``input_scale * weight_scale`` per channel, rounded to float32 as stored."""
    return (np.float64(input_scale) * weight_scales_.astype(np.float64)).astype(np.float32)


def quantize_bias(bias: np.ndarray, scales: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """int32/int64 bias at ``scales`` (one per output channel, or one for all)."""
    bias = np.asarray(bias, np.float64)
    scale = scales.astype(np.float64)
    if scale.size == 1:
        scale = np.full(bias.shape, scale[0])
    qmin, qmax = qlimits(np.dtype(dtype))
    return np.clip(round_half_away(bias / scale), qmin, qmax).astype(dtype)
