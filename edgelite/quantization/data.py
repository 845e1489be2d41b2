"""Calibration data: from a Python iterable, a .npy/.npz file or a folder of images.

Every source becomes an iterator of samples, one list of arrays per step in the order
of the model's inputs, each checked against the input's dtype and shape signature and
for NaN/Inf, so bad data fails with a message naming the step and the input before any
model is written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..schema.model import Model
from .images import ImagePreprocessing, iter_image_folder
from .options import QuantizationError


@dataclass(frozen=True)
class InputSpec:
    """One model input as calibration sees it."""

    index: int
    name: str
    alias: str | None
    shape: tuple[int, ...]
    signature: tuple[int, ...]
    dtype: np.dtype

    @property
    def label(self) -> str:
        return repr(self.alias or self.name)


def input_specs(model: Model) -> list[InputSpec]:
    """The main subgraph's inputs, with their signature aliases when the model has one."""
    sg = model.main
    aliases: dict[int, str] = {}
    for sig in model.signature_defs:
        if sig.subgraph_index == 0:
            aliases.update({t: alias for alias, t in sig.inputs.items()})
    specs = []
    for t in sg.inputs:
        tensor = sg.tensors[t]
        signature = tensor.shape_signature or tensor.shape
        specs.append(
            InputSpec(
                t, tensor.name, aliases.get(t), tuple(tensor.shape), tuple(signature), tensor.dtype
            )
        )
    return specs


DataSource = Any  # iterable / callable / ndarray / dict / path: see iter_samples


def iter_samples(
    source: DataSource, specs: list[InputSpec], images: ImagePreprocessing | None = None
) -> Iterator[list[np.ndarray]]:
    """Yield validated samples (one array per input, in input order) from ``source``.

    ``source`` is a path (``.npy``: samples stacked on axis 0, single-input models;
    ``.npz``: one stacked array per input, keyed by input name/alias, or one array for a
    single-input model; a directory: images, see ``images``), an array (samples on axis
    0), a dict of stacked arrays, a callable returning an iterable (TensorFlow's
    ``representative_dataset`` style), or an iterable of samples: dicts by input name,
    lists/tuples in input order, or arrays for single-input models.
    """
    step = 0
    for step, raw in enumerate(_raw_samples(source, specs, images), start=1):
        yield _validate(raw, specs, step)
    if step == 0:
        raise QuantizationError("calibration data is empty: no sample to measure ranges on")


def _raw_samples(source: DataSource, specs: list[InputSpec], images) -> Iterable[Any]:
    if source is None:
        raise QuantizationError("this mode needs calibration data (representative samples)")
    if isinstance(source, (str, os.PathLike)):
        return _from_path(Path(source), specs, images)
    if isinstance(source, np.ndarray):
        return _stacked({_only(specs).name: source}, specs)
    if isinstance(source, dict) and all(isinstance(v, np.ndarray) for v in source.values()):
        return _stacked(source, specs)
    if callable(source):
        source = source()
    if not isinstance(source, Iterable):
        raise QuantizationError(
            f"calibration data of type {type(source).__name__} is not iterable; give an "
            "iterable of samples, an array, a .npy/.npz file or an image folder"
        )
    return source


def _only(specs: list[InputSpec]) -> InputSpec:
    if len(specs) != 1:
        names = ", ".join(s.label for s in specs)
        raise QuantizationError(
            f"the model has {len(specs)} inputs ({names}); give one array per input "
            "(a dict or .npz keyed by input name)"
        )
    return specs[0]


def _from_path(path: Path, specs: list[InputSpec], images) -> Iterable[Any]:
    if path.is_dir():
        spec = _only(specs)
        return ([x] for x in iter_image_folder(path, spec.shape, images))
    if not path.is_file():
        raise QuantizationError(f"calibration data {str(path)!r} does not exist")
    if path.suffix == ".npy":
        return _stacked({_only(specs).name: np.load(path, allow_pickle=False)}, specs)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        if len(arrays) == 1 and len(specs) == 1:
            arrays = {specs[0].name: next(iter(arrays.values()))}
        return _stacked(arrays, specs)
    raise QuantizationError(
        f"calibration data {str(path)!r}: expected a .npy or .npz file or an image folder"
    )


def _stacked(arrays: dict[str, np.ndarray], specs: list[InputSpec]) -> Iterator[list]:
    """Samples from arrays that hold all steps stacked along axis 0."""
    ordered = [_lookup(arrays, spec) for spec in specs]
    counts = {len(a) for a in ordered}
    if len(counts) != 1:
        detail = ", ".join(f"{s.label}: {len(a)}" for s, a in zip(specs, ordered))
        raise QuantizationError(f"calibration arrays hold different sample counts ({detail})")
    for i in range(counts.pop()):
        yield [a[i] for a in ordered]


def _lookup(arrays: dict[str, Any], spec: InputSpec) -> Any:
    for key in (spec.alias, spec.name):
        if key is not None and key in arrays:
            return arrays[key]
    raise QuantizationError(
        f"calibration data has no entry for input {spec.label}; it has {sorted(arrays)}"
    )


def _validate(raw: Any, specs: list[InputSpec], step: int) -> list[np.ndarray]:
    if isinstance(raw, dict):
        values = [_lookup(raw, spec) for spec in specs]
    elif isinstance(raw, (list, tuple)):
        if len(raw) != len(specs):
            raise QuantizationError(
                f"calibration sample {step} has {len(raw)} arrays; the model has "
                f"{len(specs)} inputs ({', '.join(s.label for s in specs)})"
            )
        values = list(raw)
    else:
        _only(specs)  # a bare array is a sample only for a single-input model
        values = [raw]
    return [_fit(np.asarray(v), spec, step) for v, spec in zip(values, specs)]


def _fit(value: np.ndarray, spec: InputSpec, step: int) -> np.ndarray:
    """Cast and shape one array for ``spec``; QuantizationError when it cannot fit."""
    where = f"calibration sample {step}, input {spec.label}"
    if value.dtype.kind not in "biuf":
        raise QuantizationError(f"{where}: dtype {value.dtype} is not numeric")
    if spec.dtype.kind in "iub" and value.dtype.kind == "f":
        raise QuantizationError(f"{where}: float data for a {spec.dtype} input")
    if value.ndim == len(spec.signature) - 1:
        value = value[None]  # one sample without its batch axis
    if value.ndim != len(spec.signature) or any(
        want >= 0 and want != got for want, got in zip(spec.signature, value.shape)
    ):
        raise QuantizationError(
            f"{where}: shape {list(value.shape)} does not fit the input's "
            f"{list(spec.signature)} (-1: any size)"
        )
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise QuantizationError(f"{where}: contains NaN or Inf")
    return np.ascontiguousarray(value, dtype=spec.dtype)
