"""Helpers shared by the windowed float kernels (conv, depthwise, transpose conv, pooling).

Output sizes and padding follow TFLite's ``ComputePaddingHeightWidth`` exactly: SAME
gives ``ceil(in / stride)`` outputs, VALID ``floor((in - dilated_filter) / stride) + 1``,
and when the total padding is odd the extra row/column goes at the end (bottom/right),
so only the leading padding needs to be kept.
"""

from __future__ import annotations

import math

import numpy as np

from ...schema.generated.enums import ActivationFunctionType, Padding
from .base import Node, PrepareError, TensorInfo, activation_range, check_dtype, check_inputs

QUANTIZED_DTYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


def output_and_padding(
    in_size: int, filter_size: int, stride: int, dilation: int, padding: int, axis: str
) -> tuple[int, int]:
    """Output size and leading padding along one spatial axis, as TFLite computes them."""
    dilated = (filter_size - 1) * dilation + 1
    if padding == Padding.SAME:
        out = (in_size + stride - 1) // stride
    elif padding == Padding.VALID:
        out = (in_size - dilated) // stride + 1 if in_size >= dilated else 0
    else:
        raise PrepareError(f"padding {padding} is not SAME or VALID")
    if out <= 0:
        raise PrepareError(
            f"{axis} {in_size} is smaller than the dilated filter ({dilated}) with VALID padding"
        )
    total = max((out - 1) * stride + dilated - in_size, 0)
    return out, total // 2


def check_strides(**values: int) -> None:
    """Strides and dilations must be positive (a zero stride is a malformed model)."""
    for name, value in values.items():
        if value <= 0:
            raise PrepareError(f"{name} is {value}; it must be >= 1")


def require_float(info: TensorInfo, op: str, what: str = "input") -> None:
    """Float32 only for now; quantized activations get a clear 'not yet' error."""
    if info.dtype in QUANTIZED_DTYPES:
        raise PrepareError(
            f"quantized {op} not supported yet ({what} {info.name!r} is {info.dtype})"
        )
    check_dtype(info, (np.float32,), what)


def require_float_weights(info: TensorInfo, op: str, what: str = "filter") -> None:
    """Float weights; int8 weights with float activations are the (later) hybrid kernels."""
    if info.dtype in QUANTIZED_DTYPES or info.dtype == np.dtype(np.float16):
        raise PrepareError(
            f"hybrid {op} ({info.dtype} {what} {info.name!r}, float activations) not supported yet"
        )
    check_dtype(info, (np.float32,), what)


def require_rank(info: TensorInfo, rank: int, what: str, layout: str) -> None:
    if len(info.shape) != rank:
        raise PrepareError(
            f"{what} {info.name!r} has {len(info.shape)} dims; needs {rank} {layout}"
        )


def require_output_dtype(node: Node, dtype: np.dtype) -> None:
    out = node.outputs[0]
    if out.dtype != dtype:
        raise PrepareError(f"output {out.name!r} has type {out.dtype.name}; expected {dtype.name}")


def conv_inputs(
    node: Node, op: str, filter_layout: str
) -> tuple[TensorInfo, TensorInfo, bool, bool]:
    """Checks CONV_2D and DEPTHWISE_CONV_2D share: input count, dtypes, ranks, options.

    Returns (input, filter, quantized, hybrid): quantized when the activations are
    integer, hybrid for float activations with integer weights (dtypes left to its path).
    """
    check_inputs(node, 2, 3)
    x, filt = node.input(0), node.input(1)
    quantized = x.dtype in QUANTIZED_DTYPES
    hybrid = x.dtype == np.dtype(np.float32) and filt.dtype in QUANTIZED_DTYPES
    if not (quantized or hybrid):
        require_float(x, op)
        require_float_weights(filt, op)
        require_output_dtype(node, np.dtype(np.float32))
    require_rank(x, 4, "input", "[batch, height, width, channels]")
    require_rank(filt, 4, "filter", filter_layout)
    opts = node.options
    if opts is None:
        options_name = "Conv2DOptions" if op == "CONV_2D" else "DepthwiseConv2DOptions"
        raise PrepareError(f"{op} needs {options_name}")
    check_strides(
        stride_h=opts.stride_h,
        stride_w=opts.stride_w,
        dilation_h=opts.dilation_h_factor,
        dilation_w=opts.dilation_w_factor,
    )
    return x, filt, quantized, hybrid


def float_bias(node: Node, index: int, channels: int, op: str) -> np.ndarray | None:
    """The optional constant-or-runtime float bias: validated shape, or None when absent."""
    bias = node.optional_input(index)
    if bias is None:
        return None
    check_dtype(bias, (np.float32,), "bias")
    if math.prod(bias.shape) != channels:
        raise PrepareError(
            f"bias {bias.name!r} has shape {list(bias.shape)}; {op} needs {channels} values"
        )
    return bias.data


def fused_activation(act: int) -> tuple[float, float, bool]:
    """(low, high, then_tanh) for a float fused activation.

    TANH is applied as tanh (what the schema says). The official runtime's float conv,
    depthwise and fully-connected kernels ignore a fused TANH; converters never emit one.
    """
    if act == ActivationFunctionType.TANH:
        return -np.inf, np.inf, True
    try:
        low, high = activation_range(act)
    except (ValueError, KeyError):
        raise PrepareError(f"fused activation {act} is not supported") from None
    return float(low), float(high), False


def apply_fused(out: np.ndarray, low: float, high: float, tanh: bool) -> None:
    """Clamp (and tanh) ``out`` in place; the reference epilogue of every float kernel."""
    if low != -np.inf or high != np.inf:
        np.clip(out, low, high, out=out)
    if tanh:
        np.tanh(out, out=out)
