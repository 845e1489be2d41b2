"""Errors the converter raises on purpose: each names the problem and the fix."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import EdgeliteError


class ConversionError(EdgeliteError, ValueError):
    """The source model cannot be converted as asked (bad input, bad option, bad shape)."""


class MissingDependencyError(ConversionError, ImportError):
    """The source framework needed for this conversion is not installed."""


@dataclass(frozen=True)
class UnsupportedOp:
    """One source-graph node that has no TFLite lowering."""

    op_type: str
    node_name: str
    layer: str | None = None  # the Keras layer it came from, when the name tells
    reason: str = ""

    def describe(self) -> str:
        where = f" (layer {self.layer!r})" if self.layer else ""
        why = f": {self.reason}" if self.reason else ""
        return f"{self.op_type} at node {self.node_name!r}{where}{why}"


class UnsupportedOpsError(ConversionError):
    """Every unsupported op of a model at once, so one run shows all the work to do."""

    def __init__(self, ops: list[UnsupportedOp]) -> None:
        self.ops = ops
        kinds = sorted({op.op_type for op in ops})
        lines = "\n".join(f"  - {op.describe()}" for op in ops)
        super().__init__(
            f"{len(ops)} operation(s) of {len(kinds)} type(s) have no TFLite builtin "
            f"lowering ({', '.join(kinds)}):\n{lines}\n"
            "Replace these layers, or pass allow_custom_ops=True (--allow-custom-ops) to "
            "emit them as custom ops that your runtime must then provide."
        )
