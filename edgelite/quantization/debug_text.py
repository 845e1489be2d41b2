"""The quantization debugger's report as a text table (what ``edgelite quant-debug`` prints)."""

from __future__ import annotations

import math
import shlex

from .debug_report import DebugReport, LayerReport

COLUMNS = (
    ("rank", 4),
    ("#op", 4),
    ("op", 18),
    ("dtype", 7),
    ("scale", 10),
    ("zp", 6),
    ("MSE", 10),
    ("max|err|", 10),
    ("SNR dB", 7),
    ("drop dB", 7),
    ("range%", 6),
    ("clip%", 6),
)


def format_number(value: float | None, digits: int = 3) -> str:
    """Compact: None as '-', inf as 'exact', small and large values in e-notation."""
    if value is None:
        return "-"
    if math.isinf(value):
        return "exact" if value > 0 else "-inf"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits + 1}g}"


def format_params(layer: LayerReport) -> tuple[str, str]:
    """(scale, zero point) as table cells; per-channel tensors show the channel count."""
    if layer.scale is None or layer.zero_point is None:
        return "-", "-"
    if len(layer.scale) > 1:
        return f"{len(layer.scale)} ch", "per-ch"
    return f"{layer.scale[0]:.4g}", str(layer.zero_point[0])


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _snr(value: float | None) -> str:
    if value is None:
        return "-"
    return "exact" if math.isinf(value) and value > 0 else f"{value:.1f}"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def layer_row(rank: int, layer: LayerReport, width: int) -> str:
    scale, zero_point = format_params(layer)
    cells = (
        str(rank),
        "in" if layer.position < 0 else str(layer.position),
        _shorten(layer.op, 18),
        layer.dtype,
        scale,
        zero_point,
        format_number(layer.mse),
        format_number(layer.max_abs_error),
        _snr(layer.snr_db),
        _snr(layer.snr_drop_db),
        _percent(layer.range_utilization),
        _percent(layer.clipped_fraction),
    )
    text = " ".join(
        f"{cell:>{w}}" if i else f"{cell:<{w}}"
        for i, (cell, (_, w)) in enumerate(zip(cells, COLUMNS))
    )
    return f"{text}  {_shorten(layer.tensor, width)}"


def format_report(report: DebugReport, top: int | None, width: int) -> str:
    """Summary, the table of the worst ``top`` layers, the candidates and the notes."""
    by_name = sum(1 for layer in report.layers if layer.matched_by == "name")
    lines = [
        f"{report.quant_model} vs {report.float_model}: {report.samples} sample(s), "
        f"runtime {report.runtime}",
        f"{len(report.layers)} tensors matched ({by_name} by name, "
        f"{len(report.layers) - by_name} by op position), {len(report.unmatched)} unmatched",
        "layers ranked by SNR drop: how much worse each is than its inputs (dB); "
        "range%: share of the integer range used; clip%: float values out of range",
        "",
        " ".join(f"{name:>{w}}" if i else f"{name:<{w}}" for i, (name, w) in enumerate(COLUMNS))
        + "  tensor",
    ]
    shown = report.layers if top is None else report.layers[:top]
    lines += [layer_row(rank, layer, width) for rank, layer in enumerate(shown, start=1)]
    if len(shown) < len(report.layers):
        lines.append(f"... {len(report.layers) - len(shown)} more layers (see --json)")
    lines += ["", *format_candidates(report)]
    if report.unmatched:
        names = ", ".join(repr(n) for n in report.unmatched[:5])
        more = f" and {len(report.unmatched) - 5} more" if len(report.unmatched) > 5 else ""
        lines.append(f"not compared (no matching quantized tensor): {names}{more}")
    lines += report.notes
    return "\n".join(lines)


def format_candidates(report: DebugReport) -> list[str]:
    """The --keep-float suggestion lines."""
    if not report.candidates:
        return ["no --keep-float candidates: no integer layer adds much error over its inputs"]
    lines = ["--keep-float candidates (layers whose error jumps most over their inputs'):"]
    for layer in report.candidates:
        lines.append(
            f"  #{layer.position} {layer.op}: SNR {_snr(layer.snr_db)} dB, "
            f"{layer.snr_drop_db:.1f} dB below its inputs  "
            f"{_shorten(layer.tensor, 60)}"
        )
    regexes = " ".join(shlex.quote(layer.keep_float_regex) for layer in report.candidates)
    lines.append(f"  try: edgelite quantize ... --keep-float {regexes}")
    return lines
