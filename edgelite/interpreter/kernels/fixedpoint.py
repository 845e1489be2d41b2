"""Fixed-point multipliers and rounding of TFLite's integer kernels, bit-exact (numpy).

The toolkit for quantized kernels, in three modules (plus their Cython twin):

- ``fixedpoint`` (this module): turning a real multiplier into an int32 multiplier
  and a shift (``quantize_multiplier``), and applying it to int32 values
  (``multiply_by_quantized_multiplier``), with the primitives underneath
  (``saturating_rounding_doubling_high_mul``, ``rounding_divide_by_pot``).
- ``fixedpoint_math``: gemmlowp's ``FixedPoint`` functions (exp, 1/(1+x), logistic,
  tanh, log, reciprocal, inverse square root) on raw integers, and the Prepare
  helpers of the softmax-like kernels (``preprocess_softmax_scaling``,
  ``calculate_input_radius``, ``checked_log2``).
- ``fixedpoint_lut``: the lookup tables the current TFLite kernels build in Prepare
  (int8/int16 LOGISTIC, TANH, ELU..., SOFTMAX).
- ``_fixedpoint.pxd``: the same arithmetic as ``cdef inline ... noexcept nogil``
  functions for Cython kernels (``from ._fixedpoint cimport mbqm``); ``_fixedpoint.pyx``
  has array wrappers that the tests hold equal to these numpy functions.

Conventions. Every function takes Python ints or integer numpy arrays (broadcast
together) and computes in int64 what C computes in int32 or int16, wrapping where
C wraps. Results are ``np.int32`` (``np.int16`` for 16-bit raw values): arrays, or
numpy scalars for scalar arguments. Arguments outside the C types' ranges raise
ValueError instead of wrapping silently. ``shift`` follows TFLite: positive means
a left shift, negative a right shift; ``left_shift`` of the ``*_exp`` helpers too.

Rounding. TFLite has two builds of ``MultiplyByQuantizedMultiplier``: the default
"double rounding" (gemmlowp ``SaturatingRoundingDoublingHighMul`` rounds
x*M/2^31 to nearest with ties up, then ``RoundingDivideByPOT`` rounds the right
shift to nearest with ties away from zero) and ``TFLITE_SINGLE_ROUNDING`` (one
rounding of x*M*2^shift/2^31, ties up). The official runtime's optimized SIMD
kernels add two more forms of the same multiplication. ``rounding`` selects:

============  ===========================================  ==========================
rounding      arithmetic                                   who computes it
============  ===========================================  ==========================
"double"      SRDHM, then RoundingDivideByPOT              TFLite reference kernels
              (ties of the shift away from zero)           (default build); scalar
                                                           optimized kernels
"single"      (x*M + 2^(30-shift)) >> (31-shift)           TFLITE_SINGLE_ROUNDING builds
"double_up"   SRDHM, then a rounding shift with ties up    ruy's x86 GEMM kernels, ARM
              (ARM VQRDMULH + VRSHL)                       NEON 4-row paths
"floor_up"    floor(x*M/2^31), then a rounding shift       tflite::avx2_utils (x86
              with ties up, saturating at INT32_MAX        AVX2 kernels)
============  ===========================================  ==========================

What ai-edge-litert 2.3.0 computes, measured on x86-64 with AVX2 (no AVX-512) by
running single-op int8 models with tie-heavy scales (tests/kernels/
test_fixedpoint_oracle.py keeps the evidence):

- It is a double-rounding build: MUL int8 (BUILTIN_REF and BUILTIN) over all
  65536 input pairs reproduces "double" exactly, and "single" differs in many
  elements. Hence ``DEFAULT_ROUNDING = "double"``.
- BUILTIN (= BUILTIN_WITHOUT_DEFAULT_DELEGATES) is not uniform: CONV_2D and
  FULLY_CONNECTED int8 go through ruy ("double_up"), DEPTHWISE_CONV_2D and
  QUANTIZE int8->int8 use "double_up" too, ADD int8 rescales its inputs with
  "floor_up" and its sum with "double"; SUB and MUL use "double".
- BUILTIN_REF: CONV_2D, DEPTHWISE_CONV_2D, QUANTIZE, ADD, SUB, MUL use "double";
  FULLY_CONNECTED int8 does not use a quantized multiplier at all but
  ``round(acc * (double(s_in) * s_w / s_out))`` (``multiply_by_real_multiplier``).
- Other machines run other SIMD code (ruy documents its ARM kernels as single
  rounding, SQDMULH + rounding shift; AVX-512 has its own ruy kernels; the
  avx2_utils paths need AVX2): the per-op forms above are verified for x86-64
  AVX2 only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import PrepareError

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
INT16_MIN = -(1 << 15)
INT16_MAX = (1 << 15) - 1

ROUNDING_MODES = ("double", "single", "double_up", "floor_up")
# The ROUND_* codes of _fixedpoint.pxd, for Cython kernels' prepared data.
ROUNDING_CODES = {name: code for code, name in enumerate(ROUNDING_MODES)}
# ai-edge-litert 2.3.0 is built without TFLITE_SINGLE_ROUNDING (see the docstring).
DEFAULT_ROUNDING = "double"

_OUT_TYPES = {32: np.int32, 16: np.int16}


# -- plumbing ----------------------------------------------------------------------


def _int64(values: Any, bits: int = 32, what: str = "x") -> np.ndarray:
    """``values`` as int64, checked to fit a C int of ``bits`` bits."""
    array = np.asarray(values)
    if array.dtype.kind not in "iub":
        raise ValueError(f"{what} must be integers, got {array.dtype}")
    array = array.astype(np.int64)
    if array.size:
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        if array.min() < low or array.max() > high:
            raise ValueError(f"{what} has values outside int{bits} [{low}, {high}]")
    return array


def _result(values: np.ndarray, bits: int = 32) -> Any:
    """The C result type: an int32/int16 array, or a numpy scalar for 0-d input."""
    return values.astype(_OUT_TYPES[bits])[()]


def _check_bits(bits: int) -> None:
    if bits not in _OUT_TYPES:
        raise ValueError(f"raw integers are int32 or int16, got bits={bits}")


def _check_rounding(rounding: str) -> None:
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}")


def rounding_code(rounding: str) -> int:
    """The ``ROUND_*`` code of a rounding mode, for ``mbqm`` in Cython kernels."""
    _check_rounding(rounding)
    return ROUNDING_CODES[rounding]


def wrap(values: Any, bits: int = 32) -> np.ndarray:
    """Two's-complement wrap to ``bits`` bits (what a C cast to int32/int16 does), as int64."""
    half = 1 << (bits - 1)
    return ((np.asarray(values, dtype=np.int64) + half) & ((1 << bits) - 1)) - half


def round_half_away_from_zero(values: Any) -> np.ndarray:
    """std::round / TfLiteRound, in the values' own float type.

    Exact: adding 0.5 first would round 0.49999997f up to 1.
    """
    values = np.asarray(values)
    whole = np.trunc(values)
    step = np.where(np.abs(values - whole) >= 0.5, np.sign(values), 0).astype(values.dtype)
    return whole + step


def _truncating_shift(values: np.ndarray, amount: int) -> np.ndarray:
    """values / 2^amount rounded toward zero (C's integer division by a power of two)."""
    return (values + np.where(values < 0, (1 << amount) - 1, 0)) >> amount


# -- gemmlowp primitives --------------------------------------------------------------
# The _underscored forms take int64 arrays already in range and return int64 arrays;
# fixedpoint_math composes them. The public forms validate and return C types.


def _srdhm(a: Any, b: Any, bits: int) -> np.ndarray:
    low = -(1 << (bits - 1))
    # gemmlowp adds 2^(bits-2) to positive products and 1 - 2^(bits-2) to negative
    # ones, then divides truncating toward zero: that is exactly
    # floor((a*b + 2^(bits-2)) / 2^(bits-1)), round to nearest with ties up.
    high = (a * b + (1 << (bits - 2))) >> (bits - 1)
    return np.where((a == b) & (a == low), -low - 1, high)


def _rdbpot(x: Any, exponent: Any, bits: int) -> np.ndarray:
    # The mask and threshold live in the raw type as in C, which matters for int16
    # with exponents above 15 (the mask wraps to -1).
    mask = wrap((np.int64(1) << exponent) - 1, bits)
    remainder = x & mask
    threshold = wrap((mask >> 1) + (x < 0), bits)
    return wrap((x >> exponent) + (remainder > threshold), bits)


def _srmbpot_param(x: Any, exponent: Any, bits: int) -> np.ndarray:
    # Saturating left shift by exponent >= 0 (scalar or per element).
    threshold = (np.int64(1) << (bits - 1 - np.asarray(exponent))) - 1
    shifted = wrap(x << exponent, bits)
    high, low = (1 << (bits - 1)) - 1, -(1 << (bits - 1))
    return np.where(x > threshold, high, np.where(x < -threshold, low, shifted))


def _srmbpot(x: Any, exponent: int, bits: int) -> np.ndarray:
    if exponent <= 0:
        return _rdbpot(x, -exponent, bits)
    return _srmbpot_param(x, exponent, bits)


def saturating_rounding_doubling_high_mul(a: Any, b: Any, bits: int = 32) -> Any:
    """gemmlowp SaturatingRoundingDoublingHighMul: round(a*b / 2^(bits-1)), ties up.

    Saturates the one overflowing case MIN*MIN to MAX (ARM VQRDMULH).
    """
    _check_bits(bits)
    return _result(_srdhm(_int64(a, bits, "a"), _int64(b, bits, "b"), bits), bits)


def rounding_divide_by_pot(x: Any, exponent: Any, bits: int = 32) -> Any:
    """gemmlowp RoundingDivideByPOT: x / 2^exponent to nearest, ties away from zero.

    ``exponent`` in [0, 31], per element allowed (int16 too, computed like C).
    """
    _check_bits(bits)
    exponent = _int64(exponent, 32, "exponent")
    if exponent.size and (exponent.min() < 0 or exponent.max() > 31):
        raise ValueError("RoundingDivideByPOT exponent must be in [0, 31]")
    return _result(_rdbpot(_int64(x, bits), exponent, bits), bits)


def saturating_rounding_multiply_by_pot(x: Any, exponent: int, bits: int = 32) -> Any:
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent>: x * 2^exponent.

    Positive exponents shift left and saturate; negative ones are a
    RoundingDivideByPOT. Also TFLite's SaturatingRoundingMultiplyByPOTParam for
    exponent >= 0.
    """
    _check_bits(bits)
    exponent = int(exponent)
    if not -31 <= exponent <= bits - 1:
        raise ValueError(f"exponent {exponent} out of range for int{bits}")
    return _result(_srmbpot(_int64(x, bits), exponent, bits), bits)


def saturating_left_shift_int16(x: Any, amount: int) -> Any:
    """TFLite SaturatingLeftShift (HARD_SWISH): int16 x * 2^amount, clamped."""
    x = _int64(x, 16)
    return _result(np.clip(x * (1 << int(amount)), INT16_MIN, INT16_MAX), 16)


def saturating_doubling_high_mul_int16(a: Any, b: Any) -> Any:
    """TFLite SaturatingDoublingHighMul (HARD_SWISH): a*b / 2^15 truncated toward zero.

    Like ARM SQDMULH: no rounding (that cancels the bias of the rounding variant).
    """
    a, b = _int64(a, 16, "a"), _int64(b, 16, "b")
    high = _truncating_shift(a * b, 15)
    return _result(np.where((a == b) & (a == INT16_MIN), INT16_MAX, high), 16)


# -- applying a quantized multiplier ------------------------------------------------


def _split_shift(shift: Any) -> tuple[np.ndarray, np.ndarray]:
    shift = _int64(shift, 32, "shift")
    if shift.size and (shift.min() < -31 or shift.max() > 30):
        raise ValueError("shift must be in [-31, 30]")
    return np.maximum(shift, 0), np.maximum(-shift, 0)


def _half(right: np.ndarray) -> np.ndarray:
    """2^(right - 1), 0 where right == 0: the nudge of a rounding right shift (ARM VRSHL)."""
    return np.where(right > 0, np.int64(1) << np.maximum(right - 1, 0), 0)


def multiply_by_quantized_multiplier(
    x: Any, multiplier: Any, shift: Any, rounding: str = DEFAULT_ROUNDING
) -> Any:
    """TFLite MultiplyByQuantizedMultiplier(int32 x, int32 multiplier, int shift).

    Computes x * multiplier * 2^shift / 2^31 in int32 with the rounding of
    ``rounding`` (see the module docstring). ``multiplier`` and ``shift`` may be
    per-channel arrays that broadcast against ``x``.
    """
    _check_rounding(rounding)
    x = _int64(x)
    multiplier = _int64(multiplier, 32, "multiplier")
    left, right = _split_shift(shift)
    if rounding == "single":
        total = 31 - (left - right)
        return _result(wrap((x * multiplier + (np.int64(1) << (total - 1))) >> total))
    # x * (1 << left_shift) overflows int32 like the C code (practically: wraps).
    shifted = wrap(x << left)
    if rounding == "floor_up":
        high, nudge = wrap((shifted * multiplier) >> 31), _half(right)
        return _result(np.where(high > INT32_MAX - nudge, INT32_MAX, (high + nudge) >> right))
    high = _srdhm(shifted, multiplier, 32)
    if rounding == "double_up":
        return _result((high + _half(right)) >> right)
    return _result(_rdbpot(high, right, 32))


def multiply_by_quantized_multiplier_smaller_than_one_exp(
    x: Any, multiplier: Any, left_shift: Any, rounding: str = DEFAULT_ROUNDING
) -> Any:
    """TFLite MultiplyByQuantizedMultiplierSmallerThanOneExp (``left_shift`` <= 0)."""
    if np.any(np.asarray(left_shift) > 0):
        raise ValueError("SmallerThanOneExp needs left_shift <= 0")
    return multiply_by_quantized_multiplier(x, multiplier, left_shift, rounding)


def multiply_by_quantized_multiplier_greater_than_one(
    x: Any, multiplier: Any, left_shift: Any, rounding: str = DEFAULT_ROUNDING
) -> Any:
    """TFLite MultiplyByQuantizedMultiplierGreaterThanOne (``left_shift`` >= 0)."""
    if np.any(np.asarray(left_shift) < 0):
        raise ValueError("GreaterThanOne needs left_shift >= 0")
    return multiply_by_quantized_multiplier(x, multiplier, left_shift, rounding)


def multiply_by_quantized_multiplier_int64(x: Any, multiplier: Any, shift: Any) -> Any:
    """TFLite MultiplyByQuantizedMultiplier(int64 x, ...) of the int16 kernels.

    The multiplier is first rounded to 16 bits; the same code in both builds.
    Needs |x| < 2^47, multiplier >= 0 and shift in [-31, 7].
    """
    x = _int64(x, 48)
    multiplier = _int64(multiplier, 32, "multiplier")
    shift = _int64(shift, 32, "shift")
    if multiplier.size and multiplier.min() < 0:
        raise ValueError("the int64 MultiplyByQuantizedMultiplier needs multiplier >= 0")
    if shift.size and (shift.min() < -31 or shift.max() > 7):
        raise ValueError("the int64 MultiplyByQuantizedMultiplier needs shift in [-31, 7]")
    reduced = np.where(multiplier < 0x7FFF0000, (multiplier + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - shift
    return _result(wrap((x * reduced + (np.int64(1) << (total - 1))) >> total))


def multiply_by_real_multiplier(x: Any, real_multiplier: Any) -> Any:
    """int32(round(double(x) * real)), ties away from zero: the float-scale reference path.

    BUILTIN_REF FULLY_CONNECTED int8/int16 rescales its accumulators this way, with
    real = double(input_scale) * double(filter_scale) / double(output_scale).
    """
    scaled = np.asarray(x, dtype=np.float64) * np.asarray(real_multiplier, dtype=np.float64)
    return _result(wrap(round_half_away_from_zero(scaled).astype(np.int64)))


# -- turning real multipliers into (multiplier, shift) ---------------------------------


def quantize_multiplier(
    real_multiplier: float, rounding: str = DEFAULT_ROUNDING
) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real = multiplier * 2^shift / 2^31, multiplier in [2^30, 2^31).

    frexp-based, rounding q * 2^31 half away from zero; q rounding up to 2^31 is
    halved with shift + 1; multipliers below ~2^-31 (shift < -31) become (0, 0).
    With ``rounding="single"`` a shift above 30 saturates to (2^31 - 1, 30) as in
    TFLITE_SINGLE_ROUNDING builds.
    """
    _check_rounding(rounding)
    real = float(real_multiplier)
    if not math.isfinite(real):
        raise PrepareError(f"cannot quantize the multiplier {real}: it is not finite")
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    # TfLiteRound (std::round): half away from zero. |fraction * 2^31| < 2^31 is
    # exact in a double, so adding 0.5 does not round.
    q_fixed = int(math.copysign(math.floor(abs(fraction) * 2.0**31 + 0.5), fraction))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        # Every bit would be shifted out: TFLite flushes such multipliers to zero.
        return 0, 0
    if rounding == "single" and shift > 30:
        return INT32_MAX, 30
    return q_fixed, shift


def quantize_multiplier_smaller_than_one_exp(
    real_multiplier: float, rounding: str = DEFAULT_ROUNDING
) -> tuple[int, int]:
    """TFLite QuantizeMultiplierSmallerThanOneExp: 0 <= real < 1, returns (m, left_shift <= 0)."""
    real = float(real_multiplier)
    if not 0.0 <= real < 1.0:
        raise PrepareError(f"multiplier {real!r} must be in [0, 1) here")
    multiplier, shift = quantize_multiplier(real, rounding)
    if shift > 0:
        # A multiplier within 2^-32 of 1 rounds up to 2^31 and gets shift 1: TFLite aborts.
        raise PrepareError(f"multiplier {real!r} rounds to 1.0; it must be below 1 here")
    return multiplier, shift


def quantize_multiplier_greater_than_one(
    real_multiplier: float, rounding: str = DEFAULT_ROUNDING
) -> tuple[int, int]:
    """TFLite QuantizeMultiplierGreaterThanOne: real > 1, returns (m, left_shift >= 0)."""
    real = float(real_multiplier)
    if not real > 1.0:
        raise PrepareError(f"multiplier {real!r} must be greater than 1 here")
    return quantize_multiplier(real, rounding)


def quantize_multiplier_array(
    real_multipliers: Any, rounding: str = DEFAULT_ROUNDING
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel QuantizeMultiplier: (int32 multipliers, int32 shifts) arrays."""
    reals = np.asarray(real_multipliers, dtype=np.float64).reshape(-1)
    pairs = [quantize_multiplier(float(r), rounding) for r in reals]
    multipliers = np.array([m for m, _ in pairs], dtype=np.int32)
    shifts = np.array([s for _, s in pairs], dtype=np.int32)
    return multipliers, shifts


def downscale_int32_to_int16_multiplier(multiplier: int) -> int:
    """TFLite DownScaleInt32ToInt16Multiplier: round a Q31 multiplier to Q15 (HARD_SWISH)."""
    multiplier = int(multiplier)
    if multiplier < 0:
        raise ValueError("DownScaleInt32ToInt16Multiplier needs multiplier >= 0")
    if multiplier >= INT32_MAX - (1 << 15):
        return INT16_MAX
    return (multiplier + (1 << 15)) >> 16
