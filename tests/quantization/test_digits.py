"""Accuracy on real data: a CNN trained on scikit-learn's handwritten digits.

The float model comes from edgelite's own converter (trained and converted once, cached;
see digits.py), so the whole path (convert, quantize) is edgelite's. Each mode's model
is evaluated in ai-edge-litert on the 500 held-out digits: top-1 accuracy within 1
point of float for int8 and int16x8, within 0.5 for dynamic and float16.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.quantization import QuantizeOptions, quantize
from edgelite.schema import read_model, write_model
from tests.oracle import litert_interpreter
from tests.quantization.digits import ensure_digits
from tests.quantization.helpers import encode

pytestmark = pytest.mark.oracle

ALLOWED_DROP = {"int8": 1.0, "int8_io": 1.0, "int16x8": 1.0, "dynamic": 0.5, "float16": 0.5}
OPTIONS = {
    "int8": QuantizeOptions(mode="int8"),
    "int8_io": QuantizeOptions(mode="int8", input_type="int8", output_type="int8"),
    "int16x8": QuantizeOptions(mode="int16x8"),
    "dynamic": QuantizeOptions(mode="dynamic"),
    "float16": QuantizeOptions(mode="float16"),
}


@pytest.fixture(scope="module")
def digits():
    path, data = ensure_digits()
    return path.read_bytes(), data


def accuracy(model_bytes: bytes, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy in percent, the whole test set as one batch."""
    interp = litert_interpreter(model_bytes)
    interp.resize_tensor_input(interp.get_input_details()[0]["index"], list(images.shape))
    interp.allocate_tensors()
    detail = interp.get_input_details()[0]
    interp.set_tensor(detail["index"], encode(images, detail))
    interp.invoke()
    scores = interp.get_tensor(interp.get_output_details()[0]["index"])
    return float(np.mean(scores.argmax(axis=1) == labels) * 100)


@pytest.mark.parametrize("mode", list(OPTIONS))
def test_accuracy_close_to_float(digits, mode):
    float_bytes, data = digits
    baseline = accuracy(float_bytes, data["x_test"], data["y_test"])
    assert baseline > 90, "the float model did not learn"
    calibration = data["calibration"] if OPTIONS[mode].mode in ("int8", "int16x8") else None
    model = quantize(read_model(float_bytes), OPTIONS[mode], calibration, log=None)
    quantized = accuracy(write_model(model), data["x_test"], data["y_test"])
    assert quantized >= baseline - ALLOWED_DROP[mode], (mode, quantized, baseline)
