"""``write_model``: :class:`Model` -> .tflite bytes.

Buffer data are 16-byte aligned inside the flatbuffer. A model whose constants do
not fit the 2 GB flatbuffer limit (or when asked with ``external_buffers=True``)
is written in the schema 3c layout: the flatbuffer first, then every buffer's
bytes, each 16-byte aligned, with ``Buffer.offset/size`` pointing at them.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import flatbuffers
import numpy as np

from ..errors import ModelError
from .generated import tflite_generated as fb
from .generated.enums import BuiltinOperator, BuiltinOptions2Type, BuiltinOptionsType
from .generated.layout import FILE_IDENTIFIER
from .model import (
    Buffer,
    Model,
    Operator,
    OperatorCode,
    QuantizationParameters,
    Sparsity,
    Subgraph,
    Tensor,
)
from .options_codec import write_options

FLATBUFFER_LIMIT = 2**31 - 1
DATA_ALIGNMENT = 16
# Room left for everything but buffer data when deciding on the external layout.
_TABLES_MARGIN = 64 << 20
_PLACEHOLDER_OFFSET = 1 << 62


def write_model(model: Model, *, external_buffers: bool | None = None) -> bytes:
    """Serialize ``model``.

    ``external_buffers``: None decides by size (external only when the data would
    break the 2 GB flatbuffer limit); True or False forces the layout.
    """
    data_bytes = sum(b.nbytes for b in model.buffers)
    if external_buffers is None:
        external_buffers = data_bytes + _TABLES_MARGIN > FLATBUFFER_LIMIT
    builder = flatbuffers.Builder(1024 if external_buffers else data_bytes + (1 << 16))
    writer = _Writer(builder, external_buffers)
    root = writer.model(model)
    builder.Finish(root, file_identifier=FILE_IDENTIFIER.encode())
    out = builder.Output()
    if external_buffers:
        return _append_external(out, model)
    return bytes(out)


class _Writer:
    def __init__(self, builder: flatbuffers.Builder, external: bool) -> None:
        self.b = builder
        self.external = external

    # -- helpers ---------------------------------------------------------------
    def ints(self, values: Sequence[int] | np.ndarray, dtype: Any = np.int32) -> int:
        return int(self.b.CreateNumpyVector(np.asarray(values, dtype=dtype).reshape(-1)))

    def tables(self, offsets: list[int]) -> int:
        self.b.StartVector(4, len(offsets), 4)
        for off in reversed(offsets):
            self.b.PrependUOffsetTRelative(off)
        return int(self.b.EndVector())

    def string(self, value: str | None) -> int | None:
        return None if value is None else int(self.b.CreateString(value))

    def aligned_bytes(self, data: np.ndarray | bytes) -> int:
        raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
        self.b.StartVector(1, len(raw), DATA_ALIGNMENT)
        self.b.head = self.b.head - len(raw)
        self.b.Bytes[self.b.head : self.b.head + len(raw)] = raw
        return int(self.b.EndVector(len(raw)))

    # -- tables ----------------------------------------------------------------
    def model(self, model: Model) -> int:
        buffers = [self.buffer(buf) for buf in model.buffers]
        codes = [self.opcode(code) for code in model.operator_codes]
        subgraphs = [self.subgraph(sg) for sg in model.subgraphs]
        metadata = [self.metadata(m.name, m.buffer) for m in model.metadata]
        signatures = [self.signature(sig) for sig in model.signature_defs]
        description = self.string(model.description)
        vectors = {
            "codes": self.tables(codes),
            "subgraphs": self.tables(subgraphs),
            "buffers": self.tables(buffers),
            "metadata": self.tables(metadata) if model.metadata else None,
            "signatures": self.tables(signatures) if model.signature_defs else None,
            "metadata_buffer": self.ints(model.metadata_buffer) if model.metadata_buffer else None,
        }
        b = self.b
        fb.ModelStart(b)
        fb.ModelAddVersion(b, model.version)
        fb.ModelAddOperatorCodes(b, vectors["codes"])
        fb.ModelAddSubgraphs(b, vectors["subgraphs"])
        if description is not None:
            fb.ModelAddDescription(b, description)
        fb.ModelAddBuffers(b, vectors["buffers"])
        if vectors["metadata_buffer"] is not None:
            fb.ModelAddMetadataBuffer(b, vectors["metadata_buffer"])
        if vectors["metadata"] is not None:
            fb.ModelAddMetadata(b, vectors["metadata"])
        if vectors["signatures"] is not None:
            fb.ModelAddSignatureDefs(b, vectors["signatures"])
        return int(fb.ModelEnd(b))

    def buffer(self, buf: Buffer) -> int:
        data = None
        if buf.data is not None and not self.external:
            data = self.aligned_bytes(buf.data)
        fb.BufferStart(self.b)
        if data is not None:
            fb.BufferAddData(self.b, data)
        if self.external and buf.nbytes:
            fb.BufferAddOffset(self.b, _PLACEHOLDER_OFFSET)
            fb.BufferAddSize(self.b, buf.nbytes)
        return int(fb.BufferEnd(self.b))

    def opcode(self, code: OperatorCode) -> int:
        custom = self.string(code.custom_code)
        value = int(code.builtin_code)
        fb.OperatorCodeStart(self.b)
        # Old readers only know the byte; new ones take max(byte, int32).
        fb.OperatorCodeAddDeprecatedBuiltinCode(
            self.b, min(value, int(BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES))
        )
        if custom is not None:
            fb.OperatorCodeAddCustomCode(self.b, custom)
        fb.OperatorCodeAddVersion(self.b, code.version)
        fb.OperatorCodeAddBuiltinCode(self.b, value)
        return int(fb.OperatorCodeEnd(self.b))

    def subgraph(self, sg: Subgraph) -> int:
        tensors = self.tables([self.tensor(t) for t in sg.tensors])
        operators = self.tables([self.operator(op) for op in sg.operators])
        inputs, outputs = self.ints(sg.inputs), self.ints(sg.outputs)
        name = self.string(sg.name) if sg.name else None
        fb.SubGraphStart(self.b)
        fb.SubGraphAddTensors(self.b, tensors)
        fb.SubGraphAddInputs(self.b, inputs)
        fb.SubGraphAddOutputs(self.b, outputs)
        fb.SubGraphAddOperators(self.b, operators)
        if name is not None:
            fb.SubGraphAddName(self.b, name)
        return int(fb.SubGraphEnd(self.b))

    def tensor(self, t: Tensor) -> int:
        b = self.b
        shape = self.ints(t.shape)
        signature = self.ints(t.shape_signature) if t.shape_signature is not None else None
        name = self.string(t.name)
        quant = self.quantization(t.quantization) if t.quantization is not None else None
        sparsity = self.sparsity(t.sparsity) if t.sparsity is not None else None
        variants = (
            self.tables([self.variant(v) for v in t.variant_tensors]) if t.variant_tensors else None
        )
        fb.TensorStart(b)
        fb.TensorAddShape(b, shape)
        fb.TensorAddType(b, int(t.type))
        fb.TensorAddBuffer(b, t.buffer)
        fb.TensorAddName(b, name)
        if quant is not None:
            fb.TensorAddQuantization(b, quant)
        fb.TensorAddIsVariable(b, t.is_variable)
        if sparsity is not None:
            fb.TensorAddSparsity(b, sparsity)
        if signature is not None:
            fb.TensorAddShapeSignature(b, signature)
        fb.TensorAddHasRank(b, t.has_rank)
        if variants is not None:
            fb.TensorAddVariantTensors(b, variants)
        return int(fb.TensorEnd(b))

    def variant(self, v: Any) -> int:
        shape = self.ints(v.shape)
        fb.VariantSubTypeStart(self.b)
        fb.VariantSubTypeAddShape(self.b, shape)
        fb.VariantSubTypeAddType(self.b, int(v.type))
        fb.VariantSubTypeAddHasRank(self.b, v.has_rank)
        return int(fb.VariantSubTypeEnd(self.b))

    def quantization(self, q: QuantizationParameters) -> int:
        b = self.b
        vmin = self.ints(q.min, np.float32) if q.min is not None else None
        vmax = self.ints(q.max, np.float32) if q.max is not None else None
        scale = self.ints(q.scale, np.float32) if len(q.scale) else None
        zero = self.ints(q.zero_point, np.int64) if len(q.zero_point) else None
        custom = None
        if q.custom is not None:
            payload = self.aligned_bytes(q.custom)
            fb.CustomQuantizationStart(b)
            fb.CustomQuantizationAddCustom(b, payload)
            custom = fb.CustomQuantizationEnd(b)
        fb.QuantizationParametersStart(b)
        for add, ref in (
            (fb.QuantizationParametersAddMin, vmin),
            (fb.QuantizationParametersAddMax, vmax),
            (fb.QuantizationParametersAddScale, scale),
            (fb.QuantizationParametersAddZeroPoint, zero),
        ):
            if ref is not None:
                add(b, ref)
        if custom is not None:
            fb.QuantizationParametersAddDetailsType(b, 1)
            fb.QuantizationParametersAddDetails(b, custom)
        fb.QuantizationParametersAddQuantizedDimension(b, q.quantized_dimension)
        return int(fb.QuantizationParametersEnd(b))

    def sparsity(self, s: Sparsity) -> int:
        dims = self.tables([self.dim_metadata(d) for d in s.dim_metadata])
        order = self.ints(s.traversal_order)
        block_map = self.ints(s.block_map) if s.block_map else None
        fb.SparsityParametersStart(self.b)
        fb.SparsityParametersAddTraversalOrder(self.b, order)
        if block_map is not None:
            fb.SparsityParametersAddBlockMap(self.b, block_map)
        fb.SparsityParametersAddDimMetadata(self.b, dims)
        return int(fb.SparsityParametersEnd(self.b))

    def dim_metadata(self, d: Any) -> int:
        segments = self.index_vector(d.array_segments)
        indices = self.index_vector(d.array_indices)
        fb.DimensionMetadataStart(self.b)
        fb.DimensionMetadataAddFormat(self.b, int(d.format))
        fb.DimensionMetadataAddDenseSize(self.b, d.dense_size)
        if segments is not None:
            fb.DimensionMetadataAddArraySegmentsType(self.b, segments[0])
            fb.DimensionMetadataAddArraySegments(self.b, segments[1])
        if indices is not None:
            fb.DimensionMetadataAddArrayIndicesType(self.b, indices[0])
            fb.DimensionMetadataAddArrayIndices(self.b, indices[1])
        return int(fb.DimensionMetadataEnd(self.b))

    def index_vector(self, values: np.ndarray | None) -> tuple[int, int] | None:
        if values is None:
            return None
        kinds = {
            np.dtype(np.int32): (1, "Int32Vector"),
            np.dtype(np.uint16): (2, "Uint16Vector"),
            np.dtype(np.uint8): (3, "Uint8Vector"),
        }
        kind, table = kinds[np.dtype(values.dtype)]
        self.b.StartVector(values.itemsize, len(values), 4)  # force_align: 4
        raw = np.ascontiguousarray(values).tobytes()
        self.b.head -= len(raw)
        self.b.Bytes[self.b.head : self.b.head + len(raw)] = raw
        vec = self.b.EndVector(len(values))
        getattr(fb, f"{table}Start")(self.b)
        getattr(fb, f"{table}AddValues")(self.b, vec)
        return kind, int(getattr(fb, f"{table}End")(self.b))

    def operator(self, op: Operator) -> int:
        b = self.b
        inputs, outputs = self.ints(op.inputs), self.ints(op.outputs)
        options = write_options(b, op.builtin_options) if op.builtin_options is not None else None
        options2 = (
            write_options(b, op.builtin_options_2) if op.builtin_options_2 is not None else None
        )
        custom = self.aligned_bytes(op.custom_options) if op.custom_options is not None else None
        mutating = (
            self.ints(op.mutating_variable_inputs, np.bool_)
            if op.mutating_variable_inputs
            else None
        )
        intermediates = self.ints(op.intermediates) if op.intermediates else None
        fb.OperatorStart(b)
        fb.OperatorAddOpcodeIndex(b, op.opcode_index)
        fb.OperatorAddInputs(b, inputs)
        fb.OperatorAddOutputs(b, outputs)
        if options is not None:
            fb.OperatorAddBuiltinOptionsType(b, _union_type(BuiltinOptionsType, op.builtin_options))
            fb.OperatorAddBuiltinOptions(b, options)
        if custom is not None:
            fb.OperatorAddCustomOptions(b, custom)
        fb.OperatorAddCustomOptionsFormat(b, int(op.custom_options_format))
        if mutating is not None:
            fb.OperatorAddMutatingVariableInputs(b, mutating)
        if intermediates is not None:
            fb.OperatorAddIntermediates(b, intermediates)
        if options2 is not None:
            fb.OperatorAddBuiltinOptions2Type(
                b, _union_type(BuiltinOptions2Type, op.builtin_options_2)
            )
            fb.OperatorAddBuiltinOptions2(b, options2)
        return int(fb.OperatorEnd(b))

    def metadata(self, name: str, buffer: int) -> int:
        ref = self.string(name)
        fb.MetadataStart(self.b)
        fb.MetadataAddName(self.b, ref)
        fb.MetadataAddBuffer(self.b, buffer)
        return int(fb.MetadataEnd(self.b))

    def signature(self, sig: Any) -> int:
        inputs = self.tables([self.tensor_map(n, i) for n, i in sig.inputs.items()])
        outputs = self.tables([self.tensor_map(n, i) for n, i in sig.outputs.items()])
        key = self.string(sig.key)
        fb.SignatureDefStart(self.b)
        fb.SignatureDefAddInputs(self.b, inputs)
        fb.SignatureDefAddOutputs(self.b, outputs)
        fb.SignatureDefAddSignatureKey(self.b, key)
        fb.SignatureDefAddSubgraphIndex(self.b, sig.subgraph_index)
        return int(fb.SignatureDefEnd(self.b))

    def tensor_map(self, name: str, index: int) -> int:
        ref = self.string(name)
        fb.TensorMapStart(self.b)
        fb.TensorMapAddName(self.b, ref)
        fb.TensorMapAddTensorIndex(self.b, index)
        return int(fb.TensorMapEnd(self.b))


def _union_type(union: Any, options: Any) -> int:
    try:
        return int(union[type(options).__name__])
    except KeyError:
        raise ModelError(f"{type(options).__name__} is not a member of {union.__name__}") from None


def _append_external(flat: bytearray, model: Model) -> bytes:
    """Lay buffer data after the flatbuffer and patch each Buffer.offset."""
    out = bytearray(flat)
    root = fb.Model.GetRootAs(out, 0)
    for index, buf in enumerate(model.buffers):
        if not buf.nbytes:
            continue
        out.extend(b"\0" * (-len(out) % DATA_ALIGNMENT))
        table = root.Buffers(index)._tab
        field = table.Offset(6)  # Buffer.offset, slot 1
        struct.pack_into("<Q", out, table.Pos + field, len(out))
        out.extend(np.ascontiguousarray(buf.data).tobytes())
    return bytes(out)
