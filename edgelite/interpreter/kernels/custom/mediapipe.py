"""MediaPipe's custom ops (mediapipe/util/tflite/operations), float32 NHWC.

Their options are not flexbuffers: ``custom_options`` holds the raw bytes of TFLite's C
structs (little-endian int32 fields), which MediaPipe's kernels reinterpret directly:

* Convolution2DTransposeBias: TfLiteTransposeConvParams (padding, stride_w, stride_h).
  Inputs x [N, H, W, in], weights [out, kh, kw, in], bias [out]. A transposed convolution
  with bias; output H' = stride * (H - 1) + kh - pad, pad = max(0, kh - (H - 1) % stride - 1)
  for SAME (0 otherwise), the first pad // 2 rows cropped at the top (same for W).
* MaxPoolingWithArgmax2D: TfLitePoolParams (padding, stride_w, stride_h, filter_w,
  filter_h, activation, ...). Outputs the max pool and, as float32, the position of each
  maximum inside its window, ``fy * filter_w + fx + 0.1`` (the first maximum wins).
* MaxUnpooling2D: the same struct. Inputs x and those indices; output [N, H * filter_h,
  W * filter_w, C], zero except where each value is put back at its window position.

TfLitePadding: 1 = SAME, 2 = VALID. TfLiteFusedActivation: 1 = RELU, 2 = RELU_N1_TO_1,
3 = RELU6; any other value clamps nothing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .._blas import use_blas_threads
from ..base import KernelSpec, Node, Prepared, PrepareError

SAME, VALID = 1, 2
_LOWEST = np.float32(np.finfo(np.float32).min)
_RANGES = {1: (0.0, np.inf), 2: (-1.0, 1.0), 3: (0.0, 6.0)}


@dataclass(frozen=True)
class Window:
    """Strides, filter and the top/left padding of a pooling or transposed-conv window."""

    stride: tuple[int, int]  # h, w
    filter: tuple[int, int]  # h, w
    pad: tuple[int, int]  # top, left
    activation: int = 0
    num_threads: int = 1


def _ints(node: Node, count: int, what: str) -> tuple[int, ...]:
    blob = bytes(node.custom_options or b"")
    if len(blob) < 4 * count:
        raise PrepareError(
            f"{node.op} custom_options hold {len(blob)} bytes; a {what} needs {4 * count}"
        )
    return struct.unpack_from(f"<{count}i", blob)


def _float_nhwc(node: Node, pos: int, what: str):
    info = node.input(pos)
    if info.dtype != np.float32:
        raise PrepareError(f"{node.op} {what} {info.name!r} is {info.dtype.name}; only float32")
    if len(info.shape) != 4:
        raise PrepareError(f"{node.op} {what} {info.name!r} must be 4-D NHWC")
    return info


def _pool_padding(stride: int, size_in: int, size_out: int, filt: int) -> int:
    # TFLite's ComputePadding with dilation 1: half the total padding, never negative.
    return max(((size_out - 1) * stride + filt - size_in) // 2, 0)


# -- Convolution2DTransposeBias -----------------------------------------------------------


def _prepare_transpose_conv(node: Node) -> Prepared:
    if len(node.inputs) != 3 or len(node.outputs) != 1:
        raise PrepareError("Convolution2DTransposeBias expects 3 inputs and 1 output")
    padding, stride_w, stride_h = _ints(node, 3, "TfLiteTransposeConvParams")
    x = _float_nhwc(node, 0, "input")
    w = _float_nhwc(node, 1, "weights")
    bias = node.input(2)
    if bias.dtype != np.float32 or bias.shape != (w.shape[0],):
        raise PrepareError(f"bias {bias.name!r} must be float32 [{w.shape[0]}]")
    if w.shape[3] != x.shape[3]:
        raise PrepareError(f"weights {list(w.shape)} do not match {x.shape[3]} input channels")
    if stride_w < 1 or stride_h < 1:
        raise PrepareError(f"strides must be >= 1, got {stride_h}x{stride_w}")
    sizes, pads = [], []
    for size, filt, stride in (
        (x.shape[1], w.shape[1], stride_h),
        (x.shape[2], w.shape[2], stride_w),
    ):
        total = max(0, filt - (size - 1) % stride - 1) if padding == SAME else 0
        sizes.append(stride * (size - 1) + filt - total)
        pads.append(total // 2)
    window = Window(
        (stride_h, stride_w), (w.shape[1], w.shape[2]), (pads[0], pads[1]), 0, node.num_threads
    )
    return Prepared([(x.shape[0], sizes[0], sizes[1], w.shape[0])], window)


def _tap_range(n_in: int, stride: int, offset: int, n_out: int) -> tuple[slice, slice] | None:
    """Inputs i with 0 <= i * stride + offset < n_out and their outputs, as slices."""
    first = max(0, -(offset // stride))
    last = min(n_in - 1, (n_out - 1 - offset) // stride)
    if last < first:
        return None
    start = first * stride + offset
    return slice(first, last + 1), slice(start, last * stride + offset + 1, stride)


def invoke_transpose_conv(window: Window, inputs, outputs) -> None:
    """out = bias, then each filter tap's x @ w[:, ky, kx].T added at its output offset."""
    x, w, bias = inputs
    out = outputs[0]
    use_blas_threads(window.num_threads)
    out[...] = bias
    (sh, sw), (kh, kw), (pt, pl) = window.stride, window.filter, window.pad
    for ky in range(kh):
        rows = _tap_range(x.shape[1], sh, ky - pt, out.shape[1])
        for kx in range(kw):
            cols = _tap_range(x.shape[2], sw, kx - pl, out.shape[2])
            if rows is not None and cols is not None:
                out[:, rows[1], cols[1], :] += x[:, rows[0], cols[0], :] @ w[:, ky, kx, :].T


# -- MaxPoolingWithArgmax2D / MaxUnpooling2D ---------------------------------------------


def _pool_params(node: Node) -> tuple[int, int, int, int, int, int]:
    padding, sw, sh, fw, fh, act = _ints(node, 6, "TfLitePoolParams")
    if padding not in (SAME, VALID):
        raise PrepareError(f"{node.op} padding {padding} is neither SAME (1) nor VALID (2)")
    if min(sw, sh, fw, fh) < 1:
        raise PrepareError(f"{node.op} strides and filter sizes must be >= 1")
    return padding, sw, sh, fw, fh, act


def _prepare_pool_argmax(node: Node) -> Prepared:
    if len(node.inputs) != 1 or len(node.outputs) != 2:
        raise PrepareError("MaxPoolingWithArgmax2D expects 1 input and 2 outputs")
    padding, sw, sh, fw, fh, act = _pool_params(node)
    x = _float_nhwc(node, 0, "input")
    n, h, w, c = x.shape
    if padding == SAME:
        oh, ow = (h + sh - 1) // sh, (w + sw - 1) // sw
    else:
        oh, ow = (h - fh + sh) // sh, (w - fw + sw) // sw
    pads = (_pool_padding(sh, h, oh, fh), _pool_padding(sw, w, ow, fw))
    window = Window((sh, sw), (fh, fw), pads, act)
    return Prepared([(n, oh, ow, c), (n, oh, ow, c)], window)


def invoke_pool_argmax(window: Window, inputs, outputs) -> None:
    """Walk the window taps in row-major order; a strictly greater value takes over."""
    x = inputs[0]
    out, indices = outputs
    (sh, sw), (fh, fw), (pt, pl) = window.stride, window.filter, window.pad
    oh, ow = out.shape[1:3]
    best = np.full(out.shape, _LOWEST, np.float32)
    where = np.zeros(out.shape, np.int64)
    rows, cols = np.arange(oh) * sh - pt, np.arange(ow) * sw - pl
    for fy in range(fh):
        iy = rows + fy
        ok_y = (iy >= 0) & (iy < x.shape[1])
        for fx in range(fw):
            ix = cols + fx
            ok_x = (ix >= 0) & (ix < x.shape[2])
            tap = x[:, np.clip(iy, 0, x.shape[1] - 1)][:, :, np.clip(ix, 0, x.shape[2] - 1)]
            inside = (ok_y[:, None] & ok_x[None, :])[None, :, :, None]
            better = inside & (tap > best)
            best = np.where(better, tap, best)
            where = np.where(better, fy * fw + fx, where)
    low, high = _RANGES.get(window.activation, (-np.inf, np.inf))
    np.clip(best, np.float32(low), np.float32(high), out=out)
    indices[...] = where.astype(np.float32) + np.float32(0.1)


def _prepare_unpool(node: Node) -> Prepared:
    if len(node.inputs) != 2 or len(node.outputs) != 1:
        raise PrepareError("MaxUnpooling2D expects 2 inputs and 1 output")
    _, sw, sh, fw, fh, _ = _pool_params(node)
    x = _float_nhwc(node, 0, "input")
    idx = _float_nhwc(node, 1, "indices")
    if idx.shape != x.shape:
        raise PrepareError(f"indices {list(idx.shape)} must match input {list(x.shape)}")
    n, h, w, c = x.shape
    oh, ow = h * fh, w * fw
    pads = (_pool_padding(sh, oh, h, fh), _pool_padding(sw, ow, w, fw))
    return Prepared([(n, oh, ow, c)], Window((sh, sw), (fh, fw), pads))


def invoke_unpool(window: Window, inputs, outputs) -> None:
    """Scatter each value to its window position; a later input overwrites an earlier one."""
    x, indices = inputs
    out = outputs[0]
    out.fill(0)
    (sh, sw), (_, fw), (pt, pl) = window.stride, window.filter, window.pad
    n, h, w, c = x.shape
    finite = np.isfinite(indices)
    idx = np.trunc(np.where(finite, indices, 0)).astype(np.int64)  # C++ float -> int
    dx = np.fmod(idx, fw)  # C++ % and / truncate toward zero
    dy = (idx - dx) // fw
    oy = (np.arange(h) * sh - pt)[None, :, None, None] + dy
    ox = (np.arange(w) * sw - pl)[None, None, :, None] + dx
    valid = finite & (oy >= 0) & (oy < out.shape[1]) & (ox >= 0) & (ox < out.shape[2])
    b = np.arange(n)[:, None, None, None]
    ch = np.arange(c)[None, None, None, :]
    target = ((b * out.shape[1] + oy) * out.shape[2] + ox) * c + ch
    target, values = target[valid], x[valid]
    # The C++ loop visits inputs in flat order: keep the last write to each position.
    last, first_in_reversed = np.unique(target[::-1], return_index=True)
    out.reshape(-1)[last] = values[::-1][first_in_reversed]


CUSTOM_KERNELS = {
    "Convolution2DTransposeBias": KernelSpec(_prepare_transpose_conv, invoke_transpose_conv),
    "MaxPoolingWithArgmax2D": KernelSpec(_prepare_pool_argmax, invoke_pool_argmax),
    "MaxUnpooling2D": KernelSpec(_prepare_unpool, invoke_unpool),
}
