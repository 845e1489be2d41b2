"""Quantization-aware training: fake-quant nodes -> recorded ranges -> int8 without data.

The tfmot model (tests.converter.qat_models, tf_keras + tensorflow-model-optimization)
is converted with ``edgelite convert --quantize int8`` and no calibration data; its
int8 parameters must be the learned ranges' (TensorFlow's nudging) and equal the
official converter's, and it must run identically in both runtimes. Hand-made
tf.function graphs cover the other fake-quant ops and options.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.cli import main
from edgelite.converter import UnsupportedOpsError
from edgelite.quantization import QuantizeOptions, check_model, quantize_with_report
from edgelite.quantization.ranges import recorded_range
from edgelite.schema import read_model, write_model
from tests.converter.helpers import convert_to_bytes, run_edgelite
from tests.converter.qat_models import model_dir
from tests.oracle import assert_matches, run_litert


def _int8_params(lo: float, hi: float) -> tuple[float, int]:
    """Scale and zero point of an int8 tensor with fake-quant range [lo, hi] (lo <= 0 <= hi)."""
    scale = np.float32((np.float64(hi) - np.float64(lo)) / 255.0)
    return float(scale), int(-128 + np.floor(-np.float64(lo) / np.float64(scale) + 0.5))


def _params(model, tensor: int) -> tuple[list[float], list[int]]:
    q = model.main.tensors[tensor].quantization
    return [float(s) for s in q.scale], [int(z) for z in q.zero_point]


def _op(model, name: str, nth: int = 0):
    return [op for op in model.main.operators if model.op_name(op) == name][nth]


@pytest.fixture(scope="module")
def qat_cnn(tmp_path_factory):
    """The tfmot CNN converted by ``edgelite convert --quantize int8`` (no data)."""
    folder = model_dir("cnn")
    out = tmp_path_factory.mktemp("qat") / "cnn_int8.tflite"
    argv = ["convert", str(folder / "saved_model"), "-o", str(out), "--quantize", "int8", "-q"]
    assert main(argv) == 0
    return folder, out.read_bytes(), np.load(folder / "data.npz")


def test_qat_model_converts_without_calibration_data(qat_cnn, tmp_path, capsys):
    _, data, _ = qat_cnn
    model = read_model(data)
    assert check_model(model) == []
    (tmp_path / "int8.tflite").write_bytes(data)
    assert main(["check", str(tmp_path / "int8.tflite")]) == 0
    assert "passes the spec" in capsys.readouterr().out
    names = [model.op_name(op) for op in model.main.operators]
    assert names == ["QUANTIZE", "CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE"] + [
        "FULLY_CONNECTED"
    ] * 2 + ["DEQUANTIZE"]
    assert all(recorded_range(t) is None for t in model.main.tensors)  # ranges consumed


def test_int8_scales_are_the_learned_ranges(qat_cnn):
    _, data, arrays = qat_cnn
    model = read_model(data)

    def learned(prefix: str) -> tuple[float, int]:
        lo, hi = arrays[f"range/{prefix}_min:0"], arrays[f"range/{prefix}_max:0"]
        return _int8_params(float(lo), float(hi))

    conv, depthwise = _op(model, "CONV_2D"), _op(model, "DEPTHWISE_CONV_2D")
    dense, logits = _op(model, "FULLY_CONNECTED"), _op(model, "FULLY_CONNECTED", 1)
    expected = {
        conv.inputs[0]: learned("quantize_layer/quantize_layer"),
        conv.outputs[0]: learned("quant_conv2d/post_activation"),
        depthwise.outputs[0]: learned("quant_re_lu/output"),
        dense.outputs[0]: learned("quant_dense/post_activation"),
        logits.outputs[0]: learned("quant_dense_1/post_activation"),
    }
    for tensor, (scale, zero_point) in expected.items():
        scales, zero_points = _params(model, tensor)
        assert zero_points == [zero_point], model.main.tensors[tensor].name
        np.testing.assert_allclose(scales, [scale], rtol=1e-7)
    # Weights: symmetric narrow range [-m, m] -> scale m / 127, per channel for the conv.
    kernel_max = arrays["range/quant_conv2d/kernel_max:0"]
    np.testing.assert_allclose(_params(model, conv.inputs[1])[0], kernel_max / 127, rtol=1e-6)
    dense_max = float(arrays["range/quant_dense/kernel_max:0"])
    np.testing.assert_allclose(_params(model, dense.inputs[1])[0], [dense_max / 127], rtol=1e-6)


def test_same_parameters_as_the_official_converter(qat_cnn):
    folder, data, _ = qat_cnn
    ours, official = read_model(data), read_model((folder / "official.tflite").read_bytes())
    assert [ours.op_name(op) for op in ours.main.operators] == [
        official.op_name(op) for op in official.main.operators
    ]
    for mine, theirs in zip(ours.main.operators, official.main.operators):
        for a, b in zip(mine.inputs + mine.outputs, theirs.inputs + theirs.outputs):
            qa, qb = ours.main.tensors[a].quantization, official.main.tensors[b].quantization
            if qb is None or not len(qb.scale):
                continue
            # 1 float32 ulp: a bias scale is input_scale * weight_scale rounded once
            # from double here, maybe twice there.
            np.testing.assert_allclose(qa.scale, qb.scale, rtol=1.2e-7)
            np.testing.assert_array_equal(qa.zero_point, qb.zero_point)


def test_runs_in_both_runtimes_like_the_qat_model(qat_cnn):
    folder, data, arrays = qat_cnn
    official = (folder / "official.tflite").read_bytes()
    output_scale = _params(read_model(data), _op(read_model(data), "DEQUANTIZE").inputs[0])[0][0]
    for i in range(len(arrays["x"])):
        x = arrays["x"][i : i + 1]
        litert = run_litert(data, [x])[0]
        assert_matches(run_edgelite(data, [x])[0], litert, f"sample {i} edgelite vs litert")
        assert_matches(litert, run_litert(official, [x])[0], f"sample {i} vs official int8")
        # The fake-quant float maths of Keras and the integer kernels round apart by a step.
        worst = float(np.max(np.abs(litert - arrays["y"][i])))
        assert worst <= 1.01 * output_scale, f"sample {i}: {worst} vs Keras QAT output"


def test_float_model_keeps_ranges_for_a_later_quantize(qat_cnn, tmp_path):
    folder, direct, arrays = qat_cnn
    float_path, int8_path = tmp_path / "float.tflite", tmp_path / "int8.tflite"
    assert main(["convert", str(folder / "saved_model"), "-o", str(float_path), "-q"]) == 0
    float_model = read_model(float_path.read_bytes())
    assert sum(recorded_range(t) is not None for t in float_model.main.tensors) >= 8
    x = arrays["x"][:1]
    float_bytes = float_path.read_bytes()
    assert_matches(run_edgelite(float_bytes, [x])[0], run_litert(float_bytes, [x])[0])
    assert (
        main(["quantize", str(float_path), "-o", str(int8_path), "--quantize", "int8", "-q"]) == 0
    )
    for i in range(4):
        x = arrays["x"][i : i + 1]
        assert_matches(run_litert(int8_path.read_bytes(), [x])[0], run_litert(direct, [x])[0])


def _handmade(with_middle_range: bool = True):
    """Args on the input, per-channel narrow conv weights, per-tensor dense weights, a
    range excluding 0 (its zero point is clamped) and optionally a missing range."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    w_conv = rng.uniform(-0.5, 0.5, (3, 3, 2, 4)).astype(np.float32)
    m_conv = np.abs(w_conv).max(axis=(0, 1, 2)) * 0.9  # some weights clip
    w_dense = rng.uniform(-0.3, 0.3, (36, 5)).astype(np.float32)
    fq = tf.quantization

    @tf.function(input_signature=[tf.TensorSpec([1, 5, 5, 2], tf.float32, name="x")])
    def net(x):
        x = fq.fake_quant_with_min_max_args(x, min=-1.0, max=2.0)
        w = fq.fake_quant_with_min_max_vars_per_channel(w_conv, -m_conv, m_conv, narrow_range=True)
        y = tf.nn.relu(tf.nn.conv2d(x, w, 1, "VALID") + 0.1)
        y = fq.fake_quant_with_min_max_vars(y, 0.0, 1.6) if with_middle_range else y
        y = tf.reshape(y, [1, 36])
        v = fq.fake_quant_with_min_max_vars(w_dense, -0.3, 0.3, narrow_range=True)
        z = tf.matmul(y, v)
        return fq.fake_quant_with_min_max_vars(z, 0.25, 1.5)  # excludes 0: TF uses [0, 1.25]

    return net, rng.uniform(-1.2, 2.2, (6, 1, 5, 5, 2)).astype(np.float32)


def test_handmade_fake_quant_graph():
    net, samples = _handmade()
    data, _ = convert_to_bytes(net)
    model, report = quantize_with_report(read_model(data), QuantizeOptions("int8"), log=None)
    assert report.kept_float == []
    conv, dense = _op(model, "CONV_2D"), _op(model, "FULLY_CONNECTED")
    assert _params(model, conv.inputs[0]) == ([float(np.float32(3 / 255))], [-43])
    assert _params(model, conv.outputs[0])[1] == [-128]
    assert _params(model, dense.outputs[0]) == ([float(np.float32(1.25 / 255))], [-128])
    assert len(_params(model, conv.inputs[1])[0]) == 4
    quantized = write_model(model)
    for x in samples:
        expected = np.asarray(net(x))
        litert = run_litert(quantized, [x])[0]
        assert_matches(run_edgelite(quantized, [x])[0], litert)
        assert np.max(np.abs(litert - expected)) <= 1.01 * 1.25 / 255


def test_missing_range_stays_float_or_is_calibrated():
    net, samples = _handmade(with_middle_range=False)
    float_model = read_model(convert_to_bytes(net)[0])
    _, report = quantize_with_report(float_model, QuantizeOptions("int8"), log=None)
    assert report.kept_float, "an op without a range must stay float"
    assert all("no fake-quant range" in kept.reason for kept in report.kept_float)
    model, report = quantize_with_report(float_model, QuantizeOptions("int8"), samples, log=None)
    assert report.kept_float == [] and report.calibration_steps == len(samples)
    conv = _op(model, "CONV_2D")
    assert _params(model, conv.inputs[0]) == ([float(np.float32(3 / 255))], [-43])  # recorded


def test_other_bit_widths_are_reported():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
    def four_bit(x):
        return tf.quantization.fake_quant_with_min_max_args(x, -1.0, 1.0, num_bits=4) * 2.0

    with pytest.raises(UnsupportedOpsError, match="4-bit fake quantization"):
        convert_to_bytes(four_bit)


@pytest.mark.parametrize("narrow", [False, True])
@pytest.mark.parametrize("limits", [(-3.8994217, 3.257199), (0.5, 2.0), (-2.0, -0.3)])
def test_folded_fake_quant_equals_tensorflow(narrow, limits):
    import tensorflow as tf

    from edgelite.quantization.ranges import fake_quant

    x = np.random.default_rng(0).normal(0, 3, (7, 5, 3)).astype(np.float32)
    lo, hi = limits
    fq = tf.quantization
    expected = fq.fake_quant_with_min_max_vars(x, lo, hi, narrow_range=narrow).numpy()
    np.testing.assert_array_equal(fake_quant(x, lo, hi, narrow, divide=True), expected)
    expected = fq.fake_quant_with_min_max_args(x, lo, hi, narrow_range=narrow).numpy()
    np.testing.assert_array_equal(fake_quant(x, lo, hi, narrow), expected)
    los, his = np.array([lo, -1.0, 0.0], np.float32), np.array([hi, 0.5, 0.0], np.float32)
    expected = fq.fake_quant_with_min_max_vars_per_channel(x, los, his, narrow_range=narrow)
    np.testing.assert_array_equal(fake_quant(x, los, his, narrow), expected.numpy())
