"""On-the-fly input quantization of TFLite's hybrid (dynamic-range) kernels, bit-exact.

A hybrid op (float activations, int8 weights) quantizes each batch row of its input
to int8 on every invoke, multiplies in integers and scales the sums back by
input scale * weight scale. The official x86 build runs the NEON versions of the two
quantizers (tensor_utils, through NEON_2_SSE):

- SymmetricQuantizeFloats: range = max(|min|, |max|) in float32, scale = range / 127,
  q = round(x * (127 / range)) clamped to [-127, 127]; an all-zero row gives scale 1;
- AsymmetricQuantizeFloats: rmin = min(0, min), rmax = max(0, max) as doubles,
  scale = (rmax - rmin) / 255, the zero point nudged from whichever end has the
  smaller error, q = zero point + round(x * inv) clamped to [-128, 127] with
  ``inv = (float)(1.0 / (double)scale)``; rmin == rmax gives scale 1, zero point 0.

``round`` differs along a row: the vector loop covers the first ``n - n % 8`` values
and rounds as NEON's RoundToNearest fallback does, ``(int)(y + (y < 0 ? -0.5f : 0.5f))``
with the addition in float32 (measured: ties go away from zero, not to even); the
scalar tail rounds half away from zero exactly (TfLiteRound). The two differ only
when ``y +- 0.5`` rounds in float32 (|y| just below a half).
"""

from __future__ import annotations

import numpy as np

from .fixedpoint import round_half_away_from_zero


def quantize_rows(values: np.ndarray, asymmetric: bool):
    """(int8 [rows, n], float32 scale [rows], int32 zero point [rows]) of float32 rows."""
    values = np.asarray(values, np.float32)
    if asymmetric:
        return _asymmetric(values)
    return _symmetric(values)


def _round(scaled: np.ndarray) -> np.ndarray:
    """NEON's +-0.5-and-truncate over each row's vector part, TfLiteRound over its tail."""
    vector = scaled.shape[1] & ~7
    rounded = np.empty_like(scaled)
    head = scaled[:, :vector]
    np.trunc(head + np.copysign(np.float32(0.5), head), out=rounded[:, :vector])
    rounded[:, vector:] = round_half_away_from_zero(scaled[:, vector:])
    return rounded


def _symmetric(values: np.ndarray):
    low = values.min(axis=1, initial=np.float32(np.inf))
    high = values.max(axis=1, initial=np.float32(-np.inf))
    span = np.maximum(np.abs(low), np.abs(high)).astype(np.float32)
    empty = ~(span > 0)  # all zeros (and empty rows): scale 1, zeros
    safe = np.where(empty, np.float32(1), span).astype(np.float32)
    scale = np.where(empty, np.float32(1), safe / np.float32(127)).astype(np.float32)
    inverse = (np.float32(127) / safe).astype(np.float32)
    scaled = (values * inverse[:, None]).astype(np.float32)
    q = np.clip(_round(scaled), -127, 127)
    q = np.where(empty[:, None], 0, q).astype(np.int8)
    return q, scale, np.zeros(len(values), np.int32)


def _asymmetric(values: np.ndarray):
    low = values.min(axis=1, initial=np.float32(np.inf))
    high = values.max(axis=1, initial=np.float32(-np.inf))
    rmin = np.minimum(np.float32(0), low).astype(np.float64)
    rmax = np.maximum(np.float32(0), high).astype(np.float64)
    empty = rmin == rmax
    scale64 = np.where(empty, 1.0, (rmax - rmin) / 255.0)
    from_min = -128.0 - rmin / scale64
    from_max = 127.0 - rmax / scale64
    err_min = 128.0 + np.abs(rmin / scale64)
    err_max = 127.0 + np.abs(rmax / scale64)
    zero_double = np.where(err_min < err_max, from_min, from_max)
    nudged = np.clip(round_half_away_from_zero(zero_double), -128, 127)
    zero = np.where(empty, 0, nudged).astype(np.int32)
    scale = np.where(empty, np.float32(1), scale64.astype(np.float32)).astype(np.float32)
    inverse = (1.0 / scale.astype(np.float64)).astype(np.float32)  # a double division
    scaled = (values * inverse[:, None]).astype(np.float32)
    q = np.clip(zero[:, None].astype(np.int64) + _round(scaled).astype(np.int64), -128, 127)
    q = np.where(empty[:, None], 0, q).astype(np.int8)
    return q, scale, zero
