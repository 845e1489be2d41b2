"""Options of the quantizer and of calibration, as dataclasses, and the quantizer's error."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import EdgeliteError

MODES = ("dynamic", "int8", "int16x8", "float16")
ESTIMATORS = ("minmax", "moving_average", "percentile", "mse")
IO_TYPES = ("float32", "int8", "uint8", "int16")


class QuantizationError(EdgeliteError, ValueError):
    """The model or the calibration data cannot be quantized as asked; says why and where."""


@dataclass(frozen=True)
class CalibrationOptions:
    """How activation ranges are measured on the representative data.

    ``estimator``: ``minmax`` (the range seen, the default), ``moving_average``
    (exponential moving average of each step's min/max with ``momentum``),
    ``percentile`` (clip to the ``percentile``/``100-percentile`` quantiles) or ``mse``
    (the clipping range minimising the int8 quantization error of the values seen).
    ``steps`` caps how many samples are run (None: all). A progress line goes to stderr
    every ``progress_every`` steps (0: never).
    """

    estimator: str = "minmax"
    steps: int | None = None
    momentum: float = 0.9
    percentile: float = 99.99
    progress_every: int = 10
    # Values kept per tensor for the percentile / MSE estimators (a random subsample).
    max_samples_per_tensor: int = 1 << 18
    seed: int = 0

    def validate(self) -> None:
        """Raise QuantizationError for an option outside its domain."""
        if self.estimator not in ESTIMATORS:
            raise QuantizationError(
                f"unknown range estimator {self.estimator!r}; choose one of {', '.join(ESTIMATORS)}"
            )
        if self.steps is not None and self.steps < 1:
            raise QuantizationError(f"calibration steps must be >= 1, got {self.steps}")
        if not 0.0 <= self.momentum < 1.0:
            raise QuantizationError(f"momentum must be in [0, 1), got {self.momentum}")
        if not 50.0 < self.percentile <= 100.0:
            raise QuantizationError(f"percentile must be in (50, 100], got {self.percentile}")


@dataclass(frozen=True)
class QuantizeOptions:
    """What to quantize and how.

    ``mode``: ``dynamic`` (int8 weights, float activations), ``int8`` (full integer),
    ``int16x8`` (int16 activations, int8 weights) or ``float16`` (float16 weights).
    ``input_type``/``output_type``: the dtype of the model's float inputs/outputs after
    quantization (``float32`` keeps them float with QUANTIZE/DEQUANTIZE at the edges).
    ``per_tensor`` turns per-channel weights off everywhere; ``per_channel_fc`` chooses
    for FULLY_CONNECTED weights alone (None: per channel, in every mode, as TF 2.21's
    converter emits them; on the test models it is at least as accurate, and much more
    on LSTMs; False: one scale per weight, for a runtime or accelerator whose
    FULLY_CONNECTED takes only one). ``keep_float``: regular expressions matched
    (``re.search``) against op names (``CONV_2D``) and output tensor names; matching
    ops stay float.
    ``weights_min_elements``: in dynamic mode smaller weights stay float (the official
    converter's 1024).
    """

    mode: str = "int8"
    input_type: str = "float32"
    output_type: str = "float32"
    per_tensor: bool = False
    per_channel_fc: bool | None = None
    keep_float: tuple[str, ...] = ()
    weights_min_elements: int = 1024
    calibration: CalibrationOptions = field(default_factory=CalibrationOptions)

    @property
    def activation_dtype(self) -> np.dtype:
        """int8 or int16 activations (full-integer modes only)."""
        return np.dtype(np.int16 if self.mode == "int16x8" else np.int8)

    @property
    def fc_per_channel(self) -> bool:
        if self.per_tensor:
            return False
        if self.per_channel_fc is not None:
            return self.per_channel_fc
        return True

    def keep_float_patterns(self) -> list[re.Pattern]:
        """The compiled ``keep_float`` expressions (QuantizationError if one is invalid)."""
        patterns = []
        for text in self.keep_float:
            try:
                patterns.append(re.compile(text))
            except re.error as err:
                raise QuantizationError(
                    f"--keep-float {text!r} is not a valid regex: {err}"
                ) from None
        return patterns

    def validate(self) -> None:
        """Raise QuantizationError for options that contradict each other."""
        if self.mode not in MODES:
            raise QuantizationError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        for what, value in (("input", self.input_type), ("output", self.output_type)):
            if value not in IO_TYPES:
                raise QuantizationError(
                    f"unknown {what} type {value!r}; choose one of {', '.join(IO_TYPES)}"
                )
            if value != "float32" and self.mode in ("dynamic", "float16"):
                raise QuantizationError(
                    f"{what} type {value} needs a full-integer mode (int8, int16x8); "
                    f"{self.mode} models keep float inputs and outputs"
                )
            if value == "int16" and self.mode != "int16x8":
                raise QuantizationError(f"{what} type int16 needs mode int16x8")
            if value in ("int8", "uint8") and self.mode == "int16x8":
                raise QuantizationError(
                    f"{what} type {value} does not fit int16x8 (int16 activations); "
                    "use float32 or int16"
                )
        if self.weights_min_elements < 0:
            raise QuantizationError("weights_min_elements must be >= 0")
        self.keep_float_patterns()
        self.calibration.validate()
