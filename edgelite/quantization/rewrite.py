"""Apply an IntegerPlan: integer tensors and constants, QUANTIZE/DEQUANTIZE where kinds meet.

Every activation has a home representation, the one its producer writes: integer for
the outputs of integer ops (and integer model inputs), float otherwise. A consumer that
needs the other kind gets a converted copy, made once per tensor by a QUANTIZE or
DEQUANTIZE op placed right before the first consumer that needs it. So conversions
appear only at the model's edges and around ops that stay float.

The main subgraph's inputs and outputs follow the options (``input_type``,
``output_type``); another subgraph's follow its plan: the values crossing into it
from a WHILE or IF arrive integer (``entry``), those leaving it are converted to
their crossing's parameters (``exits``), and its other float outputs stay float.
"""

from __future__ import annotations

import numpy as np

from ..schema.generated.enums import BuiltinOperator as B
from ..schema.generated.enums import TensorType
from ..schema.model import Model, Operator
from .constants import ConstantQuantizer
from .graph_edit import (
    add_tensor_like,
    make_op,
    per_tensor,
    remove_unused,
    rename_boundary,
    with_options,
)
from .op_rules import (
    DEQUANTIZE_VERSION,
    GENERAL_INT16_SCALE_OPS,
    INT64_BIAS_OPS,
    QUANTIZE_VERSION,
    quantized_version,
    rule_for,
)
from .options import QuantizeOptions
from .plan import IntegerPlan, Params

F32 = TensorType.FLOAT32


class IntegerRewriter:
    """Rewrites subgraph ``subgraph`` of a (cloned) float model into its integer form."""

    def __init__(
        self, model: Model, plan: IntegerPlan, options: QuantizeOptions, subgraph: int = 0
    ) -> None:
        self.model = model
        self.index = subgraph
        self.sg = model.subgraphs[subgraph]
        self.plan = plan
        self.options = options
        self.int16 = options.mode == "int16x8"
        self.was_float = {i for i, t in enumerate(self.sg.tensors) if t.type == F32}
        self.home: dict[int, Params] = {}  # integer-home tensors and their parameters
        # (tensor, parameters or None for float32) -> the converted copy.
        self.versions: dict[tuple[int, Params | None], int] = {}
        self.new_ops: list[Operator] = []
        self.constants = ConstantQuantizer(model, self.sg, options)

    # -- representations ----------------------------------------------------------------

    def _set_integer(self, t: int, params: Params) -> None:
        tensor = self.sg.tensors[t]
        tensor.type = _ttype(params.dtype)
        tensor.quantization = per_tensor(params.scale, params.zero_point)
        self.home[t] = params

    def _convert(self, t: int, params: Params | None) -> int:
        """Tensor ``t`` as ``params`` (None: float32), converting once and reusing."""
        if (t, params) in self.versions:
            return self.versions[(t, params)]
        source = self.sg.tensors[t]
        home = self.home.get(t)
        if params is None:
            new = add_tensor_like(self.sg, source, f"{source.name}_dequantized", F32, None)
            version = DEQUANTIZE_VERSION[_name(home.dtype)] if home else 1
            self.new_ops.append(make_op(self.model, B.DEQUANTIZE, version, [t], [new]))
        else:
            suffix = "_requantized" if home else f"_{_name(params.dtype)}"
            q = per_tensor(params.scale, params.zero_point)
            new = add_tensor_like(self.sg, source, f"{source.name}{suffix}", params.dtype, q)
            version = QUANTIZE_VERSION[_name(params.dtype)]
            self.new_ops.append(make_op(self.model, B.QUANTIZE, version, [t], [new]))
        self.versions[(t, params)] = new
        return new

    def as_float(self, t: int) -> int:
        return self._convert(t, None) if t in self.home else t

    def as_integer(self, t: int, params: Params | None = None) -> int:
        params = params or self.plan.params[t]
        if self.home.get(t) == params:
            return t
        return self._convert(t, params)

    # -- the walk -----------------------------------------------------------------------

    def run(self) -> None:
        """Rewrite inputs, every op in order, then outputs; drop what became unused."""
        self._integer_inputs()
        for index, op in enumerate(self.sg.operators):
            if index in self.plan.ops:
                self._integer_op(index, op)
            elif index in self.plan.control_ops:
                self._control_op(index, op)
            else:
                op.inputs = [self.as_float(t) if t in self.was_float else t for t in op.inputs]
                self.new_ops.append(op)
        self.sg.operators = self.new_ops
        if self.index == 0:
            self._outputs()
        else:
            self._exits()
        remove_unused(self.model, self.index)

    def _integer_inputs(self) -> None:
        if self.index != 0:
            for t, params in self.plan.entry.items():
                self._set_integer(t, params)
            return
        wanted = self.options.input_type
        if wanted == "float32":
            return
        for t in self.sg.inputs:
            if t not in self.was_float:
                continue
            params = self.plan.params[t]
            if wanted == "uint8":
                shifted = Params(params.scale, params.zero_point + 128, np.dtype(np.uint8))
                self._set_integer(t, shifted)
            else:
                self._set_integer(t, params)

    def _integer_op(self, index: int, op: Operator) -> None:
        code = self.model.operator_codes[op.opcode_index]
        rule = rule_for(code.builtin_code)
        assert rule is not None
        for slot, t in enumerate(op.inputs):
            if t < 0 or t not in self.was_float:
                continue
            op.inputs[slot] = self._integer_input(index, op, slot, t, rule)
        for t in op.outputs:
            if t >= 0 and t in self.was_float:
                self._set_integer(t, self.plan.params[t])
        version = quantized_version(rule, self.int16, code.version)
        op.opcode_index = self.model.opcode_index(code.builtin_code, version)
        self._integer_options(op, code.builtin_code)
        self.new_ops.append(op)

    def _integer_input(self, index: int, op: Operator, slot: int, t: int, rule) -> int:
        if slot == rule.weight:
            return self.constants.weight(t, op, rule)
        if slot == rule.bias:
            # Slots are rewritten in order: the data input and the weight already are
            # integer, so the bias takes exactly the scales the kernel will multiply.
            code = self.model.operator_codes[op.opcode_index].builtin_code
            data = self.sg.tensors[op.inputs[2 if code == B.TRANSPOSE_CONV else 0]]
            assert data.quantization is not None
            input_scale = float(data.quantization.scale[0])
            return self.constants.bias(t, input_scale, op.inputs[rule.weight])
        if self.model.constant(self.sg.tensors[t]) is not None:
            return self.constants.activation(t, self.plan.params[t])
        return self.as_integer(t, self.plan.requantize.get((index, slot)))

    def _control_op(self, index: int, op: Operator) -> None:
        """A WHILE/IF some of whose values cross as integers: those inputs are converted
        to their crossing's parameters, those outputs are integer; the rest stay float."""
        for slot, t in enumerate(op.inputs):
            if t < 0 or t not in self.was_float:
                continue
            params = self.plan.requantize.get((index, slot))
            if params is None:
                op.inputs[slot] = self.as_float(t)
            elif self.model.constant(self.sg.tensors[t]) is not None:
                op.inputs[slot] = self.constants.activation(t, params)
            else:
                op.inputs[slot] = self.as_integer(t, params)
        for t in op.outputs:
            if t >= 0 and t in self.plan.params:
                self._set_integer(t, self.plan.params[t])
        self.new_ops.append(op)

    def _integer_options(self, op: Operator, code: int) -> None:
        options = op.builtin_options
        if not self.int16 or options is None:
            return
        if code in INT64_BIAS_OPS and hasattr(options, "quantized_bias_type"):
            op.builtin_options = with_options(options, quantized_bias_type=TensorType.INT64)
        elif code in GENERAL_INT16_SCALE_OPS and hasattr(options, "pot_scale_int16"):
            op.builtin_options = with_options(options, pot_scale_int16=False)

    def _outputs(self) -> None:
        wanted = self.options.output_type
        old_to_new = {}
        for position, t in enumerate(self.sg.outputs):
            if t not in self.was_float:
                continue
            if wanted == "float32":
                boundary = self.as_float(t)
            else:
                boundary = self.as_integer(t)
                if wanted == "uint8":
                    params = self.plan.params[t]
                    shifted = Params(params.scale, params.zero_point + 128, np.dtype(np.uint8))
                    boundary = self._convert(boundary, shifted)
            rename_boundary(self.sg, t, boundary, f"_{self.sg.tensors[t].type.name.lower()}")
            self.sg.outputs[position] = boundary
            old_to_new[t] = boundary
        for sig in self.model.signature_defs:
            if sig.subgraph_index == 0:
                sig.outputs = {k: old_to_new.get(t, t) for k, t in sig.outputs.items()}

    def _exits(self) -> None:
        """A called subgraph's outputs: crossing values integer, the other floats float."""
        for position, t in enumerate(self.sg.outputs):
            if t not in self.was_float:
                continue
            params = self.plan.exits.get(position)
            if params is None:
                self.sg.outputs[position] = self.as_float(t)
            else:
                self.sg.outputs[position] = self.as_integer(t, params)


def _ttype(dtype: np.dtype) -> TensorType:
    return {
        np.dtype(np.int8): TensorType.INT8,
        np.dtype(np.uint8): TensorType.UINT8,
        np.dtype(np.int16): TensorType.INT16,
    }[np.dtype(dtype)]


def _name(dtype: np.dtype) -> str:
    return np.dtype(dtype).name
