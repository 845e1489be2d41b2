"""Shared check for the float conv / pooling / resize / normalization kernel tests.

One call runs a single-op model in the official runtime (the oracle), through the
numpy reference kernels and through the optimized kernels, and holds all three
equal under the float rule (oracle.assert_matches).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tests.kernel_runner import run_kernels
from tests.oracle import assert_matches, run_litert


def check_against_oracle(
    model: bytes, inputs: Sequence[np.ndarray], expected: Sequence[np.ndarray] | None = None
) -> list[np.ndarray]:
    """Oracle == reference == optimized; returns the reference outputs.

    ``expected`` replaces the oracle where the official runtime is known to differ
    on purpose (documented at the call site).
    """
    oracle = list(expected) if expected is not None else run_litert(model, inputs)
    reference = run_kernels(model, inputs, optimized=False)
    optimized = run_kernels(model, inputs, optimized=True)
    assert len(reference) == len(oracle)
    for i, (ref, opt, want) in enumerate(zip(reference, optimized, oracle)):
        assert_matches(ref, want, f"reference output {i}")
        assert_matches(opt, want, f"optimized output {i}")
    return reference


def rand(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    """Standard-normal float32 test data."""
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def with_threads(monkeypatch, threads: int) -> None:
    """Make tests.kernel_runner prepare every node with ``num_threads=threads``."""
    import functools

    import tests.kernel_runner as runner

    monkeypatch.setattr(runner, "Node", functools.partial(runner.Node, num_threads=threads))
