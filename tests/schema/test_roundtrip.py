"""read -> write -> read is semantically identical, and the written file runs identically."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite import read_model, write_model
from edgelite.schema.compare import model_differences
from edgelite.schema.writer import DATA_ALIGNMENT
from tests.oracle import litert_interpreter
from tests.sample_models import conv_model, quantized_model


def _random_inputs(interp, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    values = []
    for detail in interp.get_input_details():
        dtype = np.dtype(detail["dtype"])
        shape = [d if d > 0 else 1 for d in detail["shape"]]
        if dtype.kind == "f":
            values.append(rng.standard_normal(shape).astype(dtype))
        elif dtype == np.bool_:
            values.append(rng.integers(0, 2, shape).astype(bool))
        else:
            info = np.iinfo(dtype)
            low, high = max(info.min, -100), min(info.max, 100)
            values.append(rng.integers(low, high, shape).astype(dtype))
    return values


def _run(content: bytes, inputs: list[np.ndarray] | None) -> tuple[list[np.ndarray], list]:
    interp = litert_interpreter(content)
    interp.allocate_tensors()
    inputs = inputs if inputs is not None else _random_inputs(interp)
    for detail, value in zip(interp.get_input_details(), inputs):
        interp.set_tensor(detail["index"], value)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()], inputs


def _oracle_can_run(content: bytes) -> bool:
    try:
        litert_interpreter(content).allocate_tensors()
    except RuntimeError as err:  # models with custom ops the official runtime lacks
        return "unresolved custom op" not in str(err)
    return True


def check_roundtrip(original: bytes, **write_options) -> bytes:
    first = read_model(original)
    written = write_model(first, **write_options)
    second = read_model(written)
    assert model_differences(first, second) == []
    if _oracle_can_run(original):
        before, inputs = _run(original, None)
        after, _ = _run(written, inputs)
        for a, b in zip(before, after):
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return written


@pytest.mark.parametrize("builder", [conv_model, quantized_model])
def test_sample_models_roundtrip(builder):
    check_roundtrip(builder().to_bytes())


@pytest.mark.oracle
def test_corpus_roundtrip(corpus_paths):
    assert corpus_paths, "the model corpus is empty"
    for path in corpus_paths:
        check_roundtrip(path.read_bytes())


@pytest.mark.oracle
def test_forced_external_layout_runs_identically():
    original = conv_model().to_bytes()
    written = check_roundtrip(original, external_buffers=True)
    model = read_model(written)
    assert len(written) > len(original) - 64  # data moved after the flatbuffer, not dropped
    # Buffer data live past the flatbuffer: every data offset is beyond the tables.
    from edgelite.schema.generated import tflite_generated as fb

    root = fb.Model.GetRootAs(written, 0)
    offsets = [root.Buffers(i).Offset() for i in range(root.BuffersLength())]
    assert all(o % DATA_ALIGNMENT == 0 for o in offsets if o > 1)
    assert sum(o > 1 for o in offsets) == sum(b.nbytes > 0 for b in model.buffers)


def test_inline_buffers_are_16_byte_aligned():
    written = conv_model().to_bytes()
    from edgelite.schema.generated import tflite_generated as fb

    root = fb.Model.GetRootAs(written, 0)
    for i in range(root.BuffersLength()):
        buf = root.Buffers(i)
        if buf.DataLength():
            start = buf._tab.Vector(buf._tab.Offset(4))
            assert start % DATA_ALIGNMENT == 0, f"buffer {i} data at {start}"
