"""CONCATENATION of uint8 inputs with differing quantization: TFLite's rescale.

Only uint8 concatenation rescales in TFLite (``ConcatenationWithScaling``); int8
and int16 inputs must share the output's parameters. An input whose scale and
zero point equal the output's is copied; any other is mapped value by value in
float32 arithmetic, exactly as the C++ kernel does::

    scale = input_scale * (1.0f / output_scale)
    bias = -input_zero_point * scale
    out = clamp(round(q * scale + bias) + output_zero_point, 0, 255)

with ``round`` half away from zero. Each rescaled input is a 256-entry table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._qparams import per_tensor
from .base import TensorInfo
from .fixedpoint import round_half_away_from_zero


@dataclass(frozen=True)
class ConcatRescale:
    """Per input: None (copied as is) or (scale, bias) in float32; and the output zero point."""

    factors: tuple[tuple[np.float32, np.float32] | None, ...]
    output_zero_point: int
    tables: tuple[np.ndarray | None, ...]  # each rescaled input's 256-entry uint8 table


def plan(inputs: list[TensorInfo], out: TensorInfo) -> ConcatRescale | None:
    """The rescale of uint8 inputs whose parameters differ from the output's (None: none)."""
    s_out, z_out = per_tensor(out, "output")
    inverse = np.float32(1.0) / np.float32(s_out)
    factors: list[tuple[np.float32, np.float32] | None] = []
    for info in inputs:
        s_in, z_in = per_tensor(info, "input")
        if (np.float32(s_in), z_in) == (np.float32(s_out), z_out):
            factors.append(None)
            continue
        scale = np.float32(s_in) * inverse
        factors.append((scale, np.float32(-z_in) * scale))
    if all(f is None for f in factors):
        return None
    values = np.arange(256, dtype=np.uint8)
    tables = tuple(None if f is None else _rescale(values, f, z_out) for f in factors)
    return ConcatRescale(tuple(factors), z_out, tables)


def _rescale(values: np.ndarray, factor: tuple[np.float32, np.float32], zero_point: int):
    scale, bias = factor
    real = values.astype(np.float32) * scale + bias  # float32, no fused multiply-add
    rounded = round_half_away_from_zero(real).astype(np.int64) + zero_point
    return np.clip(rounded, 0, 255).astype(np.uint8)


def rescaled_inputs(rescale: ConcatRescale, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Reference: each input in the output's parameters, by the float32 formula."""
    return [
        x if f is None else _rescale(np.asarray(x), f, rescale.output_zero_point)
        for x, f in zip(inputs, rescale.factors)
    ]


def rescaled_inputs_by_table(rescale: ConcatRescale, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Optimized: the same through the 256-entry tables."""
    return [x if t is None else t[np.asarray(x)] for x, t in zip(inputs, rescale.tables)]
