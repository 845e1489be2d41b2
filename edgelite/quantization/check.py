"""``edgelite check``: validate any quantized model against the TFLite quantization spec.

Tensor rules (every quantized tensor): scales positive and finite, zero points inside
the type's range, per-axis parameters that fit the tensor, per-tensor activations,
zero point 0 for int16 activations. Op rules (check_ops.py): int8 weights symmetric in
[-127, 127] with the per-axis dimension of their op, bias scale = input scale x weight
scale, fixed output parameters, same-scale ops, op versions that encode int8, and
one type and set of parameters for every copy of a value a WHILE/IF passes between
subgraphs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..schema.generated.enums import TensorType
from ..schema.model import Model, Subgraph, Tensor

QUANTIZED_TYPES = {
    TensorType.INT8: (-128, 127),
    TensorType.UINT8: (0, 255),
    TensorType.INT16: (-32768, 32767),
    TensorType.INT32: (-(2**31), 2**31 - 1),
    TensorType.INT64: (-(2**63), 2**63 - 1),
    TensorType.INT4: (-8, 7),
}


@dataclass(frozen=True)
class Violation:
    """One broken rule, with where it is."""

    subgraph: int
    op_index: int | None  # None: a tensor rule
    op_name: str
    tensor: int
    tensor_name: str
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"subgraph {self.subgraph}"
        if self.op_index is not None:
            where += f" op #{self.op_index} {self.op_name}"
        return f"{where}: tensor {self.tensor} {self.tensor_name!r}: [{self.rule}] {self.message}"


def is_quantized(tensor: Tensor) -> bool:
    q = tensor.quantization
    return tensor.type in QUANTIZED_TYPES and q is not None and len(q.scale) > 0


def check_model(model: Model) -> list[Violation]:
    """Every spec violation of ``model`` (an empty list: it passes)."""
    from .check_ops import check_operator

    found: list[Violation] = []
    for s, sg in enumerate(model.subgraphs):
        constant = {t for t, tensor in enumerate(sg.tensors) if model.constant(tensor) is not None}
        for t, tensor in enumerate(sg.tensors):
            if is_quantized(tensor):
                found.extend(_tensor_rules(s, sg, t, t in constant))
        for i, op in enumerate(sg.operators):
            found.extend(check_operator(model, s, i, op))
    return found


def _tensor_rules(s: int, sg: Subgraph, t: int, constant: bool) -> list[Violation]:
    tensor = sg.tensors[t]
    q = tensor.quantization
    assert q is not None

    def bad(rule: str, message: str) -> Violation:
        return Violation(s, None, "", t, tensor.name, rule, message)

    out = []
    scale = np.asarray(q.scale, np.float64)
    if not (np.isfinite(scale).all() and (scale > 0).all()):
        out.append(bad("scale-positive", f"scales must be finite and > 0, got {few_values(scale)}"))
    zp = np.asarray(q.zero_point, np.int64)
    lo, hi = QUANTIZED_TYPES[tensor.type]
    if zp.size and ((zp < lo).any() or (zp > hi).any()):
        out.append(bad("zero-point-range", f"zero points {few_values(zp)} outside [{lo}, {hi}]"))
    if zp.size not in (0, scale.size):
        out.append(bad("per-axis-count", f"{scale.size} scales but {zp.size} zero points"))
    if scale.size > 1:
        axis = q.quantized_dimension
        if not 0 <= axis < len(tensor.shape):
            out.append(bad("per-axis-dimension", f"quantized_dimension {axis} out of range"))
        elif tensor.shape[axis] != scale.size:
            out.append(
                bad(
                    "per-axis-count",
                    f"{scale.size} scales for dimension {axis} of size {tensor.shape[axis]}",
                )
            )
        if not constant:
            out.append(bad("activation-per-tensor", "a computed tensor must be per-tensor"))
    if tensor.type == TensorType.INT16 and not constant and zp.size and (zp != 0).any():
        out.append(
            bad("int16-symmetric", f"int16 activations need zero point 0, got {few_values(zp)}")
        )
    return out


def few_values(values: np.ndarray) -> str:
    flat = np.asarray(values).reshape(-1)
    shown = ", ".join(f"{v:g}" for v in flat[:4])
    return f"[{shown}{', ...' if flat.size > 4 else ''}]"
