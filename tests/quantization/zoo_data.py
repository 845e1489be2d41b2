"""The zoo's calibration data, exactly as the official converter got it, cached on disk.

tests/zoo/build.py calibrated the official int8/int16x8 models on
``samples(REPRESENTATIVE_SAMPLES, seed=REPRESENTATIVE_SEED)`` of each model's sampler;
comparing against those models is fair only with the same data. The samplers live in
tests/zoo/keras_models.py, which imports Keras, so the arrays are computed once and
cached next to the zoo (keyed by the TensorFlow version like the zoo itself).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.zoo import catalog


def _sampler(model: str):
    from tests.zoo import keras_models as km

    samplers = {
        "small_cnn": lambda: km.image_sampler(32, 32),
        "mobilenet_v2": lambda: km.image_sampler(224, 224),
        "unet_like": lambda: km.image_sampler(64, 64),
        "lstm_text": lambda: km.token_sampler(km.LSTM_VOCAB, km.LSTM_SEQ),
        "lstm_unrolled": lambda: km.token_sampler(km.LSTM_VOCAB, km.LSTM_SEQ),
        "transformer_block": lambda: km.sequence_sampler(km.TRANSFORMER_SEQ, km.TRANSFORMER_DIM),
    }
    return samplers[model]()


def representative_path(model: str) -> Path:
    return catalog.zoo_dir() / "quantization" / f"{model}.representative.npz"


def representative_samples(model: str) -> list[np.ndarray]:
    """The official converter's calibration samples for zoo ``model`` (batch 1 each)."""
    from tests.zoo.build import REPRESENTATIVE_SAMPLES, REPRESENTATIVE_SEED

    path = representative_path(model)
    if not path.is_file():
        samples = _sampler(model)(REPRESENTATIVE_SAMPLES, seed=REPRESENTATIVE_SEED)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, x=np.stack(samples))
        tmp.replace(path)
    with np.load(path) as data:
        return list(data["x"])
