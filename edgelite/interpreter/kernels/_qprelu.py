"""Quantized PRELU (int8, uint8): prepare, numpy reference and the table kernel.

TFLite's reference PRELU (its BUILTIN kernel for 8-bit): with ``x = q - zp_in``,
``out = zp_out + MultiplyByQuantizedMultiplier(x, s_in / s_out)`` for ``x >= 0``
and ``zp_out + MultiplyByQuantizedMultiplier(x * (alpha_q - zp_alpha),
s_in * s_alpha / s_out)`` otherwise, clamped to the type; the two ratios are
float32 arithmetic as in the C++ Prepare. alpha broadcasts against the input.

The result depends on the (input, alpha) byte pair only, so the optimized kernel
looks elements up in a 65536-entry table filled by the reference at prepare,
walking the broadcast with ``_qbinary.walk_pair_table``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import fixedpoint as fp
from ._qbinary import walk_pair_table
from ._qparams import per_tensor, rounding_mode
from .base import Node, Prepared, PrepareError

try:
    from . import _qelementwise  # type: ignore[attr-defined]  # Cython, no stub
except ImportError:  # extensions not built: the reference kernel still runs (no table)
    _qelementwise = None  # type: ignore[assignment]


@dataclass(frozen=True)
class QPreluData:
    """Offsets, multipliers and the pair table of a quantized PRELU."""

    dtype: np.dtype
    input_offset: int
    alpha_offset: int
    output_offset: int
    positive: tuple[int, int]  # (multiplier, shift) for x >= 0
    negative: tuple[int, int]  # for x * alpha
    mode: str
    table: np.ndarray | None = None  # (1, 65536) results by (x byte, alpha byte), as bytes


def prepare(node: Node) -> Prepared:
    """Validate 8-bit PRELU parameters and precompute multipliers and the table."""
    x, alpha, out = node.input(0), node.input(1), node.outputs[0]
    if x.dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
        raise PrepareError(
            f"quantized PRELU supports int8 and uint8; input {x.name!r} is {x.dtype}"
        )
    for info, what in ((alpha, "alpha"), (out, "output")):
        if info.dtype != x.dtype:
            raise PrepareError(f"{what} {info.name!r} is {info.dtype}; PRELU needs {x.dtype} here")
    try:
        shape = tuple(np.broadcast_shapes(x.shape, alpha.shape))
    except ValueError:
        shape = None
    if shape != x.shape:
        raise PrepareError(
            f"alpha {list(alpha.shape)} must broadcast to the input shape {list(x.shape)}"
        )
    (s_in, z_in), (s_alpha, z_alpha) = per_tensor(x, "input"), per_tensor(alpha, "alpha")
    s_out, z_out = per_tensor(out, "output")
    mode = "single" if rounding_mode(node, "double") == "single" else "double"
    ratio_1 = float(np.float32(s_in) / np.float32(s_out))
    ratio_2 = float(np.float32(np.float32(s_in) * np.float32(s_alpha)) / np.float32(s_out))
    data = QPreluData(
        x.dtype,
        -z_in,
        -z_alpha,
        z_out,
        fp.quantize_multiplier(ratio_1, mode),
        fp.quantize_multiplier(ratio_2, mode),
        mode,
    )
    if _qelementwise is not None:
        data = replace(data, table=_pair_table(data))
    return Prepared(output_shapes=[x.shape], data=data)


def _compute(x: np.ndarray, alpha: np.ndarray, data: QPreluData) -> np.ndarray:
    centred = x.astype(np.int64) + data.input_offset
    scaled_alpha = alpha.astype(np.int64) + data.alpha_offset
    positive = fp.multiply_by_quantized_multiplier(centred, *data.positive, data.mode)
    negative = fp.multiply_by_quantized_multiplier(
        fp.wrap(centred * scaled_alpha), *data.negative, data.mode
    )
    result = np.where(centred >= 0, positive, negative).astype(np.int64) + data.output_offset
    info = np.iinfo(data.dtype)
    return np.clip(result, info.min, info.max)


def _pair_table(data: QPreluData) -> np.ndarray:
    values = np.arange(256, dtype=np.uint8).view(data.dtype)
    result = _compute(np.repeat(values, 256), np.tile(values, 256), data)
    table = np.ascontiguousarray(result.astype(data.dtype).reshape(1, -1)).view(np.uint8)
    table.flags.writeable = False
    return table


def invoke_reference(data: QPreluData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """The numpy arithmetic with alpha broadcast."""
    out = outputs[0]
    out[...] = _compute(np.asarray(inputs[0]), np.broadcast_to(inputs[1], out.shape), data)


def invoke_optimized(data: QPreluData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """The table walk (``_qbinary.walk_pair_table``), or the reference."""
    x, alpha = inputs[0], inputs[1]
    done = data.table is not None and walk_pair_table(data.table, x, alpha, outputs[0])
    if not done:
        invoke_reference(data, inputs, outputs)
