"""Errors the interpreter raises on purpose.

The exception *types* follow the official runtime where users may catch them:
unresolved builtin ops fail the constructor with a ValueError, prepare failures
surface from ``allocate_tensors`` as RuntimeError, invoke failures as
RuntimeError.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import EdgeliteError
from .kernels.base import PrepareError

__all__ = ["InvokeError", "PrepareError", "UnresolvedOp", "UnsupportedOpError"]


@dataclass(frozen=True)
class UnresolvedOp:
    """One operator no kernel was found for."""

    op: str
    version: int
    subgraph: int
    node: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    supported: tuple[int, int] | None  # version range of the op, when another version exists

    def describe(self) -> str:
        where = f"subgraph {self.subgraph} node {self.node}"
        flow = f"({', '.join(map(repr, self.inputs))}) -> ({', '.join(map(repr, self.outputs))})"
        if self.supported is None:
            why = "edgelite has no kernel for this op"
        else:
            low, high = self.supported
            why = f"supported versions: {low}..{high}" if low != high else f"supported: v{low}"
        return f"{self.op} (version {self.version}) at {where} {flow}; {why}"


class UnsupportedOpError(EdgeliteError, ValueError):
    """The model uses builtin ops (or op versions) edgelite cannot run; lists all of them."""

    def __init__(self, unresolved: list[UnresolvedOp]) -> None:
        self.unresolved = list(unresolved)
        lines = [op.describe() for op in self.unresolved]
        count = len(lines)
        head = f"{count} operator{'s' if count != 1 else ''} cannot be resolved:"
        super().__init__("\n  ".join([head, *lines]))


class InvokeError(EdgeliteError, RuntimeError):
    """A node failed while running; the message names the subgraph, node, op and version."""
