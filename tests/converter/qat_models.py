"""Quantization-aware-trained test models, built in a subprocess and cached on disk.

tensorflow-model-optimization (tfmot) works with Keras 2 only (``tf_keras``, selected
with TF_USE_LEGACY_KERAS=1, which must be set before TensorFlow is imported), so the
QAT model is built, briefly trained and exported in a child process: the test process
keeps Keras 3. The child writes, into one cache folder per model (``$EDGELITE_CACHE``,
default ``<repo>/.cache``, keyed by the TensorFlow version):

- ``saved_model/``: the QAT model as a SavedModel (what ``edgelite convert`` reads);
- ``official.tflite``: ``tf.lite.TFLiteConverter``'s int8 conversion of the same model;
- ``data.npz``: inputs ``x``, the QAT model's outputs ``y`` and the learned ranges
  (``range/<variable name>`` -> [min, max] arrays).

Run ``python -m tests.converter.qat_models NAME OUT_DIR`` to build one by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.kernels.keras_rnn import REPO_ROOT, _tf_version

# Bump when a builder below changes, so cached models are rebuilt.
BUILDERS_VERSION = 1
MODELS = ("cnn",)


def model_dir(name: str) -> Path:
    """The cache folder of QAT model ``name`` (built on first use)."""
    if name not in MODELS:
        raise ValueError(f"unknown QAT model {name!r}; known: {MODELS}")
    root = Path(os.environ.get("EDGELITE_CACHE") or REPO_ROOT / ".cache")
    path = root / "converter" / f"tf-{_tf_version()}" / f"qat-{name}-v{BUILDERS_VERSION}"
    if not (path / "data.npz").exists():
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
        done = subprocess.run(
            [sys.executable, "-m", "tests.converter.qat_models", name, str(tmp)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"building QAT model {name} failed:\n{done.stderr[-3000:]}")
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)
    return path


def _cnn(keras):
    """Conv (ReLU) -> depthwise -> ReLU6 -> flatten -> dense (ReLU) -> dense."""
    layers = keras.layers
    return keras.Sequential(
        [
            layers.Input((8, 8, 2), name="image"),
            layers.Conv2D(6, 3, activation="relu"),
            layers.DepthwiseConv2D(3),
            layers.ReLU(6.0),
            layers.Flatten(),
            layers.Dense(8, activation="relu"),
            layers.Dense(3),
        ]
    )


def _build(name: str, out: Path) -> None:
    import numpy as np
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    keras.utils.set_random_seed(1234)
    rng = np.random.default_rng(1234)
    base = _cnn(keras)
    model = tfmot.quantization.keras.quantize_model(base)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = rng.standard_normal((64, 8, 8, 2)).astype(np.float32)
    labels = rng.integers(0, 3, 64)
    model.fit(x, labels, epochs=3, batch_size=16, verbose=0)
    _settle(keras, model, x)
    out.mkdir(parents=True)
    tf.saved_model.save(model, str(out / "saved_model"))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    (out / "official.tflite").write_bytes(converter.convert())
    probe = x[:8]
    ranges = {
        f"range/{v.name}": np.asarray(v.numpy())
        for v in model.variables
        if v.name.split(":")[0].endswith(("_min", "_max"))
    }
    np.savez(out / "data.npz", x=probe, y=np.asarray(model(probe, training=False)), **ranges)


def _settle(keras, model, x) -> None:
    """Set each activation range to what the data spans (as converged QAT training
    would), so the test ranges are specific and asymmetric, not tfmot's initial [-6, 6]."""
    import numpy as np

    for layer in model.layers:
        found = {v.name.split("/")[-1].split(":")[0]: v for v in layer.non_trainable_variables}
        prefixes = [k[: -len("_min")] for k in found if k.endswith("_min") and "kernel" not in k]
        if not prefixes:
            continue
        values = np.asarray(keras.Model(model.inputs, layer.output)(x, training=False))
        for prefix in prefixes:
            found[f"{prefix}_min"].assign(min(0.0, float(values.min())))
            found[f"{prefix}_max"].assign(max(0.0, float(values.max())) * 1.05)


if __name__ == "__main__":
    _build(sys.argv[1], Path(sys.argv[2]))
