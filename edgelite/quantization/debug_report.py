"""The quantization debugger's report: per-layer errors, ranking, --keep-float candidates.

Error accumulates along the network, so ranking by each tensor's own SNR would put
the last layers first in every model. Layers are ranked instead by what they add:
how far their SNR falls below their inputs' (the worst input's, and never above what
an ideal quantizer of the layer's integer type achieves, so a layer reading exact
inputs is judged against that). The --keep-float candidates are the top of that
ranking among integer layers, where the drop is large enough to matter.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

# A candidate's error power must at least double over its inputs' (3 dB) ...
CANDIDATE_MIN_DROP_DB = 3.0
# ... and its SNR be this far below an ideal quantizer's: finer errors never matter.
CANDIDATE_MARGIN_DB = 10.0
# What a float layer fed exact inputs is compared with (its error is its own).
EXACT_SNR_DB = 120.0


def ideal_snr_db(dtype: str) -> float:
    """SNR of ideal uniform quantization of a full-scale signal: 6.02 dB per bit + 1.76."""
    bits = {"int8": 8, "uint8": 8, "int16": 16, "int32": 32}.get(dtype)
    return EXACT_SNR_DB if bits is None else 6.02 * bits + 1.76


@dataclass
class LayerReport:
    """Error measures of one matched tensor over all samples."""

    position: int  # index of the float op that produces it; -1 for a model input
    op: str
    tensor: str
    float_index: int
    quant_index: int
    matched_by: str
    dtype: str  # of the quantized tensor
    scale: list[float] | None
    zero_point: list[int] | None
    mse: float
    max_abs_error: float
    snr_db: float  # inf when exact
    input_snr_db: float | None  # the worst of its matched inputs' (None: no matched input)
    range_utilization: float | None
    clipped_fraction: float | None
    float_min: float
    float_max: float
    relative_error: float  # error power / signal power
    keep_float_regex: str = ""  # a --keep-float expression matching only this layer

    @property
    def snr_drop_db(self) -> float:
        """How far this layer's SNR falls below its inputs' (capped at the ideal SNR)."""
        reference = ideal_snr_db(self.dtype)
        if self.input_snr_db is not None:
            reference = min(reference, self.input_snr_db)
        return reference - min(self.snr_db, EXACT_SNR_DB)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["snr_drop_db"] = self.snr_drop_db
        return {key: _json_number(value) for key, value in data.items()}


def keep_float_pattern(tensor: str, names: set[str]) -> str:
    """A short --keep-float expression (``re.search``) matching ``tensor`` among ``names``.

    Converters join fused tensors' names with ';', giving names of several hundred
    characters; the first part that matches no other name (op or tensor) is enough.
    """
    for part in tensor.split(";"):
        pattern = re.escape(part)
        if part and all(n == tensor or not re.search(pattern, n) for n in names):
            return pattern
    return f"^{re.escape(tensor)}$"


def _json_number(value):
    """JSON has no inf/NaN: exact layers (SNR inf) are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class DebugReport:
    """What ``debug_quantization`` found: layers worst first, and --keep-float candidates."""

    float_model: str
    quant_model: str
    runtime: str
    samples: int
    layers: list[LayerReport]  # worst first
    candidates: list[LayerReport]  # the layers adding the most error, largest first
    unmatched: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def in_network_order(self) -> list[LayerReport]:
        return sorted(self.layers, key=lambda layer: (layer.position, layer.float_index))

    def layer(self, tensor: str) -> LayerReport:
        """The layer whose float tensor is named ``tensor`` (KeyError if none)."""
        for layer in self.layers:
            if layer.tensor == tensor:
                return layer
        raise KeyError(tensor)

    def as_dict(self) -> dict:
        return {
            "float_model": self.float_model,
            "quant_model": self.quant_model,
            "runtime": self.runtime,
            "samples": self.samples,
            "layers": [layer.as_dict() for layer in self.layers],
            "keep_float_candidates": [
                {
                    "tensor": c.tensor,
                    "op": c.op,
                    "position": c.position,
                    "regex": c.keep_float_regex,
                    "snr_db": _json_number(c.snr_db),
                    "snr_drop_db": _json_number(c.snr_drop_db),
                }
                for c in self.candidates
            ],
            "unmatched": self.unmatched,
            "notes": self.notes,
        }

    def format(self, top: int | None = None, width: int = 56) -> str:
        """The text table (worst ``top`` layers, all by default) and the suggestions."""
        from .debug_text import format_report

        return format_report(self, top, width)

    def to_html(self) -> str:
        """A self-contained HTML page with an SVG plot of the error along the network."""
        from .debug_html import render_html

        return render_html(self)


def rank_layers(layers: list[LayerReport]) -> list[LayerReport]:
    """Worst first: largest SNR drop over the inputs, then lowest SNR, then network order."""
    return sorted(layers, key=lambda x: (-x.snr_drop_db, x.snr_db, x.position))


def keep_float_candidates(ranked: list[LayerReport], limit: int) -> list[LayerReport]:
    """Up to ``limit`` integer layers of ``ranked`` whose error jumps most over their inputs."""
    chosen = [
        layer
        for layer in ranked
        if layer.position >= 0
        and layer.scale is not None
        and layer.snr_drop_db >= CANDIDATE_MIN_DROP_DB
        and layer.snr_db < ideal_snr_db(layer.dtype) - CANDIDATE_MARGIN_DB
    ]
    return chosen[: max(limit, 0)]
