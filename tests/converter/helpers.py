"""Shared checks for converter tests: convert, run in both runtimes, compare.

TensorFlow is imported only inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgelite import Interpreter
from edgelite.converter import ConvertOptions, convert_with_report
from edgelite.interpreter import OpResolverType
from edgelite.schema import read_model, write_model
from tests.oracle import assert_matches, run_litert

# Converted vs source-framework outputs: the bound. Folding batch norm into
# conv weights and a different summation order move float results by a few ulps per
# layer, more than the 1e-5 runtime-vs-runtime rule allows after 50+ layers.
SOURCE_TOLERANCE = 1e-4


def convert_to_bytes(source, **options) -> tuple[bytes, object]:
    """Convert with edgelite and serialize; returns (bytes, report)."""
    model, report = convert_with_report(source, options=ConvertOptions(**options))
    return write_model(model), report


def run_edgelite(
    model: bytes, inputs: Sequence[np.ndarray], resolver: OpResolverType = OpResolverType.AUTO
) -> list[np.ndarray]:
    """Run ``model`` once in edgelite's public Interpreter (inputs resized as needed)."""
    interp = Interpreter(model_content=model, experimental_op_resolver_type=resolver)
    for detail, value in zip(interp.get_input_details(), inputs):
        if list(detail["shape"]) != list(np.shape(value)):
            interp.resize_tensor_input(detail["index"], list(np.shape(value)))
    interp.allocate_tensors()
    for detail, value in zip(interp.get_input_details(), inputs):
        interp.set_tensor(detail["index"], np.asarray(value, dtype=detail["dtype"]))
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def assert_close_to_source(ours: np.ndarray, reference: np.ndarray, what: str) -> None:
    reference = np.asarray(reference)
    assert ours.shape == reference.shape, f"{what}: shape {ours.shape} != {reference.shape}"
    if not np.issubdtype(reference.dtype, np.floating):
        np.testing.assert_array_equal(ours, reference, err_msg=what)
        return
    worst = float(np.max(np.abs(ours.astype(np.float64) - reference))) if ours.size else 0.0
    bound = SOURCE_TOLERANCE * max(1.0, float(np.max(np.abs(reference))) if reference.size else 0)
    assert worst <= bound, f"{what}: max |diff| {worst:g} > {bound:g}"


def check_runs(model: bytes, inputs: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> None:
    """Both runtimes run ``model``, agree with each other and with the source outputs.

    Runtime against runtime is like for like: both without their default delegates
    (litert's XNNPACK, edgelite's fused convolution chains), whose different summation
    orders already move a deep random-weight network's outputs by ~1e-5 (on MobileNetV2
    litert's own XNNPACK and builtin paths differ by 1.1e-5). The defaults are held to
    the source outputs.
    """
    litert = run_litert(model, inputs)
    plain = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    ours_plain = run_edgelite(model, inputs, plain)
    ours = run_edgelite(model, inputs)
    assert len(litert) == len(expected), f"{len(litert)} outputs, expected {len(expected)}"
    for i, (a, b, ref) in enumerate(zip(ours_plain, litert, expected)):
        assert_matches(a, b, f"output {i} edgelite vs litert")
        assert_close_to_source(b, ref, f"output {i} litert vs source")
        assert_close_to_source(ours[i], ref, f"output {i} edgelite (default) vs source")


def op_count(model: bytes) -> int:
    """Operators over all subgraphs."""
    return sum(len(sg.operators) for sg in read_model(model).subgraphs)


def op_names(model: bytes) -> list[str]:
    parsed = read_model(model)
    return [parsed.op_name(op) for sg in parsed.subgraphs for op in sg.operators]


def official_bytes(keras_model) -> bytes:
    """The official converter's float32 output, for op-count comparisons only."""
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(keras_model).convert()


def keras_outputs(model, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    result = model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
    flat = result if isinstance(result, (list, tuple)) else [result]
    return [np.asarray(r) for r in flat]


def check_keras(model, inputs: Sequence[np.ndarray], **options) -> bytes:
    """Convert a Keras model, run it in both runtimes, compare with Keras; returns bytes."""
    data, _ = convert_to_bytes(model, **options)
    check_runs(data, inputs, keras_outputs(model, inputs))
    return data
