"""`edgelite benchmark`: latency stats, load time, arena, RSS, per-op table, side by side."""

from __future__ import annotations

import json

from edgelite.benchmark import op_table
from edgelite.cli import main
from tests.sample_models import conv_model


def test_benchmark_json_with_official_runtime(tmp_path, capsys):
    path = tmp_path / "m.tflite"
    conv_model().build().save(path)
    args = ["benchmark", str(path), "--runs", "5", "--warmup", "1", "--profile"]
    assert main([*args, "--compare-litert", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["runtime"] for r in results] == ["edgelite", "litert", "litert-noxnn"]
    for r in results:
        assert r["runs"] == 5 and 0 < r["min_ms"] <= r["median_ms"] <= r["p95_ms"]
        assert r["init_ms"] > 0 and r["import_ms"] > 0 and r["peak_rss_bytes"] > 0
    ours = results[0]
    assert ours["arena_bytes"] > 0
    assert {row["op"] for row in ours["ops"]} == {
        "CONV_2D",
        "RESHAPE",
        "FULLY_CONNECTED",
        "SOFTMAX",
    }


def test_benchmark_text_table(tmp_path, capsys):
    path = tmp_path / "m.tflite"
    conv_model().build().save(path)
    assert main(["benchmark", str(path), "--runs", "3", "--warmup", "0", "--profile"]) == 0
    text = capsys.readouterr().out
    assert "median ms" in text and "peak RSS" in text and "per-op profile" in text


def test_bad_model_is_a_clean_error(tmp_path, capsys):
    path = tmp_path / "bad.tflite"
    path.write_bytes(b"not a model at all")
    assert main(["benchmark", str(path)]) == 2
    assert "not a TFLite model" in capsys.readouterr().err


def test_op_table_aggregates_nodes():
    rows = op_table(
        [{"op": "ADD", "ms": 1.0}, {"op": "CONV_2D", "ms": 3.0}, {"op": "ADD", "ms": 1.0}]
    )
    assert rows[0] == {"op": "CONV_2D", "count": 1, "total_ms": 3.0, "percent": 60.0}
    assert rows[1]["count"] == 2 and rows[1]["percent"] == 40.0
