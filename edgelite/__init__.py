"""edgelite: convert, quantize and run TensorFlow Lite models.

The runtime half (``edgelite.schema`` and ``edgelite.interpreter``) needs only
numpy and flatbuffers; the converter imports TensorFlow lazily, on first use.
"""

from .errors import EdgeliteError, ModelError
from .interpreter import Interpreter
from .schema import Model, read_model, write_model

__version__ = "0.1.0"

_LAZY = {
    "convert": "converter",
    "ConvertOptions": "converter",
    "quantize": "quantization",
    "QuantizeOptions": "quantization",
}


def __getattr__(name: str):
    """``edgelite.convert`` / ``quantize`` and their options, imported on first use.

    Importing edgelite stays cheap (no converter, no TensorFlow) for runtime-only users.
    """
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [  # convert, quantize and their options resolve through __getattr__
    "ConvertOptions",
    "EdgeliteError",
    "Interpreter",
    "Model",
    "ModelError",
    "QuantizeOptions",
    "__version__",
    "convert",
    "quantize",
    "read_model",
    "write_model",
]
