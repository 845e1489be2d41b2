"""L2_NORMALIZATION (float32, v1-2) and LOCAL_RESPONSE_NORMALIZATION (float32, v1).

L2_NORMALIZATION, along the last axis of any rank >= 1:
``out = x / max(sqrt(sum(x^2)), 1e-6)`` (the epsilon is hard-coded in TFLite). The
official runtime accepts no fused activation here, so neither do we.

LOCAL_RESPONSE_NORMALIZATION, along the channels of a 4-D input:
``out[c] = x[c] * (bias + alpha * sum(x[k]^2 for |k - c| <= radius)) ** -beta``.
This is TensorFlow's definition and what the official runtime's default (optimized)
kernel computes; its reference kernel (OpResolverType.BUILTIN_REF) sums the window
[c - radius, c + radius) instead, leaving out one neighbour.

Both are a handful of vectorized numpy passes, already memory bound, so they have no
separate optimized kernel. Quantized variants are not supported yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...schema.generated.enums import ActivationFunctionType, BuiltinOperator
from . import _window as win
from .base import KernelSpec, Node, Prepared, PrepareError, check_inputs

INPUT = 0

L2_EPSILON = np.float32(1e-6)


@dataclass(frozen=True)
class LrnData:
    radius: int
    bias: np.float32
    alpha: np.float32
    beta: np.float32


def prepare_l2(node: Node) -> Prepared:
    """Validate (rank >= 1, no fused activation); the output has the input's shape."""
    check_inputs(node, 1)
    x = node.input(INPUT)
    win.require_float(x, "L2_NORMALIZATION")
    win.require_output_dtype(node, np.dtype(np.float32))
    if not x.shape:
        raise PrepareError(f"input {x.name!r} is a scalar; L2_NORMALIZATION needs rank >= 1")
    act = node.options.fused_activation_function if node.options is not None else 0
    if act != ActivationFunctionType.NONE:
        raise PrepareError(
            f"fused activation {ActivationFunctionType(act).name} is not supported on "
            "L2_NORMALIZATION (the official runtime rejects it too)"
        )
    return Prepared([tuple(x.shape)], None)


def invoke_l2(data: None, inputs: list, outputs: list) -> None:
    """x / max(||x||_2 over the last axis, 1e-6)."""
    x = inputs[INPUT]
    norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True, dtype=np.float32))
    np.divide(x, np.maximum(norm, L2_EPSILON), out=outputs[0])


def prepare_lrn(node: Node) -> Prepared:
    """Validate a 4-D float input and a non-negative radius."""
    check_inputs(node, 1)
    x = node.input(INPUT)
    win.require_float(x, "LOCAL_RESPONSE_NORMALIZATION")
    win.require_output_dtype(node, np.dtype(np.float32))
    win.require_rank(x, 4, "input", "[batch, height, width, channels]")
    opts = node.options
    if opts is None:
        raise PrepareError("LOCAL_RESPONSE_NORMALIZATION needs LocalResponseNormalizationOptions")
    if opts.radius < 0:
        raise PrepareError(f"radius is {opts.radius}; it must be >= 0")
    data = LrnData(
        opts.radius, np.float32(opts.bias), np.float32(opts.alpha), np.float32(opts.beta)
    )
    return Prepared([tuple(x.shape)], data)


def invoke_lrn(data: LrnData, inputs: list, outputs: list) -> None:
    """Windowed sum of squares over channels (zero beyond the edges), then the power."""
    x = inputs[INPUT]
    r, channels = data.radius, x.shape[-1]
    padded = np.pad(x * x, [(0, 0)] * (x.ndim - 1) + [(r, r)])
    window = np.zeros_like(x)
    for k in range(2 * r + 1):
        window += padded[..., k : k + channels]
    np.multiply(x, np.power(data.bias + data.alpha * window, -data.beta), out=outputs[0])


KERNELS = {
    BuiltinOperator.L2_NORMALIZATION: KernelSpec(
        prepare=prepare_l2, invoke=invoke_l2, versions=(1, 2)
    ),
    BuiltinOperator.LOCAL_RESPONSE_NORMALIZATION: KernelSpec(
        prepare=prepare_lrn, invoke=invoke_lrn, versions=(1, 1)
    ),
}
