"""``edgelite quantize`` and ``edgelite check`` from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgelite.cli import main
from edgelite.quantization import check_model
from edgelite.schema import read_model
from tests.quantization.single_ops import CASES


@pytest.fixture
def float_model(tmp_path):
    path = tmp_path / "conv.tflite"
    path.write_bytes(CASES["conv_relu6"]()[0])
    data = np.random.default_rng(0).uniform(-1, 1, (8, 1, 8, 8, 3)).astype(np.float32)
    np.save(tmp_path / "data.npy", data)
    return path, tmp_path / "data.npy"


@pytest.mark.parametrize("mode", ["int8", "int16x8", "dynamic", "float16"])
def test_quantize_then_check(float_model, tmp_path, capsys, mode):
    model, data = float_model
    out = tmp_path / f"conv.{mode}.tflite"
    argv = ["quantize", str(model), "-o", str(out), "--quantize", mode]
    if mode in ("int8", "int16x8"):
        argv += ["--calibration-data", str(data), "--calibration-steps", "4", "--per-channel-fc"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert f"wrote {out}" in captured.out
    assert f"mode {mode}:" in captured.err
    assert check_model(read_model(out)) == []
    assert main(["check", str(out)]) == 0
    assert "passes the spec" in capsys.readouterr().out


def test_quantize_options_reach_the_model(float_model, tmp_path):
    model, data = float_model
    out = tmp_path / "conv.uint8.tflite"
    argv = ["quantize", str(model), "-o", str(out), "--quantize", "int8", "-q",
            "--calibration-data", str(data), "--input-type", "uint8", "--output-type", "int8",
            "--estimator", "percentile", "--keep-float", "CONV_2D"]  # fmt: skip
    assert main(argv) == 0
    quantized = read_model(out)
    sg = quantized.main
    assert sg.tensors[sg.inputs[0]].type.name == "UINT8"
    assert sg.tensors[sg.outputs[0]].type.name == "INT8"
    assert "CONV_2D" in [quantized.op_name(op) for op in sg.operators]


def test_bad_data_is_an_error_and_writes_nothing(float_model, tmp_path, capsys):
    model, _ = float_model
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 1, 5, 5, 3), np.float32))
    out = tmp_path / "never.tflite"
    argv = ["quantize", str(model), "-o", str(out), "--quantize", "int8", "--calibration-data",
            str(bad)]  # fmt: skip
    assert main(argv) == 2
    assert "does not fit the input's [1, 8, 8, 3]" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob("never*"))


def test_check_reports_violations_with_exit_code_1(float_model, tmp_path, capsys):
    model, data = float_model
    out = tmp_path / "conv.int8.tflite"
    argv = ["quantize", str(model), "-o", str(out), "--quantize", "int8", "-q",
            "--calibration-data", str(data)]  # fmt: skip
    assert main(argv) == 0
    broken = read_model(out)
    conv = next(op for op in broken.main.operators if broken.op_name(op) == "CONV_2D")
    weight = broken.main.tensors[conv.inputs[1]]
    weight.quantization.zero_point = np.ones_like(weight.quantization.zero_point)
    broken.save(tmp_path / "broken.tflite")
    capsys.readouterr()
    assert main(["check", str(tmp_path / "broken.tflite")]) == 1
    text = capsys.readouterr().out
    assert "[weight-symmetric]" in text and "op #1 CONV_2D: tensor" in text
    assert main(["check", "--json", str(tmp_path / "broken.tflite")]) == 1
    assert {v["rule"] for v in json.loads(capsys.readouterr().out)} == {"weight-symmetric"}


@pytest.mark.parametrize(
    "flags, scales",
    [([], 10), (["--per-channel-fc"], 10), (["--per-tensor-fc"], 1), (["--per-tensor"], 1)],
)
@pytest.mark.parametrize("mode", ["int8", "int16x8"])
def test_fully_connected_weights_are_per_channel_unless_asked(tmp_path, mode, flags, scales):
    """Per channel by default (as TF 2.21 emits them, like dynamic mode always did); one
    scale on request."""
    model = tmp_path / "fc.tflite"
    model.write_bytes(CASES["fc"]()[0])
    data = tmp_path / "fc.npy"
    np.save(data, np.random.default_rng(0).uniform(-1, 1, (4, 2, 16)).astype(np.float32))
    out = tmp_path / "fc.q.tflite"
    argv = ["quantize", str(model), "-o", str(out), "--quantize", mode, "-q", *flags]
    assert main([*argv, "--calibration-data", str(data)]) == 0
    quantized = read_model(out)
    fc = next(op for op in quantized.main.operators if quantized.op_name(op) == "FULLY_CONNECTED")
    weight = quantized.main.tensors[fc.inputs[1]]
    assert len(weight.quantization.scale) == scales
    assert check_model(quantized) == []
