"""Shared fixtures: the model corpus (official-converter zoo + real pre-trained models)."""

from __future__ import annotations

from pathlib import Path

import pytest


def _zoo_paths() -> list[Path]:
    from tests.zoo import ensure_zoo

    return [entry.path for entry in ensure_zoo()]


def _real_paths() -> list[Path]:
    from tests.zoo.real_models import ensure_real_models

    return [model.path for model in ensure_real_models()]


@pytest.fixture(scope="session")
def corpus_paths() -> list[Path]:
    """Every .tflite of the test set (built/downloaded and cached on first use)."""
    return _zoo_paths() + _real_paths()
