"""Every float32 / float16-weight model of the corpus matches the official runtime.

Rule (DESIGN.md): max |diff| <= 1e-5 * max(1, max|reference|), oracle run with
BUILTIN_WITHOUT_DEFAULT_DELEGATES. On a mismatch the message names the first op
that diverges.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from tests.layerwise import first_divergence
from tests.oracle import float_tolerance, litert_interpreter
from tests.schema.test_roundtrip import _random_inputs

pytestmark = pytest.mark.oracle


def _run_ours(content: bytes, inputs: list[np.ndarray], invokes: int) -> list[list[np.ndarray]]:
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    results = []
    for _ in range(invokes):
        for detail, value in zip(interp.get_input_details(), inputs):
            interp.set_tensor(detail["index"], value)
        interp.invoke()
        results.append([interp.get_tensor(d["index"]) for d in interp.get_output_details()])
    return results


def _run_theirs(content: bytes, inputs: list[np.ndarray], invokes: int) -> list[list[np.ndarray]]:
    interp = litert_interpreter(content)
    interp.allocate_tensors()
    results = []
    for _ in range(invokes):
        for detail, value in zip(interp.get_input_details(), inputs):
            interp.set_tensor(detail["index"], value)
        interp.invoke()
        results.append([interp.get_tensor(d["index"]) for d in interp.get_output_details()])
    return results


def test_float_model_matches_oracle(float_model):
    content = float_model.read_bytes()
    probe = litert_interpreter(content)
    try:
        probe.allocate_tensors()
    except RuntimeError as err:
        assert "custom op" in str(err)
        # The official runtime lacks this model's custom op: edgelite must still run it.
        interp = Interpreter(model_content=content)
        interp.allocate_tensors()
        for detail, value in zip(interp.get_input_details(), _random_inputs(interp)):
            interp.set_tensor(detail["index"], value)
        interp.invoke()
        return
    inputs = _random_inputs(probe)
    ours, theirs = _run_ours(content, inputs, 2), _run_theirs(content, inputs, 2)
    for step, (mine, ref) in enumerate(zip(ours, theirs)):
        for k, (a, b) in enumerate(zip(mine, ref)):
            assert a.shape == b.shape and a.dtype == b.dtype, f"output {k}: {a.shape} vs {b.shape}"
            diff = float(np.max(np.abs(a.astype(np.float64) - b))) if b.size else 0.0
            if not diff <= float_tolerance(b):
                where = first_divergence(content, inputs)
                pytest.fail(
                    f"invoke {step} output {k}: max |diff| {diff:g}; first divergence: {where}"
                )
