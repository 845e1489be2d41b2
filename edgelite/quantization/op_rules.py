"""Per-op quantization rules for full-integer (int8, int16x8) models.

The one table that says, for every op the quantizer can make integer: which input is
the weight (and its per-channel axis), which the bias, how the output's parameters are
chosen (measured, fixed by the kernel, or the same as the inputs'), whether the
16x8 kernels exist, and the op version that encodes int8 / int16 (the official
``tools/versioning/op_version.cc`` numbers; the float version is kept when higher).
Ops missing here stay float, with QUANTIZE/DEQUANTIZE around them.

Facts: TFLite int8 quantization spec (quantization_spec.md) and the kernels' Prepare
checks: LOGISTIC/SOFTMAX output (1/256, -128), TANH and L2_NORMALIZATION (1/128, 0),
LOG_SOFTMAX (16/256, 127); the int16 versions of SOFTMAX/LOGISTIC/TANH output
(1/32768, 0). 16x8 coverage was measured on ai-edge-litert 2.3.0 (a single-op int16
model run without delegates): GELU has an int16 kernel (a 513-entry table);
SQUARED_DIFFERENCE, HARD_SWISH, LOG_SOFTMAX and L2_NORMALIZATION reject int16 at any
version, so they stay float in int16x8 models.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..schema.generated.enums import BuiltinOperator as B

FREE = "free"  # output parameters from its measured range
SAME = "same"  # every float input and output share one set of parameters
FIXED = "fixed"  # output parameters fixed by the kernel


@dataclass(frozen=True)
class OpRule:
    output: str = FREE
    weight: int | None = None  # input index of the weight
    axis: int | None = None  # its per-channel axis (None: per tensor only)
    bias: int | None = None  # input index of the bias
    int8_version: int = 1
    int16_version: int | None = None  # None: no 16x8 kernel
    fixed_int8: tuple[float, int] | None = None
    fixed_int16: tuple[float, int] | None = None


_SIGMOID_8 = (1.0 / 256, -128)
_TANH_8 = (1.0 / 128, 0)
_UNIT_16 = (1.0 / 32768, 0)


def _same(v8: int, v16: int | None = None) -> OpRule:
    return OpRule(output=SAME, int8_version=v8, int16_version=v16)


def _fixed(int8: tuple[float, int], int16: tuple[float, int] | None) -> OpRule:
    """int8 version 2; the int16 kernels (version 3) exist where ``int16`` is given."""
    v16 = None if int16 is None else 3
    return OpRule(FIXED, int8_version=2, int16_version=v16, fixed_int8=int8, fixed_int16=int16)


def _free(v8: int, v16: int | None = None) -> OpRule:
    return OpRule(output=FREE, int8_version=v8, int16_version=v16)


RULES: dict[int, OpRule] = {
    # Weighted ops: int8 symmetric weights, int32 (int8) / int64 (int16x8) bias.
    B.CONV_2D: OpRule(weight=1, axis=0, bias=2, int8_version=3, int16_version=8),
    B.DEPTHWISE_CONV_2D: OpRule(weight=1, axis=3, bias=2, int8_version=3, int16_version=3),
    B.FULLY_CONNECTED: OpRule(weight=1, axis=0, bias=2, int8_version=4, int16_version=11),
    B.TRANSPOSE_CONV: OpRule(weight=1, axis=0, bias=3, int8_version=2, int16_version=5),
    # Fixed output parameters.
    B.LOGISTIC: _fixed(_SIGMOID_8, _UNIT_16),
    B.SOFTMAX: _fixed(_SIGMOID_8, _UNIT_16),
    B.TANH: _fixed(_TANH_8, _UNIT_16),
    B.LOG_SOFTMAX: _fixed((16.0 / 256, 127), None),
    B.L2_NORMALIZATION: _fixed(_TANH_8, None),
    # Same parameters in and out: pure data movement, selection, max/min.
    B.AVERAGE_POOL_2D: _same(2, 3),
    B.MAX_POOL_2D: _same(2, 3),
    B.CONCATENATION: _same(2, 3),
    B.RESHAPE: _same(1, 1),
    B.SQUEEZE: _same(1, 1),
    B.EXPAND_DIMS: _same(1, 1),
    B.TRANSPOSE: _same(2, 5),
    B.SLICE: _same(2, 4),
    B.STRIDED_SLICE: _same(2, 2),
    B.PAD: _same(2, 3),
    B.PADV2: _same(2, 3),
    B.MIRROR_PAD: _same(2, 3),
    B.GATHER: _same(2, 4),
    B.SPACE_TO_DEPTH: _same(2),
    B.DEPTH_TO_SPACE: _same(2),
    B.SPACE_TO_BATCH_ND: _same(2, 4),
    B.BATCH_TO_SPACE_ND: _same(2, 4),
    B.SPLIT: _same(2, 4),
    B.SPLIT_V: _same(2, 2),
    B.UNPACK: _same(2, 4),
    B.PACK: _same(2, 3),
    B.TILE: _same(3),
    B.BROADCAST_TO: _same(3, 3),
    B.RESIZE_BILINEAR: _same(2, 4),
    B.RESIZE_NEAREST_NEIGHBOR: _same(2, 4),
    B.MAXIMUM: _same(2, 4),
    B.MINIMUM: _same(2, 4),
    B.REDUCE_MAX: _same(2, 3),
    B.REDUCE_MIN: _same(2, 3),
    B.REVERSE_V2: _same(3),
    # Output parameters from the measured range (the kernels rescale).
    B.ADD: _free(2, 3),
    B.SUB: _free(2, 5),
    B.MUL: _free(2, 4),
    B.MEAN: _free(2, 3),
    B.SUM: _free(2),
    B.BATCH_MATMUL: _free(2, 3),
    B.RELU: _free(2, 3),
    B.RELU6: _free(2, 3),
    B.RELU_N1_TO_1: _free(1),
    B.LEAKY_RELU: _free(1, 2),
    B.PRELU: _free(1),
    B.HARD_SWISH: _free(1),
    B.ELU: _free(1),
    B.GELU: _free(2, 1),  # int16 keeps version 1 (op_version.cc: only 8-bit is 2)
    B.RSQRT: _free(2, 3),
    B.SQUARED_DIFFERENCE: _free(2),
    B.EXP: _free(2),
    B.LOG: _free(2),
    B.ABS: _free(2, 3),
    # Integer or boolean results from int8 inputs.
    B.ARG_MAX: _free(2),
    B.ARG_MIN: _free(2),
    B.LESS: _free(2, 3),
    B.LESS_EQUAL: _free(2),
    B.GREATER: _free(2),
    B.GREATER_EQUAL: _free(2, 3),
    B.EQUAL: _free(2, 4),
    B.NOT_EQUAL: _free(2),
}

# 16x8 options that the official converter sets (bias type, general int16 rescale).
INT64_BIAS_OPS = (B.CONV_2D, B.FULLY_CONNECTED, B.TRANSPOSE_CONV)
GENERAL_INT16_SCALE_OPS = (B.ADD, B.SUB)

QUANTIZE_VERSION = {"int8": 1, "uint8": 1, "int16": 2}
DEQUANTIZE_VERSION = {"int8": 2, "uint8": 1, "int16": 3, "float16": 3}


def rule_for(code: int) -> OpRule | None:
    """The op's full-integer rule, or None when it has to stay float."""
    return RULES.get(code)


def fixed_params(rule: OpRule, int16: bool) -> tuple[float, int] | None:
    return rule.fixed_int16 if int16 else rule.fixed_int8


def quantized_version(rule: OpRule, int16: bool, float_version: int) -> int:
    """The op version for its integer form: the dtype's version or the float one if higher."""
    wanted = rule.int16_version if int16 else rule.int8_version
    return max(int(wanted or 1), int(float_version))
