"""Recurrent test models from the official converter, cached on disk.

Keras 3 layers convert to WHILE loops; only Keras 2 (the ``tf_keras`` package, selected
with TF_USE_LEGACY_KERAS=1) carries the annotations that make the converter fuse an LSTM
layer into UNIDIRECTIONAL_SEQUENCE_LSTM. Conversion runs in a subprocess (TensorFlow stays
out of the test process) and the result is cached under ``$EDGELITE_CACHE`` (default
``<repo>/.cache``), keyed by the TensorFlow version, so it happens once per machine.

Run ``python -m tests.kernels.keras_rnn NAME OUT`` to convert one model by hand.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Bump when a builder below changes, so cached files are rebuilt.
BUILDERS_VERSION = 1


def _tf_version() -> str:
    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    raise RuntimeError("TensorFlow is needed to build converter test models")


def cache_path(name: str) -> Path:
    root = Path(os.environ.get("EDGELITE_CACHE") or REPO_ROOT / ".cache")
    return root / "kernels" / f"tf-{_tf_version()}" / f"{name}-v{BUILDERS_VERSION}.tflite"


def converted(name: str) -> bytes:
    """The named model converted by the official converter (built on first use)."""
    path = cache_path(name)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        done = subprocess.run(
            [sys.executable, "-m", "tests.kernels.keras_rnn", name, str(tmp)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"converting {name} failed:\n{done.stderr[-3000:]}")
        tmp.replace(path)
    return path.read_bytes()


def keras_lstm_model(return_sequences: bool = True) -> bytes:
    """tf_keras LSTM(4) over [2, 5, 3] inputs (batch 2 fixed, stateful=False)."""
    return converted(f"lstm_seq{int(return_sequences)}")


def _build(name: str) -> bytes:
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(1234)
    if name.startswith("lstm_seq"):
        inp = keras.Input((5, 3), batch_size=2)
        layer = keras.layers.LSTM(4, return_sequences=name.endswith("1"))
        model = keras.Model(inp, layer(inp))
    else:
        raise ValueError(f"unknown model {name!r}")
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


if __name__ == "__main__":
    Path(sys.argv[2]).write_bytes(_build(sys.argv[1]))
