"""L2_NORMALIZATION (float32, int8, uint8; v1-2) and LOCAL_RESPONSE_NORMALIZATION (float32, v1).

L2_NORMALIZATION, along the last axis of any rank >= 1:
``out = x / max(sqrt(sum(x^2)), 1e-6)`` (the epsilon is hard-coded in TFLite). The
official runtime accepts no fused activation here, so neither do we.

Quantized L2_NORMALIZATION (the output must be in 1/128 units: scale 1/128, zero point
0 for int8 and 128 for uint8, as TFLite requires): per row, ``d = x - zero_point``,
``s = sum(d^2)`` in int32, 1/sqrt(s) as a multiplier and shift
(GetInvSqrtQuantizedMultiplierExp), then
``clamp(MultiplyByQuantizedMultiplier(d, multiplier, shift + 7))`` for int8 and
``clamp(128 + MultiplyByQuantizedMultiplier(128 * d, multiplier, shift))`` for uint8
("double" rounding under "tflite", the official kernels being reference code).

LOCAL_RESPONSE_NORMALIZATION, along the channels of a 4-D input:
``out[c] = x[c] * (bias + alpha * sum(x[k]^2 for |k - c| <= radius)) ** -beta``.
This is TensorFlow's definition and what the official runtime's default (optimized)
kernel computes; its reference kernel (OpResolverType.BUILTIN_REF) sums the window
[c - radius, c + radius) instead, leaving out one neighbour.

Both are a handful of vectorized numpy passes, already memory bound, so they have no
separate optimized kernel. Quantized LOCAL_RESPONSE_NORMALIZATION is not supported.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import ActivationFunctionType, BuiltinOperator
from . import _window as win
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_inputs

INPUT = 0

L2_EPSILON = np.float32(1e-6)


class LrnData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("radius", "bias", "alpha", "beta")
    radius: int
    bias: np.float32
    alpha: np.float32
    beta: np.float32


class QuantL2Data(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("zero_point", "rounding", "uint8")
    zero_point: int
    rounding: str
    uint8: bool


def _prepare_quantized_l2(node: Node, x) -> QuantL2Data:
    from . import _requant as rq  # imported only by the models that need it

    out = node.outputs[0]
    if x.dtype == np.dtype(np.int16):
        raise PrepareError("int16 L2_NORMALIZATION is not supported (int8, uint8 and float32)")
    win.require_output_dtype(node, x.dtype)
    rq.affine(x, "input", "L2_NORMALIZATION")
    rq.affine(out, "output", "L2_NORMALIZATION")
    uint8 = x.dtype == np.dtype(np.uint8)
    wanted_zero = 128 if uint8 else 0
    if np.float32(out.scale) != np.float32(1.0 / 128.0) or out.zero_point != wanted_zero:
        raise PrepareError(
            f"output {out.name!r} has scale {out.scale:g} and zero point {out.zero_point}; "
            f"quantized L2_NORMALIZATION needs scale 1/128 and zero point {wanted_zero}"
        )
    return QuantL2Data(x.zero_point, rq.pick_rounding(node, "double"), uint8)


def prepare_l2(node: Node) -> Prepared:
    """Validate (rank >= 1, no fused activation); the output has the input's shape."""
    check_inputs(node, 1)
    x = node.input(INPUT)
    data = None
    if x.dtype in win.QUANTIZED_DTYPES:
        data = _prepare_quantized_l2(node, x)
    else:
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
    return Prepared([tuple(x.shape)], data)


def invoke_l2(data: QuantL2Data | None, inputs: list, outputs: list) -> None:
    """x / max(||x||_2 over the last axis, 1e-6)."""
    x = inputs[INPUT]
    if data is not None:
        _invoke_quantized_l2(data, x, outputs[0])
        return
    norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True, dtype=np.float32))
    np.divide(x, np.maximum(norm, L2_EPSILON), out=outputs[0])


def _invoke_quantized_l2(data: QuantL2Data, x: np.ndarray, out: np.ndarray) -> None:
    """TFLite's integer L2 normalization, one multiplier per row (numpy, int64)."""
    from . import fixedpoint as fp
    from .fixedpoint_math import get_inv_sqrt_quantized_multiplier_exp

    diff = x.astype(np.int64) - data.zero_point
    squares = fp.wrap(np.sum(diff * diff, axis=-1, keepdims=True))  # an int32 sum in C
    multiplier, shift = get_inv_sqrt_quantized_multiplier_exp(squares, -1)
    if data.uint8:
        scaled = fp.multiply_by_quantized_multiplier(128 * diff, multiplier, shift, data.rounding)
        out[...] = np.clip(128 + np.asarray(scaled, np.int64), 0, 255)
    else:
        scaled = fp.multiply_by_quantized_multiplier(diff, multiplier, shift + 7, data.rounding)
        out[...] = np.clip(np.asarray(scaled, np.int64), -128, 127)


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
