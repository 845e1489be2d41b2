"""Recorded (fake-quant) ranges: the annotation arithmetic and quantizing from them alone.

No TensorFlow here: models are built with ModelBuilder and annotated by hand; the
TensorFlow side (QAT models, fake-quant nodes) is in tests/converter/test_qat.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.quantization import QuantizeOptions, check_model, quantize_with_report
from edgelite.quantization.from_ranges import has_recorded_ranges, propagate_ranges
from edgelite.quantization.ranges import (
    carried_axis,
    grid_range,
    record_range,
    recorded_range,
    symmetric_weight_scales,
)
from edgelite.schema import read_model
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import BuiltinOperator as B
from edgelite.schema.generated.options import (
    Conv2DOptions,
    Padding,
    Pool2DOptions,
    ReshapeOptions,
    SoftmaxOptions,
)
from edgelite.schema.model import Tensor
from edgelite.schema.writer import write_model
from tests.oracle import assert_matches, run_litert


def test_grid_range_keeps_a_plain_range_and_extends_the_others():
    lo, hi = grid_range(-1.5, 2.5)
    assert (float(lo), float(hi)) == (-1.5, 2.5)
    # Narrow symmetric [-m, m]: the grid of step m/127, extended to the level -128.
    lo, hi = grid_range(-0.254, 0.254, narrow=True)
    np.testing.assert_allclose([lo, hi], [-128 * 0.002, 127 * 0.002], rtol=1e-12)
    # A range above 0 has its zero point clamped to the first level: [0, max - min].
    lo, hi = grid_range(0.5, 2.0)
    np.testing.assert_allclose([lo, hi], [0.0, 1.5])
    lo, hi = grid_range(-2.0, -0.3)
    np.testing.assert_allclose([lo, hi], [-1.7, 0.0], atol=1e-12)


def _annotated(lo, hi, axis=0, shape=(3, 2)) -> Tensor:
    tensor = Tensor(name="w", shape=list(shape))
    record_range(tensor, lo, hi, axis)
    return tensor


def test_symmetric_weight_scales():
    lo, hi = grid_range(np.array([-0.127, -0.254]), np.array([0.127, 0.254]), narrow=True)
    per_channel = _annotated(lo, hi, axis=1)
    np.testing.assert_allclose(symmetric_weight_scales(per_channel, 2, 1), [0.001, 0.002])
    np.testing.assert_allclose(symmetric_weight_scales(per_channel, 1, None), [0.002])
    assert symmetric_weight_scales(per_channel, 3, 0) is None  # other axis: not usable
    lo, hi = grid_range(-0.254, 0.254, narrow=True)
    np.testing.assert_allclose(symmetric_weight_scales(_annotated(lo, hi), 3, 0), [0.002] * 3)
    assert symmetric_weight_scales(_annotated(-1.0, 3.0), 3, 0) is None  # zero point != 0


def test_carried_axis():
    assert carried_axis(3, [3, 3, 2, 8], [8, 3, 3, 2], perm=[3, 0, 1, 2]) == 0
    assert carried_axis(1, [36, 5], [5, 36], perm=[1, 0]) == 0
    assert carried_axis(3, [3, 3, 4, 1], [1, 3, 3, 4]) is None  # size-1 axis moved
    assert carried_axis(2, [3, 3, 4, 1], [1, 3, 3, 4]) == 3
    assert carried_axis(0, [4, 6], [2, 2, 6]) is None


def _conv_pool_softmax():
    """conv -> max_pool -> reshape -> softmax; only the input and conv output recorded."""
    rng = np.random.default_rng(1)
    mb = ModelBuilder()
    x = mb.input("x", [1, 6, 6, 2])
    w = mb.const("w", rng.uniform(-1, 1, (4, 3, 3, 2)).astype(np.float32))
    b = mb.const("b", rng.uniform(-1, 1, 4).astype(np.float32))
    conv = mb.tensor("conv", [1, 4, 4, 4])
    mb.op(B.CONV_2D, [x, w, b], [conv], Conv2DOptions(Padding.VALID, 1, 1))
    pooled = mb.tensor("pool", [1, 2, 2, 4])
    mb.op(B.MAX_POOL_2D, [conv], [pooled], Pool2DOptions(Padding.VALID, 2, 2, 2, 2))
    flat = mb.tensor("flat", [1, 16])
    shape = mb.const("shape", np.array([1, 16], np.int32))
    mb.op(B.RESHAPE, [pooled, shape], [flat], ReshapeOptions([1, 16]))
    probs = mb.tensor("probs", [1, 16])
    mb.op(B.SOFTMAX, [flat], [probs], SoftmaxOptions(1.0))
    mb.output(probs)
    model = mb.build()
    record_range(model.main.tensors[x], -1.0, 1.0)
    record_range(model.main.tensors[conv], -4.0, 5.0)
    return model, (x, conv, pooled, flat, probs)


def test_ranges_run_through_same_scale_and_fixed_ops():
    model, (x, conv, pooled, flat, probs) = _conv_pool_softmax()
    assert has_recorded_ranges(model)
    known = {x: (-1.0, 1.0), conv: (-4.0, 5.0)}
    added = propagate_ranges(model, known, int16=False)
    assert added[pooled] == added[flat] == (-4.0, 5.0)
    np.testing.assert_allclose(added[probs], (0.0, 255 / 256))


def test_quantize_from_recorded_ranges_alone():
    model, (_, conv, _, _, _) = _conv_pool_softmax()
    quantized, report = quantize_with_report(model, QuantizeOptions("int8"), log=None)
    assert report.kept_float == [] and report.calibration_steps == 0
    assert check_model(quantized) == []
    scale = float(np.float32(9.0 / 255))
    params = {t.name: t.quantization for t in quantized.main.tensors if t.quantization}
    assert float(params["conv"].scale[0]) == scale and int(params["conv"].zero_point[0]) == -15
    assert float(params["pool"].scale[0]) == scale  # max-pool keeps its input's parameters
    assert all(recorded_range(t) is None for t in quantized.main.tensors)
    assert recorded_range(model.main.tensors[conv]) is not None  # the float model is untouched
    data = write_model(quantized)
    sample = np.random.default_rng(2).uniform(-1, 1, (1, 6, 6, 2)).astype(np.float32)
    reference = run_litert(write_model(model), [sample])[0]
    ours = run_litert(data, [sample])[0]
    assert np.max(np.abs(ours - reference)) < 0.05  # int8 vs float: a few output steps


def test_annotations_survive_the_file_and_are_valid_tflite():
    model, (_, conv, _, _, _) = _conv_pool_softmax()
    data = write_model(model)
    back = read_model(data)
    found = recorded_range(back.main.tensors[conv])
    assert found is not None
    np.testing.assert_allclose([found[0][0], found[1][0]], [-4.0, 5.0])
    sample = np.zeros((1, 6, 6, 2), np.float32)
    assert_matches(run_litert(data, [sample])[0], run_litert(write_model(back), [sample])[0])


@pytest.mark.parametrize("mode", ["dynamic", "float16"])
def test_other_modes_ignore_recorded_ranges(mode):
    model, _ = _conv_pool_softmax()
    quantized, _ = quantize_with_report(model, QuantizeOptions(mode), log=None)
    assert quantized.main.operators
