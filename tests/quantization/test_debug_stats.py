"""The debugger's building blocks on hand-made values: measures, dequantization, ranking."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgelite.quantization.debug_report import (
    EXACT_SNR_DB,
    DebugReport,
    LayerReport,
    keep_float_candidates,
    keep_float_pattern,
    rank_layers,
)
from edgelite.quantization.debug_run import encode_input
from edgelite.quantization.debug_stats import ErrorStats, QuantInfo
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import TensorType
from edgelite.schema.model import Tensor


def _int8(scale, zero_point=0, axis=0, shape=(1, 2, 2, 3)) -> Tensor:
    q = quant(scale, zero_point, axis)
    return Tensor(name="t", shape=list(shape), type=TensorType.INT8, quantization=q)


def test_measures_against_a_direct_computation():
    rng = np.random.default_rng(0)
    info = QuantInfo.of(_int8(0.05, 3))
    stats = ErrorStats(info)
    truths, raws = [], []
    for _ in range(3):
        truth = rng.normal(size=(1, 2, 2, 3)).astype(np.float32)
        raw = np.clip(np.round(truth / 0.05) + 3, -128, 127).astype(np.int8)
        stats.add(truth, raw)
        truths.append(truth)
        raws.append(raw)
    truth, raw = np.stack(truths).astype(np.float64), np.stack(raws)
    scale = float(np.float32(0.05))  # as the model stores it
    error = (raw.astype(np.float64) - 3) * scale - truth
    assert stats.count == truth.size
    assert math.isclose(stats.mse, np.mean(error**2), rel_tol=1e-6)
    assert math.isclose(stats.max_abs_error, np.max(np.abs(error)), rel_tol=1e-6)
    snr = 10 * np.log10(np.sum(truth**2) / np.sum(error**2))
    assert math.isclose(stats.snr_db, snr, rel_tol=1e-6)
    assert stats.range_utilization == (int(raw.max()) - int(raw.min())) / 255
    assert stats.clipped_fraction == 0.0
    assert (stats.float_min, stats.float_max) == (truth.min(), truth.max())


def test_clipping_and_exact_values():
    stats = ErrorStats(QuantInfo.of(_int8(0.01, 0, shape=(4,))))
    truth = np.array([0.0, 0.5, 1.27, 3.0], np.float32)  # 3.0 is far beyond 127 * 0.01
    stats.add(truth, np.array([0, 50, 127, 127], np.int8))
    assert stats.clipped_fraction == 0.25
    exact = ErrorStats(None)
    exact.add(truth, truth.copy())
    assert exact.snr_db == math.inf and exact.mse == 0.0
    assert exact.range_utilization is None and exact.clipped_fraction is None
    silent = ErrorStats(None)
    silent.add(np.zeros(3, np.float32), np.ones(3, np.float32))
    assert silent.snr_db == -math.inf


def test_per_channel_dequantization():
    info = QuantInfo.of(_int8([0.1, 0.2, 0.4], [0, 1, -1], axis=3))
    raw = np.arange(12, dtype=np.int8).reshape(1, 2, 2, 3)
    expected = (raw - np.array([0, 1, -1])) * np.array([0.1, 0.2, 0.4])
    np.testing.assert_allclose(info.dequantize(raw), expected)
    on_axis_1 = QuantInfo.of(_int8([0.5, 2.0], axis=1))
    np.testing.assert_allclose(
        on_axis_1.dequantize(np.ones((1, 2, 2, 3), np.int8))[0, :, 0, 0], [0.5, 2.0]
    )


def test_shape_mismatch_is_recorded_not_raised():
    stats = ErrorStats(None)
    stats.add(np.zeros((1, 4), np.float32), np.zeros((1, 5), np.float32))
    assert stats.shape_mismatch == ([1, 4], [1, 5]) and stats.count == 0


def test_float_inputs_are_encoded_like_quantize():
    tensor = _int8(0.5, -2, shape=(5,))
    values = np.array([0.25, -0.25, 0.75, 100.0, -100.0], np.float32)
    # Half away from zero: 0.5 -> 1, -0.5 -> -1, 1.5 -> 2; then clipped to int8.
    np.testing.assert_array_equal(encode_input(values, tensor), [-1, -3, 0, 127, -128])
    floats = Tensor(name="f", shape=[2], type=TensorType.FLOAT32)
    assert encode_input(np.array([1, 2], np.int64), floats).dtype == np.float32


def _layer(position, snr, input_snr=None, dtype="int8", name=None) -> LayerReport:
    return LayerReport(
        position=position,
        op="CONV_2D",
        tensor=name or f"t{position}",
        float_index=position,
        quant_index=position,
        matched_by="name",
        dtype=dtype,
        scale=None if dtype == "float32" else [0.1],
        zero_point=None if dtype == "float32" else [0],
        mse=0.0,
        max_abs_error=0.0,
        snr_db=snr,
        input_snr_db=input_snr,
        range_utilization=None,
        clipped_fraction=None,
        float_min=0.0,
        float_max=1.0,
        relative_error=10 ** (-snr / 10),
    )


def test_ranking_by_drop_and_candidates():
    layers = [
        _layer(-1, 48.0),  # the quantized input: close to the ideal 49.9 dB
        _layer(0, 35.0, 48.0),
        _layer(1, 12.0, 40.0),  # the broken one: 28 dB below its input
        _layer(2, 10.0, 12.0),  # inherits the error, adds little
        _layer(3, 45.0, 48.0),  # above ideal - 10 dB: never worth keeping float
        _layer(4, 9.0, 10.0, dtype="float32"),  # float: cannot be kept float
    ]
    ranked = rank_layers(layers)
    assert [layer.position for layer in ranked][:2] == [1, 0]
    candidates = keep_float_candidates(ranked, 3)
    assert [c.position for c in candidates] == [1, 0]
    assert keep_float_candidates(ranked, 1) == candidates[:1]
    assert _layer(0, math.inf, 30.0).snr_drop_db == 30.0 - EXACT_SNR_DB
    assert _layer(0, 30.0, math.inf, dtype="float32").snr_drop_db == EXACT_SNR_DB - 30.0


def test_keep_float_pattern_is_short_and_unique():
    names = {"CONV_2D", "a/conv;a/bn;a/relu", "a/conv_1;b/bn", "c.d;e"}
    assert keep_float_pattern("a/conv;a/bn;a/relu", names) == "a/bn"  # a/conv is in a/conv_1
    assert keep_float_pattern("c.d;e", names) == r"c\.d"
    assert keep_float_pattern("x", {"x", "xx"}) == "^x$"


@pytest.mark.parametrize("snrs", [[math.inf, math.inf], [20.0, math.inf, -math.inf], [30.0]])
def test_text_and_html_survive_extreme_values(snrs):
    layers = [_layer(i, snr, None) for i, snr in enumerate(snrs)]
    report = DebugReport("f.tflite", "q.tflite", "edgelite", 1, rank_layers(layers), [])
    text = report.format()
    assert "no --keep-float candidates" in text
    page = report.to_html()
    assert page.count("<circle") == len(snrs) and "nan" not in page.lower()
    data = report.as_dict()
    assert all(
        layer["snr_db"] is None or math.isfinite(layer["snr_db"]) for layer in data["layers"]
    )
