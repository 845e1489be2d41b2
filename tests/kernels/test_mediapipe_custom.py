"""MediaPipe custom ops: Convolution2DTransposeBias, MaxPoolingWithArgmax2D, MaxUnpooling2D.

The official runtime does not have them, so each is checked two ways: against the official
runtime running the builtin op with the same arithmetic (TRANSPOSE_CONV with bias,
MAX_POOL_2D), and against a plain loop written from MediaPipe's kernels (the window
indices and the unpooling have no builtin counterpart).
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator, Padding, TensorType
from edgelite.schema.generated.options import Pool2DOptions, TransposeConvOptions
from tests.kernel_runner import run_kernels
from tests.oracle import assert_matches, run_litert

SAME, VALID = 1, 2  # TfLitePadding


def transpose_conv_size(size: int, filt: int, stride: int, padding: int) -> tuple[int, int]:
    total = max(0, filt - (size - 1) % stride - 1) if padding == SAME else 0
    return stride * (size - 1) + filt - total, total // 2


def transpose_conv_models(x_shape, w, bias, stride, padding) -> tuple[bytes, bytes, tuple]:
    """The custom op and the equivalent builtin TRANSPOSE_CONV (with bias) model."""
    (oh, _), (ow, _) = (
        transpose_conv_size(x_shape[1], w.shape[1], stride[0], padding),
        transpose_conv_size(x_shape[2], w.shape[2], stride[1], padding),
    )
    out_shape = (x_shape[0], oh, ow, w.shape[0])
    custom = ModelBuilder()
    x = custom.input("x", x_shape)
    ins = [x, custom.const("w", w), custom.const("b", bias)]
    y = custom.tensor("y", out_shape)
    blob = struct.pack("<3i", padding, stride[1], stride[0])
    custom.op("Convolution2DTransposeBias", ins, [y], custom_options=blob)
    custom.output(y)
    builtin = ModelBuilder()
    x = builtin.input("x", x_shape)
    shape = builtin.const("shape", np.array(out_shape, np.int32))
    ins = [shape, builtin.const("w", w), x, builtin.const("b", bias)]
    y = builtin.tensor("y", out_shape)
    opts = TransposeConvOptions(
        padding=Padding.SAME if padding == SAME else Padding.VALID,
        stride_h=stride[0],
        stride_w=stride[1],
    )
    builtin.op(BuiltinOperator.TRANSPOSE_CONV, ins, [y], opts, version=3)
    builtin.output(y)
    return custom.to_bytes(), builtin.to_bytes(), out_shape


def transpose_conv_loop(x, w, bias, stride, pad, out_shape) -> np.ndarray:
    """MediaPipe's TransposeConvBias loop, transcribed (float64 accumulation)."""
    out = np.broadcast_to(bias.astype(np.float64), out_shape).copy()
    for b in range(x.shape[0]):
        for iy in range(x.shape[1]):
            for ix in range(x.shape[2]):
                for ky in range(w.shape[1]):
                    for kx in range(w.shape[2]):
                        oy, ox = iy * stride[0] - pad[0] + ky, ix * stride[1] - pad[1] + kx
                        if 0 <= oy < out_shape[1] and 0 <= ox < out_shape[2]:
                            out[b, oy, ox] += w[:, ky, kx, :] @ x[b, iy, ix].astype(np.float64)
    return out.astype(np.float32)


TRANSPOSE_CASES = [
    # x shape, (out, kh, kw), stride, padding
    ((1, 4, 4, 3), (2, 2, 2), (2, 2), SAME),  # selfie segmentation's upsampler
    ((1, 5, 4, 3), (4, 3, 3), (2, 2), SAME),
    ((2, 3, 5, 2), (3, 3, 2), (1, 2), VALID),
    ((1, 4, 3, 4), (2, 4, 4), (3, 2), SAME),
    ((1, 3, 3, 2), (2, 1, 1), (1, 1), VALID),
    ((1, 2, 6, 3), (1, 5, 3), (2, 3), SAME),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_transpose_conv_bias(case):
    x_shape, (out_c, kh, kw), stride, padding = case
    rng = np.random.default_rng(4)
    w = rng.standard_normal((out_c, kh, kw, x_shape[3])).astype(np.float32)
    bias = rng.standard_normal(out_c).astype(np.float32)
    x = rng.standard_normal(x_shape).astype(np.float32)
    custom, builtin, out_shape = transpose_conv_models(x_shape, w, bias, stride, padding)
    (ours,) = run_kernels(custom, [x])
    assert_matches(ours, run_litert(builtin, [x])[0], "vs TRANSPOSE_CONV + bias")
    pad = (
        transpose_conv_size(x_shape[1], kh, stride[0], padding)[1],
        transpose_conv_size(x_shape[2], kw, stride[1], padding)[1],
    )
    assert_matches(ours, transpose_conv_loop(x, w, bias, stride, pad, out_shape), "vs loop")


def pool_blob(padding, stride, filt, act=0) -> bytes:
    # TfLitePoolParams: padding, stride_w, stride_h, filter_w, filter_h, activation,
    # computed.padding {width, height, width_offset, height_offset}.
    return struct.pack("<10i", padding, stride[1], stride[0], filt[1], filt[0], act, 0, 0, 0, 0)


def pool_argmax_loop(x, stride, filt, pad, out_hw, act_range):
    """MediaPipe's MaxPoolArgmax loop, transcribed."""
    n, h, w, c = x.shape
    out = np.zeros((n, *out_hw, c), np.float32)
    idx = np.zeros_like(out)
    for b, oy, ox, ch in np.ndindex(out.shape):
        y0, x0 = oy * stride[0] - pad[0], ox * stride[1] - pad[1]
        best, best_y, best_x = np.finfo(np.float32).min, 0, 0
        for fy in range(max(0, -y0), min(filt[0], h - y0)):
            for fx in range(max(0, -x0), min(filt[1], w - x0)):
                if x[b, y0 + fy, x0 + fx, ch] > best:
                    best, best_y, best_x = x[b, y0 + fy, x0 + fx, ch], fy, fx
        out[b, oy, ox, ch] = min(max(best, act_range[0]), act_range[1])
        idx[b, oy, ox, ch] = np.float32(best_y * filt[1] + best_x) + np.float32(0.1)
    return out, idx


def pool_geometry(h, w, stride, filt, padding):
    if padding == SAME:
        oh, ow = -(-h // stride[0]), -(-w // stride[1])
    else:
        oh, ow = (h - filt[0] + stride[0]) // stride[0], (w - filt[1] + stride[1]) // stride[1]
    pad = (
        max(((oh - 1) * stride[0] + filt[0] - h) // 2, 0),
        max(((ow - 1) * stride[1] + filt[1] - w) // 2, 0),
    )
    return (oh, ow), pad


POOL_CASES = [
    # x shape, stride, filter, padding, activation
    ((1, 6, 6, 2), (2, 2), (2, 2), SAME, Act.NONE),
    ((2, 5, 7, 3), (2, 2), (3, 3), SAME, Act.RELU),
    ((1, 7, 5, 1), (2, 1), (3, 2), VALID, Act.RELU6),
    ((1, 4, 4, 2), (1, 1), (2, 2), SAME, Act.RELU_N1_TO_1),
    ((1, 5, 5, 2), (3, 3), (2, 2), SAME, Act.NONE),
]


def pool_models(x_shape, stride, filt, padding, act):
    (oh, ow), _ = pool_geometry(x_shape[1], x_shape[2], stride, filt, padding)
    out_shape = (x_shape[0], oh, ow, x_shape[3])
    custom = ModelBuilder()
    x = custom.input("x", x_shape)
    outs = [custom.tensor("y", out_shape), custom.tensor("argmax", out_shape)]
    custom.op(
        "MaxPoolingWithArgmax2D",
        [x],
        outs,
        custom_options=pool_blob(padding, stride, filt, int(act)),
    )
    custom.output(*outs)
    builtin = ModelBuilder()
    x = builtin.input("x", x_shape)
    y = builtin.tensor("y", out_shape)
    opts = Pool2DOptions(
        padding=Padding.SAME if padding == SAME else Padding.VALID,
        stride_h=stride[0],
        stride_w=stride[1],
        filter_height=filt[0],
        filter_width=filt[1],
        fused_activation_function=act,
    )
    builtin.op(BuiltinOperator.MAX_POOL_2D, [x], [y], opts)
    builtin.output(y)
    return custom.to_bytes(), builtin.to_bytes()


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_with_argmax(case):
    x_shape, stride, filt, padding, act = case
    rng = np.random.default_rng(6)
    x = rng.standard_normal(x_shape).astype(np.float32)
    x[0, 0, :2, 0] = x[0, 0, 2, 0]  # ties: the first maximum must win
    custom, builtin = pool_models(x_shape, stride, filt, padding, act)
    pooled, indices = run_kernels(custom, [x])
    assert_matches(pooled, run_litert(builtin, [x])[0], "vs MAX_POOL_2D")
    out_hw, pad = pool_geometry(x_shape[1], x_shape[2], stride, filt, padding)
    act_range = {Act.RELU: (0, np.inf), Act.RELU6: (0, 6), Act.RELU_N1_TO_1: (-1, 1)}.get(
        act, (-np.inf, np.inf)
    )
    want_pooled, want_indices = pool_argmax_loop(x, stride, filt, pad, out_hw, act_range)
    assert_matches(pooled, want_pooled, "vs loop")
    assert_matches(indices, want_indices, "argmax indices")


def unpool_loop(x, indices, stride, filt, pad, out_shape):
    """MediaPipe's MaxUnpooling loop, transcribed (C++ truncating int conversion and %)."""
    out = np.zeros(out_shape, np.float32)
    for b, iy, ix, ch in np.ndindex(x.shape):
        idx = int(indices[b, iy, ix, ch])  # truncates toward zero, like the C++ cast
        dx = int(np.fmod(idx, filt[1]))
        dy = (idx - dx) // filt[1]
        oy, ox = iy * stride[0] - pad[0] + dy, ix * stride[1] - pad[1] + dx
        if 0 <= oy < out_shape[1] and 0 <= ox < out_shape[2]:
            out[b, oy, ox, ch] = x[b, iy, ix, ch]
    return out


UNPOOL_CASES = [
    ((1, 3, 3, 2), (2, 2), (2, 2)),
    ((2, 2, 4, 3), (2, 2), (3, 3)),  # overlapping windows: later inputs overwrite
    ((1, 4, 3, 1), (1, 2), (2, 2)),
]


@pytest.mark.parametrize("case", UNPOOL_CASES)
def test_max_unpooling(case):
    x_shape, stride, filt = case
    rng = np.random.default_rng(9)
    x = rng.standard_normal(x_shape).astype(np.float32)
    window = filt[0] * filt[1]
    indices = rng.integers(0, window, x_shape).astype(np.float32) + np.float32(0.1)
    indices[0, 0, 0, 0] = -1.7  # out of range (truncates to -1): dropped or placed as C++ does
    indices[0, -1, -1, -1] = window + 3.2
    out_shape = (x_shape[0], x_shape[1] * filt[0], x_shape[2] * filt[1], x_shape[3])
    mb = ModelBuilder()
    ins = [mb.input("x", x_shape), mb.input("indices", x_shape)]
    y = mb.tensor("y", out_shape)
    mb.op("MaxUnpooling2D", ins, [y], custom_options=pool_blob(SAME, stride, filt))
    mb.output(y)
    (ours,) = run_kernels(mb.to_bytes(), [x, indices])
    pad = (
        max(((x_shape[1] - 1) * stride[0] + filt[0] - out_shape[1]) // 2, 0),
        max(((x_shape[2] - 1) * stride[1] + filt[1] - out_shape[2]) // 2, 0),
    )
    assert_matches(ours, unpool_loop(x, indices, stride, filt, pad, out_shape), "vs loop")


def test_pool_then_unpool_restores_maxima():
    x_shape, stride, filt = (1, 4, 6, 2), (2, 2), (2, 2)
    x = np.random.default_rng(2).standard_normal(x_shape).astype(np.float32)
    custom, _ = pool_models(x_shape, stride, filt, SAME, Act.NONE)
    pooled, indices = run_kernels(custom, [x])
    mb = ModelBuilder()
    ins = [mb.input("x", pooled.shape), mb.input("indices", pooled.shape)]
    y = mb.tensor("y", x_shape)
    mb.op("MaxUnpooling2D", ins, [y], custom_options=pool_blob(SAME, stride, filt))
    mb.output(y)
    (restored,) = run_kernels(mb.to_bytes(), [pooled, indices])
    window_max = x.reshape(1, 2, 2, 3, 2, 2).max(axis=(2, 4)).repeat(2, 1).repeat(2, 2)
    np.testing.assert_array_equal(restored, np.where(x == window_max, x, 0))


def test_rejects_short_options():
    mb = ModelBuilder()
    x = mb.input("x", (1, 4, 4, 1))
    outs = [mb.tensor("y", (1, 2, 2, 1)), mb.tensor("i", (1, 2, 2, 1))]
    mb.op("MaxPoolingWithArgmax2D", [x], outs, custom_options=struct.pack("<3i", 1, 2, 2))
    mb.output(*outs)
    with pytest.raises(PrepareError, match="TfLitePoolParams"):
        run_kernels(mb.to_bytes(), [np.zeros((1, 4, 4, 1), np.float32)])


def test_rejects_quantized_transpose_conv():
    mb = ModelBuilder()
    x = mb.input("x", (1, 2, 2, 1), np.int8)
    ins = [x, mb.const("w", np.zeros((1, 2, 2, 1), np.int8)), mb.const("b", np.zeros(1, np.int32))]
    y = mb.tensor("y", (1, 4, 4, 1), np.int8)
    mb.op("Convolution2DTransposeBias", ins, [y], custom_options=struct.pack("<3i", 1, 2, 2))
    mb.output(y)
    with pytest.raises(PrepareError, match="only float32"):
        run_kernels(mb.to_bytes(), [np.zeros((1, 2, 2, 1), np.int8)])


def _expose_custom_outputs(blob: bytes) -> bytes:
    """The model with every custom op's output added to the model outputs."""
    from edgelite.schema import read_model, write_model

    model = read_model(blob)
    for op in model.main.operators:
        if model.operator_codes[op.opcode_index].custom_code:
            model.main.outputs.extend(i for i in op.outputs if i not in model.main.outputs)
    return write_model(model)


def _with_builtin_transpose_conv(blob: bytes) -> bytes:
    """The model with each Convolution2DTransposeBias replaced by TRANSPOSE_CONV + bias."""
    from edgelite.schema import read_model, write_model
    from edgelite.schema.model import Tensor

    model = read_model(blob)
    sg = model.main
    code = model.opcode_index(BuiltinOperator.TRANSPOSE_CONV, 3)
    for op in sg.operators:
        if model.operator_codes[op.opcode_index].custom_code != "Convolution2DTransposeBias":
            continue
        padding, stride_w, stride_h = struct.unpack_from("<3i", bytes(op.custom_options))
        out_shape = np.array(sg.tensors[op.outputs[0]].shape, np.int32)
        shape = sg.add_tensor(
            Tensor(
                name=f"{sg.tensors[op.outputs[0]].name}/shape",
                shape=[4],
                type=TensorType.INT32,
                buffer=model.add_buffer(out_shape),
            )
        )
        x, w, b = op.inputs
        op.opcode_index, op.inputs, op.custom_options = code, [shape, w, x, b], None
        op.builtin_options = TransposeConvOptions(
            padding=Padding.SAME if padding == SAME else Padding.VALID,
            stride_w=stride_w,
            stride_h=stride_h,
        )
    return write_model(model)


def test_selfie_segmentation_whole_model():
    """MediaPipe's real selfie segmenter through edgelite's Interpreter == the official
    runtime running the same model with its custom op swapped for the builtin. The custom
    op's output (the mask logits) is exposed too: on synthetic input the final mask is all
    but zero, the logits are not."""
    from edgelite.interpreter import Interpreter
    from tests.zoo.real_models import ensure_real_models

    (model,) = ensure_real_models(["selfie_segmentation"])
    blob = _expose_custom_outputs(model.path.read_bytes())
    x = np.random.default_rng(0).uniform(0, 1, (1, 256, 256, 3)).astype(np.float32)
    ys, xs = np.mgrid[0:256, 0:256] / 255.0
    x[0, :, :, 0] = (np.sin(6 * ys) * np.cos(4 * xs) + 1) / 2  # some structure to segment
    want = run_litert(_with_builtin_transpose_conv(blob), [x])
    interp = Interpreter(model_content=blob)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    got = [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
    assert len(got) == len(want) == 2
    assert float(np.ptp(want[1])) > 1.0, "the logits should vary over the image"
    for a, b, what in zip(got, want, ("mask", "logits")):
        assert_matches(a, b, f"selfie segmentation {what}")
