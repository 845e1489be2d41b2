"""Recorded (fake-quant) ranges through the graph passes: they move with the values.

A range annotation is no quantization: folding, fusion and clean-up treat an annotated
float tensor as float, and the annotation follows the values it describes.
"""

from __future__ import annotations

import numpy as np

from edgelite.converter.passes.constant_folding import fold_constants
from edgelite.converter.passes.fuse_activation import fuse_activations
from edgelite.converter.passes.identity_removal import remove_identities
from edgelite.quantization.ranges import record_range, recorded_range
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import BuiltinOperator as B
from edgelite.schema.generated.options import Conv2DOptions, Padding
from tests.converter.ir_helpers import check_pass, op_codes, rand


def _conv_with_transposed_filter():
    """x -> CONV_2D(TRANSPOSE(w_hwio)) -> RELU, the filter ranged per output channel."""
    mb = ModelBuilder()
    x = mb.input("x", [1, 5, 5, 2])
    w = mb.const("w_hwio", rand(3, 3, 2, 4))
    perm = mb.const("perm", np.array([3, 0, 1, 2], np.int32))
    filters = mb.tensor("w", [4, 3, 3, 2])
    mb.op(B.TRANSPOSE, [w, perm], [filters])
    conv = mb.tensor("conv", [1, 3, 3, 4])
    bias = mb.const("b", rand(4))
    mb.op(B.CONV_2D, [x, filters, bias], [conv], Conv2DOptions(Padding.VALID, 1, 1))
    y = mb.tensor("y", [1, 3, 3, 4])
    mb.op(B.RELU, [conv], [y])
    mb.output(y)
    model = mb.build()
    record_range(model.main.tensors[w], -np.arange(1, 5) / 10, np.arange(1, 5) / 10, axis=3)
    record_range(model.main.tensors[y], 0.0, 6.0)
    return model, w, y


def test_folding_a_transpose_moves_the_per_channel_range():
    model, _, _ = _conv_with_transposed_filter()
    folded = check_pass(model, fold_constants, [rand(1, 5, 5, 2)])
    conv = folded.main.operators[0]
    found = recorded_range(folded.main.tensors[conv.inputs[1]])
    assert found is not None
    _, hi, axis = found
    assert axis == 0  # HWIO axis 3 -> OHWI axis 0
    np.testing.assert_allclose(hi, np.arange(1, 5) / 10)


def test_activation_fuses_into_a_ranged_graph_and_keeps_the_range():
    model, _, y = _conv_with_transposed_filter()
    record_range(model.main.tensors[model.main.operators[1].outputs[0]], -3.0, 3.0)
    fused = check_pass(model, fuse_activations, [rand(1, 5, 5, 2)])
    assert op_codes(fused) == ["TRANSPOSE", "CONV_2D"]
    out = fused.main.operators[1].outputs[0]
    assert out == y and recorded_range(fused.main.tensors[out]) is not None


def test_removed_identity_hands_its_range_on():
    mb = ModelBuilder()
    x = mb.input("x", [2, 3])
    doubled = mb.tensor("doubled", [2, 3])
    mb.op(B.ADD, [x, x], [doubled])
    same = mb.tensor("same", [2, 3])
    mb.op(B.RESHAPE, [doubled, mb.const("shape", np.array([2, 3], np.int32))], [same])
    y = mb.tensor("y", [2, 3])
    mb.op(B.TANH, [same], [y])
    mb.output(y)
    model = mb.build()
    record_range(model.main.tensors[same], -2.0, 2.0)
    cleaned = check_pass(model, remove_identities, [rand(2, 3)])
    assert op_codes(cleaned) == ["ADD", "TANH"]
    found = recorded_range(cleaned.main.tensors[cleaned.main.operators[1].inputs[0]])
    assert found is not None and (found[0][0], found[1][0]) == (-2.0, 2.0)
