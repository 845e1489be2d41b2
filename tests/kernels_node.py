"""Build the kernel-contract Node for one operator of a model (test helper)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgelite.interpreter.kernels.base import Node


def make_node(model: Any, sg: Any, index: int, op: Any, info: Callable[[int], Any]) -> Node:
    code = model.operator_codes[op.opcode_index]
    return Node(
        index=index,
        op=code.name,
        version=code.version,
        inputs=[info(i) for i in op.inputs],
        outputs=[info(i) for i in op.outputs],
        options=op.builtin_options,
        options_2=op.builtin_options_2,
        custom_options=op.custom_options,
    )
