"""The arithmetic of TFLite's hybrid (dynamic-range) kernels, shared by SVDF, RNN and LSTM.

A hybrid op keeps float activations and int8 weights. Per invoke it quantizes each batch
row of a float operand to int8 on the fly (symmetric: zero point 0, scale max|x|/127; or
asymmetric with ``asymmetric_quantize_inputs``: min/max mapped onto [-128, 127] with a
nudged zero point), multiplies with the int8 weights exactly in integers, and scales the
int32 dot products back to float: ``result += float(dot - offset * row_sum) * (s_row *
s_weight)``. Everything here follows tensor_utils' portable functions bit for bit (the
x86 SSE versions compute the same integers).
"""

from __future__ import annotations

import numpy as np

from .fixedpoint import round_half_away_from_zero

_F32 = np.float32


def symmetric_quantize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SymmetricQuantizeFloats per row of a 2-D float32 array: (int8 rows, float32 scales)."""
    values = np.asarray(values, _F32)
    extent = np.maximum(np.abs(values.min(axis=1)), np.abs(values.max(axis=1))).astype(_F32)
    zero = extent == 0
    safe = np.where(zero, _F32(1), extent).astype(_F32)
    scales = np.where(zero, _F32(1), safe / _F32(127)).astype(_F32)
    inverse = (_F32(127) / safe).astype(_F32)
    scaled = (values * inverse[:, None]).astype(_F32)
    q = np.clip(round_half_away_from_zero(scaled), -127, 127).astype(np.int8)
    q[zero] = 0
    return q, scales


def _nudged_zero_point(rmin: float, rmax: float) -> tuple[float, int]:
    """(scale as float32, zero point) of AsymmetricQuantizeFloats for one row (in double)."""
    scale = (rmax - rmin) / 255.0
    from_min, from_max = -128.0 - rmin / scale, 127.0 - rmax / scale
    error_min, error_max = 128.0 + abs(rmin / scale), 127.0 + abs(rmax / scale)
    zero_point = from_min if error_min < error_max else from_max
    if zero_point <= -128.0:
        return float(_F32(scale)), -128
    if zero_point >= 127.0:
        return float(_F32(scale)), 127
    return float(_F32(scale)), int(round_half_away_from_zero(np.float64(zero_point)))


def asymmetric_quantize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AsymmetricQuantizeFloats per row: (int8 rows, float32 scales, int32 zero points)."""
    values = np.asarray(values, _F32)
    rows = values.shape[0]
    q = np.zeros(values.shape, np.int8)
    scales = np.ones(rows, _F32)
    offsets = np.zeros(rows, np.int32)
    for b in range(rows):
        rmin = float(min(_F32(0), values[b].min()))
        rmax = float(max(_F32(0), values[b].max()))
        if rmin == rmax:
            continue
        scale, offset = _nudged_zero_point(rmin, rmax)
        inverse = _F32(1) / _F32(scale)
        shifted = (_F32(offset) + values[b] * inverse).astype(_F32)
        q[b] = np.clip(round_half_away_from_zero(shifted), -128, 127)
        scales[b], offsets[b] = scale, offset
    return q, scales, offsets


def quantize_rows(values: np.ndarray, asymmetric: bool):
    """Quantize each row as the hybrid kernels do: (int8, scales, zero points or None)."""
    if asymmetric:
        return asymmetric_quantize(values)
    q, scales = symmetric_quantize(values)
    return q, scales, None


def row_sums(weights: np.ndarray) -> np.ndarray:
    """Per output row, the sum of the int8 weights (the zero-point correction)."""
    return weights.astype(np.int32).sum(axis=1, dtype=np.int32)


def accumulate(
    result: np.ndarray,
    weights: np.ndarray,
    q: np.ndarray,
    scales: np.ndarray,
    offsets: np.ndarray | None,
    sums: np.ndarray | None,
    weight_scale: float,
) -> None:
    """result[b, r] += float(dot(q[b], w[r]) - offset[b] * sum[r]) * (scale[b] * s_w).

    The scale product is float32, as TFLite multiplies ``scaling_factors[b] *= s_w`` in
    place; the int32 dot product converts to float32 before the multiplication.
    """
    dots = q.astype(np.int32) @ weights.astype(np.int32).T
    if offsets is not None and sums is not None:
        dots = dots - offsets[:, None].astype(np.int32) * sums[None, :]
    factor = (scales.astype(_F32) * _F32(weight_scale)).astype(_F32)
    result += dots.astype(_F32) * factor[:, None]


def int8_view(weights: np.ndarray) -> np.ndarray:
    """Hybrid kernels read uint8 weights through an int8 pointer, like TFLite."""
    return weights.view(np.int8) if weights.dtype == np.uint8 else weights
