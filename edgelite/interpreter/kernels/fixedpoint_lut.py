"""The lookup tables TFLite's quantized activations build in Prepare, bit-exact (numpy).

Which arithmetic each op uses in ai-edge-litert 2.3.0 (LiteRT activations.cc;
"BUILTIN" = the default kernels = BUILTIN_WITHOUT_DEFAULT_DELEGATES, "REF" =
BUILTIN_REF). A kernel that wants the oracle's integers must follow the BUILTIN
column, even where REF differs. Rows marked * are reproduced exactly by small
kernels in tests/kernels/test_fixedpoint_oracle.py:

==================== ========================================== ==========================
op, type             BUILTIN                                    REF (if different)
==================== ========================================== ==========================
LOGISTIC int8 *      ``lut_populate_int8(logistic_float32)``
TANH int8 *          ``lut_populate_int8(tanh_float32)``
ELU int8 *           ``lut_populate_int8(elu_float32)``         (no REF kernel)
SOFTMAX int8 *       float: ``softmax_exp_table``, a float32    fixed point *:
                     sum in index order, then                   ``preprocess_softmax_
                     ``quantize_softmax_output`` (clang         scaling``, ``exp_on_
                     aarch64 builds use a uint16 LUT instead)   negative_values``,
                                                                ``get_reciprocal``
SOFTMAX int16 *      ``softmax_int16_luts`` + ``lut_lookup_int16``
LOG_SOFTMAX int8     float, from ``softmax_exp_table(scale,     fixed point *: ``log_x_
                     1.0)`` (optimized_ops::LogSoftmax)         for_x_greater_than...``
LOGISTIC/TANH int16  scale 2^-12 (TANH also 2^-11) *: gemmlowp  TFLite's 256-entry
                     ``logistic/tanh(x, 3, bits=16)``; other    ``sigmoid_table_uint16``
                     scales: the sigmoid-table kernel (REF)     (not provided here)
HARD_SWISH int8 *    fixed point: ``fixedpoint``'s int16 helpers
L2_NORMALIZATION *   ``get_inv_sqrt_quantized_multiplier_exp`` + MultiplyByQuantizedMultiplier
==================== ========================================== ==========================

The tables are computed with the C types of the runtime: the ``*_float32``
transforms round every operation to float32 (libm's expf/tanhf are emulated by
correctly rounded float64 results), the int16 softmax tables use double math.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any, Callable

import numpy as np

from .fixedpoint import round_half_away_from_zero, wrap

Transform = Callable[[np.ndarray], np.ndarray]


# -- transforms in the runtime's float32 arithmetic ----------------------------------


def _f32(values: Any) -> np.ndarray:
    # Overflow to +-inf is what expf does too.
    with np.errstate(over="ignore"):
        return np.asarray(values, dtype=np.float64).astype(np.float32)


def logistic_float32(x: np.ndarray) -> np.ndarray:
    """1.0f / (1.0f + expf(-x)) in float32, as LOGISTIC's LUT lambda."""
    x = np.asarray(x, dtype=np.float32)
    with np.errstate(over="ignore"):
        denominator = np.float32(1.0) + _f32(np.exp(-x.astype(np.float64)))
    return np.float32(1.0) / denominator


def tanh_float32(x: np.ndarray) -> np.ndarray:
    """tanhf(x), as TANH's LUT lambda."""
    return _f32(np.tanh(np.asarray(x, dtype=np.float32).astype(np.float64)))


def elu_float32(x: np.ndarray) -> np.ndarray:
    """x < 0 ? expm1f(x) : x, as ELU's LUT lambda."""
    x = np.asarray(x, dtype=np.float32)
    return np.where(x < 0, _f32(np.expm1(x.astype(np.float64))), x)


# -- 8-bit tables ---------------------------------------------------------------------


def lut_populate_int8(
    transform: Transform,
    input_scale: float,
    input_zero_point: int,
    output_scale: float,
    output_zero_point: int,
    dtype: Any = np.int8,
) -> np.ndarray:
    """TFLite LUTPopulate<int8_t/uint8_t>: a 256-entry table of quantize(transform(dequantize)).

    Indexed by the input's bit pattern as uint8 (TFLite's order: 0..127, -128..-1 for
    int8), so ``lut_lookup_int8`` is a plain gather. ``transform`` maps a float32
    array to float32 like the C lambda.
    """
    dtype = np.dtype(dtype)
    info = np.iinfo(dtype)
    values = np.arange(info.min, info.max + 1, dtype=np.int64)
    dequantized = np.float32(input_scale) * (values - int(input_zero_point)).astype(np.float32)
    transformed = np.asarray(transform(dequantized), dtype=np.float32)
    inverse_scale = np.float32(1.0) / np.float32(output_scale)
    rescaled = round_half_away_from_zero(transformed * inverse_scale)
    with np.errstate(invalid="ignore"):
        quantized = (rescaled + np.float32(output_zero_point)).astype(np.int64)
    table = np.empty(256, dtype=dtype)
    table[values.astype(dtype).view(np.uint8)] = np.clip(quantized, info.min, info.max)
    return table


def lut_lookup_int8(x: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """TFLite LUTLookup for int8/uint8: ``lut[uint8(x)]`` (any shape)."""
    x = np.asarray(x)
    return lut[x.view(np.uint8)]


# -- 16-bit tables (513 entries, linear interpolation) ---------------------------------


def lut_populate_int16(
    transform: Transform,
    input_scale: float,
    input_zero_point: int,
    output_scale: float,
    output_zero_point: int,
    float_type: Any = np.float32,
) -> np.ndarray:
    """TFLite LUTPopulate<int16_t>: 512 samples of transform over the input range plus an end.

    Each sample is biased by half the interpolation error at the step midpoint, as
    LUTPopulateInt16 does. ``float_type`` is the C FloatT (float32, or float64 for
    the deprecated double overload that int16 SOFTMAX uses); ``transform`` maps an
    array of that type to that type.
    """
    ft = np.dtype(float_type).type
    input_min = ft(input_scale) * ft(-32768 - int(input_zero_point))
    input_max = ft(input_scale) * ft(32767 - int(input_zero_point))
    output_min = ft(output_scale) * ft(-32768 - int(output_zero_point))
    output_max = ft(output_scale) * ft(32767 - int(output_zero_point))
    steps = 512
    step = (input_max - input_min) / ft(steps)
    half_step = step / ft(2)
    scaling_inv = ft(65536) / (output_max - output_min)
    index = np.arange(steps).astype(ft)
    start = input_min + index * step
    val = np.asarray(transform(start), dtype=ft)
    val_midpoint = np.asarray(transform(start + half_step), dtype=ft)
    val_next = np.asarray(transform(input_min + (index + ft(1)) * step), dtype=ft)
    sample = round_half_away_from_zero(val * scaling_inv)
    midpoint_interp = round_half_away_from_zero((val_next * scaling_inv + sample) / ft(2))
    midpoint = round_half_away_from_zero(val_midpoint * scaling_inv)
    bias = round_half_away_from_zero((midpoint_interp - midpoint) / ft(2))
    table = np.empty(steps + 1, dtype=np.int16)
    table[:steps] = np.clip(sample - bias, -32768, 32767)
    end = round_half_away_from_zero(
        np.asarray(transform(np.array([input_max])), dtype=ft) * scaling_inv
    )
    table[steps] = np.clip(end, -32768, 32767)[0]
    return table


def lut_lookup_int16(x: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """TFLite LUTLookup for int16: the top 9 bits pick a segment, the low 7 interpolate."""
    x = np.asarray(x, dtype=np.int64)
    index = 256 + (x >> 7)
    offset = x & 0x7F
    base = lut[index].astype(np.int64)
    slope = wrap(lut[index + 1].astype(np.int64) - base, 16)  # an int16 in C
    return (base + ((slope * offset + 64) >> 7)).astype(np.int16)


@cache
def softmax_int16_luts() -> tuple[np.ndarray, np.ndarray]:
    """The two fixed tables of int16 SOFTMAX: exp on [-10, 0] and 1/(1+x) on [0, 1].

    Both map symmetric int16 to Q0.15 (LUTPopulate<int16_t> in double, input scale
    10/65535 resp. 1/65535, output scale 2/65535). Read-only arrays.
    """
    full_range = 65535.0

    def exp(values: np.ndarray) -> np.ndarray:
        # libm's exp, like std::exp(double) in the runtime.
        return np.array([math.exp(float(v)) for v in values], dtype=np.float64)

    def one_over_one_plus(values: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.asarray(values, dtype=np.float64))

    exp_lut = lut_populate_int16(exp, 10.0 / full_range, 32767, 2.0 / full_range, 0, np.float64)
    recip_lut = lut_populate_int16(
        one_over_one_plus, 1.0 / full_range, -32768, 2.0 / full_range, 0, np.float64
    )
    exp_lut.flags.writeable = False
    recip_lut.flags.writeable = False
    return exp_lut, recip_lut


# -- float softmax tables --------------------------------------------------------------


def softmax_exp_table(input_scale: float, beta: float) -> np.ndarray:
    """TFLite PopulateSoftmaxLookupTable: table[255 - d] = expf(-input_scale * beta * d).

    Entry ``255 - (max - x)`` is exp(beta * (x - max) * scale) for 8-bit inputs;
    int8 kernels index it as ``table[255 - max + x]``. float32, like the runtime.
    """
    scale = -np.float32(input_scale) * np.float32(beta)
    distances = np.arange(256, dtype=np.float32)
    table = np.empty(256, dtype=np.float32)
    table[255 - np.arange(256)] = _f32(np.exp((scale * distances).astype(np.float64)))
    return table


def quantize_softmax_output(prob_rescaled: np.ndarray, zero_point: int, dtype: Any) -> np.ndarray:
    """TFLite QuantizeSoftmaxOutput (x86): the int32 before clamping.

    int8/int16 outputs round half away from zero; uint8 adds 0.5f and truncates
    (on aarch64 uint8 rounds like the others).
    """
    prob = np.asarray(prob_rescaled, dtype=np.float32)
    if np.dtype(dtype) == np.uint8:
        return (prob + np.float32(0.5)).astype(np.int64) + int(zero_point)
    return round_half_away_from_zero(prob).astype(np.int64) + int(zero_point)
