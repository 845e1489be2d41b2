"""The official *reference* kernels' quantized SOFTMAX for 8-bit inputs (rounding="reference").

ai-edge-litert's BUILTIN_REF resolver runs reference_ops::Softmax<InputT, OutputT> for int8
and uint8 inputs, a gemmlowp fixed-point computation that the optimized kernels replaced
by a float table (``_qsoftmax``). Per row:

- ``diff = x - max(row)``; elements with ``diff < diff_min`` contribute nothing and
  output the type's minimum;
- ``exp(diff * beta * input_scale)`` in Q0 from the Q5.26 rescaled difference
  (``input_multiplier`` / ``input_left_shift`` of PreprocessSoftmaxScaling), summed
  in Q12;
- ``1 / sum`` by GetReciprocal, multiplied into each exp, rounded by
  ``2^(bits_over_unit + 31 - output_bits)``, **plus the output type's minimum**
  (-128, 0 or -32768): the reference kernel ignores the output zero point (it equals
  that minimum for the int8 and uint8 outputs TFLite accepts; a uint8 -> int16 model
  with zero point 0 gets outputs offset by -32768, as in the official runtime).

The reference kernel aborts (TFLITE_CHECK) when the rounding exponent leaves [0, 31],
i.e. when a row's sum of exps reaches 2^(39 - output_bits) (rows of a few hundred equal
maxima for 8-bit outputs); edgelite continues the same arithmetic (outputs round to the
minimum there) instead.
"""

from __future__ import annotations

import numpy as np

from . import fixedpoint as fp
from . import fixedpoint_math as fm

_SCALED_DIFF_BITS = 5  # Q5.26 input to exp()
_ACCUMULATION_BITS = 12  # Q12.19 sum of exps


def reference_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) of TFLite's SoftmaxPrepare (kReference)."""
    multiplier, left_shift = fm.preprocess_softmax_scaling(
        beta, input_scale, _SCALED_DIFF_BITS, "double"
    )
    diff_min = -int(fm.calculate_input_radius(_SCALED_DIFF_BITS, left_shift))
    return int(multiplier), int(left_shift), diff_min


def _rounding_divide(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT in int64, for exponents beyond 31 as well."""
    mask = (np.int64(1) << exponent) - 1
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + ((x & mask) > threshold)


def softmax8(x: np.ndarray, out: np.ndarray, params: tuple[int, int, int]) -> None:
    """reference_ops::Softmax over the last axis of an int8 / uint8 ``x`` into ``out``."""
    multiplier, left_shift, diff_min = params
    values = x.astype(np.int64)
    diff = values - values.max(axis=-1, keepdims=True)
    valid = diff >= diff_min
    scaled = fp.multiply_by_quantized_multiplier_greater_than_one(
        np.where(valid, diff, 0), multiplier, left_shift
    )
    exps = np.asarray(fm.exp_on_negative_values(scaled, _SCALED_DIFF_BITS), np.int64)
    rescaled = np.asarray(fm.rescale(exps, 0, _ACCUMULATION_BITS), np.int64)
    total = fp.wrap(np.where(valid, rescaled, 0).sum(axis=-1, keepdims=True))
    reciprocal, bits_over_unit = fm.get_reciprocal(total, _ACCUMULATION_BITS)
    product = np.asarray(fm.fixed_mul(np.broadcast_to(reciprocal, exps.shape), exps), np.int64)
    info = np.iinfo(out.dtype)
    exponent = np.asarray(bits_over_unit, np.int64) + 31 - 8 * out.dtype.itemsize
    shifted = _rounding_divide(product, np.broadcast_to(exponent, product.shape)) + info.min
    out[...] = np.where(valid, np.clip(shifted, info.min, info.max), info.min)
