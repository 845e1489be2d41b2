"""CONV_3D_TRANSPOSE, float32 (schema version 1).

Inputs: output_shape (int32 [5]), filter [kd, kh, kw, out, in] (TF's layout, kept by
the converter), input [N, D, H, W, in], bias [out] (optional). Output has
``output_shape``. Every input voxel scatters ``input[d, y, x, :] @ filter[td, ty, tx]^T``
to output ``(d * stride_d - pad_front + td * dilation_d, y * stride_h - pad_top +
ty * dilation_h, x * stride_w - pad_left + tx * dilation_w)``; taps that land outside
the output are dropped. The padding is the forward CONV_3D's SAME/VALID padding
computed from the *output* size, and that forward convolution must map the output
size back onto the input size (the official runtime checks this too). Options are
Conv3DOptions; fused NONE/RELU/RELU_N1_TO_1/RELU6/TANH.

Optimized path (no height/width dilation, like the official optimized kernel): per
batch and depth tap one GEMM (input voxels x [in, kh*kw*out] weights laid out at
prepare) into a scratch buffer, then the 2-D col2im scatter-add of each input depth
slice onto its output depth slice, then one bias + clamp pass.

Deviations: a fused TANH is applied (the official float kernel ignores it). A
non-constant output_shape makes the output dynamic (shape known at invoke). The
official runtime (ai-edge-litert 2.3.0) has float32 only, version 1 only.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from . import _window as win
from ._blas import gemm, use_blas_threads
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_dtype, check_inputs

try:
    from ._conv import bias_act, col2im_add
except ImportError:  # extensions not built: the reference kernel still runs
    bias_act = col2im_add = None

OUTPUT_SHAPE, FILTER, INPUT, BIAS = 0, 1, 2, 3

NO_BIAS = np.empty(0, np.float32)
AXES = ("depth", "height", "width")


class OpData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = (
        "stride",
        "dilation",
        "pad",
        "low",
        "high",
        "tanh",
        "weights",
        "cols",
        "num_threads",
    )
    stride: tuple[int, int, int]
    dilation: tuple[int, int, int]
    pad: tuple[int, int, int]  # leading (front, top, left) padding of the forward conv
    low: float
    high: float
    tanh: bool
    weights: np.ndarray | None  # [kd, in, kh*kw*out] GEMM layout, when constant
    cols: np.ndarray  # GEMM result scratch [D*H*W, kh*kw*out]
    num_threads: int


def gemm_weights(filt: np.ndarray) -> np.ndarray:
    """[kd, kh, kw, out, in] -> [kd, in, kh*kw*out]: per depth tap, voxels @ w[td] gives
    the rows col2im_add scatters."""
    kd, _, _, _, in_c = filt.shape
    return np.ascontiguousarray(filt.transpose(0, 4, 1, 2, 3).reshape(kd, in_c, -1))


def _check_operands(node: Node):
    """Dtypes, ranks, channel counts and options; returns (shape, filter, input, options)."""
    check_inputs(node, 3, 4)
    shape_info, filt, x = node.input(OUTPUT_SHAPE), node.input(FILTER), node.input(INPUT)
    win.require_float(x, "CONV_3D_TRANSPOSE")
    win.require_float_weights(filt, "CONV_3D_TRANSPOSE")
    win.require_output_dtype(node, np.dtype(np.float32))
    check_dtype(shape_info, (np.int32,), "output_shape")
    if shape_info.shape != (5,):
        raise PrepareError(
            f"output_shape {shape_info.name!r} has shape {list(shape_info.shape)}; needs [5]"
        )
    win.require_rank(x, 5, "input", "[batch, depth, height, width, channels]")
    win.require_rank(filt, 5, "filter", "[d, h, w, out, in]")
    opts = node.options
    if opts is None:
        raise PrepareError("CONV_3D_TRANSPOSE needs Conv3DOptions")
    win.check_strides(
        stride_d=opts.stride_d,
        stride_h=opts.stride_h,
        stride_w=opts.stride_w,
        dilation_d=opts.dilation_d_factor,
        dilation_h=opts.dilation_h_factor,
        dilation_w=opts.dilation_w_factor,
    )
    if x.shape[4] != filt.shape[4]:
        raise PrepareError(
            f"input {x.name!r} has {x.shape[4]} channels; filter {filt.name!r} expects "
            f"{filt.shape[4]}"
        )
    win.float_bias(node, BIAS, filt.shape[3], "CONV_3D_TRANSPOSE")
    return shape_info, filt, x, opts


def prepare(node: Node) -> Prepared:
    """Validate; the output shape is the value of the output_shape input."""
    shape_info, filt, x, opts = _check_operands(node)
    if shape_info.data is None:
        return Prepared(dynamic=True)  # the output size arrives with the first invoke
    out_shape = tuple(int(v) for v in shape_info.data)
    out_c = filt.shape[3]
    if out_shape[0] != x.shape[0] or out_shape[4] != out_c or min(out_shape) <= 0:
        raise PrepareError(
            f"output_shape {list(out_shape)} does not fit input batch {x.shape[0]} and "
            f"{out_c} output channels"
        )
    strides = (opts.stride_d, opts.stride_h, opts.stride_w)
    dilations = (opts.dilation_d_factor, opts.dilation_h_factor, opts.dilation_w_factor)
    pads = []
    for axis, name in enumerate(AXES):
        # The forward convolution of the output must give back the input's size.
        size, pad = win.output_and_padding(
            out_shape[1 + axis],
            filt.shape[axis],
            strides[axis],
            dilations[axis],
            opts.padding,
            name,
        )
        if size != x.shape[1 + axis]:
            raise PrepareError(
                f"output {name} {out_shape[1 + axis]} convolves back to {size}, not the input's "
                f"{x.shape[1 + axis]} (filter {filt.shape[axis]}, stride {strides[axis]}, "
                f"dilation {dilations[axis]})"
            )
        pads.append(pad)
    low, high, tanh = win.fused_activation(opts.fused_activation_function)
    _, depth, height, width, _ = x.shape
    data = OpData(
        stride=strides,
        dilation=dilations,
        pad=(pads[0], pads[1], pads[2]),
        low=low,
        high=high,
        tanh=tanh,
        weights=gemm_weights(filt.data) if filt.data is not None else None,
        cols=np.empty((depth * height * width, filt.shape[1] * filt.shape[2] * out_c), np.float32),
        num_threads=node.num_threads,
    )
    return Prepared([out_shape], data)


def invoke(data: OpData, inputs: list, outputs: list) -> None:
    """Reference: scatter each filter tap's product into a padded canvas, then crop."""
    filt, x, out = inputs[FILTER], inputs[INPUT], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS else None
    in_sizes, kernel, out_sizes = x.shape[1:4], filt.shape[:3], out.shape[1:4]
    # A canvas big enough for every tap of every input voxel, offset by the padding.
    canvas_sizes = [
        max(
            (in_sizes[a] - 1) * data.stride[a] + (kernel[a] - 1) * data.dilation[a] + 1,
            data.pad[a] + out_sizes[a],
        )
        for a in range(3)
    ]
    canvas = np.zeros((x.shape[0], *canvas_sizes, out.shape[4]), np.float32)
    use_blas_threads(data.num_threads)
    for td in range(kernel[0]):
        for ty in range(kernel[1]):
            for tx in range(kernel[2]):
                reach = _tap_slices((td, ty, tx), in_sizes, data)
                canvas[(slice(None), *reach, slice(None))] += x @ filt[td, ty, tx].T
    crop = tuple(slice(data.pad[a], data.pad[a] + out_sizes[a]) for a in range(3))
    acc = canvas[(slice(None), *crop, slice(None))]
    if bias is not None:
        acc = acc + bias.reshape(-1)
    win.apply_fused(acc, data.low, data.high, data.tanh)
    out[...] = acc


def _tap_slices(tap: tuple[int, int, int], in_sizes, data: OpData) -> tuple[slice, ...]:
    """The strided canvas positions one filter tap writes, per spatial axis."""
    return tuple(
        slice(
            tap[a] * data.dilation[a],
            tap[a] * data.dilation[a] + (in_sizes[a] - 1) * data.stride[a] + 1,
            data.stride[a],
        )
        for a in range(3)
    )


def invoke_opt(data: OpData, inputs: list, outputs: list) -> None:
    """Optimized: per depth tap a GEMM into the scratch columns and a 2-D col2im
    scatter-add per input depth slice, then bias + clamp in one pass."""
    if data.dilation[1] > 1 or data.dilation[2] > 1:
        # col2im_add has no height/width dilation; the official optimized kernel also
        # falls back to its reference kernel for any dilation.
        return invoke(data, inputs, outputs)
    filt, x, out = inputs[FILTER], inputs[INPUT], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS and inputs[BIAS] is not None else None
    weights = data.weights if data.weights is not None else gemm_weights(filt)
    (sd, sh, sw), (pad_d, pad_t, pad_l) = data.stride, data.pad
    batches, depth, height, width, in_c = x.shape
    kd, kh, kw = filt.shape[:3]
    out_depth, slice_rows = out.shape[1], height * width
    out[...] = 0
    for b in range(batches):
        voxels = x[b].reshape(depth * slice_rows, in_c)
        for td in range(kd):
            gemm(voxels, weights[td], data.cols, num_threads=data.num_threads)
            for d in range(depth):
                od = d * sd - pad_d + td * data.dilation[0]
                if 0 <= od < out_depth:
                    rows = data.cols[d * slice_rows : (d + 1) * slice_rows]
                    col2im_add(rows, out[b, od], height, width, kh, kw, sh, sw, pad_t, pad_l)
    out2d = out.reshape(-1, out.shape[4])
    bias_act(
        out2d, NO_BIAS if bias is None else bias.reshape(-1), data.low, data.high, data.num_threads
    )
    if data.tanh:
        np.tanh(out, out=out)


KERNELS = {
    BuiltinOperator.CONV_3D_TRANSPOSE: KernelSpec(
        prepare=prepare,
        invoke=invoke,
        versions=(1, 1),
        invoke_opt=invoke_opt if col2im_add is not None else None,
    ),
}
