"""What a quantization run did: counts, ops kept float and why, notes for the user."""

from __future__ import annotations

from dataclasses import dataclass, field

from .select_ops import KeptFloat


@dataclass
class QuantizeReport:
    """Summary of one quantization, printed by the CLI and returned by the Python API."""

    mode: str
    quantized_ops: int = 0
    total_ops: int = 0
    quantized_weights: int = 0
    calibration_steps: int = 0
    kept_float: list[KeptFloat] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def format(self) -> str:
        """Human-readable lines (the CLI prints them on stderr)."""
        lines = [
            f"mode {self.mode}: {self.quantized_ops} of {self.total_ops} ops quantized, "
            f"{self.quantized_weights} weight tensors converted"
            + (f", {self.calibration_steps} calibration steps" if self.calibration_steps else "")
        ]
        if self.kept_float:
            lines.append(f"{len(self.kept_float)} ops stay float:")
            for kept in self.kept_float:
                lines.append(f"  {kept.where} {kept.op_name} -> {kept.output!r}: {kept.reason}")
        lines.extend(self.notes)
        return "\n".join(lines)
