"""Every quantized model of the corpus gives the official runtime's outputs, invoke after invoke.

Full-integer (int8, int8 with float I/O) and 16x8 models must be bit-identical to
ai-edge-litert run with BUILTIN_WITHOUT_DEFAULT_DELEGATES (dynamic-range models are held
to their own rules in test_hybrid_models.py and test_hybrid_exact_ops.py). The stateful
streaming wake-word model runs 50 consecutive invokes, each
compared. On a mismatch the message names the first diverging op (tests/layerwise.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.schema import read_model
from tests.layerwise import first_divergence
from tests.oracle import assert_matches, litert_interpreter

pytestmark = pytest.mark.oracle

STREAM_INVOKES = 50  # consecutive invokes of a stateful model, every one compared
ZOO_SAMPLES = 3


def _flavour(path: Path) -> str:
    parts = path.name.split(".")
    return parts[-2] if len(parts) >= 3 else "real"


def _zoo_samples(path: Path) -> list[np.ndarray]:
    from tests.zoo import ensure_zoo

    for entry in ensure_zoo():
        if entry.path == path:
            return entry.load_samples()[:ZOO_SAMPLES]
    return []


def _feed(detail: dict, sample: np.ndarray) -> np.ndarray:
    """A sample for one input: float samples quantized for integer inputs, batch added."""
    dtype = np.dtype(detail["dtype"])
    shape = [d if d > 0 else 1 for d in detail["shape"]]
    value = np.asarray(sample)
    if value.ndim == len(shape) - 1:
        value = value[None]
    scale, zero_point = detail["quantization"]
    if dtype.kind in "iu" and value.dtype.kind == "f" and scale:
        info = np.iinfo(dtype)
        value = np.clip(np.round(value / scale) + zero_point, info.min, info.max)
    return value.astype(dtype).reshape(shape)


def _random(detail: dict, rng: np.random.Generator) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    shape = [d if d > 0 else 1 for d in detail["shape"]]
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)


def _input_stream(path: Path, details: list[dict]) -> list[list[np.ndarray]]:
    """The inputs of each invoke: held-out samples for zoo models, random frames otherwise."""
    samples = _zoo_samples(path) if _flavour(path) != "real" else []
    if samples and len(details) == 1:
        return [[_feed(details[0], sample)] for sample in samples]
    rng = np.random.default_rng(0)
    invokes = STREAM_INVOKES if _flavour(path) == "real" else ZOO_SAMPLES
    return [[_random(d, rng) for d in details] for _ in range(invokes)]


def _stateful(content: bytes) -> bool:
    """Whether invokes carry state (variable tensors or resource variables)."""
    model = read_model(content)
    names = {model.operator_codes[op.opcode_index].name for sg in model.subgraphs
             for op in sg.operators}  # fmt: skip
    variables = any(t.is_variable for sg in model.subgraphs for t in sg.tensors)
    return variables or "VAR_HANDLE" in names


def _invoke(interp, inputs: list[np.ndarray]) -> list[np.ndarray]:
    for detail, value in zip(interp.get_input_details(), inputs):
        interp.set_tensor(detail["index"], value)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def test_quantized_model_matches_oracle(quantized_model):
    content = quantized_model.read_bytes()
    options: dict = {}
    theirs = litert_interpreter(content)
    theirs.allocate_tensors()
    ours = Interpreter(model_content=content, **options)
    ours.allocate_tensors()
    stream = _input_stream(quantized_model, theirs.get_input_details())
    for step, inputs in enumerate(stream):
        want, got = _invoke(theirs, inputs), _invoke(ours, inputs)
        for k, (mine, ref) in enumerate(zip(got, want)):
            try:
                assert_matches(mine, ref, f"invoke {step} output {k}")
            except AssertionError as err:
                if step == 0 or not _stateful(content):
                    where = first_divergence(content, inputs, **options)
                else:  # a fresh interpreter would not reproduce the carried state
                    where = "not located: earlier invokes agreed, the carried state differs"
                pytest.fail(f"{err}; first diverging op: {where}")
