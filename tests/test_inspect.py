"""`edgelite inspect`: text and JSON reports, and an op histogram equal to the oracle's."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from edgelite.cli import main
from edgelite.inspect import describe_options, inspect_model
from edgelite.schema import read_model
from edgelite.schema.generated.enums import ActivationFunctionType, Padding
from edgelite.schema.generated.options import Conv2DOptions, ReducerOptions
from tests.oracle import litert_interpreter
from tests.sample_models import conv_model


def test_operator_line_and_sections(tmp_path, capsys):
    path = tmp_path / "m.tflite"
    conv_model().build().save(path)
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert (
        "#0 CONV_2D (v1) [T#0 image, T#1 conv/weights, T#2 conv/bias] -> [T#3 conv] "
        "stride 2x2 SAME RELU6"
    ) in text
    for heading in ("op histogram", "signatures", "metadata", "weights:", "largest constants"):
        assert heading in text
    assert "min_runtime_version (16 B): 1.14.0" in text


def test_json_report(tmp_path, capsys):
    path = tmp_path / "m.tflite"
    conv_model().build().save(path)
    assert main(["inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["op_histogram"] == {
        "CONV_2D": 1,
        "RESHAPE": 1,
        "FULLY_CONNECTED": 1,
        "SOFTMAX": 1,
    }
    assert report["subgraphs"][0]["inputs"][0]["shape_signature"] == [-1, 8, 8, 3]
    assert report["quantization"]["kind"] == "float"
    assert report["signatures"][0]["inputs"]["image"]["index"] == 0


def test_bad_file_is_a_clean_error(tmp_path, capsys):
    path = tmp_path / "bad.tflite"
    path.write_bytes(b"garbage" * 10)
    assert main(["inspect", str(path)]) == 2
    assert "not a TFLite model" in capsys.readouterr().err


def test_describe_options():
    conv = Conv2DOptions(
        padding=Padding.VALID,
        stride_w=1,
        stride_h=2,
        dilation_w_factor=2,
        dilation_h_factor=2,
        fused_activation_function=ActivationFunctionType.RELU,
    )
    assert describe_options(conv) == "stride 2x1 dilation 2x2 VALID RELU"
    assert describe_options(ReducerOptions(keep_dims=True)) == "keep_dims"


@pytest.mark.oracle
def test_histogram_matches_official_runtime(corpus_paths):
    assert corpus_paths, "the model corpus is empty"
    for path in corpus_paths:
        model = read_model(path)
        ours = inspect_model(model)["op_histogram"]
        interp = litert_interpreter(path.read_bytes())
        theirs = Counter(op["op_name"] for op in interp._get_ops_details())
        assert ours == dict(theirs), f"{path.name}: {ours} != {dict(theirs)}"
