"""QUANTIZE from an integer tensor to another (requantize): prepare and kernels.

TFLite computes ``zp_out + MultiplyByQuantizedMultiplier(q - zp_in, s_in / s_out)``
(the ratio in double) clamped to the output type, for int8/uint8 -> int8/uint8/int16,
int16 -> int8/int16/int32 and int32 -> int8/int16 (int16 -> int16 needs zero
points 0). Between 8-bit types its optimized kernel rescales blocks of 16 elements
with NEON code (ARM VQRDMULH, then a rounding shift with ties up: "double_up") and
the remaining ``size % 16`` elements with the scalar "double" form; the other type
pairs run the scalar form everywhere. A forced rounding replaces both.

8-bit and int16 -> int16 results depend on the input value only, so prepare
tabulates them (one table per form) and the optimized kernel gathers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import fixedpoint as fp
from ._qparams import check_int16_symmetric, per_tensor, rounding_mode
from .base import Node, Prepared, PrepareError

try:
    from . import _qelementwise  # type: ignore[attr-defined]  # Cython, no stub
except ImportError:  # extensions not built: the reference kernel still runs
    _qelementwise = None  # type: ignore[assignment]

_8BIT = (np.dtype(np.int8), np.dtype(np.uint8))
# input type -> output types TFLite requantizes to
_PAIRS: dict[np.dtype, tuple[np.dtype, ...]] = {
    np.dtype(np.int8): (*_8BIT, np.dtype(np.int16)),
    np.dtype(np.uint8): (*_8BIT, np.dtype(np.int16)),
    np.dtype(np.int16): (np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32)),
    np.dtype(np.int32): (np.dtype(np.int8), np.dtype(np.int16)),
}
SIMD_WIDTH = 16


@dataclass(frozen=True)
class RequantizeData:
    """The rescale of one requantizing QUANTIZE, decided at prepare."""

    multiplier: int
    shift: int
    input_zero_point: int
    output_zero_point: int
    out_dtype: np.dtype
    simd_mode: str | None  # arithmetic of the 16-element blocks (None: no SIMD loop)
    scalar_mode: str
    tables: tuple[np.ndarray, np.ndarray] | None = None  # (SIMD, scalar) by input pattern
    num_threads: int = 1


def prepare(node: Node) -> Prepared:
    """Check the type pair and parameters; precompute the multiplier (and tables)."""
    x, out = node.input(0), node.outputs[0]
    allowed = _PAIRS.get(x.dtype, ())
    if out.dtype not in allowed:
        names = ", ".join(t.name for t in allowed) or "nothing"
        raise PrepareError(
            f"QUANTIZE cannot requantize {x.dtype.name} to {out.dtype.name} (TFLite: "
            f"{x.dtype.name} -> {names})"
        )
    s_in, z_in = per_tensor(x, "input")
    s_out, z_out = per_tensor(out, "output")
    if x.dtype == np.int16 and out.dtype == np.int16:
        check_int16_symmetric(x, z_in, "input")
        check_int16_symmetric(out, z_out, "output")
    rounding = rounding_mode(node, "tflite")
    quantize_mode = "single" if rounding == "single" else "double"
    multiplier, shift = fp.quantize_multiplier(s_in / s_out, quantize_mode)
    simd = x.dtype in _8BIT and out.dtype in _8BIT
    if rounding == "tflite":
        simd_mode, scalar_mode = ("double_up" if simd else None), "double"
    else:
        simd_mode, scalar_mode = None, rounding
    data = RequantizeData(
        multiplier, shift, z_in, z_out, out.dtype, simd_mode, scalar_mode,
        num_threads=max(node.num_threads, 1),
    )  # fmt: skip
    if x.dtype.itemsize == out.dtype.itemsize and x.dtype.itemsize <= 2:
        data = replace(data, tables=_tables(data, x.dtype))
    return Prepared(output_shapes=[x.shape], data=data)


def _requantize(x: np.ndarray, data: RequantizeData, mode: str) -> np.ndarray:
    centred = fp.wrap(x.astype(np.int64) - data.input_zero_point)
    scaled = fp.multiply_by_quantized_multiplier(centred, data.multiplier, data.shift, mode)
    info = np.iinfo(data.out_dtype)
    return np.clip(scaled.astype(np.int64) + data.output_zero_point, info.min, info.max)


def _tables(data: RequantizeData, in_dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    unsigned = np.dtype(f"uint{in_dtype.itemsize * 8}")
    inputs = np.arange(1 << (8 * in_dtype.itemsize)).astype(unsigned).view(in_dtype)
    tables = []
    for mode in (data.simd_mode or data.scalar_mode, data.scalar_mode):
        table = _requantize(inputs, data, mode).astype(data.out_dtype).view(unsigned)
        table.flags.writeable = False
        tables.append(table)
    return tables[0], tables[1]


def _simd_limit(data: RequantizeData, size: int) -> int:
    """How many leading elements the SIMD loop computes."""
    return size - size % SIMD_WIDTH if data.simd_mode else 0


def invoke_reference(data: RequantizeData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """The numpy rescale, blocks of 16 in the SIMD form and the tail in the scalar form."""
    out = outputs[0]
    flat = np.asarray(inputs[0]).reshape(-1)
    result = _requantize(flat, data, data.scalar_mode)
    limit = _simd_limit(data, flat.size)
    if limit:
        result[:limit] = _requantize(flat[:limit], data, data.simd_mode or data.scalar_mode)
    out[...] = result.reshape(out.shape)


def invoke_optimized(data: RequantizeData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Gathers from the prepared tables (the reference for int16 -> int8 and int32 input)."""
    out = outputs[0]
    if data.tables is None or _qelementwise is None or not out.flags.c_contiguous:
        invoke_reference(data, inputs, outputs)
        return
    simd_table, scalar_table = data.tables
    unsigned = simd_table.dtype
    flat = np.ascontiguousarray(inputs[0]).reshape(-1).view(unsigned)
    target = out.reshape(-1).view(unsigned)
    limit = _simd_limit(data, flat.size)
    gather = _qelementwise.lookup8 if unsigned.itemsize == 1 else _qelementwise.lookup16
    gather(flat[:limit], target[:limit], simd_table, data.num_threads)
    gather(flat[limit:], target[limit:], scalar_table, data.num_threads)
