"""Op rules of ``edgelite check`` (see check.py): weights, bias, fixed and same-scale ops."""

from __future__ import annotations

import numpy as np

from ..schema.generated.enums import BuiltinOperator as B
from ..schema.generated.enums import TensorType
from ..schema.model import Model, Operator, Tensor
from .check import Violation, few_values, is_quantized
from .op_rules import rule_for

# (weight input, per-axis dimension, bias input, data input) of the weighted ops.
WEIGHTED: dict[int, tuple[int, int, int, int]] = {
    B.CONV_2D: (1, 0, 2, 0),
    B.DEPTHWISE_CONV_2D: (1, 3, 2, 0),
    B.FULLY_CONNECTED: (1, 0, 2, 0),
    B.TRANSPOSE_CONV: (1, 0, 3, 2),
}
# The spec's "inputs and outputs must all have the same scale/zero_point" list.
SAME_SCALE: set[int] = {
    B.AVERAGE_POOL_2D, B.MAX_POOL_2D, B.CONCATENATION, B.RESHAPE, B.RESIZE_BILINEAR,
    B.SPACE_TO_DEPTH, B.PAD, B.PADV2, B.GATHER, B.BATCH_TO_SPACE_ND, B.SPACE_TO_BATCH_ND,
    B.TRANSPOSE, B.SQUEEZE, B.SLICE, B.MAXIMUM, B.MINIMUM,
}  # fmt: skip
_SIGMOID = {TensorType.INT8: (1 / 256, -128), TensorType.UINT8: (1 / 256, 0)}
_UNIT16 = {TensorType.INT16: (1 / 32768, 0)}
FIXED: dict[int, dict[TensorType, tuple[float, int]]] = {
    B.LOGISTIC: {**_SIGMOID, **_UNIT16},
    B.SOFTMAX: {**_SIGMOID, **_UNIT16},
    B.TANH: {TensorType.INT8: (1 / 128, 0), TensorType.UINT8: (1 / 128, 128), **_UNIT16},
    B.LOG_SOFTMAX: {TensorType.INT8: (16 / 256, 127), TensorType.UINT8: (16 / 256, 255)},
    B.L2_NORMALIZATION: {TensorType.INT8: (1 / 128, 0), TensorType.UINT8: (1 / 128, 128)},
}
HYBRID_MIN_VERSION: dict[int, int] = {B.CONV_2D: 2, B.DEPTHWISE_CONV_2D: 4, B.FULLY_CONNECTED: 3}
ACTIVATION_TYPES = (TensorType.INT8, TensorType.UINT8, TensorType.INT16)
BIAS_SCALE_TOLERANCE = 1e-4  # relative; the kernels allow float32 rounding of the product


class _OpChecker:
    def __init__(self, model: Model, s: int, index: int, op: Operator) -> None:
        self.model = model
        self.sg = model.subgraphs[s]
        self.s, self.index, self.op = s, index, op
        self.code = model.operator_codes[op.opcode_index]
        self.found: list[Violation] = []

    def tensor(self, slot: int, outputs: bool = False) -> tuple[int, Tensor] | None:
        refs = self.op.outputs if outputs else self.op.inputs
        if slot >= len(refs) or refs[slot] < 0:
            return None
        return refs[slot], self.sg.tensors[refs[slot]]

    def bad(self, t: int, rule: str, message: str) -> None:
        name = self.sg.tensors[t].name
        self.found.append(Violation(self.s, self.index, self.code.name, t, name, rule, message))

    def run(self) -> list[Violation]:
        code = self.code.builtin_code
        if code in WEIGHTED:
            self.weighted(*WEIGHTED[code])
        if code in FIXED:
            self.fixed(FIXED[code])
        if code in SAME_SCALE:
            self.same_scale()
        if code in (B.WHILE, B.IF):
            self.control_flow()
        self.version()
        return self.found

    def weighted(self, w_slot: int, axis: int, b_slot: int, x_slot: int) -> None:
        weight, data = self.tensor(w_slot), self.tensor(x_slot)
        if weight is None or not is_quantized(weight[1]) or weight[1].type != TensorType.INT8:
            return
        wt, w = weight
        q = w.quantization
        assert q is not None
        if (np.asarray(q.zero_point) != 0).any():
            self.bad(
                wt,
                "weight-symmetric",
                f"int8 weights need zero point 0, got {few_values(q.zero_point)}",
            )
        values = self.model.constant(w)
        if values is not None and values.size and int(values.min()) < -127:
            self.bad(
                wt, "weight-range", f"int8 weights must be in [-127, 127]; min is {values.min()}"
            )
        if len(q.scale) > 1 and q.quantized_dimension != axis:
            self.bad(
                wt,
                "per-axis-dimension",
                f"{self.code.name} weights are per-channel along dimension {axis}, "
                f"not {q.quantized_dimension}",
            )
        bias = self.tensor(b_slot)
        if bias is not None and data is not None and is_quantized(data[1]):
            self.bias(bias, data[1], q.scale)

    def bias(self, bias: tuple[int, Tensor], data: Tensor, weight_scales: np.ndarray) -> None:
        bt, b = bias
        wanted = (TensorType.INT32,) if data.type != TensorType.INT16 else (
            TensorType.INT32, TensorType.INT64,
        )  # fmt: skip
        if b.type not in wanted:
            names = " or ".join(t.name.lower() for t in wanted)
            self.bad(
                bt, "bias-type", f"bias of {data.type.name.lower()} activations must be {names}"
            )
            return
        q = b.quantization
        if q is None or not len(q.scale):
            self.bad(bt, "bias-scale", "integer bias without quantization parameters")
            return
        if (np.asarray(q.zero_point) != 0).any():
            self.bad(
                bt, "bias-zero-point", f"bias zero points must be 0, got {few_values(q.zero_point)}"
            )
        assert data.quantization is not None
        expected = float(data.quantization.scale[0]) * np.asarray(weight_scales, np.float64)
        actual = np.asarray(q.scale, np.float64)
        if actual.size != expected.size and expected.size != 1 and actual.size != 1:
            self.bad(
                bt, "bias-scale", f"{actual.size} bias scales for {expected.size} weight scales"
            )
            return
        error = np.abs(actual - expected) / np.maximum(expected, 1e-30)
        if (error > BIAS_SCALE_TOLERANCE).any():
            worst = int(np.argmax(error))
            self.bad(
                bt,
                "bias-scale",
                f"bias scale {few_values(actual)} != input scale x weight scale "
                f"{few_values(expected)} (relative error {float(error.reshape(-1)[worst]):.2g})",
            )

    def fixed(self, table: dict) -> None:
        out = self.tensor(0, outputs=True)
        if out is None or not is_quantized(out[1]) or out[1].type not in table:
            return
        t, tensor = out
        scale, zp = table[tensor.type]
        q = tensor.quantization
        assert q is not None
        if abs(float(q.scale[0]) - scale) > 1e-6 * scale or int(q.zero_point[0]) != zp:
            self.bad(
                t,
                "fixed-output",
                f"{self.code.name} output must be scale {scale:g} zero point {zp}, "
                f"got {float(q.scale[0]):g} / {int(q.zero_point[0])}",
            )

    def same_scale(self) -> None:
        tensors = [(t, self.sg.tensors[t]) for t in self.op.inputs + self.op.outputs if t >= 0]
        data = [(t, x) for t, x in tensors if x.type in ACTIVATION_TYPES and is_quantized(x)]
        if len(data) < 2:
            return
        ref_t, ref = data[0]
        assert ref.quantization is not None
        scale, zp = float(ref.quantization.scale[0]), int(ref.quantization.zero_point[0])
        for t, x in data[1:]:
            assert x.quantization is not None
            s, z = float(x.quantization.scale[0]), int(x.quantization.zero_point[0])
            if abs(s - scale) > 1e-6 * scale or z != zp:
                self.bad(
                    t,
                    "same-scale",
                    f"{self.code.name} needs the parameters of tensor {ref_t} "
                    f"({scale:g} / {zp}), got {s:g} / {z}",
                )

    def control_flow(self) -> None:
        """A WHILE/IF copies raw values between subgraphs, so every copy of one value (the
        op's input and output, the cond/body/branch inputs and outputs) must read it with
        the same type and quantization parameters."""
        opts = self.op.builtin_options
        subgraphs = self.model.subgraphs
        if self.code.builtin_code == B.WHILE:
            cond = subgraphs[opts.cond_subgraph_index]
            body = subgraphs[opts.body_subgraph_index]
            for k, (first, result) in enumerate(zip(self.op.inputs, self.op.outputs)):
                copies = [
                    (self.sg, first, "input"),
                    (cond, _at(cond.inputs, k), "cond input"),
                    (body, _at(body.inputs, k), "body input"),
                    (body, _at(body.outputs, k), "body output"),
                ]
                self.same_copies(result, f"output {k}", copies)
            return
        branches = {
            "then": subgraphs[opts.then_subgraph_index],
            "else": subgraphs[opts.else_subgraph_index],
        }
        for k, t in enumerate(self.op.inputs[1:]):
            ins = [(sg, _at(sg.inputs, k), f"{role} input") for role, sg in branches.items()]
            self.same_copies(t, f"input {k + 1}", ins)
        for k, t in enumerate(self.op.outputs):
            outs = [(sg, _at(sg.outputs, k), f"{role} output") for role, sg in branches.items()]
            self.same_copies(t, f"output {k}", outs)

    def same_copies(self, t: int, what: str, copies: list) -> None:
        if t < 0:
            return
        ref = self.sg.tensors[t]
        for sg, u, role in copies:
            if u is None or u < 0:
                continue
            other = sg.tensors[u]
            if _params(other) != _params(ref):
                self.bad(
                    t,
                    "control-flow-copy",
                    f"{self.code.name} {what} is {_describe(ref)} but its {role} "
                    f"{other.name!r} is {_describe(other)}",
                )

    def version(self) -> None:
        first = self.tensor(WEIGHTED.get(self.code.builtin_code, (0, 0, 0, 0))[3])
        out = self.tensor(0, outputs=True)
        if first is None or out is None:
            return
        rule = rule_for(self.code.builtin_code)
        x, y = first[1], out[1]
        minimum = None
        if rule and x.type == TensorType.INT16 and is_quantized(x):
            # The official 16x8 models keep the int8 version (CONV_2D 3); an op whose
            # int16 kernel is older than its int8 one (GELU 1) needs only that.
            minimum = min(rule.int8_version, rule.int16_version or rule.int8_version)
        elif rule and x.type == TensorType.INT8 and is_quantized(x):
            minimum = rule.int8_version
        elif x.type == TensorType.FLOAT32 and y.type == TensorType.FLOAT32:
            weight = self.tensor(1)
            if weight is not None and weight[1].type == TensorType.INT8 and is_quantized(weight[1]):
                minimum = HYBRID_MIN_VERSION.get(self.code.builtin_code)
        if minimum is not None and self.code.version < minimum:
            self.bad(
                first[0],
                "op-version",
                f"{self.code.name} version {self.code.version} does not encode "
                f"{x.type.name.lower()} (needs >= {minimum})",
            )


def _at(tensors: list[int], k: int) -> int | None:
    return tensors[k] if k < len(tensors) else None


def _params(tensor: Tensor) -> tuple:
    """(type, scale, zero point) as compared across copies (float32: no parameters)."""
    if not is_quantized(tensor):
        return (tensor.type,)
    q = tensor.quantization
    assert q is not None
    return (tensor.type, float(np.float32(q.scale[0])), int(q.zero_point[0]))


def _describe(tensor: Tensor) -> str:
    params = _params(tensor)
    text = params[0].name.lower()
    return text if len(params) == 1 else f"{text} {params[1]:g} / {params[2]}"


def check_operator(model: Model, s: int, index: int, op: Operator) -> list[Violation]:
    """Violations of the op rules by operator ``index`` of subgraph ``s``."""
    return _OpChecker(model, s, index, op).run()
