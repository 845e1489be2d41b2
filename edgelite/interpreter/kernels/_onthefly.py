"""On-the-fly input quantization of TFLite's hybrid (dynamic-range) kernels, bit-exact.

A hybrid op (float activations, int8 weights) quantizes each batch row of its input
to int8 on every invoke, multiplies in integers and scales the sums back by
input scale * weight scale. The two quantizers (tensor_utils):

- SymmetricQuantizeFloats: range = max(|min|, |max|) in float32, scale = range / 127,
  q = round(x * (127 / range)) clamped to [-127, 127]; an all-zero row gives scale 1;
- AsymmetricQuantizeFloats: rmin = min(0, min), rmax = max(0, max) as doubles,
  scale = (rmax - rmin) / 255, the zero point nudged from whichever end has the
  smaller error, q = round(zp + x * (1 / scale)) in float32 clamped to [-128, 127];
  rmin == rmax gives scale 1, zero point 0.

``round`` is half away from zero (TfLiteRound). The official NEON-style vector loops
round by adding +-0.5 before truncating, which differs only for values within one
float ulp of a half: not reproduced.
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


def _symmetric(values: np.ndarray):
    low = values.min(axis=1, initial=np.float32(np.inf))
    high = values.max(axis=1, initial=np.float32(-np.inf))
    span = np.maximum(np.abs(low), np.abs(high)).astype(np.float32)
    empty = ~(span > 0)  # all zeros (and empty rows): scale 1, zeros
    safe = np.where(empty, np.float32(1), span).astype(np.float32)
    scale = np.where(empty, np.float32(1), safe / np.float32(127)).astype(np.float32)
    inverse = (np.float32(127) / safe).astype(np.float32)
    scaled = (values * inverse[:, None]).astype(np.float32)
    q = np.clip(round_half_away_from_zero(scaled), -127, 127)
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
    inverse = (np.float32(1) / scale).astype(np.float32)
    shifted = (zero[:, None].astype(np.float32) + values * inverse[:, None]).astype(np.float32)
    q = np.clip(round_half_away_from_zero(shifted), -128, 127)
    q = np.where(empty[:, None], 0, q).astype(np.int8)
    return q, scale, zero
