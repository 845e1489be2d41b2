"""The verifier turns every kind of broken file into a ModelError that says what and where."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from edgelite import ModelError, read_model, write_model
from edgelite.schema.generated import tflite_generated as fb
from tests.sample_models import conv_model


def _model_bytes() -> bytes:
    return conv_model().to_bytes()


def test_missing_empty_directory_and_foreign_files(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        read_model(tmp_path / "nope.tflite")
    (tmp_path / "empty.tflite").write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        read_model(tmp_path / "empty.tflite")
    with pytest.raises(ModelError, match="is a directory"):
        read_model(tmp_path)
    with pytest.raises(ModelError, match="too short"):
        read_model(b"TFL3")
    with pytest.raises(ModelError, match="file identifier"):
        read_model(b"\x08\x00\x00\x00ONNX" + b"\0" * 64)


def test_truncated_file_names_the_table():
    data = _model_bytes()
    with pytest.raises(ModelError, match=r"corrupt model: model\.|truncated|outside"):
        read_model(data[: len(data) // 2])


def test_buffer_size_must_match_shape():
    mb = conv_model()
    weights = mb.model.main.tensors[1]
    mb.model.buffers[weights.buffer].data = mb.model.buffers[weights.buffer].data[:100].copy()
    with pytest.raises(ModelError) as err:
        read_model(mb.to_bytes())
    message = str(err.value)
    assert "tensor 1 'conv/weights'" in message and "has 100 bytes" in message
    assert "[4,3,3,3] float32 needs 432" in message


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda m: m.main.operators[0].inputs.__setitem__(1, 999), "tensor index 999 out of range"),
        (lambda m: setattr(m.main.operators[1], "opcode_index", 42), "opcode_index 42"),
        (lambda m: setattr(m.main.tensors[0], "buffer", 77), "buffer 77 out of range"),
        (lambda m: m.main.outputs.append(-5), r"outputs\[1\]: tensor index -5"),
        (lambda m: setattr(m.main.tensors[2], "shape", [-3]), "negative dimension"),
        (lambda m: setattr(m.main.tensors[0], "shape", [1 << 20, 1 << 20, 8]), r"2\^31-1 elements"),
        (lambda m: setattr(m.signature_defs[0], "subgraph_index", 3), "subgraph_index 3"),
        (lambda m: m.signature_defs[0].inputs.__setitem__("image", 500), "'image' tensor 500"),
        (lambda m: setattr(m.metadata[0], "buffer", 99), r"metadata\[0\]"),
    ],
)
def test_semantic_violations(mutate, expected):
    mb = conv_model()
    mutate(mb.model)
    with pytest.raises(ModelError, match=expected):
        read_model(mb.to_bytes())


def test_while_subgraph_reference_in_range():
    from edgelite.schema.generated.enums import BuiltinOperator
    from edgelite.schema.generated.options import WhileOptions

    mb = conv_model()
    mb.op(
        BuiltinOperator.WHILE, [0], [0], WhileOptions(cond_subgraph_index=1, body_subgraph_index=9)
    )
    with pytest.raises(ModelError, match="cond_subgraph_index 1 out of range"):
        read_model(mb.to_bytes())


def test_forged_vector_length_is_caught():
    data = bytearray(_model_bytes())
    root = fb.Model.GetRootAs(data, 0)
    tensor = root.Subgraphs(0).Tensors(0)._tab
    shape_field = tensor.Offset(4)
    shape_vector = (
        tensor.Pos + shape_field + struct.unpack_from("<I", data, tensor.Pos + shape_field)[0]
    )
    struct.pack_into("<I", data, shape_vector, 0x3FFFFFFF)
    with pytest.raises(ModelError, match=r"model\.subgraphs\[0\]\.tensors\[0\]\.shape"):
        read_model(bytes(data))


def test_external_buffer_out_of_file():
    mb = conv_model()
    data = bytearray(write_model(mb.model, external_buffers=True))
    cut = bytes(data[: len(data) - 64])
    with pytest.raises(ModelError, match="outside the"):
        read_model(cut)


def test_valid_model_reads_cleanly():
    model = read_model(_model_bytes())
    assert [t.name for t in model.main.tensors][:2] == ["image", "conv/weights"]
    weights = model.constant(model.main.tensors[1])
    assert weights.shape == (4, 3, 3, 3) and weights.dtype == np.float32
