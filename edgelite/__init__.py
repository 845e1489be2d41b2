"""edgelite: convert, quantize and run TensorFlow Lite models.

The runtime half (``edgelite.schema`` and ``edgelite.interpreter``) needs only
numpy and flatbuffers; the converter imports TensorFlow lazily, on first use.
"""

from .errors import EdgeliteError, ModelError
from .interpreter import Interpreter
from .schema import Model, read_model, write_model

__version__ = "0.1.0"

_CONVERTER_NAMES = ("convert", "ConvertOptions")


def __getattr__(name: str):
    """``edgelite.convert`` / ``edgelite.ConvertOptions``, imported on first use.

    Importing edgelite stays cheap (no converter, no TensorFlow) for runtime-only users.
    """
    if name in _CONVERTER_NAMES:
        from . import converter

        return getattr(converter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [  # convert and ConvertOptions resolve through __getattr__
    "ConvertOptions",
    "EdgeliteError",
    "Interpreter",
    "Model",
    "ModelError",
    "__version__",
    "convert",
    "read_model",
    "write_model",
]
