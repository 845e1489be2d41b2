"""Multipliers and clamp bounds of the quantized ADD / SUB / MUL / SQUARED_DIFFERENCE.

TFLite's Prepare arithmetic (add.cc, sub.cc, mul.cc, squared_difference.cc): the
input and output rescale factors in double from the float32 scales, turned into
quantized multipliers; output factors of 1 and above abort TFLite, so they are a
PrepareError here. ``_qbinary`` applies them.
"""

from __future__ import annotations

import numpy as np

from . import fixedpoint as fp
from .base import Node, PrepareError
from .fixedpoint_math import checked_log2

ADD, SUB, MUL, SQUARED_DIFFERENCE = "ADD", "SUB", "MUL", "SQUARED_DIFFERENCE"


def activation_bounds(act: int, scale: float, zero_point: int, dtype: np.dtype) -> tuple[int, int]:
    """TFLite CalculateActivationRangeQuantized for a fused activation."""
    info = np.iinfo(dtype)

    def quantize(value: float) -> int:
        # zero_point + int(round(value / scale)) with a float32 division, as in C.
        ratio = np.float32(value) / np.float32(scale)
        return zero_point + int(fp.round_half_away_from_zero(ratio))

    low, high = int(info.min), int(info.max)
    if act == 0:  # NONE
        return low, high
    if act == 1:  # RELU
        return max(low, quantize(0.0)), high
    if act == 2:  # RELU_N1_TO_1
        return max(low, quantize(-1.0)), min(high, quantize(1.0))
    if act == 3:  # RELU6
        return max(low, quantize(0.0)), min(high, quantize(6.0))
    raise PrepareError(f"fused activation {act} is not supported by quantized kernels")


def _smaller_than_one(real: float, rounding: str, what: str) -> tuple[int, int]:
    try:
        return fp.quantize_multiplier_smaller_than_one_exp(real, rounding)
    except PrepareError:
        raise PrepareError(
            f"{what} rescale factor {real:.6g} must be below 1 (TFLite aborts otherwise); "
            "the output scale is too small for these input scales"
        ) from None


def additive_params(
    op: str, scales: tuple[float, float, float], int16: bool, rounding: str
) -> tuple[int, tuple[tuple[int, int], tuple[int, int]], tuple[int, int]]:
    """(left_shift, input multipliers, output multiplier) of ADD/SUB/SQUARED_DIFFERENCE."""
    s1, s2, so = (float(s) for s in scales)  # float32 values as doubles
    quantize_mode = "single" if rounding == "single" else "double"
    left_shift = 7 if op == SQUARED_DIFFERENCE else (15 if int16 else 20)
    twice_max = 2.0 * max(s1, s2)
    m1 = _smaller_than_one(s1 / twice_max, quantize_mode, "input 1")
    m2 = _smaller_than_one(s2 / twice_max, quantize_mode, "input 2")
    if op == SQUARED_DIFFERENCE:
        real_out = twice_max * twice_max / (float(1 << (2 * left_shift)) * so)
    else:
        real_out = twice_max / (float(1 << left_shift) * so)
    # TFLite aborts on output multipliers of 1 and above (QuantizeMultiplierSmallerThanOneExp).
    out = _smaller_than_one(real_out, quantize_mode, "output")
    return left_shift, (m1, m2), out


def mul_params(scales: tuple[float, float, float], rounding: str) -> tuple[int, int]:
    """MUL's output multiplier from s1 * s2 / so.

    mul.cc's Prepare evaluates ``s1 * s2 / so`` on three C floats, so both the product
    and the quotient are rounded to float32 before the double QuantizeMultiplier sees
    them (builtin and reference kernels alike). A double quotient moves the multiplier's
    last bits, which int16 products up to 2^30 expose.
    """
    s1, s2, so = (np.float32(s) for s in scales)
    real = float(s1 * s2 / so)
    return fp.quantize_multiplier(real, "single" if rounding == "single" else "double")


def pot_shifts(node: Node, op: str, scales: tuple[float, float, float]) -> tuple[int, int] | None:
    """Right shifts of the int16 LSTM path (power-of-two scales), None for the general path."""
    if op not in (ADD, SUB) or not getattr(node.options, "pot_scale_int16", False):
        return None
    logs = [checked_log2(s) for s in scales]
    if not all(is_pot for is_pot, _ in logs):
        return None
    shifts = (logs[0][1] - logs[2][1], logs[1][1] - logs[2][1])
    if min(shifts) < -31 or max(shifts) > 0 or (shifts[0] != 0 and shifts[1] != 0):
        raise PrepareError(
            f"int16 {op} with power-of-two scales needs one input at the output scale and "
            f"the other at the same or a smaller one; log2 scales are {[lg for _, lg in logs]}"
        )
    return -shifts[0], -shifts[1]
