"""Error statistics of one quantized tensor against its float counterpart, over all samples.

Sums are accumulated sample by sample (float64), so the debugger never holds more than
one sample's activations. The quantized side is dequantized with its own parameters,
per channel when it has several scales.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..schema.model import Tensor


@dataclass(frozen=True)
class QuantInfo:
    """How a quantized tensor's integers map to real values (``scale * (q - zero_point)``)."""

    dtype: np.dtype
    scale: np.ndarray  # float64, one per channel or one in all
    zero_point: np.ndarray  # int64, same length
    axis: int

    @classmethod
    def of(cls, tensor: Tensor) -> QuantInfo | None:
        """The tensor's parameters, or None for a float (or unquantized integer) tensor."""
        q = tensor.quantization
        if tensor.dtype.kind not in "iu" or q is None or len(q.scale) == 0:
            return None
        zero_point = np.asarray(q.zero_point, np.int64)
        if len(zero_point) == 0:
            zero_point = np.zeros(len(q.scale), np.int64)
        return cls(tensor.dtype, np.asarray(q.scale, np.float64), zero_point, q.quantized_dimension)

    def per_element(self, values: np.ndarray, ndim: int) -> np.ndarray:
        """``values`` (one per channel, or one) shaped to broadcast over an ``ndim`` array."""
        if len(values) == 1 or ndim == 0:
            return values.reshape(()) if len(values) == 1 else values
        shape = [1] * ndim
        shape[self.axis] = len(values)
        return values.reshape(shape)

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        scale = self.per_element(self.scale, raw.ndim)
        zero_point = self.per_element(self.zero_point, raw.ndim)
        return (raw.astype(np.float64) - zero_point) * scale

    def representable(self, ndim: int) -> tuple[np.ndarray, np.ndarray]:
        """The lowest and highest real values the integer type can hold (per channel)."""
        info = np.iinfo(self.dtype)
        scale = self.per_element(self.scale, ndim)
        zero_point = self.per_element(self.zero_point, ndim)
        return (info.min - zero_point) * scale, (info.max - zero_point) * scale


class ErrorStats:
    """Running error measures of one tensor pair; ``add`` one sample at a time."""

    def __init__(self, info: QuantInfo | None) -> None:
        self.info = info
        self.count = 0
        self.sum_error_sq = 0.0
        self.sum_signal_sq = 0.0
        self.max_abs_error = 0.0
        self.clipped = 0
        self.float_min = math.inf
        self.float_max = -math.inf
        self.q_min: int | None = None
        self.q_max: int | None = None
        self.shape_mismatch: tuple[list[int], list[int]] | None = None

    def add(self, reference: np.ndarray, quantized: np.ndarray) -> None:
        """Compare one sample's float values with the quantized tensor's raw values."""
        if reference.shape != quantized.shape:
            self.shape_mismatch = (list(reference.shape), list(quantized.shape))
            return
        if reference.size == 0:
            return
        truth = reference.astype(np.float64)
        if self.info is None:
            real = quantized.astype(np.float64)
        else:
            real = self.info.dequantize(quantized)
            self._track_integers(quantized, truth)
        error = real - truth
        self.count += truth.size
        self.sum_error_sq += float(np.dot(error.ravel(), error.ravel()))
        self.sum_signal_sq += float(np.dot(truth.ravel(), truth.ravel()))
        self.max_abs_error = max(self.max_abs_error, float(np.max(np.abs(error))))
        self.float_min = min(self.float_min, float(truth.min()))
        self.float_max = max(self.float_max, float(truth.max()))

    def _track_integers(self, raw: np.ndarray, truth: np.ndarray) -> None:
        assert self.info is not None
        low, high = int(raw.min()), int(raw.max())
        self.q_min = low if self.q_min is None else min(self.q_min, low)
        self.q_max = high if self.q_max is None else max(self.q_max, high)
        # Half a step beyond the last level is where rounding stops and clipping starts.
        lowest, highest = self.info.representable(truth.ndim)
        half = self.info.per_element(self.info.scale, truth.ndim) / 2
        outside = (truth < lowest - half) | (truth > highest + half)
        self.clipped += int(np.count_nonzero(outside))

    # -- derived measures ---------------------------------------------------------------

    @property
    def mse(self) -> float:
        return self.sum_error_sq / self.count if self.count else 0.0

    @property
    def relative_error(self) -> float:
        """Error power over signal power (0 when exact; inf for error on a zero signal)."""
        if self.sum_error_sq == 0.0:
            return 0.0
        return self.sum_error_sq / self.sum_signal_sq if self.sum_signal_sq else math.inf

    @property
    def snr_db(self) -> float:
        """10·log10(signal power / error power); inf when the values are exact."""
        relative = self.relative_error
        if relative == 0.0:
            return math.inf
        return -math.inf if math.isinf(relative) else -10.0 * math.log10(relative)

    @property
    def range_utilization(self) -> float | None:
        """Fraction of the integer type's range the values used (None for float tensors)."""
        if self.info is None or self.q_min is None or self.q_max is None:
            return None
        info = np.iinfo(self.info.dtype)
        return (self.q_max - self.q_min) / (int(info.max) - int(info.min))

    @property
    def clipped_fraction(self) -> float | None:
        """Fraction of float values outside what the quantized tensor can represent."""
        if self.info is None or not self.count:
            return None
        return self.clipped / self.count
