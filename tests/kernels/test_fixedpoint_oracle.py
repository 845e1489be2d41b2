"""The fixed-point toolkit reproduces the official runtime's integers exactly.

Single-op int8/int16 models go through ai-edge-litert with BUILTIN_REF and
BUILTIN_WITHOUT_DEFAULT_DELEGATES; small kernels written here from the toolkit
must give exactly its outputs. These tests are the evidence behind the rounding
table of ``fixedpoint`` and the path table of ``fixedpoint_lut``: scales are
chosen so that the rounding modes disagree on many elements, and each test also
checks that the other modes would have failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from edgelite.interpreter.kernels import fixedpoint as fp
from edgelite.interpreter.kernels import fixedpoint_lut as fl
from edgelite.interpreter.kernels import fixedpoint_math as fm
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import Padding
from edgelite.schema.generated.options import (
    AddOptions,
    Conv2DOptions,
    DepthwiseConv2DOptions,
    FullyConnectedOptions,
    MulOptions,
    SoftmaxOptions,
    SubOptions,
)
from tests.oracle import assert_matches, run_litert

pytestmark = pytest.mark.oracle

RESOLVERS = {"REF": True, "BUILTIN": False}


@dataclass
class In:
    shape: tuple[int, ...]
    dtype: Any
    scale: Any
    zero_point: int = 0


@dataclass
class Const:
    value: np.ndarray
    scale: Any
    axis: int = 0


def _model(op, ins, out: In, options=None, version=1) -> bytes:
    mb = ModelBuilder()
    indices = []
    for i, spec in enumerate(ins):
        if isinstance(spec, Const):
            q = quant(spec.scale, 0, axis=spec.axis)
            indices.append(mb.const(f"c{i}", spec.value, quantization=q))
        else:
            q = quant(spec.scale, spec.zero_point)
            indices.append(mb.input(f"x{i}", spec.shape, spec.dtype, quantization=q))
    y = mb.tensor("y", out.shape, out.dtype, quantization=quant(out.scale, out.zero_point))
    mb.op(op, indices, [y], options, version=version)
    mb.output(y)
    return mb.to_bytes()


def _oracle(model: bytes, inputs, resolver: str) -> np.ndarray:
    return run_litert(model, inputs, reference_kernels=RESOLVERS[resolver])[0]


def _f64(value) -> np.ndarray:
    """float32 scales as the doubles the runtime computes with."""
    return np.asarray(value, dtype=np.float32).astype(np.float64)


def _requantize(acc, real, zero_point, mode, dtype=np.int8):
    """clamp(MultiplyByQuantizedMultiplier(acc, QuantizeMultiplier(real)) + zero_point)."""
    if mode == "real":
        scaled = fp.multiply_by_real_multiplier(acc, real).astype(np.int64)
    else:
        multipliers, shifts = fp.quantize_multiplier_array(np.ravel(real), mode)
        shape = np.shape(real)
        scaled = fp.multiply_by_quantized_multiplier(
            acc, multipliers.reshape(shape), shifts.reshape(shape), mode
        ).astype(np.int64)
    info = np.iinfo(dtype)
    return np.clip(scaled + zero_point, info.min, info.max).astype(dtype)


# -- MultiplyByQuantizedMultiplier in the official kernels ---------------------------------


def _all_int8_pairs() -> tuple[np.ndarray, np.ndarray]:
    grid = np.stack(np.meshgrid(np.arange(-128, 128), np.arange(-128, 128)), -1).reshape(-1, 2)
    return grid[:, 0].astype(np.int8), grid[:, 1].astype(np.int8)


def _mul_case():
    a, b = _all_int8_pairs()
    ins = [In(a.shape, np.int8, 1.0), In(a.shape, np.int8, 1.0)]
    model = _model(Op.MUL, ins, In(a.shape, np.int8, 256.0), MulOptions())
    return model, [a, b], a.astype(np.int64) * b, _f64(1.0) / 256.0, 0


def _conv_case(depthwise: bool):
    # 1x1 kernels, per-channel weight scales 2^-k: many exact ties in every channel.
    rng, channels = np.random.default_rng(1), 8
    x = rng.integers(-128, 128, (1, 16, 16, channels)).astype(np.int8)
    w_scales = np.float32(2.0) ** -np.arange(channels, dtype=np.float32)
    bias = Const(np.zeros(channels, np.int32), w_scales)
    if depthwise:
        w = rng.integers(-127, 128, (1, 1, 1, channels)).astype(np.int8)
        acc = (x.astype(np.int64) - 1) * w.reshape(channels)
        options = DepthwiseConv2DOptions(Padding.VALID, 1, 1, 1)
        op, weights = Op.DEPTHWISE_CONV_2D, Const(w, w_scales, axis=3)
    else:
        x //= 4
        w = rng.integers(-40, 41, (channels, 1, 1, channels)).astype(np.int8)
        acc = (x.astype(np.int64) - 1) @ w.reshape(channels, channels).T.astype(np.int64)
        options = Conv2DOptions(Padding.VALID, 1, 1)
        op, weights = Op.CONV_2D, Const(w, w_scales, axis=0)
    ins = [In(x.shape, np.int8, 1.0, 1), weights, bias]
    model = _model(op, ins, In(x.shape, np.int8, 64.0, -3), options, version=3)
    return model, [x], acc, _f64(w_scales) / 64.0, -3


def _fc_case():
    rng = np.random.default_rng(2)
    x = rng.integers(-8, 9, (64, 16)).astype(np.int8)
    w = rng.integers(-8, 9, (8, 16)).astype(np.int8)
    bias = rng.integers(-50, 50, 8).astype(np.int32)
    acc = (x.astype(np.int64) - 2) @ w.T.astype(np.int64) + bias
    ins = [In(x.shape, np.int8, 1.0, 2), Const(w, 0.5), Const(bias, 0.5)]
    output = In((64, 8), np.int8, 4.0, 5)
    model = _model(Op.FULLY_CONNECTED, ins, output, FullyConnectedOptions())
    return model, [x], acc, _f64(0.5) / 4.0, 5


def _quantize_case():
    x = np.arange(-128, 128, dtype=np.int8)
    model = _model(Op.QUANTIZE, [In((256,), np.int8, 0.5, 3)], In((256,), np.int8, 2.0, -1))
    return model, [x], x.astype(np.int64) - 3, _f64(0.5) / _f64(2.0), -1


CASES = {
    "MUL": (_mul_case, "double", "double"),
    "CONV_2D": (lambda: _conv_case(False), "double", "double_up"),
    "DEPTHWISE_CONV_2D": (lambda: _conv_case(True), "double", "double_up"),
    "FULLY_CONNECTED": (_fc_case, "real", "double_up"),
    "QUANTIZE": (_quantize_case, "double", "double_up"),
}


@pytest.mark.parametrize("op", CASES)
@pytest.mark.parametrize("resolver", RESOLVERS)
def test_multiplier_rounding_per_op(op, resolver):
    make, ref_mode, builtin_mode = CASES[op]
    model, inputs, acc, real, zero_point = make()
    expected_mode = ref_mode if resolver == "REF" else builtin_mode
    official = _oracle(model, inputs, resolver)
    ours = _requantize(acc, real, zero_point, expected_mode).reshape(official.shape)
    assert_matches(ours, official, f"{op} {resolver} with rounding={expected_mode}")
    # The scales make every other rounding mode wrong somewhere: the test tells them apart.
    for mode in fp.ROUNDING_MODES:
        if mode != expected_mode:
            other = _requantize(acc, real, zero_point, mode).reshape(official.shape)
            assert not np.array_equal(other, official), f"{op} {resolver} also fits {mode}"


def _add(a, b, scales, zero_points, input_mode, output_mode, subtract):
    s1, s2, so = _f64(scales)
    (z1, z2, zo), left_shift = zero_points, 20
    twice_max = 2 * max(s1, s2)
    m1, sh1 = fp.quantize_multiplier_smaller_than_one_exp(s1 / twice_max)
    m2, sh2 = fp.quantize_multiplier_smaller_than_one_exp(s2 / twice_max)
    mo, sho = fp.quantize_multiplier_smaller_than_one_exp(twice_max / ((1 << left_shift) * so))
    u = fp.multiply_by_quantized_multiplier((a - z1) << left_shift, m1, sh1, input_mode)
    v = fp.multiply_by_quantized_multiplier((b - z2) << left_shift, m2, sh2, input_mode)
    total = u.astype(np.int64) + (-v if subtract else v)
    out = fp.multiply_by_quantized_multiplier(total, mo, sho, output_mode).astype(np.int64)
    return np.clip(out + zo, -128, 127).astype(np.int8)


@pytest.mark.parametrize("resolver", RESOLVERS)
@pytest.mark.parametrize("op", [Op.ADD, Op.SUB])
def test_add_sub_int8_rounding(op, resolver):
    a, b = _all_int8_pairs()
    scales, zero_points = (0.037, 0.041, 0.3), (3, -2, 1)
    options = AddOptions() if op == Op.ADD else SubOptions()
    ins = [In(a.shape, np.int8, scales[0], 3), In(a.shape, np.int8, scales[1], -2)]
    model = _model(op, ins, In(a.shape, np.int8, scales[2], 1), options)
    official = _oracle(model, [a, b], resolver)
    # BUILTIN ADD rescales its inputs in tflite::avx2_utils (floor_up), SUB does not.
    input_mode = "floor_up" if (op == Op.ADD and resolver == "BUILTIN") else "double"
    wide_a, wide_b = a.astype(np.int64), b.astype(np.int64)
    ours = _add(wide_a, wide_b, scales, zero_points, input_mode, "double", op == Op.SUB)
    assert_matches(ours, official, f"{op.name} {resolver}")
    wrong_mode = "double" if input_mode == "floor_up" else "floor_up"
    other = _add(wide_a, wide_b, scales, zero_points, wrong_mode, "double", op == Op.SUB)
    assert not np.array_equal(other, official)


# -- lookup tables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "transform", "fixed_output", "resolvers"),
    [
        (Op.LOGISTIC, fl.logistic_float32, (1 / 256, -128), ("REF", "BUILTIN")),
        (Op.TANH, fl.tanh_float32, (1 / 128, 0), ("REF", "BUILTIN")),
        (Op.ELU, fl.elu_float32, None, ("BUILTIN",)),  # ELU has no reference kernel
    ],
)
def test_int8_lut_activations(op, transform, fixed_output, resolvers):
    rng = np.random.default_rng(int(op))
    x = np.arange(-128, 128, dtype=np.int8)
    for _ in range(12):
        s_in, z_in = float(np.float32(np.exp(rng.uniform(-6, 1)))), int(rng.integers(-128, 128))
        s_out, z_out = fixed_output or (float(np.float32(np.exp(rng.uniform(-5, 0)))), 7)
        model = _model(op, [In((256,), np.int8, s_in, z_in)], In((256,), np.int8, s_out, z_out))
        lut = fl.lut_populate_int8(transform, s_in, z_in, s_out, z_out)
        for resolver in resolvers:
            official = _oracle(model, [x], resolver)
            assert_matches(fl.lut_lookup_int8(x, lut), official, f"{op.name} {resolver} {s_in}")


# -- SOFTMAX, LOG_SOFTMAX -------------------------------------------------------------------


def _softmax_int8_fixed_point(x, scale, beta):
    """reference_ops::Softmax (BUILTIN_REF) for int8 in and out."""
    multiplier, left_shift = fm.preprocess_softmax_scaling(beta, scale, 5)
    diff_min = -fm.calculate_input_radius(5, left_shift)
    diff = x.astype(np.int64) - x.max(axis=-1, keepdims=True)
    valid = diff >= diff_min
    scaled = fp.multiply_by_quantized_multiplier_greater_than_one(
        np.where(valid, diff, 0), multiplier, left_shift
    )
    exps = fm.exp_on_negative_values(scaled, 5).astype(np.int64)
    total = np.where(valid, fm.rescale(exps, 0, 12), 0).sum(axis=-1, keepdims=True)
    mantissa, bits_over_unit = fm.get_reciprocal(total, 12)
    product = fm.fixed_mul(np.broadcast_to(mantissa, exps.shape), exps)
    unsaturated = fp.rounding_divide_by_pot(product, bits_over_unit + 31 - 8)
    out = np.clip(unsaturated.astype(np.int64) - 128, -128, 127)
    return np.where(valid, out, -128).astype(np.int8)


def _softmax_int8_float(x, scale, beta, out_scale, out_zero_point):
    """optimized_ops::Softmax (BUILTIN) for int8: the float table, a float32 running sum."""
    table = fl.softmax_exp_table(scale, beta)
    exps = table[255 - x.max(axis=-1, keepdims=True).astype(np.int64) + x]
    sums = np.cumsum(exps, axis=-1, dtype=np.float32)[..., -1:]  # sequential, like the C loop
    inverse = np.float32(1.0) / (sums * np.float32(out_scale))
    quantized = fl.quantize_softmax_output(exps * inverse, out_zero_point, np.int8)
    return np.clip(quantized, -128, 127).astype(np.int8)


@pytest.mark.parametrize("beta", [1.0, 0.37])
@pytest.mark.parametrize("scale", [0.02, 0.1, 0.75])
def test_softmax_int8(scale, beta):
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (16, 33)).astype(np.int8)
    output = In(x.shape, np.int8, 1 / 256, -128)
    model = _model(Op.SOFTMAX, [In(x.shape, np.int8, scale, 11)], output, SoftmaxOptions(beta=beta))
    scale32, beta32 = float(np.float32(scale)), float(np.float32(beta))
    fixed = _softmax_int8_fixed_point(x, scale32, beta32)
    assert_matches(fixed, _oracle(model, [x], "REF"), "SOFTMAX int8 REF")
    floating = _softmax_int8_float(x, scale32, beta32, 1 / 256, -128)
    assert_matches(floating, _oracle(model, [x], "BUILTIN"), "SOFTMAX int8 BUILTIN")


def _softmax_int16(x, scale, beta):
    """reference_ops::SoftmaxInt16 (both resolvers): two int16 LUTs."""
    exp_lut, reciprocal_lut = fl.softmax_int16_luts()
    # input scale * beta is a float product in C; the division is in double.
    real = float(np.float32(scale) * np.float32(beta)) / (10.0 / 65535.0)
    multiplier, shift = fp.quantize_multiplier(real)
    diff = x.astype(np.int64) - x.max(axis=-1, keepdims=True)
    scaled = fp.multiply_by_quantized_multiplier(diff, multiplier, shift).astype(np.int64)
    exps = fl.lut_lookup_int16(np.clip(scaled + 32767, -32768, 32767), exp_lut).astype(np.int64)
    total = exps.sum(axis=-1, keepdims=True)
    headroom = fm.count_leading_zeros32(total).astype(np.int64)
    shifted = ((total << (headroom - 1)) + (1 << 13)) >> 14
    centred = np.clip(shifted - ((1 << 15) + (1 << 16)), -32768, 32767)
    reciprocal = fl.lut_lookup_int16(centred, reciprocal_lut).astype(np.int64)
    right = 31 - headroom
    result = (exps * reciprocal + (np.int64(1) << (right - 1))) >> right
    return np.clip(result, 0, 32767).astype(np.int16)


@pytest.mark.parametrize("scale", [1e-4, 1.7e-3, 0.02])
def test_softmax_int16(scale):
    rng = np.random.default_rng(4)
    x = rng.integers(-32768, 32768, (8, 40)).astype(np.int16)
    x[0] = np.linspace(-32768, 32767, 40).astype(np.int16)
    model = _model(
        Op.SOFTMAX,
        [In(x.shape, np.int16, scale)],
        In(x.shape, np.int16, 1 / 32768),
        SoftmaxOptions(beta=1.0),
    )
    ours = _softmax_int16(x, scale, 1.0)
    for resolver in RESOLVERS:
        assert_matches(ours, _oracle(model, [x], resolver), f"SOFTMAX int16 {resolver}")


def _log_softmax_int8_fixed_point(x, scale):
    """reference_integer_ops::LogSoftmax (BUILTIN_REF) for int8."""
    multiplier, shift, divisor, reverse_shift = fm.preprocess_log_softmax_scaling_exp(1.0, scale, 5)
    diff_min = -fm.calculate_input_radius(5, shift)
    diff = x.astype(np.int64) - x.max(axis=-1, keepdims=True)
    in_q5 = fp.multiply_by_quantized_multiplier(diff, multiplier, shift).astype(np.int64)
    exps = fm.rescale(fm.exp_on_negative_values(in_q5, 5), 0, 12).astype(np.int64)
    total = np.where(diff >= diff_min, exps, 0).sum(axis=-1, keepdims=True)
    log_sum = fm.log_x_for_x_greater_than_or_equal_to_1(total, 12, 5).astype(np.int64)
    shifted_log_sum = fp.wrap(log_sum - 2**31)
    reversed_ = fp.multiply_by_quantized_multiplier(shifted_log_sum, divisor, reverse_shift)
    adjusted_min = np.maximum(diff_min - 1, reversed_.astype(np.int64))
    out = fp.rounding_divide_by_pot(fp.wrap(in_q5 - log_sum), 31 - 5 - 4).astype(np.int64) + 127
    return np.where(diff > adjusted_min, np.clip(out, -128, 127), -128).astype(np.int8)


@pytest.mark.parametrize("scale", [0.03, 0.2, 1.5])
def test_log_softmax_int8_reference(scale):
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (16, 29)).astype(np.int8)
    model = _model(
        Op.LOG_SOFTMAX, [In(x.shape, np.int8, scale, -7)], In(x.shape, np.int8, 16 / 256, 127)
    )
    ours = _log_softmax_int8_fixed_point(x, float(np.float32(scale)))
    assert_matches(ours, _oracle(model, [x], "REF"), "LOG_SOFTMAX int8 REF")


# -- int16 LOGISTIC / TANH, HARD_SWISH, L2_NORMALIZATION -------------------------------------


@pytest.mark.parametrize(
    ("op", "input_scale"), [(Op.LOGISTIC, 2**-12), (Op.TANH, 2**-12), (Op.TANH, 2**-11)]
)
def test_int16_logistic_tanh_power_of_two_scales(op, input_scale):
    x = np.arange(-32768, 32768, dtype=np.int16)
    model = _model(op, [In(x.shape, np.int16, input_scale)], In(x.shape, np.int16, 2**-15))
    raw = x.astype(np.int64)
    if input_scale == 2**-11:  # Q4.11 -> Q3.12 with a saturating shift first
        raw = fm.rescale(raw, 4, 3, bits=16)
    function = fm.logistic if op == Op.LOGISTIC else fm.tanh
    ours = function(raw, 3, bits=16)
    assert_matches(ours, _oracle(model, [x], "BUILTIN"), f"{op.name} int16")


def _hard_swish_int8(x, s_in, z_in, s_out, z_out):
    """reference_ops::HardSwish for int8, from the int16 fixed-point helpers."""
    hires_scale = np.float32(1 / 128) * np.float32(s_in)
    out_m32, out_exp = fp.quantize_multiplier(float(hires_scale / np.float32(s_out)))
    relu_m32, relu_exp = fp.quantize_multiplier(float(hires_scale / (np.float32(3) / 32768)))
    out_m16 = fp.downscale_int32_to_int16_multiplier(out_m32)
    relu_m16 = fp.downscale_int32_to_int16_multiplier(relu_m32)
    hires = (x.astype(np.int64) - z_in) * 128
    preshift = fp.saturating_rounding_doubling_high_mul(hires, out_m16, 16)
    reluish = hires
    if relu_exp > 0:
        reluish = fp.saturating_left_shift_int16(reluish, relu_exp - 1)
    reluish = fp.saturating_rounding_doubling_high_mul(reluish, relu_m16, 16)
    if relu_exp > 0:
        reluish = fp.saturating_left_shift_int16(reluish, 1)
    if relu_exp < 0:
        reluish = fp.rounding_divide_by_pot(reluish, -relu_exp, 16)
    reluish = (reluish.astype(np.int64) + (1 << 15)) >> 1
    out = fp.saturating_doubling_high_mul_int16(reluish, preshift)
    out = fp.rounding_divide_by_pot(out, -out_exp, 16).astype(np.int64) + z_out
    return np.clip(out, -128, 127).astype(np.int8)


HARD_SWISH_PARAMS = [(0.05, 3, 0.03, -20), (0.2, -60, 0.1, -110), (0.01, 0, 0.02, -128)]


@pytest.mark.parametrize(("s_in", "z_in", "s_out", "z_out"), HARD_SWISH_PARAMS)
def test_hard_swish_int8(s_in, z_in, s_out, z_out):
    x = np.arange(-128, 128, dtype=np.int8)
    model = _model(
        Op.HARD_SWISH, [In((256,), np.int8, s_in, z_in)], In((256,), np.int8, s_out, z_out)
    )
    ours = _hard_swish_int8(x, s_in, z_in, s_out, z_out)
    for resolver in RESOLVERS:
        assert_matches(ours, _oracle(model, [x], resolver), f"HARD_SWISH {resolver}")


def test_l2_normalization_int8():
    rng = np.random.default_rng(6)
    x = rng.integers(-128, 128, (64, 24)).astype(np.int8)
    x[0], x[1] = 5, np.arange(24) - 12  # a constant row and a tiny one
    model = _model(
        Op.L2_NORMALIZATION, [In(x.shape, np.int8, 0.1, 5)], In(x.shape, np.int8, 1 / 128)
    )
    diff = x.astype(np.int64) - 5
    multiplier, shift = fm.get_inv_sqrt_quantized_multiplier_exp((diff * diff).sum(axis=1), -1)
    scaled = fp.multiply_by_quantized_multiplier(diff, multiplier[:, None], shift[:, None] + 7)
    ours = np.clip(scaled, -128, 127).astype(np.int8)
    for resolver in RESOLVERS:
        assert_matches(ours, _oracle(model, [x], resolver), f"L2_NORMALIZATION {resolver}")
