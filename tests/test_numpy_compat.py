"""The runtime works with numpy 1.26 as well as 2.x (same built extensions).

`make test` creates .venv-np1 (numpy 1.26.4 + flatbuffers); this test runs float zoo
models there and here and requires identical outputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NP1_PYTHON = REPO / ".venv-np1" / "bin" / "python"


def _run(python: Path, out: Path, models: list[Path]) -> dict[str, np.ndarray]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [str(python), str(REPO / "tests" / "numpy1_worker.py"), str(out), *map(str, models)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


def test_same_outputs_under_numpy_1_26(tmp_path):
    assert NP1_PYTHON.exists(), (
        "missing .venv-np1: run `make test` (it creates the numpy 1.26 venv)"
    )
    from tests.zoo import ensure_zoo

    models = [e.path for e in ensure_zoo() if e.flavour in ("float32", "float16") and not e.slow]
    assert models
    old = _run(NP1_PYTHON, tmp_path / "np1.npz", models)
    new = _run(Path(sys.executable), tmp_path / "np2.npz", models)
    assert str(old.pop("numpy_version")).startswith("1.26")
    assert str(new.pop("numpy_version")).startswith("2.")
    assert old.keys() == new.keys()
    for key in old:
        assert np.array_equal(old[key], new[key]), key
