"""Side-by-side model benchmark: edgelite vs ai-edge-litert, same model/inputs/threads.

Latency is measured in this one process, alternating runtimes; load time and peak
RSS in fresh subprocesses (one per runtime) so they are not polluted. Prints a
table with ratios; ``--markdown`` prints it as a Markdown table for RESULTS.md.

    .venv/bin/python bench/bench_models.py [--models mobilenet_v2.float32 ...] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgelite.benchmark import measure, measure_in_subprocess
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import BuiltinOperator
from edgelite.schema.generated.options import AddOptions, MulOptions
from edgelite.textfmt import table

DEFAULT_MODELS = ["tiny3op", "mobilenet_v2.float32", "mobilenet_v2.int8", "mobilenet_v2.dynamic"]
RUNTIMES = ["edgelite", "litert", "litert-noxnn"]


def tiny_model(directory: Path) -> Path:
    """ADD -> MUL -> ADD on [1, 4]: measures per-invoke overhead, not arithmetic."""
    mb = ModelBuilder()
    x = mb.input("x", [1, 4])
    one = mb.const("one", np.ones((1, 4), np.float32))
    a, b, c = (mb.tensor(n, [1, 4]) for n in ("a", "b", "c"))
    mb.op(BuiltinOperator.ADD, [x, one], [a], AddOptions())
    mb.op(BuiltinOperator.MUL, [a, one], [b], MulOptions())
    mb.op(BuiltinOperator.ADD, [b, one], [c], AddOptions())
    mb.output(c)
    path = directory / "tiny3op.tflite"
    path.write_bytes(mb.to_bytes())
    return path


def model_path(name: str, scratch: Path) -> Path:
    if name == "tiny3op":
        return tiny_model(scratch)
    from tests.zoo import ensure_zoo

    for entry in ensure_zoo():
        if entry.id == name:
            return Path(entry.path)
    raise SystemExit(f"unknown model {name!r}")


def bench_one(path: Path, threads: int, runs: int) -> dict[str, dict]:
    results: dict[str, dict] = {}
    for runtime in RUNTIMES:
        try:
            latency = measure(runtime, str(path), threads=threads, runs=runs, warmup=5)
            isolated = measure_in_subprocess(runtime, str(path), threads=threads, runs=3, warmup=1)
        except Exception as err:
            results[runtime] = {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:80]}"}
            continue
        results[runtime] = {
            "median_ms": latency["median_ms"],
            "min_ms": latency["min_ms"],
            "init_ms": isolated["init_ms"],
            "import_ms": isolated["import_ms"],
            "peak_rss_mb": isolated["peak_rss_bytes"] / 2**20,
            "arena_mb": latency.get("arena_bytes", 0) / 2**20,
        }
    return results


def rows_for(name: str, results: dict[str, dict]) -> list[list[str]]:
    ours = results["edgelite"]
    rows = []
    for runtime in RUNTIMES:
        r = results[runtime]
        if "error" in r:
            rows.append([name, runtime, r["error"], "", "", "", "", ""])
            continue
        ratio = ""
        if runtime != "edgelite" and "error" not in ours:
            ratio = f"{ours['median_ms'] / r['median_ms']:.2f}x"
        rows.append(
            [
                name,
                runtime,
                f"{r['median_ms']:.3f}",
                f"{r['min_ms']:.3f}",
                ratio,
                f"{r['import_ms']:.0f}+{r['init_ms']:.1f}",
                f"{r['peak_rss_mb']:.1f}",
                f"{r['arena_mb']:.2f}" if runtime == "edgelite" else "-",
            ]
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=DEFAULT_MODELS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    headers = [
        "model",
        "runtime",
        "median ms",
        "min ms",
        "edgelite/this",
        "import+init ms",
        "peak RSS MiB",
        "arena MiB",
    ]
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.models:
            print(f"benchmarking {name} ...", file=sys.stderr)
            rows += rows_for(
                name, bench_one(model_path(name, Path(scratch)), args.threads, args.runs)
            )
    if args.markdown:
        print("| " + " | ".join(headers) + " |")
        print("|" + "---|" * len(headers))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        print(table(rows, headers, right=range(2, 8)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
