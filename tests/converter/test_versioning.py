"""Op versions, min_runtime_version and the CONVERSION_METADATA record."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.converter.metadata import conversion_metadata, runtime_version_bytes
from edgelite.converter.versioning import assign_versions, min_runtime_version, runtime_version
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.flatdict import decode
from edgelite.schema.generated import conversion_layout
from edgelite.schema.generated.enums import ActivationFunctionType as A
from edgelite.schema.generated.enums import BuiltinOperator as B
from edgelite.schema.generated.options import (
    DepthwiseConv2DOptions,
    FullyConnectedOptions,
    ResizeBilinearOptions,
    StridedSliceOptions,
    TransposeConvOptions,
)


def _versions(mb: ModelBuilder) -> dict[str, int]:
    model = mb.build()
    assign_versions(model)
    return {
        model.op_name(op): model.operator_codes[op.opcode_index].version
        for op in model.main.operators
    }


def _fc(keep: bool, bias: str) -> ModelBuilder:
    mb = ModelBuilder()
    x = mb.input("x", [2, 3, 4])
    w = mb.const("w", np.ones((5, 4), np.float32))
    inputs = [x, w] + (
        {"none": [-1], "omitted": [], "given": [mb.const("b", np.zeros(5, np.float32))]}[bias]
    )
    y = mb.tensor("y", [2, 3, 5] if keep else [6, 5])
    mb.op(B.FULLY_CONNECTED, inputs, [y], FullyConnectedOptions(keep_num_dims=keep))
    return mb


@pytest.mark.parametrize(
    ("keep", "bias", "version"),
    [(False, "given", 1), (False, "none", 1), (True, "none", 5), (False, "omitted", 6)],
)
def test_fully_connected_versions(keep, bias, version):
    assert _versions(_fc(keep, bias)) == {"FULLY_CONNECTED": version}


def test_feature_dependent_versions():
    mb = ModelBuilder()
    x = mb.input("x", [1, 4, 4, 2])
    w = mb.const("w", np.ones((1, 3, 3, 2), np.float32))
    b = mb.const("b", np.zeros(2, np.float32))
    dw = mb.tensor("dw", [1, 4, 4, 2])
    mb.op(
        B.DEPTHWISE_CONV_2D,
        [x, w, b],
        [dw],
        DepthwiseConv2DOptions(dilation_w_factor=2, depth_multiplier=1),
    )
    up = mb.tensor("up", [1, 8, 8, 2])
    size = mb.const("size", np.asarray([8, 8], np.int32))
    mb.op(B.RESIZE_BILINEAR, [dw, size], [up], ResizeBilinearOptions(half_pixel_centers=True))
    sl = mb.tensor("sl", [1, 1, 8, 8, 2])
    consts = [mb.const(n, np.asarray([0, 0, 0, 0], np.int32)) for n in ("b0", "e0")]
    strides = mb.const("s0", np.asarray([1, 1, 1, 1], np.int32))
    mb.op(
        B.STRIDED_SLICE,
        [up, *consts, strides],
        [sl],
        StridedSliceOptions(new_axis_mask=2, begin_mask=15, end_mask=15),
    )
    shape = mb.const("oshape", np.asarray([1, 8, 8, 2], np.int32))
    tw = mb.const("tw", np.ones((2, 3, 3, 2), np.float32))
    tc = mb.tensor("tc", [1, 8, 8, 2])
    mb.op(
        B.TRANSPOSE_CONV,
        [shape, tw, up],
        [tc],
        TransposeConvOptions(stride_w=1, stride_h=1, fused_activation_function=A.RELU),
    )
    versions = _versions(mb)
    assert versions == {
        "DEPTHWISE_CONV_2D": 2,
        "RESIZE_BILINEAR": 3,
        "STRIDED_SLICE": 6,
        "TRANSPOSE_CONV": 4,
    }


def test_min_runtime_version_is_the_newest_needed():
    mb = _fc(True, "none")  # FULLY_CONNECTED v5 needs 2.0.0
    model = mb.build()
    assign_versions(model)
    assert min_runtime_version(model) == "2.0.0"
    assert runtime_version(int(B.CONV_2D), 1) == "1.5.0"
    assert runtime_version(int(B.GELU), 1) == "2.9.0"
    assert runtime_version_bytes("2.9.0") == b"2.9.0" + b"\0" * 11


def test_conversion_metadata_decodes_with_the_schema_layout():
    raw = conversion_metadata("2.21.0", 2, 0xFEEDBEEF, allow_custom_ops=True)
    record = decode(raw, conversion_layout, "CONVERSION_METADATA")
    assert record["environment"]["tensorflow_version"] == "2.21.0"
    assert record["environment"]["model_type"] == "KERAS_MODEL"
    assert record["environment"]["model_hash"] == 0xFEEDBEEF
    assert record["options"]["allow_custom_ops"] is True
