"""TRANSPOSE_CONV: float32 here; int8 / uint8 / int16 and hybrid in _transpose_conv_quant
(schema versions 1-5).

Inputs: output_shape (int32 [4]), weights [out, kh, kw, in] (OHWI), input
[N, H, W, in], bias [out] (optional, v3+). Output has ``output_shape``. Every input
pixel scatters ``input[y, x, :] @ weights[:, ky, kx, :]^T`` to output
``(y * stride_h - pad_top + ky, x * stride_w - pad_left + kx)``; taps that land
outside the output are dropped. The padding is the forward convolution's SAME/VALID
padding computed from the *output* size. Fused NONE/RELU/RELU_N1_TO_1/RELU6/TANH (v4+).

Optimized path: one GEMM (input pixels x [in, kh*kw*out] weights laid out at prepare)
into a scratch buffer, then a Cython col2im scatter-add onto the bias-initialized
output and one clamp pass.

Deviations: a fused TANH is applied (the official float kernel ignores it). A
non-constant output_shape makes the output dynamic (shape known at invoke).
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from . import _window as win
from ._blas import gemm
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_dtype, check_inputs

try:
    from ._conv import bias_act, col2im_add
except ImportError:  # extensions not built: the reference kernel still runs
    bias_act = col2im_add = None

OUTPUT_SHAPE, WEIGHTS, INPUT, BIAS = 0, 1, 2, 3

NO_BIAS = np.empty(0, np.float32)


class OpData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("stride", "pad", "low", "high", "tanh", "weights", "cols", "num_threads")
    stride: tuple[int, int]
    pad: tuple[int, int]  # leading (top, left) padding of the equivalent forward conv
    low: float
    high: float
    tanh: bool
    weights: np.ndarray | None  # [in, kh*kw*out] GEMM layout, when constant
    cols: np.ndarray  # GEMM result scratch [H*W, kh*kw*out]
    num_threads: int


def gemm_weights(weights: np.ndarray) -> np.ndarray:
    """[out, kh, kw, in] -> [in, kh*kw*out] so that input_pixels @ w gives col2im rows."""
    return np.ascontiguousarray(weights.transpose(3, 1, 2, 0).reshape(weights.shape[3], -1))


def prepare(node: Node) -> Prepared:
    """Validate; the output shape is the value of the output_shape input."""
    check_inputs(node, 3, 4)
    shape_info, weights, x = node.input(OUTPUT_SHAPE), node.input(WEIGHTS), node.input(INPUT)
    quantized = x.dtype in win.QUANTIZED_DTYPES
    hybrid = x.dtype == np.dtype(np.float32) and weights.dtype in win.QUANTIZED_DTYPES
    if not (quantized or hybrid):
        win.require_float(x, "TRANSPOSE_CONV")
        win.require_float_weights(weights, "TRANSPOSE_CONV", "weights")
        win.require_output_dtype(node, np.dtype(np.float32))
    check_dtype(shape_info, (np.int32,), "output_shape")
    win.require_rank(x, 4, "input", "[batch, height, width, channels]")
    win.require_rank(weights, 4, "weights", "[out, h, w, in]")
    if shape_info.shape != (4,):
        raise PrepareError(f"output_shape {shape_info.name!r} has shape {list(shape_info.shape)}")
    opts = node.options
    if opts is None:
        raise PrepareError("TRANSPOSE_CONV needs TransposeConvOptions")
    win.check_strides(stride_h=opts.stride_h, stride_w=opts.stride_w)
    out_c, kh, kw, in_c = weights.shape
    if x.shape[3] != in_c:
        raise PrepareError(
            f"input {x.name!r} has {x.shape[3]} channels; weights {weights.name!r} expect {in_c}"
        )
    if not quantized:
        win.float_bias(node, BIAS, out_c, "TRANSPOSE_CONV")
    if shape_info.data is None:
        return Prepared(dynamic=True)  # the output size arrives with the first invoke
    out_shape = tuple(int(v) for v in shape_info.data)
    if out_shape[0] != x.shape[0] or out_shape[3] != out_c or min(out_shape) <= 0:
        raise PrepareError(
            f"output_shape {list(out_shape)} does not fit input batch {x.shape[0]} and "
            f"{out_c} output channels"
        )
    _, pad_t = win.output_and_padding(out_shape[1], kh, opts.stride_h, 1, opts.padding, "height")
    _, pad_l = win.output_and_padding(out_shape[2], kw, opts.stride_w, 1, opts.padding, "width")
    # The quantized and hybrid modules are imported only by the models that need them.
    if quantized or hybrid:
        from . import _transpose_conv_quant

        prepare_other = (
            _transpose_conv_quant.prepare if quantized else _transpose_conv_quant.prepare_hybrid
        )
        return prepare_other(node, (opts.stride_h, opts.stride_w), (pad_t, pad_l), out_shape)
    low, high, tanh = win.fused_activation(opts.fused_activation_function)
    data = OpData(
        stride=(opts.stride_h, opts.stride_w),
        pad=(pad_t, pad_l),
        low=low,
        high=high,
        tanh=tanh,
        weights=gemm_weights(weights.data) if weights.data is not None else None,
        cols=np.empty((x.shape[1] * x.shape[2], kh * kw * out_c), np.float32),
        num_threads=node.num_threads,
    )
    return Prepared([out_shape], data)


def invoke(data: OpData, inputs: list, outputs: list) -> None:
    """Reference: scatter each filter tap's product into a padded output, then crop."""
    if type(data) is not OpData:  # quantized or hybrid: prepared by their own module
        return data.invoke(inputs, outputs)  # type: ignore[attr-defined]
    weights, x, out = inputs[WEIGHTS], inputs[INPUT], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS else None
    (sh, sw), (pad_t, pad_l) = data.stride, data.pad
    batches, height, width, _ = x.shape
    out_c, kh, kw, _ = weights.shape
    # A canvas big enough for every tap of every input pixel, offset by the padding.
    canvas_h = max((height - 1) * sh + kh, pad_t + out.shape[1])
    canvas_w = max((width - 1) * sw + kw, pad_l + out.shape[2])
    canvas = np.zeros((batches, canvas_h, canvas_w, out_c), np.float32)
    for ky in range(kh):
        for kx in range(kw):
            rows = slice(ky, ky + (height - 1) * sh + 1, sh)
            cols = slice(kx, kx + (width - 1) * sw + 1, sw)
            canvas[:, rows, cols, :] += x @ weights[:, ky, kx, :].T
    acc = canvas[:, pad_t : pad_t + out.shape[1], pad_l : pad_l + out.shape[2], :]
    if bias is not None:
        acc = acc + bias.reshape(-1)
    win.apply_fused(acc, data.low, data.high, data.tanh)
    out[...] = acc


def invoke_opt(data: OpData, inputs: list, outputs: list) -> None:
    """Optimized: GEMM into the scratch columns, col2im scatter-add, clamp."""
    if type(data) is not OpData:
        return data.invoke_opt(inputs, outputs)  # type: ignore[attr-defined]
    weights, x, out = inputs[WEIGHTS], inputs[INPUT], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS and inputs[BIAS] is not None else None
    w2d = data.weights if data.weights is not None else gemm_weights(weights)
    (sh, sw), (pad_t, pad_l) = data.stride, data.pad
    batches, height, width, in_c = x.shape
    kh, kw = weights.shape[1:3]
    out[...] = bias.reshape(-1) if bias is not None else 0
    for b in range(batches):
        gemm(x[b].reshape(height * width, in_c), w2d, data.cols, num_threads=data.num_threads)
        col2im_add(data.cols, out[b], height, width, kh, kw, sh, sw, pad_t, pad_l)
    out2d = out.reshape(-1, out.shape[3])
    bias_act(out2d, NO_BIAS, data.low, data.high, data.num_threads)
    if data.tanh:
        np.tanh(out, out=out)


KERNELS = {
    BuiltinOperator.TRANSPOSE_CONV: KernelSpec(
        prepare=prepare,
        invoke=invoke,
        versions=(1, 5),
        invoke_opt=invoke_opt if col2im_add is not None else None,
    ),
}
