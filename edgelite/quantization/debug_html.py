"""The quantization debugger's report as one self-contained HTML page.

The plot is inline SVG written here (no plotting library, no scripts, no external
files): per-layer SNR along the network, in execution order, with the --keep-float
candidates in red and a tooltip per point. The table below it lists the layers worst
first.
"""

from __future__ import annotations

import math
from html import escape

from .debug_report import DebugReport, LayerReport
from .debug_text import COLUMNS, format_number, format_params

WIDTH, HEIGHT = 960, 340
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 28, 48
EXACT_BAND = 18  # pixels above the plot where exact layers (SNR = inf) are drawn

STYLE = """
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td.name { text-align: left; font-family: monospace; }
tr.candidate td { background: #fde8e8; }
code { background: #f4f4f4; padding: 1px 4px; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
"""


def render_html(report: DebugReport) -> str:
    """The whole page as a string."""
    title = f"quant-debug: {report.quant_model} vs {report.float_model}"
    by_name = sum(1 for layer in report.layers if layer.matched_by == "name")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{report.samples} sample(s), runtime {escape(report.runtime)}; "
        f"{len(report.layers)} tensors compared ({by_name} matched by name), "
        f"{len(report.unmatched)} unmatched.</p>",
        "<h2>SNR along the network (dB, higher is better)</h2>",
        plot_svg(report),
        "<h2>--keep-float candidates</h2>",
        _candidates(report),
        "<h2>Layers, worst first (by SNR drop over their inputs)</h2>",
        _table(report),
    ]
    parts += [f"<p>{escape(note)}</p>" for note in report.notes]
    if report.unmatched:
        names = ", ".join(escape(repr(name)) for name in report.unmatched)
        parts.append(f"<p>Not compared (no matching quantized tensor): {names}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _y_range(layers: list[LayerReport]) -> tuple[float, float, float]:
    """(low, high, grid step) in dB covering every finite SNR."""
    finite = [layer.snr_db for layer in layers if math.isfinite(layer.snr_db)]
    if not finite:
        return 0.0, 10.0, 10.0
    low, high = min(finite), max(finite)
    step = 10.0 if high - low <= 100 else 20.0
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    if high == low:
        high = low + step
    return low, high, step


def plot_svg(report: DebugReport) -> str:
    """The per-layer SNR plot as an inline <svg> element."""
    layers = report.in_network_order()
    candidates = {id(layer) for layer in report.candidates}
    low, high, step = _y_range(layers)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_at(k: int) -> float:
        return LEFT + (plot_w * (k + 0.5) / max(len(layers), 1))

    def y_at(snr: float) -> float:
        if math.isinf(snr) and snr > 0:
            return TOP - EXACT_BAND / 2
        clamped = min(max(snr, low), high)
        return TOP + plot_h * (high - clamped) / (high - low)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="SNR per layer">'
    ]
    out += _grid(low, high, step, y_at, plot_w)
    out += _x_ticks(layers, x_at, plot_h)
    points = " ".join(f"{x_at(k):.1f},{y_at(layer.snr_db):.1f}" for k, layer in enumerate(layers))
    out.append(f'<polyline points="{points}" fill="none" stroke="#3b6fb6" stroke-width="1.5"/>')
    for k, layer in enumerate(layers):
        red = id(layer) in candidates
        tip = escape(f"#{layer.position} {layer.op} {layer.tensor}: SNR {_db(layer.snr_db)}")
        out.append(
            f'<circle cx="{x_at(k):.1f}" cy="{y_at(layer.snr_db):.1f}" r="{4.5 if red else 3}" '
            f'fill="{"#d62728" if red else "#3b6fb6"}"><title>{tip}</title></circle>'
        )
    out.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 8}" text-anchor="middle">'
        "layer (float op index, execution order); red: --keep-float candidates</text>"
    )
    out.append("</svg>")
    return "\n".join(out)


def _grid(low: float, high: float, step: float, y_at, plot_w: float) -> list[str]:
    out = []
    value = low
    while value <= high + 1e-9:
        y = y_at(value)
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
        )
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>')
        value += step
    exact_y = TOP - EXACT_BAND / 2
    out.append(f'<text x="{LEFT - 6}" y="{exact_y + 4:.1f}" text-anchor="end">exact</text>')
    out.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP - EXACT_BAND}" y2="{y_at(low):.1f}" '
        'stroke="#999"/>'
    )
    return out


def _x_ticks(layers: list[LayerReport], x_at, plot_h: float) -> list[str]:
    every = max(1, math.ceil(len(layers) / 24))
    base = TOP + plot_h
    right = WIDTH - RIGHT
    out = [f'<line x1="{LEFT}" x2="{right}" y1="{base}" y2="{base}" stroke="#999"/>']
    for k in range(0, len(layers), every):
        label = "in" if layers[k].position < 0 else str(layers[k].position)
        out.append(f'<text x="{x_at(k):.1f}" y="{base + 16}" text-anchor="middle">{label}</text>')
    return out


def _db(value: float | None) -> str:
    if value is None:
        return "-"
    return "exact" if math.isinf(value) and value > 0 else f"{value:.1f} dB"


def _candidates(report: DebugReport) -> str:
    if not report.candidates:
        return "<p>None: no integer layer adds much error over its inputs.</p>"
    items = []
    for layer in report.candidates:
        drop = f"{layer.snr_drop_db:.1f} dB below its inputs"
        items.append(
            f"<li>#{layer.position} {escape(layer.op)} (SNR {_db(layer.snr_db)}, {drop}): "
            f"<code>--keep-float '{escape(layer.keep_float_regex)}'</code></li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


def _table(report: DebugReport) -> str:
    candidates = {id(layer) for layer in report.candidates}
    head = "".join(f"<th>{escape(name)}</th>" for name, _ in COLUMNS) + "<th>tensor</th>"
    rows = [f"<table><tr>{head}</tr>"]
    for rank, layer in enumerate(report.layers, start=1):
        scale, zero_point = format_params(layer)
        cells = [
            str(rank),
            "in" if layer.position < 0 else str(layer.position),
            layer.op,
            layer.dtype,
            scale,
            zero_point,
            format_number(layer.mse),
            format_number(layer.max_abs_error),
            _db(layer.snr_db).removesuffix(" dB"),
            _db(layer.snr_drop_db).removesuffix(" dB"),
            "-" if layer.range_utilization is None else f"{100 * layer.range_utilization:.1f}",
            "-" if layer.clipped_fraction is None else f"{100 * layer.clipped_fraction:.1f}",
        ]
        css = ' class="candidate"' if id(layer) in candidates else ""
        body = "".join(f"<td>{escape(cell)}</td>" for cell in cells)
        rows.append(f'<tr{css}>{body}<td class="name">{escape(layer.tensor)}</td></tr>')
    rows.append("</table>")
    return "\n".join(rows)
