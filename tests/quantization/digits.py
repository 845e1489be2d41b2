"""A small CNN trained on scikit-learn's handwritten digits, as a float .tflite (cached).

The quantizer's accuracy test needs a model trained on real labelled data. Training
needs TensorFlow, so it runs once, in a subprocess (``python -m tests.quantization.digits``);
the float model is converted with edgelite's own converter (the issue: train, then
convert with each mode, all with edgelite). The results are cached next to the zoo:
``digits_cnn.float32.tflite`` and ``digits.npz`` (calibration images from the training
split, the held-out test images and labels).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.zoo import catalog

SEED = 0
TEST_SIZE = 500
CALIBRATION_SIZE = 200
EPOCHS = 40
VERSION = 2  # bump when the model, its converter or the data split changes


def cache_dir() -> Path:
    return catalog.zoo_dir() / "quantization"


def model_path() -> Path:
    return cache_dir() / f"digits_cnn.v{VERSION}.float32.tflite"


def data_path() -> Path:
    return cache_dir() / f"digits.v{VERSION}.npz"


def split() -> dict[str, np.ndarray]:
    """Digits as (n, 8, 8, 1) float32 in [0, 1]: a fixed train/test split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(images))
    test, train = order[:TEST_SIZE], order[TEST_SIZE:]
    return {
        "x_train": images[train],
        "y_train": labels[train],
        "x_test": images[test],
        "y_test": labels[test],
    }


def train_and_convert() -> None:
    """Train the CNN, convert it with edgelite's converter, write the cache files."""
    import keras

    from edgelite.converter import convert
    from edgelite.schema import write_model

    data = split()
    keras.utils.set_random_seed(SEED)
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1), name="image"),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(data["x_train"], data["y_train"], epochs=EPOCHS, batch_size=64, verbose=0)
    blob = write_model(convert(model))
    cache_dir().mkdir(parents=True, exist_ok=True)
    tmp = model_path().with_suffix(".tmp")
    tmp.write_bytes(blob)
    tmp.replace(model_path())
    calibration = data["x_train"][:CALIBRATION_SIZE]
    tmp_npz = data_path().with_suffix(".tmp.npz")
    np.savez(tmp_npz, calibration=calibration, x_test=data["x_test"], y_test=data["y_test"])
    tmp_npz.replace(data_path())


def ensure_digits() -> tuple[Path, dict[str, np.ndarray]]:
    """The cached float model and data, trained in a subprocess when missing."""
    if not (model_path().is_file() and data_path().is_file()):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        result = subprocess.run(
            [sys.executable, "-m", "tests.quantization.digits"],
            cwd=catalog.REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"digits training failed:\n{(result.stdout + result.stderr)[-3000:]}"
            )
    with np.load(data_path()) as archive:
        return model_path(), {key: archive[key] for key in archive.files}


if __name__ == "__main__":
    with catalog.locked(cache_dir()):
        if not model_path().is_file():
            train_and_convert()
