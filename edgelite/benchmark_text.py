"""Render benchmark results as readable tables."""

from __future__ import annotations

from typing import Any

from .textfmt import human_bytes, section, table

_LABELS = {
    "edgelite": "edgelite",
    "litert": "ai-edge-litert (XNNPACK)",
    "litert-noxnn": "ai-edge-litert (no XNNPACK)",
}


def format_benchmark(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        rows.append(
            [
                _LABELS.get(r["runtime"], r["runtime"]),
                f"{r['import_ms']:.0f}",
                f"{r['init_ms']:.1f}",
                f"{r['first_invoke_ms']:.2f}",
                f"{r['min_ms']:.3f}",
                f"{r['median_ms']:.3f}",
                f"{r['avg_ms']:.3f}",
                f"{r['p95_ms']:.3f}",
                human_bytes(r.get("arena_bytes")) if "arena_bytes" in r else "-",
                human_bytes(r["peak_rss_bytes"]),
            ]
        )
    headers = [
        "runtime",
        "import ms",
        "init ms",
        "first ms",
        "min ms",
        "median ms",
        "avg ms",
        "p95 ms",
        "arena",
        "peak RSS",
    ]
    out = [
        f"model: {results[0]['model']}  threads: {results[0]['threads']}  "
        f"runs: {results[0]['runs']}",
        table(rows, headers, right=range(1, 10)),
    ]
    base = results[0]
    for other in results[1:]:
        ratio = base["median_ms"] / other["median_ms"] if other["median_ms"] else float("inf")
        out.append(
            f"edgelite / {_LABELS[other['runtime']]}: median latency ratio {ratio:.2f}x, "
            f"init ratio {base['init_ms'] / max(other['init_ms'], 1e-9):.2f}x, "
            f"peak RSS ratio {base['peak_rss_bytes'] / max(other['peak_rss_bytes'], 1):.2f}x"
        )
    if base.get("ops"):
        out.append(section("edgelite per-op profile"))
        out.append(
            table(
                [
                    [o["op"], o["count"], f"{o['total_ms']:.3f}", f"{o['percent']:.1f}"]
                    for o in base["ops"]
                ],
                ["op", "count", "total ms", "%"],
                right=[1, 2, 3],
            )
        )
    return "\n".join(out)
