"""On-the-fly input quantization of TFLite's hybrid (dynamic-range) kernels, bit-exact.

A hybrid op (float activations, int8 weights) quantizes each batch row of its input
to int8 on every invoke, multiplies in integers and scales the sums back by
input scale * weight scale. Every hybrid kernel of the official runtime (FC, CONV,
DEPTHWISE, BATCH_MATMUL, TRANSPOSE_CONV, LSTM, RNN, SVDF) goes through the same two
``tensor_utils`` quantizers, and the official x86 build runs their NEON versions
(neon_tensor_utils.cc, through NEON_2_SSE):

- SymmetricQuantizeFloats: range = max(|min|, |max|) in float32, scale = range / 127
  and inverse = 127 / range, both float32 divisions; q = round(x * inverse) clamped
  to [-127, 127]; an all-zero row gives scale 1 and zeros.
- AsymmetricQuantizeFloats: rmin = min(0, min), rmax = max(0, max) as float32;
  ``scale = (double)(rmax - rmin) / 255`` where the *subtraction is float32* (rmin and
  rmax are floats; only the division is double) -- computing the span in double moves
  the scale by an ulp and, measured on ai-edge-litert 2.3.0, flips values that sit
  near a rounding half (MobileNetV2 node 50, the unrolled LSTM's node 23). The zero
  point is nudged in double from whichever end has the smaller error and rounded
  half away from zero; the stored scale is ``(float)scale``; the inverse is
  ``(float)(1.0 / (double)(float)scale)``; q = zero point + round(x * inverse)
  clamped to [-128, 127]. rmin == rmax gives scale 1, zero point 0, zeros.

``round`` differs along a row: the vector loop covers the first ``n - n % 8`` values
and rounds like NEON's RoundToNearest fallback, ``(int)(y + (y < 0 ? -0.5f : 0.5f))``
with the addition in float32 (ties away from zero); the scalar tail rounds half away
from zero exactly (TfLiteRound). Over all float32 values the two differ only at
|y| = 0.5 - 2^-25 (0.49999997f + 0.5f rounds to 1.0f): 1 in the loop, 0 in the tail.
Measured on ai-edge-litert 2.3.0 x86-64 by tests/kernels/test_hybrid_rounding.py.
"""

from __future__ import annotations

import numpy as np

from .fixedpoint import round_half_away_from_zero

_F32 = np.float32


def quantize_rows(values: np.ndarray, asymmetric: bool):
    """(int8 [rows, n], float32 scale [rows], int32 zero point [rows]) of float32 rows."""
    values = np.asarray(values, _F32)
    if asymmetric:
        return _asymmetric(values)
    return _symmetric(values)


def _round(scaled: np.ndarray) -> np.ndarray:
    """NEON's +-0.5-and-truncate over each row's vector part, TfLiteRound over its tail."""
    vector = scaled.shape[1] & ~7
    rounded = np.empty_like(scaled)
    head = scaled[:, :vector]
    np.trunc(head + np.copysign(_F32(0.5), head), out=rounded[:, :vector])
    rounded[:, vector:] = round_half_away_from_zero(scaled[:, vector:])
    return rounded


def _symmetric(values: np.ndarray):
    low = values.min(axis=1, initial=_F32(np.inf))
    high = values.max(axis=1, initial=_F32(-np.inf))
    span = np.maximum(np.abs(low), np.abs(high)).astype(_F32)
    empty = ~(span > 0)  # all zeros (and empty rows): scale 1, zeros
    safe = np.where(empty, _F32(1), span).astype(_F32)
    scale = np.where(empty, _F32(1), safe / _F32(127)).astype(_F32)
    inverse = (_F32(127) / safe).astype(_F32)
    scaled = (values * inverse[:, None]).astype(_F32)
    q = np.clip(_round(scaled), -127, 127)
    q = np.where(empty[:, None], 0, q).astype(np.int8)
    return q, scale, np.zeros(len(values), np.int32)


def _asymmetric(values: np.ndarray):
    rmin = np.minimum(_F32(0), values.min(axis=1, initial=_F32(np.inf))).astype(_F32)
    rmax = np.maximum(_F32(0), values.max(axis=1, initial=_F32(-np.inf))).astype(_F32)
    empty = rmin == rmax
    span = (rmax - rmin).astype(_F32)  # float32, as in TFLite (see the module docstring)
    scale64 = np.where(empty, 1.0, span.astype(np.float64) / 255.0)
    low, high = rmin.astype(np.float64) / scale64, rmax.astype(np.float64) / scale64
    from_min, from_max = -128.0 - low, 127.0 - high
    zero_double = np.where(128.0 + np.abs(low) < 127.0 + np.abs(high), from_min, from_max)
    nudged = np.clip(round_half_away_from_zero(zero_double), -128, 127)
    zero = np.where(empty, 0, nudged).astype(np.int32)
    scale = np.where(empty, _F32(1), scale64.astype(_F32)).astype(_F32)
    inverse = (1.0 / scale.astype(np.float64)).astype(_F32)  # a double division
    scaled = (values * inverse[:, None]).astype(_F32)
    q = np.clip(zero[:, None].astype(np.int64) + _round(scaled).astype(np.int64), -128, 127)
    q = np.where(empty[:, None], 0, q).astype(np.int8)
    return q, scale, zero
