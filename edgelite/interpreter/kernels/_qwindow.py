"""Integer window arithmetic for the numpy reference kernels (conv, depthwise, pooling).

The quantized reference kernels sum exact integer products in int64, one filter tap
at a time over strided views of a padded input, like the float references. Padding
is filled with the value that contributes nothing: the input zero point for
convolutions (whose inputs are used as ``x - zero_point``), anything for pooling
(whose padded taps are masked out).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def padded_taps(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pad: tuple[int, int],
    out_hw: tuple[int, int],
    fill: int = 0,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """(ky, kx, view [N, oh, ow, C]) for every filter tap of an NHWC input.

    ``pad`` is the leading (top, left) padding; the input is padded with ``fill``
    on every side far enough for the last output's furthest tap.
    """
    (kh, kw), (sh, sw), (dh, dw), (pad_t, pad_l), (oh, ow) = kernel, stride, dilation, pad, out_hw
    pad_b = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - x.shape[1] - pad_t)
    pad_r = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - x.shape[2] - pad_l)
    xp = np.pad(x, ((0, 0), (pad_t, pad_b), (pad_l, pad_r), (0, 0)), constant_values=fill)
    for ky in range(kh):
        for kx in range(kw):
            rows = slice(ky * dh, ky * dh + (oh - 1) * sh + 1, sh)
            cols = slice(kx * dw, kx * dw + (ow - 1) * sw + 1, sw)
            yield ky, kx, xp[:, rows, cols, :]


def conv_sums(
    x: np.ndarray,
    filt: np.ndarray,
    x_zero: int,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pad: tuple[int, int],
    out_hw: tuple[int, int],
    groups: int,
    dtype=np.int64,
) -> np.ndarray:
    """sum over taps and input channels of (x - x_zero) * filt, [N, oh, ow, O].

    ``filt`` [O, kh, kw, C / groups] already has its zero point removed. The sums are
    int64, or ``dtype`` float64 (exact for int8/int16 products: BLAS instead of numpy's
    integer matmul loops).
    """
    out_c, kh, kw, group_in = filt.shape
    group_out = out_c // groups
    shifted = x.astype(dtype) - x_zero
    acc = np.zeros((x.shape[0], *out_hw, out_c), dtype)
    taps = padded_taps(shifted, (kh, kw), stride, dilation, pad, out_hw, 0)
    for ky, kx, window in taps:
        for g in range(groups):
            ins = window[..., g * group_in : (g + 1) * group_in]
            weights = filt[g * group_out : (g + 1) * group_out, ky, kx, :].astype(dtype)
            acc[..., g * group_out : (g + 1) * group_out] += ins @ weights.T
    return acc


def depthwise_sums(
    x: np.ndarray,
    filt: np.ndarray,
    x_zero: int,
    multiplier: int,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pad: tuple[int, int],
    out_hw: tuple[int, int],
) -> np.ndarray:
    """Depthwise sums of (x - x_zero) * filt, int64 [N, oh, ow, C * multiplier].

    ``filt`` [1, kh, kw, C * multiplier] already has its zero point removed; output
    channel c * multiplier + j reads input channel c.
    """
    shifted = np.repeat(x.astype(np.int64) - x_zero, multiplier, axis=3)
    acc = np.zeros((x.shape[0], *out_hw, filt.shape[3]), np.int64)
    kernel = (filt.shape[1], filt.shape[2])
    for ky, kx, window in padded_taps(shifted, kernel, stride, dilation, pad, out_hw, 0):
        acc += window * filt[0, ky, kx, :].astype(np.int64)
    return acc
