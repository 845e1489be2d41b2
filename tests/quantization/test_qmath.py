"""Quantization arithmetic and range estimators, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.quantization import CalibrationOptions
from edgelite.quantization.estimators import RangeTracker, mse_range, percentile_range
from edgelite.quantization.qmath import (
    activation_params,
    dequantize,
    quantize,
    quantize_bias,
    quantize_weights,
    round_half_away,
)


def test_round_half_away_from_zero_like_std_round():
    values = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.49])
    np.testing.assert_array_equal(round_half_away(values), [1, 2, 3, -1, -2, 0])


@pytest.mark.parametrize(
    "lo, hi, scale, zero_point",
    [
        (-1.0, 1.0, 2.0 / 255, -1),  # -128 + 127.5 = -0.5 rounds away from zero
        (0.0, 6.0, 6.0 / 255, -128),  # ReLU6 output
        (-2.0, -1.0, 2.0 / 255, 127),  # the range is widened to hold 0
        (-0.9995768, 0.9999576, 0.00784131, -1),  # the official converter's input params
    ],
)
def test_int8_activation_params(lo, hi, scale, zero_point):
    got_scale, got_zp = activation_params(lo, hi, np.int8)
    assert got_scale == pytest.approx(scale, rel=1e-5)
    assert got_zp == zero_point
    # 0.0 is exactly representable whatever the range.
    assert dequantize(np.array([got_zp]), got_scale, got_zp)[0] == 0.0


def test_int16_activation_params_are_symmetric():
    scale, zp = activation_params(-0.5, 3.0, np.int16)
    assert (scale, zp) == (pytest.approx(3.0 / 32767), 0)


def test_degenerate_range_still_has_a_positive_scale():
    scale, zp = activation_params(0.0, 0.0, np.int8)
    assert scale > 0 and -128 <= zp <= 127


def test_weights_are_symmetric_in_minus127_127_per_channel():
    w = np.array([[1.0, -2.0], [0.5, 0.25], [0.0, 0.0]], np.float32)
    q, scales = quantize_weights(w, axis=0)
    np.testing.assert_allclose(scales, [2.0 / 127, 0.5 / 127, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(q, [[64, -127], [127, 64], [0, 0]])
    q, scales = quantize_weights(np.array([-3.0, 1.0], np.float32), axis=None)
    assert q.min() == -127 and scales.shape == (1,)


def test_bias_uses_input_times_weight_scale_and_saturates():
    scales = np.array([0.01, 0.02], np.float32)
    q = quantize_bias(np.array([1.0, -1e9]), scales, np.dtype(np.int32))
    np.testing.assert_array_equal(q, [100, -(2**31)])


def test_quantize_per_axis_broadcasts_one_zero_point():
    q = quantize(np.ones((2, 3)), np.array([0.5, 0.25]), 0, np.int8, axis=0)
    np.testing.assert_array_equal(q, [[2, 2, 2], [4, 4, 4]])


def _tracker(estimator: str, **kw) -> RangeTracker:
    options = CalibrationOptions(estimator=estimator, **kw)
    return RangeTracker(options, np.random.default_rng(0))


def test_minmax_and_moving_average_trackers():
    minmax, ema = _tracker("minmax"), _tracker("moving_average", momentum=0.5)
    for lo, hi in ((-1.0, 1.0), (-3.0, 5.0)):
        for tracker in (minmax, ema):
            tracker.update(np.array([lo, 0.0, hi], np.float32))
    assert minmax.range(np.int8) == (-3.0, 5.0)
    assert ema.range(np.int8) == (-2.0, 3.0)


def test_percentile_and_mse_clip_rare_outliers():
    rng = np.random.default_rng(0)
    values = rng.standard_normal(100_000).astype(np.float32)
    values[:5] = 40.0  # a few outliers that min/max would spend the range on
    lo, hi = percentile_range(values, 99.9, float(values.min()), float(values.max()))
    assert hi < 5 and lo > -5
    lo, hi = mse_range(values, float(values.min()), float(values.max()), np.int8)
    assert hi < 40
    for estimator in ("percentile", "mse"):
        tracker = _tracker(estimator)
        for chunk in np.split(values, 10):
            tracker.update(chunk)
        assert tracker.range(np.int8)[1] < 40


def test_tracker_subsample_stays_bounded():
    tracker = _tracker("percentile", max_samples_per_tensor=20_000)
    for _ in range(20):
        tracker.update(np.random.default_rng(1).standard_normal(50_000).astype(np.float32))
    assert tracker.sample_count <= 20_000


def test_tracker_records_non_finite_steps_instead_of_raising():
    tracker = _tracker("minmax")
    tracker.update(np.array([1.0, np.nan], np.float32))
    assert tracker.non_finite_step == 1 and not tracker.seen
