"""ModelBuilder: assemble a Model tensor by tensor and op by op.

Used by the converter's front-ends, by tests that need single-op models, and by
anyone writing a .tflite by hand::

    mb = ModelBuilder()
    x = mb.input("x", [1, 8], np.float32)
    w = mb.const("w", np.ones((4, 8), np.float32))
    y = mb.tensor("y", [1, 4], np.float32)
    mb.op(BuiltinOperator.FULLY_CONNECTED, [x, w, -1], [y], FullyConnectedOptions())
    mb.output(y)
    tflite_bytes = mb.to_bytes()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .dtypes import tensor_type
from .generated.enums import BuiltinOperator, TensorType
from .model import Model, Operator, QuantizationParameters, SignatureDef, Subgraph, Tensor
from .writer import write_model


def quant(
    scale: float | Sequence[float], zero_point: int | Sequence[int] = 0, axis: int = 0
) -> QuantizationParameters:
    """Quantization parameters from plain numbers (per-tensor or per-channel on ``axis``)."""
    scales = np.atleast_1d(np.asarray(scale, np.float32))
    zeros = np.atleast_1d(np.asarray(zero_point, np.int64))
    if len(zeros) == 1 and len(scales) > 1:
        zeros = np.repeat(zeros, len(scales))
    return QuantizationParameters(scale=scales, zero_point=zeros, quantized_dimension=axis)


class ModelBuilder:
    def __init__(self, description: str | None = "edgelite") -> None:
        self.model = Model(subgraphs=[Subgraph(name="main")], description=description)
        self.sg_index = 0

    @property
    def sg(self) -> Subgraph:
        return self.model.subgraphs[self.sg_index]

    def new_subgraph(self, name: str) -> int:
        """Add a subgraph (for WHILE/IF bodies) and make it the one being built."""
        self.model.subgraphs.append(Subgraph(name=name))
        self.sg_index = len(self.model.subgraphs) - 1
        return self.sg_index

    def use_subgraph(self, index: int) -> None:
        self.sg_index = index

    def tensor(
        self,
        name: str,
        shape: Sequence[int],
        dtype: Any = np.float32,
        quantization: QuantizationParameters | None = None,
        shape_signature: Sequence[int] | None = None,
        is_variable: bool = False,
    ) -> int:
        """Add a non-constant tensor; returns its index."""
        ttype = dtype if isinstance(dtype, TensorType) else tensor_type(dtype)
        return self.sg.add_tensor(
            Tensor(
                name=name,
                shape=[int(d) for d in shape],
                type=ttype,
                quantization=quantization,
                shape_signature=list(shape_signature) if shape_signature is not None else None,
                is_variable=is_variable,
                has_rank=True,
            )
        )

    def input(self, name: str, shape: Sequence[int], dtype: Any = np.float32, **kwargs: Any) -> int:
        index = self.tensor(name, shape, dtype, **kwargs)
        self.sg.inputs.append(index)
        return index

    def const(
        self,
        name: str,
        value: Any,
        dtype: Any = None,
        quantization: QuantizationParameters | None = None,
    ) -> int:
        """Add a constant tensor holding ``value`` (converted to ``dtype`` if given)."""
        array = np.asarray(value, dtype=dtype)
        buffer = self.model.add_buffer(np.ascontiguousarray(array))
        index = self.tensor(name, array.shape, array.dtype, quantization)
        self.sg.tensors[index].buffer = buffer
        return index

    def op(
        self,
        code: BuiltinOperator | str,
        inputs: Sequence[int],
        outputs: Sequence[int],
        options: Any = None,
        version: int = 1,
        custom_options: bytes | None = None,
        options_2: Any = None,
    ) -> int:
        """Add an operator; a string ``code`` makes a custom op of that name."""
        if isinstance(code, str):
            opcode = self.model.opcode_index(BuiltinOperator.CUSTOM, version, custom_code=code)
        else:
            opcode = self.model.opcode_index(code, version)
        self.sg.operators.append(
            Operator(
                opcode_index=opcode,
                inputs=list(inputs),
                outputs=list(outputs),
                builtin_options=options,
                builtin_options_2=options_2,
                custom_options=custom_options,
            )
        )
        return len(self.sg.operators) - 1

    def output(self, *indices: int) -> None:
        self.sg.outputs.extend(indices)

    def signature(self, key: str, inputs: dict[str, int], outputs: dict[str, int]) -> None:
        self.model.signature_defs.append(SignatureDef(key, self.sg_index, inputs, outputs))

    def build(self) -> Model:
        return self.model

    def to_bytes(self, **write_options: Any) -> bytes:
        return write_model(self.model, **write_options)
