"""Small hand-built models covering most schema features (no TensorFlow needed)."""

from __future__ import annotations

import numpy as np

from edgelite.schema import Metadata
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated import options as opt
from edgelite.schema.generated.enums import ActivationFunctionType, BuiltinOperator, Padding


def conv_model() -> ModelBuilder:
    """CONV_2D + RESHAPE + FULLY_CONNECTED + SOFTMAX with a signature and metadata."""
    rng = np.random.default_rng(7)
    mb = ModelBuilder()
    x = mb.input("image", [1, 8, 8, 3], np.float32, shape_signature=[-1, 8, 8, 3])
    w = mb.const("conv/weights", (0.3 * rng.standard_normal((4, 3, 3, 3))).astype(np.float32))
    b = mb.const("conv/bias", rng.standard_normal(4).astype(np.float32))
    c = mb.tensor("conv", [1, 4, 4, 4], np.float32)
    mb.op(
        BuiltinOperator.CONV_2D,
        [x, w, b],
        [c],
        opt.Conv2DOptions(
            padding=Padding.SAME,
            stride_w=2,
            stride_h=2,
            fused_activation_function=ActivationFunctionType.RELU6,
        ),
    )
    shape = mb.const("flat/shape", np.array([1, 64], np.int32))
    f = mb.tensor("flat", [1, 64], np.float32)
    mb.op(BuiltinOperator.RESHAPE, [c, shape], [f], opt.ReshapeOptions(new_shape=[1, 64]))
    fw = mb.const("fc/weights", (0.1 * rng.standard_normal((10, 64))).astype(np.float32))
    logits = mb.tensor("logits", [1, 10], np.float32)
    mb.op(BuiltinOperator.FULLY_CONNECTED, [f, fw, -1], [logits], opt.FullyConnectedOptions())
    probs = mb.tensor("probs", [1, 10], np.float32)
    mb.op(BuiltinOperator.SOFTMAX, [logits], [probs], opt.SoftmaxOptions(beta=1.0))
    mb.output(probs)
    mb.signature("serving_default", {"image": x}, {"probs": probs})
    version = np.frombuffer(b"1.14.0".ljust(16, b"\0"), np.uint8)
    mb.model.metadata.append(Metadata("min_runtime_version", mb.model.add_buffer(version)))
    return mb


def quantized_model() -> ModelBuilder:
    """int8 per-channel DEPTHWISE_CONV_2D between QUANTIZE and DEQUANTIZE."""
    rng = np.random.default_rng(3)
    mb = ModelBuilder()
    x = mb.input("x", [1, 6, 6, 4], np.float32)
    q = mb.tensor("x_q", [1, 6, 6, 4], np.int8, quant(0.05, -3))
    mb.op(BuiltinOperator.QUANTIZE, [x], [q])
    w = mb.const(
        "dw/weights",
        rng.integers(-127, 128, (1, 3, 3, 4)).astype(np.int8),
        quantization=quant([0.01, 0.02, 0.03, 0.04], 0, axis=3),
    )
    b = mb.const(
        "dw/bias",
        rng.integers(-500, 500, 4).astype(np.int32),
        quantization=quant([0.0005, 0.001, 0.0015, 0.002], 0),
    )
    y = mb.tensor("dw", [1, 6, 6, 4], np.int8, quant(0.1, 5))
    mb.op(
        BuiltinOperator.DEPTHWISE_CONV_2D,
        [q, w, b],
        [y],
        opt.DepthwiseConv2DOptions(
            padding=Padding.SAME, stride_w=1, stride_h=1, depth_multiplier=1
        ),
        version=3,
    )
    out = mb.tensor("out", [1, 6, 6, 4], np.float32)
    mb.op(BuiltinOperator.DEQUANTIZE, [y], [out], version=2)
    mb.output(out)
    return mb
