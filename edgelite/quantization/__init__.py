"""Post-training quantization of float .tflite models, and a validator for quantized ones.

``quantize(model, QuantizeOptions(mode=...), representative_data=...)`` works on the one
IR (``edgelite.schema.Model``), so it takes models from edgelite's converter and from
anyone else's. Modes: ``dynamic`` (int8 weights), ``int8`` (full integer), ``int16x8``
(int16 activations, int8 weights) and ``float16`` (float16 weights). Calibration runs the
float model in edgelite's interpreter. ``check_model`` validates any quantized model
against the TFLite int8 quantization spec.
"""

from .api import check_float_model, quantize, quantize_with_report
from .check import Violation, check_model
from .data import input_specs, iter_samples
from .debug import debug_quantization
from .images import ImagePreprocessing
from .options import CalibrationOptions, QuantizationError, QuantizeOptions
from .report import QuantizeReport

__all__ = [
    "CalibrationOptions",
    "ImagePreprocessing",
    "QuantizationError",
    "QuantizeOptions",
    "QuantizeReport",
    "Violation",
    "check_float_model",
    "check_model",
    "debug_quantization",
    "input_specs",
    "iter_samples",
    "quantize",
    "quantize_with_report",
]
