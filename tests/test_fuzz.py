"""Seeded mutations of real models must load cleanly or raise ModelError: never crash.

`make test` runs a short fuzz (EDGELITE_FUZZ_CASES, default 1500); `make fuzz` a long one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.sample_models import conv_model, quantized_model

REPO = Path(__file__).resolve().parents[1]


def _seed_files(tmp_path: Path, corpus: list[Path]) -> list[str]:
    seeds = []
    for name, builder in (("conv", conv_model), ("quant", quantized_model)):
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(builder().to_bytes())
        seeds.append(str(path))
    # A few small real / official-converter models (large ones make each case slow).
    small = sorted(
        (p for p in corpus if p.stat().st_size < 300_000), key=lambda p: p.stat().st_size
    )
    seeds += [str(p) for p in small[:4]]
    return seeds


def test_fuzz_model_loading(tmp_path, corpus_paths):
    cases = int(os.environ.get("EDGELITE_FUZZ_CASES", "1500"))
    config = {"seeds": _seed_files(tmp_path, corpus_paths), "cases": cases, "seed": 1234}
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests" / "fuzz_worker.py"), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=max(120, cases // 10),
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, f"fuzz worker died (code {proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not result["failures"], json.dumps(result["failures"][:3], indent=1)
    assert result["model_error"] > cases // 4, "mutations should mostly be rejected"
