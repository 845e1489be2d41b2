"""Test-model zoo: Keras models converted to .tflite in several flavours, plus real models.

Importing this package is cheap (no TensorFlow).  Typical use from tests::

    from tests.zoo import FAST_MODELS, ensure_zoo, ensure_real_models

    entries = ensure_zoo(models=FAST_MODELS)  # builds in a subprocess if anything is missing
    for entry in entries:
        entry.path, entry.model, entry.flavour, entry.ops, entry.load_samples()

Files live in ``$EDGELITE_CACHE`` (default ``<repo>/.cache``): the Keras zoo under
``zoo/tf-<version>/`` with a ``manifest.json``, the real models under ``real/``.
Build or inspect from a shell with ``python -m tests.zoo [--models ...] [--flavours ...]``.
"""

from tests.zoo.catalog import (
    FAST_MODELS,
    FLAVOURS,
    MODELS,
    ModelInfo,
    TensorInfo,
    ZooEntry,
    ZooUnavailableError,
    cache_root,
    ensure_zoo,
    zoo_dir,
    zoo_entries,
    zoo_failures,
)
from tests.zoo.real_models import (
    REAL_MODELS,
    RealModel,
    RealModelsUnavailableError,
    ensure_real_models,
    real_models_dir,
)

__all__ = [
    "FAST_MODELS",
    "FLAVOURS",
    "MODELS",
    "REAL_MODELS",
    "ModelInfo",
    "RealModel",
    "RealModelsUnavailableError",
    "TensorInfo",
    "ZooEntry",
    "ZooUnavailableError",
    "cache_root",
    "ensure_real_models",
    "ensure_zoo",
    "real_models_dir",
    "zoo_dir",
    "zoo_entries",
    "zoo_failures",
]
