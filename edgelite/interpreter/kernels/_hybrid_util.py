"""The arithmetic of TFLite's hybrid (dynamic-range) kernels, shared by SVDF, RNN and LSTM.

A hybrid op keeps float activations and int8 weights. Per invoke it quantizes each batch
row of a float operand to int8 on the fly (symmetric: zero point 0, scale max|x|/127; or
asymmetric with ``asymmetric_quantize_inputs``: min/max mapped onto [-128, 127] with a
nudged zero point), multiplies with the int8 weights exactly in integers, and scales the
int32 dot products back to float: ``result += float(dot - offset * row_sum) * (s_row *
s_weight)``. The row quantizers are ``_onthefly``'s (the official x86 build's NEON
versions, bit for bit); the integer products are exact.
"""

from __future__ import annotations

import numpy as np

from . import _onthefly

_F32 = np.float32


def quantize_rows(values: np.ndarray, asymmetric: bool):
    """Quantize each row as the hybrid kernels do: (int8, scales, zero points or None).

    The official RNN, LSTM and SVDF kernels call the same tensor_utils quantizers as the
    hybrid FC and convolutions, so this is ``_onthefly.quantize_rows`` (NEON vector-loop
    rounding, float32 span) with the zero points dropped for symmetric rows.
    """
    q, scales, offsets = _onthefly.quantize_rows(values, asymmetric)
    return q, scales, (offsets if asymmetric else None)


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
