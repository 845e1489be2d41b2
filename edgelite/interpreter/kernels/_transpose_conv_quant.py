"""TRANSPOSE_CONV on int8 / uint8 / int16 activations, and its hybrid form.

Every input pixel scatters ``(x - zx) @ (w[:, ky, kx, :] - zw)^T`` onto output pixel
``(y * stride_h - pad_top + ky, x * stride_w - pad_left + kx)``; the integer sums plus
the bias go through the epilogue of _requant. Types as in CONV_2D: int8 with per-tensor
or per-output-channel symmetric int8 weights; uint8 with uint8 weights (bias scale =
input * weight scale); int16 with int8 weights, zero zero points, int64 bias or int32
bias with ``quantized_bias_type`` INT32.

Official rounding ("tflite", measured): the int8 kernel's GEMM + col2im ends in the
same per-channel quantization as DEPTHWISE_CONV_2D (blocks of 8 channels "double_up",
the rest "double"), and so does int16 with an int32 bias; uint8 is "double_up"
throughout; int16 with an int64 bias runs the reference kernel (the int64 form).

Hybrid (float input, int8 weights): each batch image is quantized on the fly
(asymmetric int8, TFLite's AsymmetricQuantizeFloats), the integer sums are scaled by
input scale * weight scale and the bias and activation applied in float.

The optimized kernels compute the same sums with a float64 BLAS product (exact) and a
vectorized col2im, then the Cython epilogue.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...schema.generated.enums import TensorType
from . import _qgemm
from . import _requant as rq
from . import _window as win
from ._conv_2d_quant import check_bias, int16_zero_points
from ._onthefly import quantize_rows
from .base import Node, Prepared, PrepareError, check_dtype

OUTPUT_SHAPE, WEIGHTS, INPUT, BIAS = 0, 1, 2, 3


class QTransposeConvData(NamedTuple):
    stride: tuple[int, int]
    pad: tuple[int, int]
    x_zero: int
    w_zero: np.ndarray
    requant: rq.Requant | None  # None: hybrid
    hybrid_scales: np.ndarray | None  # hybrid: float32 weight scale per output channel
    low: float  # hybrid activation clamp
    high: float

    def invoke(self, inputs: list, outputs: list) -> None:
        invoke(self, inputs, outputs)

    def invoke_opt(self, inputs: list, outputs: list) -> None:
        invoke_opt(self, inputs, outputs)


def _mode(node: Node, x, bias, qbt: int, out_c: int):
    if x.dtype == np.dtype(np.int16):
        wide = bias is None or bias.dtype == np.dtype(np.int64)
        if bias is not None and not wide and qbt != TensorType.INT32:
            raise PrepareError(
                f"int16 TRANSPOSE_CONV with int32 bias {bias.name!r} needs quantized_bias_type "
                "INT32 (the official runtime reads the bias as int64 otherwise)"
            )
        if wide and qbt != TensorType.INT32:
            return rq.INT64
    elif x.dtype == np.dtype(np.uint8):
        return rq.pick_rounding(node, "double_up")
    blocked = 8 * (out_c // 8)
    return [rq.pick_rounding(node, "double_up" if c < blocked else "double") for c in range(out_c)]


def prepare(node: Node, stride, pad, out_shape) -> Prepared:
    """Quantized TRANSPOSE_CONV: parameters, epilogue."""
    x, weights, out = node.input(INPUT), node.input(WEIGHTS), node.outputs[0]
    opts = node.options
    win.require_output_dtype(node, x.dtype)
    uint8 = x.dtype == np.dtype(np.uint8)
    check_dtype(weights, (np.uint8,) if uint8 else (np.int8,), "weights")
    out_c = weights.shape[0]
    rq.affine(x, "input", "TRANSPOSE_CONV")
    rq.affine(out, "output", "TRANSPOSE_CONV")
    scales, zeros = rq.affine(
        weights, "weights", "TRANSPOSE_CONV", axis=None if uint8 else 0, symmetric=not uint8
    )
    qbt = int(getattr(opts, "quantized_bias_type", 0) or 0)
    bias = check_bias(node, x, out_c, "TRANSPOSE_CONV", qbt, index=BIAS)
    if x.dtype == np.dtype(np.int16):
        int16_zero_points(x, out, "TRANSPOSE_CONV")
    if uint8:
        rq.check_bias_scale(node, x, weights, bias, out)
    mode = _mode(node, x, bias, qbt, out_c)
    requant = rq.make_requant(x.scale, scales, out, out_c, opts.fused_activation_function, mode)
    w_zero = np.broadcast_to(zeros, (out_c,)).astype(np.int64)
    data = QTransposeConvData(stride, pad, x.zero_point, w_zero, requant, None, 0.0, 0.0)
    return Prepared([out_shape], data)


def prepare_hybrid(node: Node, stride, pad, out_shape) -> Prepared:
    """Hybrid TRANSPOSE_CONV: float input and output, int8 weights."""
    weights = node.input(WEIGHTS)
    win.require_output_dtype(node, np.dtype(np.float32))
    check_dtype(weights, (np.int8,), "weights")
    out_c = weights.shape[0]
    scales, _ = rq.affine(weights, "weights", "hybrid TRANSPOSE_CONV", axis=0, symmetric=True)
    win.float_bias(node, BIAS, out_c, "TRANSPOSE_CONV")
    low, high, tanh = win.fused_activation(node.options.fused_activation_function)
    if tanh:
        raise PrepareError("fused TANH is not supported on hybrid TRANSPOSE_CONV")
    per_channel = np.broadcast_to(scales, (out_c,)).astype(np.float32)
    data = QTransposeConvData(stride, pad, 0, np.zeros(out_c, np.int64), None, per_channel, low,
                              high)  # fmt: skip
    return Prepared([out_shape], data)


def scatter_sums(data: QTransposeConvData, products, x_shape, weights_shape, out_shape, dtype):
    """col2im: products [N, H, W, kh, kw, O] summed onto the cropped output [N, oh, ow, O]."""
    (sh, sw), (pad_t, pad_l) = data.stride, data.pad
    batches, height, width, _ = x_shape
    out_c, kh, kw, _ = weights_shape
    canvas_h = max((height - 1) * sh + kh, pad_t + out_shape[1])
    canvas_w = max((width - 1) * sw + kw, pad_l + out_shape[2])
    canvas = np.zeros((batches, canvas_h, canvas_w, out_c), dtype)
    for ky in range(kh):
        for kx in range(kw):
            rows = slice(ky, ky + (height - 1) * sh + 1, sh)
            cols = slice(kx, kx + (width - 1) * sw + 1, sw)
            canvas[:, rows, cols, :] += products[:, :, :, ky, kx, :]
    return canvas[:, pad_t : pad_t + out_shape[1], pad_l : pad_l + out_shape[2], :]


def _products(lhs: np.ndarray, weights: np.ndarray, w_zero: np.ndarray, dtype) -> np.ndarray:
    # [N, H, W, C] x [O, kh, kw, C] -> [N, H, W, kh, kw, O]
    centred = weights.astype(dtype) - w_zero.reshape(-1, 1, 1, 1).astype(dtype)
    out_c, kh, kw, in_c = centred.shape
    flat = lhs.reshape(-1, in_c) @ centred.transpose(3, 1, 2, 0).reshape(in_c, -1)
    return flat.reshape(*lhs.shape[:3], kh, kw, out_c)


def invoke(data: QTransposeConvData, inputs: list, outputs: list) -> None:
    """Reference: int64 products per input pixel and tap, col2im, + bias, requantize."""
    if data.requant is None:
        _hybrid(data, inputs, outputs, np.int64)
        return
    weights, x, out = inputs[WEIGHTS], inputs[INPUT], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS else None
    lhs = x.astype(np.int64) - data.x_zero
    products = _products(lhs, weights, data.w_zero, np.int64)
    acc = scatter_sums(data, products, x.shape, weights.shape, out.shape, np.int64)
    if bias is not None:
        acc = acc + bias.reshape(-1).astype(np.int64)
    out[...] = rq.requantize(acc, data.requant)


def invoke_opt(data: QTransposeConvData, inputs: list, outputs: list) -> None:
    """Optimized: float64 BLAS products (exact), col2im, Cython epilogue."""
    if data.requant is None:
        _hybrid(data, inputs, outputs, np.float64)
        return
    if _qgemm.requant is None:
        invoke(data, inputs, outputs)
        return
    weights, x, out = inputs[WEIGHTS], inputs[INPUT], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS else None
    lhs = x.astype(np.float64) - data.x_zero
    products = _products(lhs, weights, data.w_zero, np.float64)
    acc = scatter_sums(data, products, x.shape, weights.shape, out.shape, np.float64)
    sums = np.ascontiguousarray(acc).reshape(-1, out.shape[3]).astype(np.int64)
    if bias is not None:
        sums += bias.reshape(-1).astype(np.int64)
    epilogue = data.requant.epilogue(None, None)
    _qgemm.requant(sums, out.reshape(-1, out.shape[3]), epilogue)


def _hybrid(data: QTransposeConvData, inputs: list, outputs: list, dtype) -> None:
    weights, x, out = inputs[WEIGHTS], inputs[INPUT], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS else None
    # One asymmetric quantization per batch image (TFLite's EvalHybrid).
    quantized, scales, offsets = quantize_rows(x.reshape(x.shape[0], -1), asymmetric=True)
    lhs = quantized.astype(dtype) - offsets.reshape(-1, 1).astype(dtype)
    products = _products(lhs.reshape(x.shape), weights, data.w_zero, dtype)
    sums = scatter_sums(data, products, x.shape, weights.shape, out.shape, dtype)
    # TFLite scales every product by weight scale * batch scale before summing in
    # float; the exact integer sum scaled once differs from it by float rounding only.
    acc = sums.astype(np.float32) * data.hybrid_scales * scales.reshape(-1, 1, 1, 1)
    if bias is not None:
        acc = acc + bias.reshape(-1)
    out[...] = np.clip(acc, data.low, data.high)
