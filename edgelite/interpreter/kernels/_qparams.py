"""Validated quantization parameters of activation tensors, for the quantized kernels.

A quantized activation (int8, uint8, int16) needs exactly one scale and one zero point.
Bad parameters (missing, per-channel where the op wants one value, zero/negative/
non-finite scales, zero points outside the type) are refused here with a PrepareError
that names the tensor and the rule, instead of becoming a wrong answer later.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Node, PrepareError, TensorInfo

QUANTIZED = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


def is_quantized_type(info: TensorInfo) -> bool:
    """Whether ``info`` has one of the quantized activation types (int8, uint8, int16)."""
    return info.dtype in QUANTIZED


def per_tensor(info: TensorInfo, what: str) -> tuple[float, int]:
    """(scale, zero point) of a per-tensor quantized tensor, checked.

    The scale is returned as the float32 value the file holds (as a Python float);
    kernels that compute in float32 or double convert it as TFLite does.
    """
    q = info.quantization
    if q is None or len(q.scale) == 0:
        raise PrepareError(
            f"{what} {info.name!r} ({info.dtype.name}) has no quantization parameters; "
            "a quantized tensor needs a scale and a zero point"
        )
    if len(q.scale) != 1 or len(q.zero_point) > 1:
        raise PrepareError(
            f"{what} {info.name!r} has {len(q.scale)} scales and {len(q.zero_point)} zero "
            "points; this op needs one of each (per-tensor quantization)"
        )
    scale = float(np.float32(q.scale[0]))
    if not (math.isfinite(scale) and scale > 0):
        raise PrepareError(f"{what} {info.name!r} has scale {scale!r}; scales must be > 0")
    zero_point = int(q.zero_point[0]) if len(q.zero_point) else 0
    limits = np.iinfo(info.dtype)
    if not limits.min <= zero_point <= limits.max:
        raise PrepareError(
            f"{what} {info.name!r} has zero point {zero_point}, outside {info.dtype.name} "
            f"[{limits.min}, {limits.max}]"
        )
    return scale, zero_point


def check_int16_symmetric(info: TensorInfo, zero_point: int, what: str) -> None:
    """int16 activations are symmetric in TFLite: the zero point must be 0."""
    if info.dtype == np.int16 and zero_point != 0:
        raise PrepareError(
            f"{what} {info.name!r} is int16 with zero point {zero_point}; int16 quantized "
            "tensors need zero point 0"
        )


# Interpreter(rounding=...) values a Node carries: the official optimized kernels' forms op
# by op, the official reference kernels (BUILTIN_REF), or one of TFLite's two builds forced.
NODE_ROUNDINGS = ("tflite", "reference", "double", "single")


def rounding_mode(node: Node, official: str) -> str:
    """The multiplier rounding to use: the op's official form unless the user forced one.

    ``official`` is what the optimized official kernel of this op and path uses (for
    rounding="tflite"). rounding="reference" reproduces the official reference kernels,
    which are the scalar code of the default double-rounding build: "double" everywhere
    (kernels whose reference *algorithm* differs check ``node.rounding`` themselves).
    """
    wanted = getattr(node, "rounding", "tflite")
    if wanted == "tflite":
        return official
    if wanted == "reference":
        return "double"
    if wanted in ("double", "single"):
        return wanted
    listed = ", ".join(repr(name) for name in NODE_ROUNDINGS)
    raise PrepareError(f"rounding {wanted!r} is not one of {listed}")


def reference_rounding(node: Node) -> bool:
    """Whether the node reproduces the official reference kernels (rounding="reference")."""
    return getattr(node, "rounding", "tflite") == "reference"


def symmetric_scale(info: TensorInfo, what: str) -> float:
    """The scale of a per-tensor symmetric weight (zero point 0, which the kernels assume)."""
    scale, zero_point = per_tensor(info, what)
    if zero_point != 0:
        raise PrepareError(
            f"{what} {info.name!r} has zero point {zero_point}; quantized weights must be "
            "symmetric (zero point 0)"
        )
    return scale
