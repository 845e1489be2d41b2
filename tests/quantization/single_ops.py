"""Small float models, one op (or a short chain) each, for the quantizer's per-op tests.

Each builder returns ``(model_bytes, input_shapes)``; weights come from a fixed seed.
The chains exercise what single ops cannot: same-scale groups across ops, requantized
concat inputs, a float-only op between integer ones.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgelite.schema import ActivationFunctionType as Act
from edgelite.schema import BuiltinOperator as B
from edgelite.schema import Padding
from edgelite.schema import options as o
from edgelite.schema.builder import ModelBuilder

Case = Callable[[], tuple[bytes, list[tuple[int, ...]]]]


def _rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


def _w(*shape: int, seed: int = 1, scale: float = 0.3) -> np.ndarray:
    return (_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def _unary(code: B, options=None, shape=(1, 4, 4, 8)) -> Case:
    def build():
        mb = ModelBuilder()
        x = mb.input("x", shape)
        y = mb.tensor("y", shape)
        mb.op(code, [x], [y], options)
        mb.output(y)
        return mb.to_bytes(), [shape]

    return build


def _binary(code: B, options=None, const: bool = False, shape=(1, 4, 4, 8)) -> Case:
    def build():
        mb = ModelBuilder()
        a = mb.input("a", shape)
        b = mb.const("b", _w(*shape[-1:], seed=3, scale=1.0)) if const else mb.input("b", shape)
        y = mb.tensor("y", shape)
        mb.op(code, [a, b], [y], options)
        mb.output(y)
        return mb.to_bytes(), [shape] if const else [shape, shape]

    return build


def conv(act: Act = Act.RELU6, stride: int = 1) -> Case:
    def build():
        mb = ModelBuilder()
        x = mb.input("x", [1, 8, 8, 3])
        w, b = mb.const("w", _w(6, 3, 3, 3)), mb.const("b", _w(6, seed=2))
        out = 8 // stride
        y = mb.tensor("y", [1, out, out, 6])
        opts = o.Conv2DOptions(padding=Padding.SAME, stride_w=stride, stride_h=stride,
                               fused_activation_function=act)  # fmt: skip
        mb.op(B.CONV_2D, [x, w, b], [y], opts)
        mb.output(y)
        return mb.to_bytes(), [(1, 8, 8, 3)]

    return build


def depthwise() -> tuple[bytes, list]:
    mb = ModelBuilder()
    x = mb.input("x", [1, 6, 6, 4])
    w, b = mb.const("w", _w(1, 3, 3, 8)), mb.const("b", _w(8, seed=2))
    y = mb.tensor("y", [1, 6, 6, 8])
    opts = o.DepthwiseConv2DOptions(
        padding=Padding.SAME, stride_w=1, stride_h=1, depth_multiplier=2
    )
    mb.op(B.DEPTHWISE_CONV_2D, [x, w, b], [y], opts)
    mb.output(y)
    return mb.to_bytes(), [(1, 6, 6, 4)]


def fully_connected(bias: bool = True, keep_dims: bool = False) -> Case:
    def build():
        mb = ModelBuilder()
        shape = [1, 3, 16] if keep_dims else [2, 16]
        x = mb.input("x", shape)
        w = mb.const("w", _w(10, 16))
        b = mb.const("b", _w(10, seed=2)) if bias else -1
        y = mb.tensor("y", [*shape[:-1], 10])
        opts = o.FullyConnectedOptions(keep_num_dims=keep_dims, fused_activation_function=Act.RELU)
        mb.op(B.FULLY_CONNECTED, [x, w, b], [y], opts, version=5 if keep_dims else 1)
        mb.output(y)
        return mb.to_bytes(), [tuple(shape)]

    return build


def transpose_conv() -> tuple[bytes, list]:
    mb = ModelBuilder()
    x = mb.input("x", [1, 4, 4, 6])
    size = mb.const("size", np.array([1, 8, 8, 5], np.int32))
    w, b = mb.const("w", _w(5, 2, 2, 6)), mb.const("b", _w(5, seed=2))
    y = mb.tensor("y", [1, 8, 8, 5])
    opts = o.TransposeConvOptions(padding=Padding.VALID, stride_w=2, stride_h=2)
    mb.op(B.TRANSPOSE_CONV, [size, w, x, b], [y], opts, version=3)
    mb.output(y)
    return mb.to_bytes(), [(1, 4, 4, 6)]


def pool(code: B) -> Case:
    def build():
        mb = ModelBuilder()
        x = mb.input("x", [1, 8, 8, 4])
        y = mb.tensor("y", [1, 4, 4, 4])
        opts = o.Pool2DOptions(padding=Padding.VALID, stride_w=2, stride_h=2, filter_width=2,
                               filter_height=2)  # fmt: skip
        mb.op(code, [x], [y], opts)
        mb.output(y)
        return mb.to_bytes(), [(1, 8, 8, 4)]

    return build


def mean() -> tuple[bytes, list]:
    mb = ModelBuilder()
    x = mb.input("x", [1, 4, 4, 8])
    axes = mb.const("axes", np.array([1, 2], np.int32))
    y = mb.tensor("y", [1, 8])
    mb.op(B.MEAN, [x, axes], [y], o.ReducerOptions(keep_dims=False))
    mb.output(y)
    return mb.to_bytes(), [(1, 4, 4, 8)]


def batch_matmul() -> tuple[bytes, list]:
    mb = ModelBuilder()
    a, b = mb.input("a", [2, 3, 8]), mb.input("b", [2, 8, 5])
    y = mb.tensor("y", [2, 3, 5])
    mb.op(B.BATCH_MATMUL, [a, b], [y], o.BatchMatMulOptions())
    mb.output(y)
    return mb.to_bytes(), [(2, 3, 8), (2, 8, 5)]


def gather_embedding() -> tuple[bytes, list]:
    """A constant float table looked up by int32 ids (the model input is not float)."""
    mb = ModelBuilder()
    ids = mb.input("ids", [1, 5], np.int32)
    table = mb.const("table", _w(40, 32, scale=1.0))
    y = mb.tensor("y", [1, 5, 32])
    mb.op(B.GATHER, [table, ids], [y], o.GatherOptions(axis=0))
    z = mb.tensor("z", [1, 5, 32])
    mb.op(B.TANH, [y], [z])
    mb.output(z)
    return mb.to_bytes(), [(1, 5)]


def resize(code: B) -> Case:
    def build():
        mb = ModelBuilder()
        x = mb.input("x", [1, 4, 4, 3])
        size = mb.const("size", np.array([8, 8], np.int32))
        y = mb.tensor("y", [1, 8, 8, 3])
        opts = (o.ResizeBilinearOptions(half_pixel_centers=True) if code == B.RESIZE_BILINEAR
                else o.ResizeNearestNeighborOptions())  # fmt: skip
        mb.op(code, [x, size], [y], opts)
        mb.output(y)
        return mb.to_bytes(), [(1, 4, 4, 3)]

    return build


def reshape_transpose_pad() -> tuple[bytes, list]:
    """Same-scale chain: PAD -> RESHAPE -> TRANSPOSE -> SQUEEZE -> STRIDED_SLICE."""
    mb = ModelBuilder()
    x = mb.input("x", [1, 4, 6])
    pads = mb.const("pads", np.array([[0, 0], [1, 1], [0, 2]], np.int32))
    p = mb.tensor("p", [1, 6, 8])
    mb.op(B.PAD, [x, pads], [p])
    r = mb.tensor("r", [1, 1, 6, 8])
    mb.op(B.RESHAPE, [p, mb.const("shape", np.array([1, 1, 6, 8], np.int32))], [r])
    t = mb.tensor("t", [1, 1, 8, 6])
    mb.op(B.TRANSPOSE, [r, mb.const("perm", np.array([0, 1, 3, 2], np.int32))], [t])
    s = mb.tensor("s", [8, 6])
    mb.op(B.SQUEEZE, [t], [s], o.SqueezeOptions(squeeze_dims=[0, 1]))
    y = mb.tensor("y", [4, 6])
    begin, end = (
        mb.const("begin", np.array([1, 0], np.int32)),
        mb.const("end", np.array([8, 6], np.int32)),
    )
    mb.op(B.STRIDED_SLICE, [s, begin, end, mb.const("strides", np.array([2, 1], np.int32))], [y],
          o.StridedSliceOptions())  # fmt: skip
    mb.output(y)
    return mb.to_bytes(), [(1, 4, 6)]


def concat_softmax() -> tuple[bytes, list]:
    """CONCATENATION of a LOGISTIC output (pinned 1/256) and a free tensor: a requantize."""
    mb = ModelBuilder()
    x = mb.input("x", [1, 6])
    s = mb.tensor("s", [1, 6])
    mb.op(B.LOGISTIC, [x], [s])
    m = mb.tensor("m", [1, 6])
    mb.op(B.MUL, [x, mb.const("k", np.float32(3.0))], [m], o.MulOptions())
    y = mb.tensor("y", [1, 12])
    mb.op(B.CONCATENATION, [s, m], [y], o.ConcatenationOptions(axis=1))
    mb.output(y)
    return mb.to_bytes(), [(1, 6)]


def split_float_island() -> tuple[bytes, list]:
    """SPLIT, a float-only op (SIN) on one half, ADD back: DEQUANTIZE/QUANTIZE around SIN."""
    mb = ModelBuilder()
    x = mb.input("x", [1, 8])
    a, b = mb.tensor("a", [1, 4]), mb.tensor("b", [1, 4])
    mb.op(B.SPLIT, [mb.const("axis", np.int32(1)), x], [a, b], o.SplitOptions(num_splits=2))
    s = mb.tensor("s", [1, 4])
    mb.op(B.SIN, [a], [s])
    y = mb.tensor("y", [1, 4])
    mb.op(B.ADD, [s, b], [y], o.AddOptions())
    mb.output(y)
    return mb.to_bytes(), [(1, 8)]


def argmax() -> tuple[bytes, list]:
    mb = ModelBuilder()
    x = mb.input("x", [2, 10])
    y = mb.tensor("y", [2], np.int32)
    mb.op(B.ARG_MAX, [x, mb.const("axis", np.int32(1))], [y], o.ArgMaxOptions(output_type=2))
    mb.output(y)
    return mb.to_bytes(), [(2, 10)]


CASES: dict[str, Case] = {
    "conv_relu6": conv(),
    "conv_stride2_none": conv(Act.NONE, 2),
    "depthwise": depthwise,
    "fc": fully_connected(),
    "fc_no_bias": fully_connected(bias=False),
    "fc_keep_dims": fully_connected(keep_dims=True),
    "transpose_conv": transpose_conv,
    "add": _binary(B.ADD, o.AddOptions(fused_activation_function=Act.RELU)),
    "sub": _binary(B.SUB, o.SubOptions()),
    "mul_const": _binary(B.MUL, o.MulOptions(), const=True),
    "squared_difference": _binary(B.SQUARED_DIFFERENCE),
    "maximum": _binary(B.MAXIMUM),
    "average_pool": pool(B.AVERAGE_POOL_2D),
    "max_pool": pool(B.MAX_POOL_2D),
    "mean": mean,
    "softmax": _unary(B.SOFTMAX, o.SoftmaxOptions(beta=1.0), shape=(2, 10)),
    "logistic": _unary(B.LOGISTIC),
    "tanh": _unary(B.TANH),
    "log_softmax": _unary(B.LOG_SOFTMAX, shape=(2, 10)),
    "l2_normalization": _unary(B.L2_NORMALIZATION, o.L2NormOptions()),
    "relu": _unary(B.RELU),
    "relu6": _unary(B.RELU6),
    "leaky_relu": _unary(B.LEAKY_RELU, o.LeakyReluOptions(alpha=0.2)),
    "hard_swish": _unary(B.HARD_SWISH),
    "gelu": _unary(B.GELU, o.GeluOptions()),
    "batch_matmul": batch_matmul,
    "gather_embedding": gather_embedding,
    "resize_bilinear": resize(B.RESIZE_BILINEAR),
    "resize_nearest": resize(B.RESIZE_NEAREST_NEIGHBOR),
    "same_scale_chain": reshape_transpose_pad,
    "concat_requantize": concat_softmax,
    "float_island": split_float_island,
    "arg_max": argmax,
}
