"""A folder of images as calibration data, with declared preprocessing.

Needs Pillow (``pip install edgelite[images]``), imported only when a folder is used.
Each image is converted to RGB (or L for one-channel inputs), resized to the input's
height and width, and mapped to the model's input range by exactly one declared rule:
``x * scale + offset`` or ``(x - mean) / std`` (x in 0..255), default ``x / 255``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .options import QuantizationError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


@dataclass(frozen=True)
class ImagePreprocessing:
    """How pixels (0..255, RGB) become model input values.

    ``size``: (height, width) to resize to (None: the input's own). Give either
    ``scale``/``offset`` or ``mean``/``std`` (per channel or one value); with neither,
    pixels are scaled to [0, 1].
    """

    size: tuple[int, int] | None = None
    scale: float | None = None
    offset: float = 0.0
    mean: Sequence[float] | float | None = None
    std: Sequence[float] | float | None = None

    def validate(self) -> None:
        if self.scale is not None and (self.mean is not None or self.std is not None):
            raise QuantizationError("image preprocessing: give scale/offset or mean/std, not both")
        if self.std is not None and np.any(np.asarray(self.std, np.float64) == 0):
            raise QuantizationError("image preprocessing: std must not be 0")

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """Map uint8 pixels (h, w, c) to float32 input values."""
        x = pixels.astype(np.float32)
        if self.mean is not None or self.std is not None:
            mean = np.asarray(0.0 if self.mean is None else self.mean, np.float32)
            std = np.asarray(1.0 if self.std is None else self.std, np.float32)
            return (x - mean) / std
        scale = np.float32(1.0 / 255.0 if self.scale is None else self.scale)
        return x * scale + np.float32(self.offset)


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name (so runs are repeatable)."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise QuantizationError(
            f"calibration folder {str(folder)!r} has no images ({', '.join(IMAGE_SUFFIXES)})"
        )
    return files


def iter_image_folder(
    folder: Path, input_shape: Sequence[int], prep: ImagePreprocessing | None
) -> Iterator[np.ndarray]:
    """Yield one preprocessed (1, h, w, c) float32 array per image of ``folder``.

    ``input_shape`` is the model input's NHWC shape; its h/w are used unless ``prep``
    declares a size.
    """
    prep = prep or ImagePreprocessing()
    prep.validate()
    if len(input_shape) != 4 or input_shape[3] not in (1, 3):
        raise QuantizationError(
            f"an image folder needs an NHWC input with 1 or 3 channels, not {list(input_shape)}"
        )
    try:
        from PIL import Image
    except ImportError:
        raise QuantizationError(
            "reading an image folder needs Pillow: pip install 'edgelite[images]'"
        ) from None
    height, width = prep.size or (int(input_shape[1]), int(input_shape[2]))
    mode = "L" if input_shape[3] == 1 else "RGB"
    for path in list_images(folder):
        try:
            with Image.open(path) as image:
                resized = image.convert(mode).resize((width, height), Image.Resampling.BILINEAR)
                pixels = np.asarray(resized, np.uint8)
        except OSError as err:
            raise QuantizationError(f"cannot read image {str(path)!r}: {err}") from None
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        yield prep.apply(pixels)[None]
