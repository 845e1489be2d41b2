"""What the zoo holds and where: models, flavours, cache paths and the manifest.

Nothing here imports TensorFlow, so a test process can list and locate zoo files in
milliseconds.  Building (which needs TensorFlow) happens in :mod:`tests.zoo.build`, run as a
subprocess by :func:`ensure_zoo` only when something is missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]

# Bump when the manifest layout changes: an older manifest is then ignored and rebuilt.
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class ModelInfo:
    """A zoo model.  ``version`` is bumped whenever its builder changes, to force a rebuild."""

    name: str
    description: str
    slow: bool = False
    version: int = 1


MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            "mobilenet_v2",
            "keras.applications MobileNetV2 224x224 alpha 1.0, 1000 classes",
            slow=True,
        ),
        ModelInfo("small_cnn", "32x32 conv classifier, dynamic batch"),
        ModelInfo("lstm_text", "Embedding + LSTM text classifier (WHILE loop)"),
        ModelInfo("lstm_unrolled", "the LSTM classifier unrolled (no WHILE, quantizable)"),
        ModelInfo("transformer_block", "MHA + LayerNorm + GELU MLP encoder block"),
        ModelInfo("unet_like", "U-Net with Conv2DTranspose, UpSampling2D, Resizing"),
    )
}

# Models cheap enough to convert and run in every test session.
FAST_MODELS = tuple(name for name, info in MODELS.items() if not info.slow)

FLAVOURS: dict[str, str] = {
    "float32": "plain float conversion",
    "dynamic": "Optimize.DEFAULT without data: int8 weights, hybrid kernels",
    "int8": "full integer, int8 input and output",
    "int8_floatio": "full integer inside, float input and output",
    "float16": "float16 weights (dequantized at load)",
    "int16x8": "int16 activations, int8 weights, float input and output",
}


class ZooUnavailableError(RuntimeError):
    """The zoo cannot be built here (TensorFlow missing)."""


@dataclass(frozen=True)
class TensorInfo:
    """An input or output of a converted model, as the LiteRT interpreter reports it."""

    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str
    scale: float = 0.0
    zero_point: int = 0

    @classmethod
    def from_json(cls, data: dict) -> TensorInfo:
        return cls(
            name=data["name"],
            shape=tuple(data["shape"]),
            shape_signature=tuple(data["shape_signature"]),
            dtype=data["dtype"],
            scale=data.get("scale", 0.0),
            zero_point=data.get("zero_point", 0),
        )

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Turn real values into what this tensor holds (quantize if it is quantized)."""
        return quantize(values, np.dtype(self.dtype), self.scale, self.zero_point)

    def decode(self, raw: np.ndarray) -> np.ndarray:
        """Real values of this tensor's raw contents (dequantize if it is quantized)."""
        if self.scale:
            return (raw.astype(np.float32) - self.zero_point) * np.float32(self.scale)
        return raw


def quantize(values: np.ndarray, dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    """Affine-quantize float ``values`` to integer ``dtype``; other cases are a plain cast.

    Integer inputs (token ids) and unquantized tensors (scale 0) are cast unchanged.
    """
    if values.dtype.kind == "f" and dtype.kind in "iu" and scale:
        limits = np.iinfo(dtype)
        quantized = np.round(values / scale) + zero_point
        return np.clip(quantized, limits.min, limits.max).astype(dtype)
    return values.astype(dtype)


@dataclass(frozen=True)
class ZooEntry:
    """One converted model file of the zoo."""

    path: Path
    model: str
    flavour: str
    slow: bool = False
    inputs: tuple[TensorInfo, ...] = ()
    outputs: tuple[TensorInfo, ...] = ()
    ops: dict[str, int] = field(default_factory=dict)
    subgraphs: int = 1
    sparse_tensors: int = 0
    samples: Path | None = None
    litert_error: str | None = None

    @property
    def id(self) -> str:
        """``<model>.<flavour>``, handy as a pytest parameter id."""
        return f"{self.model}.{self.flavour}"

    def load_samples(self) -> list[np.ndarray]:
        """The model's held-out float/int sample inputs, one array (batch 1) per sample."""
        if self.samples is None:
            return []
        with np.load(self.samples) as data:
            return list(data["x"])


def cache_root() -> Path:
    """``$EDGELITE_CACHE``, or ``<repo>/.cache`` when unset."""
    return Path(os.environ.get("EDGELITE_CACHE") or REPO_ROOT / ".cache").resolve()


def tensorflow_version() -> str | None:
    """The installed TensorFlow version, read from package metadata (no import)."""
    for dist in ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tf-nightly"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(dist)
    return None


def zoo_dir(tf_version: str | None = None) -> Path:
    """``<cache>/zoo/tf-<version>/``: files from different converters never mix."""
    version = tf_version or tensorflow_version()
    if version is None:
        raise ZooUnavailableError("TensorFlow is not installed, the Keras zoo cannot be built")
    return cache_root() / "zoo" / f"tf-{version}"


def entry_key(model: str, flavour: str) -> str:
    return f"{model}.{flavour}"


def read_manifest(directory: Path) -> dict:
    """The manifest in ``directory``, or an empty one if absent, unreadable or outdated."""
    empty = {"format": MANIFEST_FORMAT, "models": {}, "entries": {}, "failures": {}}
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return empty
    return manifest if manifest.get("format") == MANIFEST_FORMAT else empty


def write_manifest(directory: Path, manifest: dict) -> None:
    """Replace the manifest atomically, so concurrent readers never see half a file."""
    tmp = directory / f"manifest.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, directory / "manifest.json")


def combo_status(directory: Path, manifest: dict, model: str, flavour: str) -> str:
    """``built``, ``failed`` (known converter failure) or ``missing`` for one combination.

    An entry built from an older version of the model's builder counts as missing.
    """
    key = entry_key(model, flavour)
    version = MODELS[model].version
    entry = manifest["entries"].get(key)
    if entry and entry.get("model_version") == version and (directory / entry["file"]).is_file():
        return "built"
    failure = manifest["failures"].get(key)
    if failure and failure.get("model_version") == version:
        return "failed"
    return "missing"


def select(
    models: Iterable[str] | None, flavours: Iterable[str] | None
) -> tuple[list[str], list[str]]:
    """Validate model and flavour names; ``None`` means all of them."""
    chosen_models = list(MODELS) if models is None else list(models)
    chosen_flavours = list(FLAVOURS) if flavours is None else list(flavours)
    for name in chosen_models:
        if name not in MODELS:
            raise ValueError(f"unknown zoo model {name!r}; known: {', '.join(MODELS)}")
    for name in chosen_flavours:
        if name not in FLAVOURS:
            raise ValueError(f"unknown zoo flavour {name!r}; known: {', '.join(FLAVOURS)}")
    return chosen_models, chosen_flavours


def _entry_from_json(directory: Path, manifest: dict, data: dict) -> ZooEntry:
    samples = manifest["models"].get(data["model"], {}).get("samples")
    return ZooEntry(
        path=directory / data["file"],
        model=data["model"],
        flavour=data["flavour"],
        slow=MODELS[data["model"]].slow,
        inputs=tuple(TensorInfo.from_json(t) for t in data["inputs"]),
        outputs=tuple(TensorInfo.from_json(t) for t in data["outputs"]),
        ops=dict(data["ops"]),
        subgraphs=data["subgraphs"],
        sparse_tensors=data["sparse_tensors"],
        samples=directory / samples if samples else None,
        litert_error=data.get("litert_error"),
    )


def zoo_entries(
    models: Iterable[str] | None = None, flavours: Iterable[str] | None = None
) -> list[ZooEntry]:
    """The zoo files already built for these models and flavours (default: all).

    Reads only the manifest: no TensorFlow import, nothing is built.  Combinations that
    are missing or that the converter could not produce are left out.
    """
    chosen_models, chosen_flavours = select(models, flavours)
    try:
        directory = zoo_dir()
    except ZooUnavailableError:
        return []
    manifest = read_manifest(directory)
    entries = []
    for model in chosen_models:
        for flavour in chosen_flavours:
            if combo_status(directory, manifest, model, flavour) == "built":
                data = manifest["entries"][entry_key(model, flavour)]
                entries.append(_entry_from_json(directory, manifest, data))
    return entries


def zoo_failures() -> dict[str, str]:
    """``{"<model>.<flavour>": reason}`` for combinations the converter refused."""
    try:
        directory = zoo_dir()
    except ZooUnavailableError:
        return {}
    return {key: f["error"] for key, f in read_manifest(directory)["failures"].items()}


def missing_combos(models: list[str], flavours: list[str]) -> list[tuple[str, str]]:
    """The (model, flavour) pairs that are neither built nor known to fail."""
    directory = zoo_dir()
    manifest = read_manifest(directory)
    return [
        (model, flavour)
        for model in models
        for flavour in flavours
        if combo_status(directory, manifest, model, flavour) == "missing"
    ]


def ensure_zoo(
    models: Iterable[str] | None = None, flavours: Iterable[str] | None = None
) -> list[ZooEntry]:
    """Build whatever is missing (in a subprocess), then return the zoo entries.

    The build runs as ``python -m tests.zoo`` so that the calling process never imports
    TensorFlow; when everything is cached this costs one manifest read.  Raises
    :class:`ZooUnavailableError` without TensorFlow and RuntimeError if the build crashes.
    """
    chosen_models, chosen_flavours = select(models, flavours)
    missing = missing_combos(chosen_models, chosen_flavours)
    if missing:
        _run_build(
            sorted({m for m, _ in missing}, key=chosen_models.index),
            sorted({f for _, f in missing}, key=chosen_flavours.index),
        )
        still_missing = missing_combos(chosen_models, chosen_flavours)
        if still_missing:
            raise RuntimeError(f"zoo build left combinations missing: {still_missing}")
    return zoo_entries(chosen_models, chosen_flavours)


def _run_build(models: list[str], flavours: list[str]) -> None:
    """Run the zoo build CLI in a fresh interpreter and fail loudly if it fails."""
    command = [sys.executable, "-m", "tests.zoo", "--models", *models, "--flavours", *flavours]
    env = dict(os.environ, EDGELITE_CACHE=str(cache_root()), TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=env, check=False, capture_output=True, text=True
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-4000:]
        raise RuntimeError(f"zoo build failed ({' '.join(command)}):\n{tail}")


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` so parallel builders take turns."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
