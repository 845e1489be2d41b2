"""Range estimators: turn the values a tensor took during calibration into [lo, hi].

One ``RangeTracker`` per tensor sees every calibration step's value and keeps only
what its estimator needs: the running min/max (always), an exponential moving average
of per-step min/max, or a bounded random subsample of the values (percentile and MSE),
so memory stays flat however many steps run.
"""

from __future__ import annotations

import numpy as np

from .options import CalibrationOptions
from .qmath import activation_params, dequantize, quantize

# Values taken from one step for the subsample; enough for 1e-4 quantiles after a few
# dozen steps, small enough to keep MobileNetV2's ~150 tensors cheap.
_PER_STEP = 8192
_MSE_BINS = 2048
_MSE_CANDIDATES = 64


class RangeTracker:
    """Accumulates one tensor's values over calibration steps."""

    def __init__(self, options: CalibrationOptions, rng: np.random.Generator) -> None:
        self.options = options
        self.rng = rng
        self.steps = 0
        self.lo = np.inf
        self.hi = -np.inf
        self.ema: tuple[float, float] | None = None
        self.samples: list[np.ndarray] = []
        self.sample_count = 0
        self.non_finite_step: int | None = None
        self.keep_samples = options.estimator in ("percentile", "mse")

    def update(self, values: np.ndarray) -> None:
        """Fold one step's value in (NaN/Inf are recorded, not raised: see non_finite_step)."""
        self.steps += 1
        if values.size == 0:
            return
        flat = values.reshape(-1)
        lo, hi = float(flat.min()), float(flat.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            if self.non_finite_step is None:
                self.non_finite_step = self.steps
            return
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)
        if self.ema is None:
            self.ema = (lo, hi)
        else:
            m = self.options.momentum
            self.ema = (m * self.ema[0] + (1 - m) * lo, m * self.ema[1] + (1 - m) * hi)
        if self.keep_samples:
            self._add_samples(flat)

    def _add_samples(self, flat: np.ndarray) -> None:
        if flat.size > _PER_STEP:
            flat = flat[self.rng.integers(0, flat.size, _PER_STEP)]
        self.samples.append(np.array(flat, np.float32))
        self.sample_count += flat.size
        if self.sample_count > self.options.max_samples_per_tensor:
            # Halve what is kept: a random half of a uniform subsample is still uniform.
            kept = np.concatenate(self.samples)
            kept = kept[self.rng.permutation(kept.size)[: kept.size // 2]]
            self.samples, self.sample_count = [kept], kept.size

    @property
    def seen(self) -> bool:
        """Whether any finite value was recorded."""
        return bool(np.isfinite(self.lo))

    def range(self, dtype: np.dtype) -> tuple[float, float]:
        """The estimated [lo, hi] for quantizing to ``dtype`` (int8 or int16)."""
        if not self.seen:
            raise ValueError("no values recorded")
        estimator = self.options.estimator
        if estimator == "moving_average" and self.ema is not None:
            return self.ema
        if estimator in ("percentile", "mse") and self.samples:
            values = np.concatenate(self.samples)
            if estimator == "percentile":
                return percentile_range(values, self.options.percentile, self.lo, self.hi)
            return mse_range(values, self.lo, self.hi, dtype)
        return self.lo, self.hi


def percentile_range(values: np.ndarray, percentile: float, lo: float, hi: float):
    """[q(100 - p), q(p)] of ``values``, never wider than the [lo, hi] seen."""
    low = float(np.percentile(values, 100.0 - percentile))
    high = float(np.percentile(values, percentile))
    return max(low, lo), min(high, hi)


def mse_range(values: np.ndarray, lo: float, hi: float, dtype: np.dtype) -> tuple[float, float]:
    """The clipping range, a shrunk copy of [lo, hi], with the least quantization MSE.

    The values are summarised by a histogram; each candidate range is scored by the
    squared error of quantizing every bin centre (clipping included), weighted by count.
    """
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= 0:
        return lo, hi
    counts, edges = np.histogram(values, bins=_MSE_BINS, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    weights = counts.astype(np.float64)
    best, best_err = (lo, hi), np.inf
    for alpha in np.linspace(1.0, 0.2, _MSE_CANDIDATES):
        c_lo, c_hi = lo * alpha, hi * alpha
        scale, zp = activation_params(c_lo, c_hi, dtype)
        q = quantize(centres, scale, zp, np.dtype(dtype))
        err = float(np.sum(weights * (dequantize(q, scale, zp) - centres) ** 2))
        if err < best_err:
            best, best_err = (c_lo, c_hi), err
    return best
