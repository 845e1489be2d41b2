"""Helpers shared by the graph passes: constants, op codes, use counts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...quantization.ranges import carry_range
from ...schema.dtypes import tensor_type
from ...schema.generated.enums import ActivationFunctionType, BuiltinOperator
from ...schema.graph import consumers, producers
from ...schema.model import Model, Operator, Subgraph, Tensor

B = BuiltinOperator
ACT_NONE = ActivationFunctionType.NONE


@dataclass
class View:
    """Producers and consumers of one subgraph, computed once per pass sweep."""

    producer: dict[int, int]
    users: dict[int, list[int]]
    outputs: set[int]

    @classmethod
    def of(cls, sg: Subgraph) -> View:
        return cls(producers(sg), consumers(sg), set(sg.outputs))

    def only_user(self, tensor: int) -> int | None:
        """The single operator reading ``tensor``, if it has exactly one and is no output."""
        users = self.users.get(tensor, [])
        if len(users) != 1 or tensor in self.outputs:
            return None
        return users[0]


def fused_activation(op: Operator) -> int:
    """The op's fused activation (NONE when its options have none)."""
    value = getattr(op.builtin_options, "fused_activation_function", None)
    return int(ACT_NONE if value is None else value)


def code_of(model: Model, op: Operator) -> int:
    """The operator's builtin code (BuiltinOperator.CUSTOM for custom ops)."""
    return int(model.operator_codes[op.opcode_index].builtin_code)


def constant(model: Model, sg: Subgraph, tensor: int) -> np.ndarray | None:
    """The value of a constant tensor (None for -1, variables and computed tensors)."""
    if tensor < 0:
        return None
    t = sg.tensors[tensor]
    if t.is_variable or t.buffer == 0:
        return None
    value = model.constant(t)
    if value is None and t.num_elements == 0:
        return np.zeros(t.shape, t.dtype)  # empty constants have no bytes but are known
    return value


def add_constant(model: Model, sg: Subgraph, name: str, value: np.ndarray) -> int:
    """Append a constant tensor holding ``value``; returns its index."""
    value = np.asarray(value, order="C")
    tensor = Tensor(
        name=name,
        shape=list(value.shape),
        type=tensor_type(value.dtype),
        buffer=model.add_buffer(value),
        has_rank=True,
    )
    return sg.add_tensor(tensor)


def make_constant(model: Model, sg: Subgraph, tensor: int, value: np.ndarray) -> None:
    """Turn an existing tensor into a constant holding ``value`` (its shape follows)."""
    t = sg.tensors[tensor]
    value = np.asarray(value, dtype=t.dtype, order="C")
    t.buffer = model.add_buffer(value)
    t.shape = list(value.shape)
    t.shape_signature = None


def replace_output(sg: Subgraph, old: int, new: int) -> None:
    """Make readers of ``old`` read ``new``; a subgraph output keeps its name.

    A recorded (fake-quant) range of ``old`` goes to ``new`` when it has none: the two
    hold the same values.
    """
    if old in sg.outputs and new not in sg.inputs and new not in sg.outputs:
        sg.tensors[new].name = sg.tensors[old].name
    if list(sg.tensors[old].shape) == list(sg.tensors[new].shape):
        carry_range(sg.tensors[old], sg.tensors[new])
    sg.replace_tensor_uses(old, new)


def same_shape(a: Tensor, b: Tensor) -> bool:
    """Equal static shapes and equal signatures (unknown dimensions in the same places)."""
    sig_a = a.shape_signature if a.shape_signature is not None else a.shape
    sig_b = b.shape_signature if b.shape_signature is not None else b.shape
    return list(a.shape) == list(b.shape) and list(sig_a) == list(sig_b)


def is_dynamic(t: Tensor) -> bool:
    return t.shape_signature is not None and any(d < 0 for d in t.shape_signature)
