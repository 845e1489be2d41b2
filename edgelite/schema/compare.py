"""Semantic comparison of two Models (what a round trip must preserve).

Two models are semantically identical when every table, field, option, name and
constant byte agrees; the byte layout of the flatbuffer may differ. ``None`` and
an empty vector are treated as equal where the runtime does not tell them apart.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import numpy as np

from .model import Model
from .options_base import is_options, option_fields

_IGNORED = {"source"}


def model_differences(a: Model, b: Model, limit: int = 20) -> list[str]:
    """Paths where ``a`` and ``b`` differ (at most ``limit``); empty when identical."""
    found: list[str] = []
    _diff(a, b, "model", found, limit)
    return found


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, np.ndarray):
        return value.size == 0
    return isinstance(value, (list, tuple, dict, bytes, str)) and len(value) == 0


def _field_names(value: Any) -> list[str] | None:
    """Fields of an IR dataclass or an options object; None for anything else."""
    if is_options(value):
        return list(option_fields(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [f.name for f in dataclasses.fields(value)]
    return None


def _diff(a: Any, b: Any, path: str, found: list[str], limit: int) -> None:
    if len(found) >= limit:
        return
    if _empty(a) and _empty(b):
        return
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if a is None or b is None or not np.array_equal(np.asarray(a), np.asarray(b)):
            found.append(f"{path}: arrays differ")
        return
    names = _field_names(a)
    if names is not None:
        if type(a) is not type(b):
            found.append(f"{path}: {type(a).__name__} != {type(b).__name__}")
            return
        for name in names:
            if name not in _IGNORED:
                _diff(getattr(a, name), getattr(b, name), f"{path}.{name}", found, limit)
        return
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            found.append(f"{path}: length {len(a)} != {len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]", found, limit)
        return
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            found.append(f"{path}: keys {list(a)} != {list(b)}")
            return
        for key in a:
            _diff(a[key], b[key], f"{path}[{key!r}]", found, limit)
        return
    if isinstance(a, enum.Enum) or isinstance(b, enum.Enum):
        a, b = int(a), int(b)
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return
    if a != b:
        found.append(f"{path}: {a!r} != {b!r}")
