"""The converter: Keras / SavedModel / tf.function -> .tflite through our own lowering,
graph passes and writer. TensorFlow is imported only when a conversion starts."""

from .api import ConversionReport, ConvertOptions, convert, convert_with_report, save
from .errors import ConversionError, MissingDependencyError, UnsupportedOp, UnsupportedOpsError

__all__ = [
    "ConversionError",
    "ConversionReport",
    "ConvertOptions",
    "MissingDependencyError",
    "UnsupportedOp",
    "UnsupportedOpsError",
    "convert",
    "convert_with_report",
    "save",
]
