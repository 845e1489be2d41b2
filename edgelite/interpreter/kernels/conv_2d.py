"""CONV_2D: float32 here; int8 / uint8 / int16 in _conv_2d_quant, hybrid in _conv_hybrid
(schema versions 1-8).

Inputs: input [N, H, W, C], filter [out, kh, kw, C / groups], bias [out] (optional
here; the official runtime insists on it), output [N, oh, ow, out]. Padding SAME or
VALID, strides, dilations, fused NONE/RELU/RELU_N1_TO_1/RELU6/TANH, and grouped
convolution when C is a multiple of the filter's input channels (version 6+).

Optimized path: a 1x1 / stride 1 convolution is one GEMM on a reshaped view of the
input; anything else is im2col into a scratch buffer allocated at prepare, a chunk of
output rows at a time (about 1 MiB of patches, so they stay in cache), then a GEMM.
The GEMMs (``_blas.gemm``) start from the bias and clamp each block while it is in
cache, with rows split across ``num_threads``. The filter is the GEMM's transposed
operand as it is stored ([out, kh*kw*C/groups] per group): no copy at prepare, so
constant filters stay zero-copy views of the model file.

Deviations: a fused TANH is applied (the official float kernel ignores it).
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from . import _window as win
from ._blas import gemm
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError

try:
    from ._conv import im2col
except ImportError:  # extensions not built: the reference kernel still runs
    im2col = None

INPUT, FILTER, BIAS = 0, 1, 2

NO_BIAS = np.empty(0, np.float32)

# im2col chunk size: about the L2 cache, never less than one output row.
IM2COL_CHUNK_BYTES = 1 << 20


class OpData(OpRecord):
    """Prepared float CONV_2D (read-only after prepare)."""

    __slots__ = (
        "stride",
        "dilation",
        "pad",
        "kernel",
        "window",
        "groups",
        "low",
        "high",
        "tanh",
        "pointwise",
        "weights",
        "chunk_rows",
        "scratch",
        "group_out",
        "num_threads",
    )
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int]  # leading (top, left) padding; the odd extra goes at the end
    kernel: tuple[int, int]
    window: tuple[int, ...]  # (kh, kw, sh, sw, dh, dw, pad_t, pad_l) for _conv.im2col
    groups: int
    low: float
    high: float
    tanh: bool
    pointwise: bool  # 1x1, stride 1: a plain GEMM, no im2col
    weights: np.ndarray | None  # constant filter viewed as [groups, out/groups, kh*kw*Cg]
    chunk_rows: int  # output rows per im2col chunk
    scratch: np.ndarray | None  # im2col buffer [chunk_rows*ow, kh*kw*Cg]
    group_out: np.ndarray | None  # [chunk_rows*ow, out/groups] staging for grouped conv
    num_threads: int


def gemm_weights(filt: np.ndarray, groups: int) -> np.ndarray:
    """[out, kh, kw, Cg] filter -> [groups, out/groups, kh*kw*Cg] for x @ w^T (a view)."""
    # Copies only a filter BLAS cannot take as it is (not contiguous or misaligned).
    filt = np.require(filt, np.float32, ["C", "A"])
    return filt.reshape(groups, filt.shape[0] // groups, -1)


def prepare(node: Node) -> Prepared:
    """Validate, compute the output shape and padding, view constant weights for the GEMM."""
    x, filt, quantized, hybrid = win.conv_inputs(node, "CONV_2D", "[out, h, w, in]")
    opts = node.options
    batches, height, width, channels = x.shape
    out_c, kh, kw, group_in = filt.shape
    if group_in <= 0 or channels % group_in or out_c % (channels // group_in):
        raise PrepareError(
            f"input has {channels} channels and filter {filt.name!r} {group_in}; channels must "
            f"be a multiple of the filter's, and {out_c} outputs a multiple of the groups"
        )
    groups = channels // group_in
    if not quantized:
        win.float_bias(node, BIAS, out_c, "CONV_2D")
    oh, pad_t = win.output_and_padding(
        height, kh, opts.stride_h, opts.dilation_h_factor, opts.padding, "height"
    )
    ow, pad_l = win.output_and_padding(
        width, kw, opts.stride_w, opts.dilation_w_factor, opts.padding, "width"
    )
    window = (kh, kw, opts.stride_h, opts.stride_w, opts.dilation_h_factor,
              opts.dilation_w_factor, pad_t, pad_l)  # fmt: skip
    # The quantized and hybrid modules are imported only by the models that need them.
    if quantized:
        from . import _conv_2d_quant

        return _conv_2d_quant.prepare(node, groups, window, (batches, oh, ow, out_c))
    if hybrid:
        from . import _conv_hybrid

        return _conv_hybrid.prepare_conv(node, groups, window, (batches, oh, ow, out_c))
    low, high, tanh = win.fused_activation(opts.fused_activation_function)
    pointwise = kh == kw == 1 and opts.stride_h == opts.stride_w == 1 and groups == 1
    k = kh * kw * group_in
    chunk_rows = max(1, min(oh, IM2COL_CHUNK_BYTES // max(1, ow * k * 4)))
    scratch = None if pointwise else np.empty((chunk_rows * ow, k), np.float32)
    group_out = np.empty((chunk_rows * ow, out_c // groups), np.float32) if groups > 1 else None
    data = OpData(
        stride=(opts.stride_h, opts.stride_w),
        dilation=(opts.dilation_h_factor, opts.dilation_w_factor),
        pad=(pad_t, pad_l),
        kernel=(kh, kw),
        window=window,
        groups=groups,
        low=low,
        high=high,
        tanh=tanh,
        pointwise=pointwise,
        weights=gemm_weights(filt.data, groups) if filt.data is not None else None,
        chunk_rows=chunk_rows,
        scratch=scratch,
        group_out=group_out,
        num_threads=node.num_threads,
    )
    return Prepared([(batches, oh, ow, out_c)], data)


def invoke(data: OpData, inputs: list, outputs: list) -> None:
    """Reference: zero-pad, then one matrix product per filter tap and group."""
    if type(data) is not OpData:  # quantized or hybrid: prepared by their own module
        return data.invoke(inputs, outputs)  # type: ignore[attr-defined]
    x, filt, out = inputs[INPUT], inputs[FILTER], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS else None
    (sh, sw), (dh, dw), (kh, kw) = data.stride, data.dilation, data.kernel
    _, oh, ow, out_c = out.shape
    pad_t, pad_l = data.pad
    # Pad enough on every side for the furthest tap of the last output.
    pad_b = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - x.shape[1] - pad_t)
    pad_r = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - x.shape[2] - pad_l)
    xp = np.pad(x, ((0, 0), (pad_t, pad_b), (pad_l, pad_r), (0, 0)))
    group_in, group_out = filt.shape[3], out_c // data.groups
    acc = np.zeros(out.shape, np.float32)
    for ky in range(kh):
        for kx in range(kw):
            rows = slice(ky * dh, ky * dh + (oh - 1) * sh + 1, sh)
            cols = slice(kx * dw, kx * dw + (ow - 1) * sw + 1, sw)
            window = xp[:, rows, cols, :]
            for g in range(data.groups):
                ins = window[..., g * group_in : (g + 1) * group_in]
                taps = filt[g * group_out : (g + 1) * group_out, ky, kx, :]
                acc[..., g * group_out : (g + 1) * group_out] += ins @ taps.T
    if bias is not None:
        acc += bias.reshape(-1)
    win.apply_fused(acc, data.low, data.high, data.tanh)
    out[...] = acc


def invoke_opt(data: OpData, inputs: list, outputs: list) -> None:
    """Optimized: GEMM (1x1) or chunked im2col + GEMM, fused bias/activation epilogue."""
    if type(data) is not OpData:
        return data.invoke_opt(inputs, outputs)  # type: ignore[attr-defined]
    x, out = inputs[INPUT], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS and inputs[BIAS] is not None else NO_BIAS
    bias = bias.reshape(-1)
    weights = data.weights
    if weights is None:  # a runtime filter: view it the same way on every invoke
        weights = gemm_weights(inputs[FILTER], data.groups)
    if data.pointwise:
        _gemm(data, x.reshape(-1, x.shape[3]), weights[0], out.reshape(-1, out.shape[3]), bias)
    else:
        for b in range(x.shape[0]):
            _im2col_gemm(data, x[b], weights, bias, out[b])
    if data.tanh:
        np.tanh(out, out=out)


def _im2col_gemm(
    data: OpData, image: np.ndarray, weights: np.ndarray, bias: np.ndarray, out: np.ndarray
) -> None:
    """One image, a chunk of output rows at a time: im2col, then a GEMM per group."""
    assert data.scratch is not None  # prepared for every non-pointwise convolution
    oh, ow, out_c = out.shape
    group_in, group_out = weights.shape[2] // (data.kernel[0] * data.kernel[1]), weights.shape[1]
    out_rows = out.reshape(oh * ow, out_c)
    for oy0 in range(0, oh, data.chunk_rows):
        oy1 = min(oh, oy0 + data.chunk_rows)
        rows = slice(oy0 * ow, oy1 * ow)
        cols = data.scratch[: (oy1 - oy0) * ow]
        for g in range(data.groups):
            im2col(image, cols, oy0, oy1, ow, data.window, g * group_in, group_in, data.num_threads)
            if data.groups == 1:
                _gemm(data, cols, weights[0], out_rows[rows], bias)
            else:
                assert data.group_out is not None
                staged = data.group_out[: (oy1 - oy0) * ow]
                group = slice(g * group_out, (g + 1) * group_out)
                _gemm(data, cols, weights[g], staged, bias[group] if bias.size else None)
                out_rows[rows, group] = staged


def _gemm(data: OpData, a: np.ndarray, b: np.ndarray, out: np.ndarray, bias) -> None:
    gemm(
        a,
        b,
        out,
        bias=bias,
        low=data.low,
        high=data.high,
        b_transposed=True,
        num_threads=data.num_threads,
    )


KERNELS = {
    BuiltinOperator.CONV_2D: KernelSpec(
        prepare=prepare,
        invoke=invoke,
        versions=(1, 8),
        invoke_opt=invoke_opt if im2col is not None else None,
    ),
}
