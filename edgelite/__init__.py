"""edgelite: convert, quantize and run TensorFlow Lite models.

The runtime half (``edgelite.schema`` and ``edgelite.interpreter``) needs only
numpy and flatbuffers; the converter imports TensorFlow lazily, on first use.
"""

from .errors import EdgeliteError, ModelError
from .interpreter import Interpreter
from .schema import Model, read_model, write_model

__version__ = "0.1.0"

__all__ = [
    "EdgeliteError",
    "Interpreter",
    "Model",
    "ModelError",
    "__version__",
    "read_model",
    "write_model",
]
