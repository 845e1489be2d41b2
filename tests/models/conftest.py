"""Parametrize whole-model tests over the corpus (zoo + real models), slow ones marked."""

from __future__ import annotations

import pytest


def _cases(kind: str) -> list:
    from tests.zoo import ensure_zoo
    from tests.zoo.real_models import ensure_real_models

    cases = []
    for entry in ensure_zoo():
        if entry.flavour == "dynamic":
            continue  # hybrid models: test_hybrid_models.py and test_hybrid_exact_ops.py
        is_float = entry.flavour in ("float32", "float16")
        if (kind == "float") == is_float:
            marks = [pytest.mark.slow] if entry.slow else []
            cases.append(pytest.param(entry.path, id=entry.id, marks=marks))
    for real in ensure_real_models():
        quantized = "int8" in real.weights or "uint8" in real.weights
        if (kind == "float") != quantized:
            cases.append(pytest.param(real.path, id=real.path.stem))
    return cases


def pytest_generate_tests(metafunc):
    for kind in ("float", "quantized"):
        name = f"{kind}_model"
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, _cases(kind))
