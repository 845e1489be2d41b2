"""The edgelite interpreter: a tf.lite-compatible runtime (numpy + Cython).

``import edgelite.interpreter as tflite`` and use ``tflite.Interpreter`` exactly
like ``ai_edge_litert.interpreter.Interpreter``.
"""

from .delegates import Delegate, ReferenceDelegate, SimpleDelegate, load_delegate
from .errors import InvokeError, PrepareError, UnsupportedOpError
from .interpreter import Interpreter
from .resolver import OpResolverType
from .signature import SignatureRunner

__all__ = [
    "Delegate",
    "Interpreter",
    "InvokeError",
    "OpResolverType",
    "PrepareError",
    "ReferenceDelegate",
    "SignatureRunner",
    "SimpleDelegate",
    "UnsupportedOpError",
    "load_delegate",
]
