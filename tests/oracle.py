"""The official runtime (ai-edge-litert) as the numeric oracle, and comparison rules.

Oracle tests never skip: if ai-edge-litert cannot be imported the test fails.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def litert_interpreter(model: bytes, *, reference_kernels: bool = False, **kwargs):
    """An ai-edge-litert Interpreter without default delegates (or with reference kernels)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = (
        OpResolverType.BUILTIN_REF
        if reference_kernels
        else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    return Interpreter(model_content=model, experimental_op_resolver_type=resolver, **kwargs)


def run_litert(
    model: bytes, inputs: Sequence[np.ndarray], *, reference_kernels: bool = False
) -> list[np.ndarray]:
    """Run ``model`` once in the official runtime and return its outputs."""
    interp = litert_interpreter(model, reference_kernels=reference_kernels)
    details = interp.get_input_details()
    for detail, value in zip(details, inputs):
        if list(detail["shape"]) != list(np.shape(value)):
            interp.resize_tensor_input(detail["index"], list(np.shape(value)))
    interp.allocate_tensors()
    for detail, value in zip(interp.get_input_details(), inputs):
        interp.set_tensor(detail["index"], np.asarray(value, dtype=detail["dtype"]))
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def float_tolerance(reference: np.ndarray) -> float:
    """DESIGN.md's float rule: |diff| <= 1e-5 * max(1, max|reference|)."""
    ref = np.asarray(reference, dtype=np.float64)
    peak = (
        float(np.max(np.abs(ref[np.isfinite(ref)]))) if ref.size and np.isfinite(ref).any() else 0.0
    )
    return 1e-5 * max(1.0, peak)


def assert_matches(ours: np.ndarray, reference: np.ndarray, what: str = "output") -> None:
    """Floats within the float rule (NaN/inf in the same places); everything else bit-exact."""
    ours, reference = np.asarray(ours), np.asarray(reference)
    assert ours.shape == reference.shape, f"{what}: shape {ours.shape} != {reference.shape}"
    assert ours.dtype == reference.dtype, f"{what}: dtype {ours.dtype} != {reference.dtype}"
    if np.issubdtype(reference.dtype, np.floating):
        same_nonfinite = np.array_equal(np.isfinite(ours), np.isfinite(reference))
        assert same_nonfinite, f"{what}: NaN/inf positions differ"
        finite = np.isfinite(reference)
        diff = np.abs(ours[finite].astype(np.float64) - reference[finite].astype(np.float64))
        worst = float(diff.max()) if diff.size else 0.0
        assert worst <= float_tolerance(reference), f"{what}: max |diff| {worst:g} too large"
    else:
        mismatch = np.flatnonzero(ours.reshape(-1) != reference.reshape(-1))
        assert not mismatch.size, (
            f"{what}: {mismatch.size} of {ours.size} elements differ, first at flat index "
            f"{mismatch[0]}: {ours.reshape(-1)[mismatch[0]]} != "
            f"{reference.reshape(-1)[mismatch[0]]}"
        )
