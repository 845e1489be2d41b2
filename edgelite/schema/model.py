"""The one graph IR: plain, editable dataclasses mirroring the TFLite schema.

A :class:`Model` is both the in-memory form of a ``.tflite`` file and the graph the
converter passes and the quantizer edit. Constant data are numpy ``uint8`` views
of the file (memory-mapped when read from a path); nothing is copied until
someone writes to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import graph
from .dtypes import numpy_dtype
from .generated.enums import BuiltinOperator, CustomOptionsFormat, DimensionType, TensorType

SCHEMA_VERSION = 3


@dataclass(eq=False)
class Buffer:
    """Raw bytes of a constant (``data`` is None for the empty sentinel)."""

    data: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        return 0 if self.data is None else int(self.data.nbytes)


@dataclass(eq=False)
class QuantizationParameters:
    """``real = scale * (q - zero_point)``, per tensor or along ``quantized_dimension``."""

    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    zero_point: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    min: np.ndarray | None = None
    max: np.ndarray | None = None
    quantized_dimension: int = 0
    custom: bytes | None = None  # QuantizationDetails.CustomQuantization payload

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1

    @property
    def is_empty(self) -> bool:
        return len(self.scale) == 0 and self.custom is None


@dataclass(eq=False)
class DimensionMetadata:
    """One traversed dimension of a sparse tensor: dense size or CSR segments/indices."""

    format: DimensionType = DimensionType.DENSE
    dense_size: int = 0
    array_segments: np.ndarray | None = None
    array_indices: np.ndarray | None = None


@dataclass(eq=False)
class Sparsity:
    traversal_order: list[int] = field(default_factory=list)
    block_map: list[int] = field(default_factory=list)
    dim_metadata: list[DimensionMetadata] = field(default_factory=list)


@dataclass
class VariantSubType:
    shape: list[int] = field(default_factory=list)
    type: TensorType = TensorType.FLOAT32
    has_rank: bool = False


@dataclass(eq=False)
class Tensor:
    name: str = ""
    shape: list[int] = field(default_factory=list)
    type: TensorType = TensorType.FLOAT32
    buffer: int = 0  # 0: no constant data
    quantization: QuantizationParameters | None = None
    is_variable: bool = False
    sparsity: Sparsity | None = None
    shape_signature: list[int] | None = None
    has_rank: bool = False
    variant_tensors: list[VariantSubType] = field(default_factory=list)

    @property
    def dtype(self) -> np.dtype:
        return numpy_dtype(self.type)

    @property
    def num_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@dataclass
class OperatorCode:
    builtin_code: BuiltinOperator | int = BuiltinOperator.ADD
    custom_code: str | None = None
    version: int = 1

    @property
    def name(self) -> str:
        """Op name as users see it: the builtin's name, or the custom code."""
        if self.builtin_code == BuiltinOperator.CUSTOM:
            return self.custom_code or "CUSTOM"
        if isinstance(self.builtin_code, BuiltinOperator):
            return self.builtin_code.name
        return f"BUILTIN_{int(self.builtin_code)}"


@dataclass(eq=False)
class Operator:
    opcode_index: int = 0
    inputs: list[int] = field(default_factory=list)  # -1: optional input left out
    outputs: list[int] = field(default_factory=list)
    builtin_options: Any = None  # a dataclass from edgelite.schema.options
    builtin_options_2: Any = None
    custom_options: bytes | None = None
    custom_options_format: CustomOptionsFormat = CustomOptionsFormat.FLEXBUFFERS
    mutating_variable_inputs: list[bool] = field(default_factory=list)
    intermediates: list[int] = field(default_factory=list)


@dataclass(eq=False)
class Subgraph:
    tensors: list[Tensor] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    operators: list[Operator] = field(default_factory=list)
    name: str = ""

    # Graph helpers (the real work lives in edgelite.schema.graph).
    def producer(self, tensor_index: int) -> int | None:
        """Index of the operator writing ``tensor_index``, or None."""
        return graph.producers(self).get(tensor_index)

    def consumers(self, tensor_index: int) -> list[int]:
        """Indices of the operators reading ``tensor_index``, in execution order."""
        return graph.consumers(self).get(tensor_index, [])

    def topological_order(self) -> list[int]:
        return graph.topological_order(self)

    def add_tensor(self, tensor: Tensor) -> int:
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def remove_operators(self, indices: list[int]) -> None:
        graph.remove_operators(self, indices)

    def remove_tensors(self, indices: list[int]) -> None:
        graph.remove_tensors(self, indices)

    def replace_tensor_uses(self, old: int, new: int) -> None:
        graph.replace_tensor_uses(self, old, new)

    def remove_unused_tensors(self) -> list[int]:
        return graph.remove_unused_tensors(self)


@dataclass
class SignatureDef:
    key: str = "serving_default"
    subgraph_index: int = 0
    inputs: dict[str, int] = field(default_factory=dict)  # alias -> tensor index
    outputs: dict[str, int] = field(default_factory=dict)


@dataclass
class Metadata:
    name: str = ""
    buffer: int = 0


@dataclass(eq=False)
class Model:
    version: int = SCHEMA_VERSION
    operator_codes: list[OperatorCode] = field(default_factory=list)
    subgraphs: list[Subgraph] = field(default_factory=list)
    description: str | None = None
    buffers: list[Buffer] = field(default_factory=lambda: [Buffer()])
    metadata_buffer: list[int] = field(default_factory=list)
    metadata: list[Metadata] = field(default_factory=list)
    signature_defs: list[SignatureDef] = field(default_factory=list)

    # Where the model came from (file path or "<bytes>"), for messages.
    source: str = "<memory>"

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]

    def op_name(self, op: Operator) -> str:
        return self.operator_codes[op.opcode_index].name

    def constant(self, tensor: Tensor) -> np.ndarray | None:
        """The tensor's constant data as a typed, shaped, read-only view (None if none).

        Sparse and INT4 tensors are returned as their raw stored bytes/values.
        """
        if tensor.buffer == 0 or tensor.buffer >= len(self.buffers):
            return None
        data = self.buffers[tensor.buffer].data
        if data is None or data.nbytes == 0:
            return None
        if tensor.type in (TensorType.STRING, TensorType.INT4) or tensor.sparsity is not None:
            return data
        values = data.view(tensor.dtype)
        return values.reshape(tensor.shape) if values.size == tensor.num_elements else values

    def add_buffer(self, data: np.ndarray | bytes | None) -> int:
        """Append a buffer holding ``data`` (any array is stored as its raw bytes)."""
        if data is not None:
            raw = np.ascontiguousarray(data)
            data = np.frombuffer(raw.tobytes(), np.uint8) if raw.dtype != np.uint8 else raw
        self.buffers.append(Buffer(data))
        return len(self.buffers) - 1

    def opcode_index(
        self, builtin_code: int, version: int = 1, custom_code: str | None = None
    ) -> int:
        """Index of the matching OperatorCode, appended if the model has none yet."""
        for i, code in enumerate(self.operator_codes):
            if (code.builtin_code, code.custom_code, code.version) == (
                builtin_code,
                custom_code,
                version,
            ):
                return i
        self.operator_codes.append(OperatorCode(builtin_code, custom_code, version))
        return len(self.operator_codes) - 1

    def metadata_bytes(self, name: str) -> bytes | None:
        for entry in self.metadata:
            if entry.name == name and entry.buffer < len(self.buffers):
                data = self.buffers[entry.buffer].data
                return b"" if data is None else data.tobytes()
        return None

    def deduplicate_buffers(self) -> int:
        """Make tensors with identical constant bytes share one buffer; returns buffers freed."""
        return graph.deduplicate_buffers(self)

    def save(self, path: str | Path, **write_options: Any) -> None:
        """Serialize to ``path`` (see :func:`edgelite.write_model` for options)."""
        from .writer import write_model

        Path(path).write_bytes(write_model(self, **write_options))
