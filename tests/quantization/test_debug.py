"""The quantization debugger (``debug_quantization``): matching, measures, ranking, runtimes.

Integer models run in ai-edge-litert (``runtime="litert"``) while edgelite's quantized
kernels are pending; edgelite's own runtime is exercised on pairs it runs today (a
float16 model, and an int8 model made of data-movement ops), and both runtimes must
give the same report there.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgelite.quantization import QuantizeOptions, quantize, quantize_with_report
from edgelite.quantization.debug import DebugError, debug_quantization
from edgelite.quantization.debug_report import CANDIDATE_MIN_DROP_DB
from edgelite.schema import BuiltinOperator as B
from edgelite.schema import options as o
from edgelite.schema import read_model, write_model
from edgelite.schema.builder import ModelBuilder
from tests.quantization.helpers import run_real
from tests.quantization.zoo_data import representative_samples

DEPTHWISE = "small_cnn_1/depthwise_conv2d_1/depthwise1"
LOGITS = "small_cnn_1/logits_1/MatMul;small_cnn_1/logits_1/BiasAdd"


@pytest.fixture(scope="module")
def zoo():
    """small_cnn from the official converter: {flavour: path}."""
    from tests.zoo import ensure_zoo

    entries = ensure_zoo(
        models=["small_cnn"], flavours=["float32", "int8", "int8_floatio", "float16"]
    )
    return {entry.flavour: entry.path for entry in entries}


@pytest.fixture(scope="module")
def data():
    """small_cnn's calibration samples, stacked (12, 1, 32, 32, 3)."""
    return np.stack(representative_samples("small_cnn"))


@pytest.fixture(scope="module")
def ours(zoo, data):
    """edgelite's int8 (float I/O) quantization of small_cnn, as a Model."""
    return quantize(read_model(zoo["float32"]), QuantizeOptions(mode="int8"), data, log=None)


def data_movement_model() -> tuple[bytes, dict[str, np.ndarray]]:
    """A float model of TRANSPOSE -> RESHAPE -> CONCATENATION -> PAD and samples for it.

    Its int8 quantization runs in edgelite today (data movement works on any dtype);
    the concatenation requantizes input ``y`` to the output's scale.
    """
    mb = ModelBuilder()
    x, y = mb.input("x", [1, 4, 6, 3]), mb.input("y", [1, 6, 4])
    t = mb.tensor("t", [1, 6, 4, 3])
    mb.op(
        B.TRANSPOSE,
        [x, mb.const("perm", np.array([0, 2, 1, 3], np.int32))],
        [t],
        o.TransposeOptions(),
    )
    r = mb.tensor("r", [1, 6, 12])
    mb.op(
        B.RESHAPE,
        [t, mb.const("shape", np.array([1, 6, 12], np.int32))],
        [r],
        o.ReshapeOptions(new_shape=[1, 6, 12]),
    )
    c = mb.tensor("c", [1, 6, 16])
    mb.op(B.CONCATENATION, [r, y], [c], o.ConcatenationOptions(axis=2))
    p = mb.tensor("p", [1, 8, 16])
    pads = mb.const("pads", np.array([[0, 0], [1, 1], [0, 0]], np.int32))
    mb.op(B.PAD, [c, pads], [p], o.PadOptions())
    mb.output(p)
    rng = np.random.default_rng(0)
    samples = {
        "x": rng.normal(size=(6, 1, 4, 6, 3)).astype(np.float32),
        "y": (rng.normal(size=(6, 1, 6, 4)) * 3).astype(np.float32),
    }
    return mb.to_bytes(), samples


def _activations(model) -> int:
    from edgelite.quantization.calibrate import activation_tensors

    return len(activation_tensors(model))


def _tensor(model, name: str):
    return next(t for t in model.main.tensors if t.name == name)


def test_our_int8_model_layer_by_layer(zoo, data, ours):
    report = debug_quantization(zoo["float32"], ours, data, runtime="litert", log=None)
    float_model = read_model(zoo["float32"])
    assert report.samples == len(data)
    assert report.unmatched == []
    assert len(report.layers) == _activations(float_model)
    assert {layer.matched_by for layer in report.layers} == {"name"}
    for layer in report.layers:
        tensor = ours.main.tensors[layer.quant_index]
        assert layer.dtype == "int8"
        assert layer.scale == [float(tensor.quantization.scale[0])]
        assert layer.zero_point == [int(tensor.quantization.zero_point[0])]
        assert 25 < layer.snr_db < 60, layer
        assert 0.5 < layer.range_utilization <= 1.0
        assert layer.clipped_fraction == 0.0
    # The model output, measured independently: float vs dequantized int8 outputs.
    output = float_model.main.tensors[float_model.main.outputs[0]].name
    errors = [
        run_real(write_model(ours), [s])[0] - run_real(zoo["float32"].read_bytes(), [s])[0]
        for s in data
    ]
    layer = report.layer(output)
    assert layer.op == "SOFTMAX"
    assert math.isclose(layer.mse, float(np.mean(np.square(errors))), rel_tol=1e-6)
    assert math.isclose(layer.max_abs_error, float(np.max(np.abs(errors))), rel_tol=1e-6)


def test_ranking_is_by_snr_drop_and_candidates_are_integer_layers(zoo, data, ours):
    report = debug_quantization(zoo["float32"], ours, data, runtime="litert", log=None)
    drops = [layer.snr_drop_db for layer in report.layers]
    assert drops == sorted(drops, reverse=True)
    assert report.layers[-1].snr_drop_db < 0  # averaging (pooling/MEAN) lowers the noise
    assert 0 < len(report.candidates) <= 3
    for candidate in report.candidates:
        assert candidate.position >= 0 and candidate.scale is not None
        assert candidate.snr_drop_db >= CANDIDATE_MIN_DROP_DB
    assert report.candidates == [c for c in report.layers if c in report.candidates]
    assert (
        debug_quantization(
            zoo["float32"], ours, data, runtime="litert", suggest=1, log=None
        ).candidates
        == report.candidates[:1]
    )


def test_suggested_keep_float_expressions_keep_exactly_those_layers_float(zoo, data, ours):
    report = debug_quantization(zoo["float32"], ours, data, runtime="litert", log=None)
    patterns = tuple(layer.keep_float_regex for layer in report.candidates)
    assert patterns and all(
        len(p) < len(layer.tensor) + 3 for p, layer in zip(patterns, report.candidates)
    )
    options = QuantizeOptions(mode="int8", keep_float=patterns)
    _, quantize_report = quantize_with_report(read_model(zoo["float32"]), options, data, log=None)
    kept = {kept.output for kept in quantize_report.kept_float}
    assert kept == {layer.tensor for layer in report.candidates}


@pytest.mark.parametrize("flavour", ["int8", "int8_floatio"])
def test_official_converter_models_match_every_tensor(zoo, data, flavour):
    report = debug_quantization(zoo["float32"], zoo[flavour], data, runtime="litert", log=None)
    assert report.unmatched == []
    assert len(report.layers) == _activations(read_model(zoo["float32"]))
    first = [layer for layer in report.layers if layer.position < 0]
    assert len(first) == 1 and first[0].dtype == "int8"  # the quantized model input
    assert min(layer.snr_db for layer in report.layers) > 25


@pytest.mark.parametrize("factor", [1 / 8, 8.0])
@pytest.mark.parametrize("target", [DEPTHWISE, LOGITS])
def test_a_corrupted_scale_is_found_as_the_worst_layer(zoo, data, ours, target, factor):
    broken = read_model(write_model(ours))
    quantization = _tensor(broken, target).quantization
    quantization.scale = (quantization.scale * factor).astype(np.float32)
    report = debug_quantization(zoo["float32"], broken, data, runtime="litert", log=None)
    assert report.layers[0].tensor == target
    assert report.candidates[0].tensor == target
    healthy = debug_quantization(zoo["float32"], ours, data, runtime="litert", log=None)
    assert report.layer(target).snr_db < healthy.layer(target).snr_db - 6
    if factor < 1:  # a scale too small clips the values
        assert report.layer(target).clipped_fraction > 0.05


def test_position_fallback_when_names_differ(zoo, data, ours):
    renamed = read_model(write_model(ours))
    for tensor in renamed.main.tensors:
        if tensor.name in (DEPTHWISE, LOGITS):
            tensor.name = f"renamed/{tensor.name[:8]}"
    report = debug_quantization(zoo["float32"], renamed, data, runtime="litert", log=None)
    assert report.unmatched == []
    assert report.layer(DEPTHWISE).matched_by == "position"
    assert report.layer(LOGITS).matched_by == "position"
    assert report.layer(LOGITS).op == "FULLY_CONNECTED"
    assert report.layer(LOGITS).snr_db > 25


def test_float16_model_in_edgelite_matches_litert(zoo, data):
    reports = [
        debug_quantization(zoo["float32"], zoo["float16"], data, runtime=runtime, log=None)
        for runtime in ("edgelite", "litert")
    ]
    ours, theirs = reports
    assert ours.runtime == "edgelite" and ours.unmatched == []
    assert ours.candidates == []  # float layers cannot be kept float
    for layer in ours.layers:
        assert layer.dtype == "float32" and layer.scale is None
        assert layer.range_utilization is None
        assert layer.snr_db > 50 or math.isinf(layer.snr_db), layer
        other = theirs.layer(layer.tensor)
        assert abs(min(layer.snr_db, 200) - min(other.snr_db, 200)) < 1.0


def test_int8_data_movement_model_in_edgelite(tmp_path):
    float_bytes, samples = data_movement_model()
    quantized = quantize(read_model(float_bytes), QuantizeOptions(mode="int8"), samples, log=None)
    reports = {
        runtime: debug_quantization(
            float_bytes, write_model(quantized), samples, runtime=runtime, log=None
        )
        for runtime in ("edgelite", "litert")
    }
    report = reports["edgelite"]
    assert {layer.tensor for layer in report.layers} == {"x", "y", "t", "r", "c", "p"}
    for layer in report.layers:  # integer data movement: identical in both runtimes
        other = reports["litert"].layer(layer.tensor)
        assert (layer.mse, layer.max_abs_error, layer.range_utilization) == (
            other.mse,
            other.max_abs_error,
            other.range_utilization,
        )
    # TRANSPOSE and RESHAPE move values: the error is exactly x's quantization error.
    x_int8 = _tensor(quantized, "x_int8").quantization
    scale, zero_point = float(x_int8.scale[0]), int(x_int8.zero_point[0])
    q = np.clip(
        np.floor(np.abs(samples["x"] / scale) + 0.5) * np.sign(samples["x"]) + zero_point, -128, 127
    )
    expected = float(np.mean(np.square((q - zero_point) * scale - samples["x"])))
    for name in ("x", "t", "r"):
        assert math.isclose(report.layer(name).mse, expected, rel_tol=1e-4)  # float32 rounding
        assert report.layer(name).scale == [scale]
    assert report.layer("t").snr_drop_db == pytest.approx(0.0, abs=1e-9)
    assert report.layer("c").op == "CONCATENATION" and report.layer("p").op == "PAD"


def test_max_samples_and_inputs_given_as_bytes(zoo, data, ours):
    report = debug_quantization(
        zoo["float32"].read_bytes(),
        write_model(ours),
        data,
        runtime="litert",
        max_samples=3,
        log=None,
    )
    assert report.samples == 3
    assert report.float_model == "<float bytes>"


def test_image_folder_data(zoo, ours, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    for i in range(3):
        pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    report = debug_quantization(zoo["float32"], ours, tmp_path, runtime="litert", log=None)
    assert report.samples == 3 and report.layers


# -- bad input ------------------------------------------------------------------------------


def test_models_with_different_inputs_are_rejected(zoo, data):
    float_bytes, _ = data_movement_model()
    with pytest.raises(DebugError, match="do not match: the float model has 1 input"):
        debug_quantization(zoo["float32"], float_bytes, data, runtime="litert", log=None)


def test_swapped_models_are_rejected(zoo, data):
    with pytest.raises(DebugError, match="the float model is quantized"):
        debug_quantization(zoo["int8"], zoo["float32"], data, runtime="litert", log=None)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 1, 32, 32, 3), np.float32), "holds no sample"),
        (np.zeros((2, 1, 28, 28, 1), np.float32), r"shape \[1, 28, 28, 1\] does not fit"),
        (np.zeros((2, 1, 32, 32, 3), np.complex64), "complex64 is not numeric"),
        (np.full((2, 1, 32, 32, 3), np.nan, np.float32), "NaN or Inf"),
    ],
    ids=["empty", "shape", "dtype", "nan"],
)
def test_bad_data_is_a_clear_error(zoo, ours, bad, message):
    with pytest.raises(DebugError, match=message):
        debug_quantization(zoo["float32"], ours, bad, runtime="litert", log=None)


def test_a_model_edgelite_cannot_run_points_to_litert():
    mb = ModelBuilder()
    x = mb.input("x", [1, 4])
    y = mb.tensor("y", [1, 4])
    mb.op(B.RELU, [x], [y])
    mb.output(y)
    float_bytes = mb.to_bytes()
    mb.model.operator_codes.clear()
    mb.sg.operators.clear()
    mb.op("NotARealOp", [x], [y])
    samples = np.ones((2, 1, 4), np.float32)
    with pytest.raises(DebugError, match=r"cannot run in edgelite.*--runtime litert"):
        debug_quantization(float_bytes, mb.to_bytes(), samples, log=None)


def test_unknown_runtime_and_missing_file(zoo, data, tmp_path):
    with pytest.raises(DebugError, match="unknown runtime 'tflite'"):
        debug_quantization(zoo["float32"], zoo["int8"], data, runtime="tflite", log=None)
    with pytest.raises(DebugError, match="does not exist"):
        debug_quantization(tmp_path / "none.tflite", zoo["int8"], data, log=None)
