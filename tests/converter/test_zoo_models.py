"""The zoo's Keras models converted by edgelite: both runtimes agree with Keras, and the
file has no more operators (and is no bigger, +1%) than the official converter's."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import check_runs, convert_to_bytes, keras_outputs, op_count
from tests.zoo import ensure_zoo

FAST = ["small_cnn", "unet_like", "transformer_block", "lstm_text", "lstm_unrolled"]


def _check_zoo_model(name: str) -> None:
    from edgelite.schema import read_model
    from tests.zoo.keras_models import BUILDERS

    entry = ensure_zoo(models=[name], flavours=["float32"])[0]
    keras_model, _ = BUILDERS[name]()
    data, report = convert_to_bytes(keras_model)
    samples = entry.load_samples()[:2]
    for sample in samples:
        check_runs(data, [sample], keras_outputs(keras_model, [sample]))
    official = entry.path.read_bytes()
    assert op_count(data) <= op_count(official), report.op_histogram
    assert len(data) <= 1.01 * len(official)
    model = read_model(data)
    signature = model.signature_defs[0]
    assert list(signature.inputs) == [t.name.split(":")[0] for t in keras_model.inputs]
    # Keras names (auto-numbered ones depend on what was built before in the process).
    assert list(signature.outputs) == list(keras_model.output_names)
    assert not any(
        n.startswith(("serving_default", "StatefulPartitionedCall")) for n in signature.outputs
    )
    if keras_model.inputs[0].shape[0] is None:  # dynamic batch: run three at once
        batch = np.concatenate([sample] * 3)
        check_runs(data, [batch], keras_outputs(keras_model, [batch]))
        assert model.main.tensors[model.main.inputs[0]].shape_signature[0] == -1


@pytest.mark.parametrize("name", FAST)
def test_zoo_model_converts_and_matches(name):
    _check_zoo_model(name)


@pytest.mark.slow
def test_mobilenet_v2_converts_and_matches():
    _check_zoo_model("mobilenet_v2")
