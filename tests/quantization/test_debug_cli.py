"""``edgelite quant-debug`` from the command line: table, JSON, HTML with an SVG plot, errors."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from edgelite.cli import main
from edgelite.quantization import QuantizeOptions, quantize
from edgelite.schema import read_model
from tests.quantization.test_debug import DEPTHWISE, data_movement_model
from tests.quantization.zoo_data import representative_samples


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """(float model, our int8 model, data .npy) of the zoo's small_cnn, as files."""
    from tests.zoo import ensure_zoo

    root = tmp_path_factory.mktemp("quant_debug")
    float_path = next(e.path for e in ensure_zoo(models=["small_cnn"], flavours=["float32"]))
    data = np.stack(representative_samples("small_cnn"))
    np.save(root / "data.npy", data)
    quantized = quantize(read_model(float_path), QuantizeOptions(mode="int8"), data, log=None)
    quantized.save(root / "small_cnn.int8.tflite")
    return float_path, root / "small_cnn.int8.tflite", root / "data.npy"


def test_table_json_and_html(files, tmp_path, capsys):
    float_path, quant_path, data = files
    report_json, report_html = tmp_path / "r.json", tmp_path / "r.html"
    argv = [
        "quant-debug",
        str(float_path),
        str(quant_path),
        "--data",
        str(data),
        "--runtime",
        "litert",
        "--json",
        str(report_json),
        "--html",
        str(report_html),
    ]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "12 sample(s), runtime litert" in out
    assert "SNR dB" in out and "range%" in out and "DEPTHWISE_CONV_2D" in out
    assert "--keep-float candidates" in out and "try: edgelite quantize" in out
    assert "quant-debug: 12 sample(s)" in err  # progress goes to stderr
    assert f"wrote {report_json}" in err
    report = json.loads(report_json.read_text())
    assert report["samples"] == 12 and report["runtime"] == "litert"
    assert len(report["layers"]) == 10
    layer = next(x for x in report["layers"] if x["tensor"] == DEPTHWISE)
    for key in (
        "scale",
        "zero_point",
        "mse",
        "max_abs_error",
        "snr_db",
        "snr_drop_db",
        "range_utilization",
        "clipped_fraction",
        "keep_float_regex",
    ):
        assert key in layer
    assert report["keep_float_candidates"][0]["regex"] in out
    _check_html(report_html.read_text(), len(report["layers"]))


def _check_html(page: str, layers: int) -> None:
    """A self-contained page whose inline SVG is well-formed, one point per layer."""
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    assert "<script" not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    svg = page[page.index("<svg") : page.index("</svg>") + len("</svg>")]
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    circles = root.findall(f"{ns}circle")
    assert len(circles) == layers
    assert all(c.find(f"{ns}title") is not None for c in circles)
    assert any(c.get("fill") == "#d62728" for c in circles)  # the candidates stand out
    ys = [float(c.get("cy")) for c in circles]
    assert all(math.isfinite(y) and 0 <= y <= 340 for y in ys)
    assert len(root.findall(f"{ns}polyline")) == 1


def test_top_limits_the_table(files, capsys):
    float_path, quant_path, data = files
    argv = [
        "quant-debug",
        str(float_path),
        str(quant_path),
        "--data",
        str(data),
        "-q",
        "--runtime",
        "litert",
        "--top",
        "2",
        "--max-samples",
        "2",
    ]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "... 8 more layers" in out and "2 sample(s)" in out
    assert err == ""


def test_edgelite_runtime_on_a_model_it_runs(tmp_path, capsys):
    float_bytes, samples = data_movement_model()
    float_path = tmp_path / "moves.tflite"
    float_path.write_bytes(float_bytes)
    quant = quantize(read_model(float_bytes), QuantizeOptions(mode="int8"), samples, log=None)
    quant.save(tmp_path / "moves.int8.tflite")
    np.savez(tmp_path / "data.npz", **samples)
    argv = [
        "quant-debug",
        str(float_path),
        str(tmp_path / "moves.int8.tflite"),
        "--data",
        str(tmp_path / "data.npz"),
        "-q",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "runtime edgelite" in out and "CONCATENATION" in out and "TRANSPOSE" in out


def test_errors_exit_2_and_write_nothing(files, tmp_path, capsys):
    float_path, quant_path, _ = files
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 1, 8, 8, 3), np.float32))
    report_json = tmp_path / "never.json"
    argv = [
        "quant-debug",
        str(float_path),
        str(quant_path),
        "--data",
        str(bad),
        "--runtime",
        "litert",
        "--json",
        str(report_json),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "edgelite quant-debug: error: bad data:" in err and "does not fit" in err
    assert not report_json.exists() and not list(tmp_path.glob("*.partial"))
    argv = ["quant-debug", str(quant_path), str(float_path), "--data", str(bad)]
    assert main(argv) == 2
    assert "the float model is quantized" in capsys.readouterr().err
