"""The .tflite format: schema bindings, the Model IR, reader, writer and verifier."""

from .generated import enums, options
from .generated.enums import (
    ActivationFunctionType,
    BuiltinOperator,
    Padding,
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
)
from .reader import read_model
from .writer import write_model

__all__ = [
    "ActivationFunctionType",
    "Buffer",
    "BuiltinOperator",
    "DimensionMetadata",
    "Metadata",
    "Model",
    "Operator",
    "OperatorCode",
    "Padding",
    "QuantizationParameters",
    "SignatureDef",
    "Sparsity",
    "Subgraph",
    "Tensor",
    "TensorType",
    "enums",
    "options",
    "read_model",
    "write_model",
]
