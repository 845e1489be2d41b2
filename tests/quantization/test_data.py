"""Calibration data sources, options, and bad input: clear errors, nothing written."""

from __future__ import annotations

import io

import numpy as np
import pytest

from edgelite.quantization import (
    CalibrationOptions,
    ImagePreprocessing,
    QuantizationError,
    QuantizeOptions,
    quantize,
    quantize_with_report,
)
from edgelite.schema import BuiltinOperator as B
from edgelite.schema import options as o
from edgelite.schema import read_model
from edgelite.schema.builder import ModelBuilder
from tests.quantization.single_ops import CASES


def _conv_model():
    return read_model(CASES["conv_relu6"]()[0])


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 1, 8, 8, 3)).astype(np.float32)


def _input_scale(model) -> float:
    quantize_op = model.main.operators[0]
    return float(model.main.tensors[quantize_op.outputs[0]].quantization.scale[0])


def test_all_sources_give_the_same_model(tmp_path):
    data = _images(6)
    np.save(tmp_path / "x.npy", data)
    np.savez(tmp_path / "x.npz", x=data)
    sources = [
        list(data),  # arrays, one per sample
        [[x] for x in data],  # lists in input order
        [{"x": x} for x in data],  # dicts by input name
        lambda: iter(data),  # representative_dataset style
        data,  # stacked array
        {"x": data},  # dict of stacked arrays
        data[:, 0],  # samples without their batch axis
        str(tmp_path / "x.npy"),
        tmp_path / "x.npz",
    ]
    scales = {
        _input_scale(quantize(_conv_model(), QuantizeOptions(), s, log=None)) for s in sources
    }
    assert len(scales) == 1


def test_progress_lines_and_step_limit():
    log = io.StringIO()
    options = QuantizeOptions(calibration=CalibrationOptions(steps=5, progress_every=2))
    _, report = quantize_with_report(_conv_model(), options, _images(12), log=log)
    assert report.calibration_steps == 5
    assert log.getvalue().splitlines()[0].startswith("calibration: step 2/5")
    assert "step 5/5" in log.getvalue()


@pytest.mark.parametrize("estimator", ["minmax", "moving_average", "percentile", "mse"])
def test_every_estimator_quantizes(estimator):
    options = QuantizeOptions(calibration=CalibrationOptions(estimator=estimator))
    model = quantize(_conv_model(), options, _images(8), log=None)
    assert _input_scale(model) > 0


def test_image_folder_with_declared_preprocessing(tmp_path):
    from PIL import Image as image  # the optional [images] extra, in the dev extra too

    for i in range(3):
        pixels = np.zeros((20, 16, 3), np.uint8)
        pixels[:, 8:] = 255  # two flat halves: resizing keeps 0 and 255
        image.fromarray(np.roll(pixels, i, axis=1)).save(tmp_path / f"img{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    scaled = quantize(_conv_model(), QuantizeOptions(), tmp_path, log=None)
    centred = quantize(
        _conv_model(),
        QuantizeOptions(),
        tmp_path,
        images=ImagePreprocessing(mean=127.5, std=127.5),
        log=None,
    )
    # x / 255 spans about [0, 1]; (x - 127.5) / 127.5 about [-1, 1]: twice the scale.
    assert _input_scale(centred) == pytest.approx(2 * _input_scale(scaled), rel=0.05)


def _error(source, options=None, model=None) -> str:
    with pytest.raises(QuantizationError) as info:
        quantize(model or _conv_model(), options or QuantizeOptions(), source, log=None)
    return str(info.value)


@pytest.mark.parametrize(
    "source, expected",
    [
        ([], "calibration data is empty"),
        (None, "needs calibration data"),
        ([np.zeros((1, 9, 8, 3), np.float32)], "shape [1, 9, 8, 3] does not fit"),
        ([np.zeros((1, 8, 8), np.float32)], "does not fit"),
        ([[np.zeros((1, 8, 8, 3), np.float32)] * 2], "has 2 arrays; the model has 1 inputs"),
        ([np.array([["a"]])], "is not numeric"),
        ([np.full((1, 8, 8, 3), np.nan, np.float32)], "contains NaN or Inf"),
        ([{"y": np.zeros((1, 8, 8, 3), np.float32)}], "no entry for input 'x'"),
        (42, "is not iterable"),
        ("/no/such/file.npz", "does not exist"),
    ],
)
def test_bad_calibration_data(source, expected):
    assert expected in _error(source)


def test_wrong_dtype_for_an_integer_input():
    model_bytes, _ = CASES["gather_embedding"]()
    message = _error([np.zeros((1, 5), np.float32)], model=read_model(model_bytes))
    assert "float data for a int32 input" in message


def test_nan_produced_inside_the_model():
    mb = ModelBuilder()
    x = mb.input("x", [1, 4])
    y = mb.tensor("y", [1, 4])
    mb.op(B.LOG, [x], [y])
    z = mb.tensor("z", [1, 4])
    mb.op(B.MUL, [y, y], [z], o.MulOptions())
    mb.output(z)
    data = [-np.ones((1, 4), np.float32)]
    message = _error(data, model=mb.build())
    assert "calibration step 1: tensor" in message and "'y' holds NaN or Inf" in message


def test_already_quantized_model_is_refused():
    quantized = quantize(_conv_model(), QuantizeOptions(), _images(4), log=None)
    for mode in ("int8", "dynamic", "float16"):
        assert "already quantized" in _error(_images(4), QuantizeOptions(mode=mode), quantized)


@pytest.mark.parametrize(
    "options, expected",
    [
        (dict(keep_float=("NO_SUCH_OP",)), "matches no op name"),
        (dict(keep_float=("(",)), "not a valid regex"),
        (dict(mode="int4"), "unknown mode"),
        (dict(mode="dynamic", input_type="int8"), "needs a full-integer mode"),
        (dict(input_type="int16"), "int16 needs mode int16x8"),
        (dict(mode="int16x8", output_type="uint8"), "does not fit int16x8"),
        (dict(calibration=CalibrationOptions(estimator="kl")), "unknown range estimator"),
        (dict(calibration=CalibrationOptions(steps=0)), "steps must be >= 1"),
    ],
)
def test_bad_options(options, expected):
    assert expected in _error(_images(2), QuantizeOptions(**options))


def test_keep_float_by_op_name_and_by_tensor_name():
    model_bytes, _ = CASES["float_island"]()
    data = [np.ones((1, 8), np.float32) * i for i in range(1, 4)]
    for pattern in ("^ADD$", "^y$"):
        options = QuantizeOptions(keep_float=(pattern,))
        _, report = quantize_with_report(read_model(model_bytes), options, data, log=None)
        kept = {k.op_name: k.reason for k in report.kept_float}
        assert kept["ADD"] == f"--keep-float {pattern!r}"


def test_input_and_output_types():
    data = _images(4)
    for io_type, dtype_name in (("int8", "INT8"), ("uint8", "UINT8")):
        options = QuantizeOptions(input_type=io_type, output_type=io_type)
        model = quantize(_conv_model(), options, data, log=None)
        sg = model.main
        assert sg.tensors[sg.inputs[0]].type.name == dtype_name
        assert sg.tensors[sg.outputs[0]].type.name == dtype_name
        assert sg.tensors[sg.inputs[0]].name == "x" and sg.tensors[sg.outputs[0]].name == "y"
    options = QuantizeOptions(mode="int16x8", input_type="int16", output_type="int16")
    model = quantize(_conv_model(), options, data, log=None)
    assert [model.op_name(op) for op in model.main.operators] == ["CONV_2D"]


def test_two_inputs_from_npz_need_equal_sample_counts(tmp_path):
    model_bytes, _ = CASES["batch_matmul"]()
    a = np.zeros((4, 2, 3, 8), np.float32)
    np.savez(tmp_path / "good.npz", a=a, b=np.ones((4, 2, 8, 5), np.float32))
    assert quantize(read_model(model_bytes), QuantizeOptions(), tmp_path / "good.npz", log=None)
    np.savez(tmp_path / "bad.npz", a=a, b=np.ones((3, 2, 8, 5), np.float32))
    message = _error(tmp_path / "bad.npz", model=read_model(model_bytes))
    assert "different sample counts ('a': 4, 'b': 3)" in message
