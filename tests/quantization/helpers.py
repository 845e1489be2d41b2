"""Shared helpers of the quantizer tests: data, running models, error measures."""

from __future__ import annotations

import numpy as np

from edgelite.quantization import QuantizeOptions, quantize_with_report
from edgelite.schema import read_model, write_model
from tests.oracle import litert_interpreter


def random_samples(shapes, count: int, seed: int = 0) -> list[list[np.ndarray]]:
    """``count`` samples of N(0, 2) floats (int32 ids in [0, 40) for (1, 5) id inputs)."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(count):
        sample = []
        for shape in shapes:
            if tuple(shape) == (1, 5):
                sample.append(rng.integers(0, 40, shape).astype(np.int32))
            else:
                sample.append((rng.standard_normal(shape) * 2).astype(np.float32))
        samples.append(sample)
    return samples


def quantize_bytes(model_bytes: bytes, options: QuantizeOptions, data=None):
    """(quantized bytes, quantized Model, report) of a float model given as bytes."""
    model, report = quantize_with_report(read_model(model_bytes), options, data, log=None)
    return write_model(model), model, report


def encode(value: np.ndarray, detail: dict) -> np.ndarray:
    """A float sample as the input tensor holds it (quantized for integer inputs)."""
    scale, zero_point = detail["quantization"]
    if detail["dtype"] != np.float32 and scale and value.dtype.kind == "f":
        info = np.iinfo(detail["dtype"])
        q = np.round(value / scale) + zero_point
        return np.clip(q, info.min, info.max).astype(detail["dtype"])
    return value.astype(detail["dtype"])


def decode(value: np.ndarray, detail: dict) -> np.ndarray:
    """Real values of an output tensor (dequantized when it is integer)."""
    scale, zero_point = detail["quantization"]
    if scale:
        return (value.astype(np.float64) - zero_point) * scale
    return value.astype(np.float64)


def run_real(model_bytes: bytes, sample: list[np.ndarray], *, delegates: bool = False, **kw):
    """Outputs (as real values) of one run in ai-edge-litert; float inputs are encoded.

    ``delegates``: the default resolver (XNNPACK); otherwise BUILTIN_WITHOUT_DEFAULT_DELEGATES
    (or the reference kernels with ``reference_kernels=True``).
    """
    if delegates:
        from ai_edge_litert.interpreter import Interpreter

        interp = Interpreter(model_content=model_bytes)
    else:
        interp = litert_interpreter(model_bytes, **kw)
    details = interp.get_input_details()
    for detail, value in zip(details, sample):
        if list(detail["shape"]) != list(value.shape):
            interp.resize_tensor_input(detail["index"], list(value.shape))
    interp.allocate_tensors()
    for detail, value in zip(interp.get_input_details(), sample):
        interp.set_tensor(detail["index"], encode(value, detail))
    interp.invoke()
    return [decode(interp.get_tensor(d["index"]), d) for d in interp.get_output_details()]


def run_raw(model_bytes: bytes, sample: list[np.ndarray], interpreter) -> list[np.ndarray]:
    """Raw outputs of one run in ``interpreter`` (an ai-edge-litert or edgelite instance)."""
    for detail, value in zip(interpreter.get_input_details(), sample):
        interpreter.set_tensor(detail["index"], encode(value, detail))
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    """max |ours - reference| / max |reference|."""
    peak = float(np.max(np.abs(reference))) or 1.0
    return float(np.max(np.abs(ours - reference))) / peak
