"""Integer copies of float constants: weights, biases and constant data inputs.

Each quantized constant is a new tensor with its own buffer, made once per (tensor,
parameters) and shared by every op that needs the same thing (an LSTM unrolled into
16 FULLY_CONNECTEDs reads one int8 weight). The float original stays as long as a
float op still reads it; the clean-up drops it otherwise.
"""

from __future__ import annotations

import numpy as np

from ..schema.generated.enums import BuiltinOperator as B
from ..schema.model import Model, Operator, QuantizationParameters, Subgraph
from .graph_edit import add_constant, per_tensor
from .op_rules import OpRule
from .options import QuantizeOptions
from .qmath import bias_scales, quantize, quantize_bias, quantize_weights


class ConstantQuantizer:
    """Makes (and caches) the integer versions of float constants."""

    def __init__(self, model: Model, sg: Subgraph, options: QuantizeOptions) -> None:
        self.model = model
        self.sg = sg
        self.options = options
        self.bias_dtype = np.dtype(np.int64 if options.mode == "int16x8" else np.int32)
        self.cache: dict[tuple, int] = {}

    def _values(self, t: int) -> np.ndarray:
        values = self.model.constant(self.sg.tensors[t])
        assert values is not None, f"tensor {t} is not a constant"
        return np.asarray(values, np.float32)

    def weight_axis(self, op: Operator, rule: OpRule) -> int | None:
        """The per-channel axis this op's weight gets, or None for one scale."""
        if self.options.per_tensor or rule.axis is None:
            return None
        code = self.model.operator_codes[op.opcode_index].builtin_code
        if code == B.FULLY_CONNECTED and not self.options.fc_per_channel:
            return None
        return rule.axis

    def weight(self, t: int, op: Operator, rule: OpRule) -> int:
        """int8 symmetric weights, per channel along the rule's axis unless told otherwise."""
        axis = self.weight_axis(op, rule)
        key = ("weight", t, axis)
        if key not in self.cache:
            q, scales = quantize_weights(self._values(t), axis)
            params = QuantizationParameters(
                scale=scales.astype(np.float32),
                zero_point=np.zeros(len(scales), np.int64),
                quantized_dimension=0 if axis is None else axis,
            )
            name = self.sg.tensors[t].name
            self.cache[key] = add_constant(self.model, self.sg, name, q, params)
        return self.cache[key]

    def bias(self, t: int, input_scale: float, weight: int) -> int:
        """int32 (int64 for 16x8) bias at input_scale * weight_scale, per weight channel."""
        quantization = self.sg.tensors[weight].quantization
        assert quantization is not None
        scales = bias_scales(input_scale, quantization.scale)
        key = ("bias", t, scales.tobytes())
        if key not in self.cache:
            q = quantize_bias(self._values(t), scales, self.bias_dtype)
            params = QuantizationParameters(
                scale=scales, zero_point=np.zeros(len(scales), np.int64), quantized_dimension=0
            )
            name = self.sg.tensors[t].name
            self.cache[key] = add_constant(self.model, self.sg, name, q, params)
        return self.cache[key]

    def activation(self, t: int, params) -> int:
        """A constant read as data (MUL by a constant, concat of one): per-tensor, asymmetric."""
        key = ("data", t, params)
        if key not in self.cache:
            q = quantize(self._values(t), params.scale, params.zero_point, params.dtype)
            name = self.sg.tensors[t].name
            quantization = per_tensor(params.scale, params.zero_point)
            self.cache[key] = add_constant(self.model, self.sg, name, q, quantization)
        return self.cache[key]
