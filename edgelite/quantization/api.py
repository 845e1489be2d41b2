"""The quantizer's entry points: ``quantize`` and ``quantize_with_report``."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from ..schema.generated.enums import BuiltinOperator, TensorType
from ..schema.model import Model
from .data import input_specs, iter_samples
from .dynamic import quantize_dynamic
from .float16 import quantize_float16
from .from_ranges import has_recorded_ranges, quantize_recorded
from .full_integer import quantize_integer
from .images import ImagePreprocessing
from .options import QuantizationError, QuantizeOptions
from .report import QuantizeReport

_QUANTIZED_TYPES = (TensorType.INT8, TensorType.UINT8, TensorType.INT16, TensorType.INT4)


def quantize(
    model: Model,
    options: QuantizeOptions | None = None,
    representative_data: Any = None,
    *,
    images: ImagePreprocessing | None = None,
    log: TextIO | None = sys.stderr,
) -> Model:
    """Quantize a float model (from any converter); returns a new Model, ``model`` is untouched.

    ``representative_data`` (int8 and int16x8 only; optional for a model carrying
    quantization-aware-training ranges, see ``from_ranges``): an iterable of samples (dicts by
    input name, lists in input order, or arrays), a callable returning one, an array or
    dict of arrays stacked on axis 0, or a path to a .npy/.npz file or an image folder
    (preprocessed as ``images`` declares). Calibration progress goes to ``log``.

    Raises QuantizationError for an already quantized model, bad options or bad data.
    """
    return quantize_with_report(model, options, representative_data, images=images, log=log)[0]


def quantize_with_report(
    model: Model,
    options: QuantizeOptions | None = None,
    representative_data: Any = None,
    *,
    images: ImagePreprocessing | None = None,
    log: TextIO | None = sys.stderr,
) -> tuple[Model, QuantizeReport]:
    """Like :func:`quantize`, also returning what was done (ops kept float and why)."""
    options = options or QuantizeOptions()
    options.validate()
    check_float_model(model)
    if options.mode == "float16":
        return quantize_float16(model, options)
    if options.mode == "dynamic":
        return quantize_dynamic(model, options)
    specs = input_specs(model)
    if has_recorded_ranges(model):  # quantization-aware training: data is optional
        samples = None
        if representative_data is not None:
            samples = iter_samples(representative_data, specs, images)
        return quantize_recorded(model, options, samples, specs, log)
    samples = iter_samples(representative_data, specs, images)
    return quantize_integer(model, options, samples, specs, log)


def check_float_model(model: Model) -> None:
    """QuantizationError unless ``model`` is a float model (nothing quantized yet)."""
    if not model.subgraphs or not model.main.operators:
        raise QuantizationError("the model has no operators to quantize")
    for s, sg in enumerate(model.subgraphs):
        for t, tensor in enumerate(sg.tensors):
            q = tensor.quantization
            quantized = q is not None and not q.is_empty and tensor.type in _QUANTIZED_TYPES
            if quantized or tensor.type == TensorType.FLOAT16:
                raise QuantizationError(
                    f"the model is already quantized: subgraph {s} tensor {t} {tensor.name!r} "
                    f"is {tensor.type.name.lower()}; quantize the float model instead"
                )
        for op in sg.operators:
            code = model.operator_codes[op.opcode_index].builtin_code
            if code in (BuiltinOperator.QUANTIZE, BuiltinOperator.DEQUANTIZE):
                raise QuantizationError(
                    f"the model is already quantized: subgraph {s} has a {model.op_name(op)} op"
                )
