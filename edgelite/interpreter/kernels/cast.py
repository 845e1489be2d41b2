"""CAST between the numeric and bool types the official runtime converts.

What the official kernel does, element by element (``static_cast`` unless noted):

* float (16/32/64) -> integer **saturates**: below the range gives the minimum,
  above it the maximum, NaN the maximum; in range it truncates toward zero.
* integer -> narrower integer wraps; anything -> bool is ``x != 0``.
* anything -> float16 goes through float32 first (so float64 -> float16 rounds
  twice, as there).
* complex64 -> real types uses the real part.

The options' in/out types are ignored, as in TFLite: the tensors' types decide.
Quantization parameters are ignored too (CAST converts raw values).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator, TensorType
from .base import KernelSpec, Node, OpRecord, Prepared, check_inputs
from .unary import check_type

CAST_TYPES = (
    TensorType.FLOAT32,
    TensorType.FLOAT16,
    TensorType.FLOAT64,
    TensorType.INT64,
    TensorType.INT32,
    TensorType.UINT32,
    TensorType.INT16,
    TensorType.UINT16,
    TensorType.UINT8,
    TensorType.INT8,
    TensorType.BOOL,
    TensorType.COMPLEX64,
)


class CastData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("source", "target")
    source: np.dtype
    target: np.dtype


def prepare(node: Node) -> Prepared:
    """CAST: one input of a castable type; the output's type is the target."""
    check_inputs(node, 1)
    x = node.input(0)
    check_type(node, x, CAST_TYPES, allow_quantized=True)
    check_type(node, node.outputs[0], CAST_TYPES, "output", allow_quantized=True)
    return Prepared(output_shapes=[x.shape], data=CastData(x.dtype, node.outputs[0].dtype))


def invoke(data: CastData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Convert every element the way the official kernel does."""
    x, out = np.asarray(inputs[0]), outputs[0]
    if x.dtype.kind == "c" and out.dtype.kind != "c":
        x = x.real
    # Overflow to inf (float64 -> float32, anything -> float16) is the IEEE answer.
    with np.errstate(over="ignore", invalid="ignore"):
        if out.dtype == np.float16:
            out[...] = x.astype(np.float32)
        elif x.dtype.kind == "f" and out.dtype.kind in "iu":
            _saturate(x, out)
        else:
            np.copyto(out, x, casting="unsafe")


def _saturate(x: np.ndarray, out: np.ndarray) -> None:
    """Float to integer with TFLite's saturation (NaN -> max)."""
    info = np.iinfo(out.dtype)
    values = x.astype(np.float64)  # exact for every float source
    high = np.float64(info.max)
    if int(high) > info.max:  # int64/uint64 maxima round up in double
        high = np.nextafter(high, 0.0)
    too_low = values < info.min
    too_high = ~(values <= high)  # NaN included
    in_range = np.clip(np.trunc(values), info.min, high)
    in_range[too_high] = 0.0
    out[...] = in_range
    out[too_low] = info.min
    out[too_high] = info.max


KERNELS = {BuiltinOperator.CAST: KernelSpec(prepare=prepare, invoke=invoke, versions=(1, 9))}
