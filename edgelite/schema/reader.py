"""``read_model``: .tflite bytes or file -> verified :class:`Model`.

A path is memory-mapped, never read whole: constant data stay zero-copy numpy
views of the mapping. Every input goes through the structural verifier before
any offset is followed, then through the semantic checks in ``checks``.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from . import checks
from .generated import tflite_generated as fb
from .generated.enums import (
    BuiltinOperator,
    BuiltinOptions2Type,
    BuiltinOptionsType,
    CustomOptionsFormat,
    DimensionType,
    SparseIndexVectorType,
    TensorType,
)
from .model import (
    Buffer,
    DimensionMetadata,
    Metadata,
    Model,
    Operator,
    OperatorCode,
    QuantizationParameters,
    SignatureDef,
    Sparsity,
    Subgraph,
    Tensor,
    VariantSubType,
)
from .options_codec import read_options
from .verify import verify_flatbuffer

ModelSource = str | os.PathLike | bytes | bytearray | memoryview


def read_model(source: ModelSource, *, verify: bool = True) -> Model:
    """Read and verify a .tflite model from a path or an in-memory buffer.

    Raises :class:`edgelite.ModelError` for a missing, empty, truncated, corrupt or
    malicious file, naming what is wrong and where.
    """
    buf, name = _open(source)
    verify_flatbuffer(buf, name)
    try:
        model = _Reader(buf, name).model()
    except ModelError:
        raise
    except (ValueError, IndexError, UnicodeDecodeError, TypeError, struct.error) as err:
        raise ModelError(f"{name}: cannot decode model: {err}") from None
    if verify:
        checks.check_model(model)
    return model


def _open(source: ModelSource) -> tuple[Any, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return source, "<bytes>"
    path = Path(source)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                raise ModelError(f"{path}: file is empty, not a TFLite model")
            # The mapping outlives the file handle; numpy views keep it alive.
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ), str(path)
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ModelError(
            f"{path}: is a directory, not a .tflite file (SavedModels go to `edgelite convert`)"
        ) from None
    except PermissionError:
        raise ModelError(f"{path}: permission denied") from None


def _array(value: Any, dtype: type) -> np.ndarray:
    """Generated ``...AsNumpy`` accessors return 0 for an absent vector."""
    if isinstance(value, np.ndarray):
        return value.astype(dtype, copy=False)
    return np.zeros(0, dtype)


def _ints(value: Any) -> list[int]:
    return _array(value, np.int64).tolist()


def _str(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value is not None else ""


class _Reader:
    def __init__(self, buf: Any, name: str) -> None:
        self.buf = buf
        self.name = name
        self.size = len(buf)

    def model(self) -> Model:
        root = fb.Model.GetRootAs(self.buf, 0)
        model = Model(
            version=root.Version(),
            operator_codes=[
                self.opcode(root.OperatorCodes(i)) for i in range(root.OperatorCodesLength())
            ],
            subgraphs=[self.subgraph(root.Subgraphs(i)) for i in range(root.SubgraphsLength())],
            description=_str(root.Description()) if root.Description() is not None else None,
            buffers=[self.buffer(root.Buffers(i), i) for i in range(root.BuffersLength())],
            metadata_buffer=_ints(root.MetadataBufferAsNumpy()),
            metadata=[self.metadata(root.Metadata(i)) for i in range(root.MetadataLength())],
            signature_defs=[
                self.signature(root.SignatureDefs(i)) for i in range(root.SignatureDefsLength())
            ],
            source=self.name,
        )
        if not model.buffers:
            model.buffers = [Buffer()]
        return model

    def opcode(self, code: fb.OperatorCode) -> OperatorCode:
        # Readers take the larger of the two codes (schema 3a rule).
        value = max(int(code.DeprecatedBuiltinCode()), int(code.BuiltinCode()))
        try:
            builtin: BuiltinOperator | int = BuiltinOperator(value)
        except ValueError:
            builtin = value
        custom = code.CustomCode()
        return OperatorCode(builtin, _str(custom) if custom is not None else None, code.Version())

    def buffer(self, buf: fb.Buffer, index: int) -> Buffer:
        offset, size = buf.Offset(), buf.Size()
        if offset > 1:
            if offset + size > self.size:
                raise ModelError(
                    f"{self.name}: buffer {index}: external data [{offset}, {offset + size}) "
                    f"lies outside the {self.size}-byte file"
                )
            return Buffer(np.frombuffer(self.buf, np.uint8, size, offset))
        data = buf.DataAsNumpy()
        return Buffer(data if isinstance(data, np.ndarray) else None)

    def subgraph(self, sg: fb.SubGraph) -> Subgraph:
        return Subgraph(
            tensors=[self.tensor(sg.Tensors(i)) for i in range(sg.TensorsLength())],
            inputs=_ints(sg.InputsAsNumpy()),
            outputs=_ints(sg.OutputsAsNumpy()),
            operators=[self.operator(sg.Operators(i)) for i in range(sg.OperatorsLength())],
            name=_str(sg.Name()),
        )

    def tensor(self, t: fb.Tensor) -> Tensor:
        try:
            ttype: TensorType | int = TensorType(t.Type())
        except ValueError:
            ttype = t.Type()
        return Tensor(
            name=_str(t.Name()),
            shape=_ints(t.ShapeAsNumpy()),
            type=ttype,  # type: ignore[arg-type]
            buffer=t.Buffer(),
            quantization=self.quantization(t.Quantization()),
            is_variable=bool(t.IsVariable()),
            sparsity=self.sparsity(t.Sparsity()),
            shape_signature=None if t.ShapeSignatureIsNone() else _ints(t.ShapeSignatureAsNumpy()),
            has_rank=bool(t.HasRank()),
            variant_tensors=[
                self.variant(t.VariantTensors(i)) for i in range(t.VariantTensorsLength())
            ],
        )

    def variant(self, v: fb.VariantSubType) -> VariantSubType:
        return VariantSubType(_ints(v.ShapeAsNumpy()), TensorType(v.Type()), bool(v.HasRank()))

    def quantization(self, q: fb.QuantizationParameters | None) -> QuantizationParameters | None:
        if q is None:
            return None
        custom = None
        if q.DetailsType() == 1:  # CustomQuantization
            table = fb.CustomQuantization()
            details = q.Details()
            table.Init(details.Bytes, details.Pos)
            custom = _array(table.CustomAsNumpy(), np.uint8).tobytes()
        return QuantizationParameters(
            scale=_array(q.ScaleAsNumpy(), np.float32),
            zero_point=_array(q.ZeroPointAsNumpy(), np.int64),
            min=None if q.MinIsNone() else _array(q.MinAsNumpy(), np.float32),
            max=None if q.MaxIsNone() else _array(q.MaxAsNumpy(), np.float32),
            quantized_dimension=q.QuantizedDimension(),
            custom=custom,
        )

    def sparsity(self, s: fb.SparsityParameters | None) -> Sparsity | None:
        if s is None:
            return None
        return Sparsity(
            traversal_order=_ints(s.TraversalOrderAsNumpy()),
            block_map=_ints(s.BlockMapAsNumpy()),
            dim_metadata=[
                self.dim_metadata(s.DimMetadata(i)) for i in range(s.DimMetadataLength())
            ],
        )

    def dim_metadata(self, d: fb.DimensionMetadata) -> DimensionMetadata:
        return DimensionMetadata(
            format=DimensionType(d.Format()),
            dense_size=d.DenseSize(),
            array_segments=self.index_vector(d.ArraySegmentsType(), d.ArraySegments()),
            array_indices=self.index_vector(d.ArrayIndicesType(), d.ArrayIndices()),
        )

    def index_vector(self, kind: int, table: Any) -> np.ndarray | None:
        if table is None or kind == SparseIndexVectorType.NONE:
            return None
        cls: Any = {
            SparseIndexVectorType.Int32Vector: fb.Int32Vector,
            SparseIndexVectorType.Uint16Vector: fb.Uint16Vector,
            SparseIndexVectorType.Uint8Vector: fb.Uint8Vector,
        }[SparseIndexVectorType(kind)]
        vec = cls()
        vec.Init(table.Bytes, table.Pos)
        values = vec.ValuesAsNumpy()
        return values if isinstance(values, np.ndarray) else np.zeros(0, np.int32)

    def operator(self, op: fb.Operator) -> Operator:
        return Operator(
            opcode_index=op.OpcodeIndex(),
            inputs=_ints(op.InputsAsNumpy()),
            outputs=_ints(op.OutputsAsNumpy()),
            builtin_options=self.options(
                op.BuiltinOptionsType(), op.BuiltinOptions(), BuiltinOptionsType
            ),
            builtin_options_2=self.options(
                op.BuiltinOptions2Type(), op.BuiltinOptions2(), BuiltinOptions2Type
            ),
            custom_options=self.custom_options(op),
            custom_options_format=CustomOptionsFormat(op.CustomOptionsFormat()),
            mutating_variable_inputs=[
                bool(v) for v in _array(op.MutatingVariableInputsAsNumpy(), np.bool_)
            ],
            intermediates=_ints(op.IntermediatesAsNumpy()),
        )

    def custom_options(self, op: fb.Operator) -> bytes | None:
        offset, size = op.LargeCustomOptionsOffset(), op.LargeCustomOptionsSize()
        if offset > 1:
            if offset + size > self.size:
                raise ModelError(
                    f"{self.name}: custom options [{offset}, {offset + size}) lie outside the file"
                )
            return bytes(self.buf[offset : offset + size])
        if op.CustomOptionsIsNone():
            return None
        return _array(op.CustomOptionsAsNumpy(), np.uint8).tobytes()

    def options(self, kind: int, table: Any, union: type) -> Any:
        if table is None or kind == 0:
            return None
        return read_options(table, union(kind).name)

    def metadata(self, m: fb.Metadata) -> Metadata:
        return Metadata(_str(m.Name()), m.Buffer())

    def signature(self, s: fb.SignatureDef) -> SignatureDef:
        def tensor_map(get: Any, count: int) -> dict[str, int]:
            return {_str(get(i).Name()): get(i).TensorIndex() for i in range(count)}

        return SignatureDef(
            key=_str(s.SignatureKey()),
            subgraph_index=s.SubgraphIndex(),
            inputs=tensor_map(s.Inputs, s.InputsLength()),
            outputs=tensor_map(s.Outputs, s.OutputsLength()),
        )
