"""The quantization debugger's report: per-layer errors, ranking, --keep-float candidates.

Layers are ranked worst first by SNR (error power relative to the layer's own signal,
so layers of different magnitudes compare). Error accumulates along the network,
so a layer late in the network can rank badly only because its inputs were already
off; the --keep-float candidates are therefore the layers that *add* the most error:
their SNR falls well below their inputs' and the relative error they add is largest.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

# A candidate's error power must at least double over its inputs' (3 dB) ...
CANDIDATE_MIN_DROP_DB = 3.0
# ... and its own SNR be below 40 dB (1% RMS error): finer errors never matter.
CANDIDATE_MAX_SNR_DB = 40.0
# A layer whose inputs are exact (model inputs kept float) is compared with this SNR.
EXACT_SNR_DB = 120.0


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

    @property
    def snr_drop_db(self) -> float | None:
        """How much worse this layer's SNR is than its inputs' (None without inputs)."""
        if self.input_snr_db is None:
            return None
        return _finite(self.input_snr_db) - _finite(self.snr_db)

    @property
    def added_error(self) -> float:
        """Relative error this layer adds over its inputs'."""
        inherited = 0.0 if self.input_snr_db is None else _power(self.input_snr_db)
        return self.relative_error - inherited

    @property
    def keep_float_regex(self) -> str:
        """A --keep-float expression that matches exactly this layer's output tensor."""
        return f"^{re.escape(self.tensor)}$"

    def as_dict(self) -> dict:
        data = asdict(self)
        data["snr_drop_db"] = self.snr_drop_db
        data["keep_float_regex"] = self.keep_float_regex
        return {key: _json_number(value) for key, value in data.items()}


def _finite(snr: float) -> float:
    return min(snr, EXACT_SNR_DB)


def _power(snr: float) -> float:
    return 10.0 ** (-_finite(snr) / 10.0)


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
                {"tensor": c.tensor, "op": c.op, "position": c.position,
                 "regex": c.keep_float_regex, "snr_db": _json_number(c.snr_db),
                 "snr_drop_db": _json_number(c.snr_drop_db)}
                for c in self.candidates
            ],  # fmt: skip
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
    """Worst first: lowest SNR, then largest relative error, then network order."""
    return sorted(layers, key=lambda x: (x.snr_db, -x.relative_error, x.position))


def keep_float_candidates(layers: list[LayerReport], limit: int) -> list[LayerReport]:
    """Up to ``limit`` integer layers that add the most error relative to their inputs."""
    chosen = [
        layer
        for layer in layers
        if layer.position >= 0
        and layer.scale is not None
        and layer.snr_db < CANDIDATE_MAX_SNR_DB
        and (layer.snr_drop_db is None or layer.snr_drop_db >= CANDIDATE_MIN_DROP_DB)
    ]
    chosen.sort(key=lambda layer: -layer.added_error)
    return chosen[: max(limit, 0)]
