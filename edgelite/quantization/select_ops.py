"""Which ops of a float model become integer, and why each other float op stays float."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..schema.generated.enums import BuiltinOperator, TensorType
from ..schema.model import Model, Operator
from .op_rules import rule_for
from .options import QuantizationError

F32 = TensorType.FLOAT32
# Ops that run other subgraphs: their float values are handled as boundary crossings.
CONTROL_FLOW = (BuiltinOperator.WHILE, BuiltinOperator.IF, BuiltinOperator.CALL_ONCE)


@dataclass(frozen=True)
class KeptFloat:
    """An op that touches float tensors and stays float, with the reason."""

    op_index: int
    op_name: str
    output: str
    reason: str
    subgraph: int = 0

    @property
    def where(self) -> str:
        """``#3`` in the main subgraph, ``subgraph 2 #3`` elsewhere."""
        return (
            f"#{self.op_index}"
            if self.subgraph == 0
            else f"subgraph {self.subgraph} #{self.op_index}"
        )


def float_tensors(model: Model, op: Operator, s: int = 0) -> tuple[list[int], list[int]]:
    """The op's float32 input and output tensor indices (optional inputs left out).

    ``s``: the index of the subgraph holding ``op``.
    """
    sg = model.subgraphs[s]
    ins = [t for t in op.inputs if t >= 0 and sg.tensors[t].type == F32]
    outs = [t for t in op.outputs if t >= 0 and sg.tensors[t].type == F32]
    return ins, outs


def touches_float(model: Model, op: Operator, s: int = 0) -> bool:
    ins, outs = float_tensors(model, op, s)
    return bool(ins or outs)


def check_keep_float(
    model: Model, patterns: list[re.Pattern], subgraphs: Iterable[int] = (0,)
) -> None:
    """QuantizationError for a --keep-float expression that matches no op and no tensor.

    ``subgraphs``: the subgraphs being quantized (the main one and those it runs).
    """
    names: set[str] = set()
    for s in subgraphs:
        sg = model.subgraphs[s]
        names.update(model.op_name(op) for op in sg.operators)
        names.update(sg.tensors[t].name for op in sg.operators for t in op.outputs if t >= 0)
    for pattern in patterns:
        if not any(pattern.search(name) for name in names):
            raise QuantizationError(
                f"--keep-float {pattern.pattern!r} matches no op name (like CONV_2D) and no "
                "tensor name of the subgraphs being quantized"
            )


def choose_integer_ops(
    model: Model, measured: set[int], int16: bool, patterns: list[re.Pattern], s: int = 0
) -> tuple[set[int], list[KeptFloat]]:
    """Indices of the ops of subgraph ``s`` to make integer, and the float ops that stay
    float (with why). Control-flow ops (WHILE, IF, CALL_ONCE) are neither: their values
    cross into other subgraphs (control_flow.py).

    ``measured``: tensors of subgraph ``s`` whose range calibration recorded.
    """
    chosen: set[int] = set()
    kept: list[KeptFloat] = []
    sg = model.subgraphs[s]
    for index, op in enumerate(sg.operators):
        if not touches_float(model, op, s):
            continue  # integer/boolean bookkeeping (shapes, indices): nothing to quantize
        if model.operator_codes[op.opcode_index].builtin_code in CONTROL_FLOW:
            continue
        reason = _why_float(model, op, measured, int16, patterns, s)
        if reason is None:
            chosen.add(index)
        else:
            out = next((sg.tensors[t].name for t in op.outputs if t >= 0), "")
            kept.append(KeptFloat(index, model.op_name(op), out, reason, s))
    return chosen, kept


def _why_float(
    model: Model,
    op: Operator,
    measured: set[int],
    int16: bool,
    patterns: list[re.Pattern],
    s: int,
) -> str | None:
    sg = model.subgraphs[s]
    code = model.operator_codes[op.opcode_index].builtin_code
    name = model.op_name(op)
    rule = rule_for(code)
    if rule is None:
        return f"no integer kernel for {name}"
    if int16 and rule.int16_version is None:
        return f"no 16x8 (int16 activation) kernel for {name}"
    if int16 and rule.output == "fixed" and rule.fixed_int16 is None:
        return f"no 16x8 (int16 activation) kernel for {name}"
    for pattern in patterns:
        outputs = [sg.tensors[t].name for t in op.outputs if t >= 0]
        if any(pattern.search(text) for text in [name, *outputs]):
            return f"--keep-float {pattern.pattern!r}"
    for t in op.inputs + op.outputs:
        if t < 0:
            continue
        tensor = sg.tensors[t]
        if tensor.type not in (F32, TensorType.INT32, TensorType.INT64, TensorType.BOOL):
            return f"tensor {t} {tensor.name!r} is {tensor.type.name.lower()}"
        if tensor.is_variable:
            return f"reads variable tensor {t} {tensor.name!r}"
    weight_reason = _weight_problem(model, op, rule.weight, rule.bias, s)
    if weight_reason:
        return weight_reason
    extra = _op_specific(model, op, code, s)
    if extra:
        return extra
    ins, outs = float_tensors(model, op, s)
    for t in ins + outs:
        if model.constant(sg.tensors[t]) is None and t not in measured:
            return f"tensor {t} {sg.tensors[t].name!r} was never computed during calibration"
    return None


def _weight_problem(
    model: Model, op: Operator, weight: int | None, bias: int | None, s: int
) -> str | None:
    sg = model.subgraphs[s]
    for slot, what in ((weight, "weights"), (bias, "bias")):
        if slot is None or slot >= len(op.inputs) or op.inputs[slot] < 0:
            continue
        tensor = sg.tensors[op.inputs[slot]]
        if tensor.type != F32 or model.constant(tensor) is None:
            return f"{what} {tensor.name!r} are not a float32 constant"
    return None


def _op_specific(model: Model, op: Operator, code: int, s: int) -> str | None:
    """Float features the integer kernels lack."""
    sg = model.subgraphs[s]
    options = op.builtin_options
    if code == BuiltinOperator.FULLY_CONNECTED and getattr(options, "weights_format", 0) != 0:
        return "shuffled FULLY_CONNECTED weights"
    if code == BuiltinOperator.CONV_2D:
        x, w = sg.tensors[op.inputs[0]], sg.tensors[op.inputs[1]]
        if len(x.shape) == 4 and len(w.shape) == 4 and x.shape[3] != w.shape[3]:
            return "grouped convolution has no integer kernel"
    if code == BuiltinOperator.CONCATENATION and getattr(
        options, "fused_activation_function", None
    ):
        return "integer CONCATENATION has no fused activation"
    return None
