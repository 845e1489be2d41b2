"""The ``edgelite`` command line: inspect (more subcommands arrive with their issues)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import EdgeliteError


def _inspect(args: argparse.Namespace) -> int:
    from .inspect import inspect_model, json_default
    from .inspect_text import format_report
    from .schema import read_model

    model = read_model(args.model)
    report = inspect_model(model, Path(args.model).stat().st_size)
    if args.json:
        print(json.dumps(report, indent=2, default=json_default))
    else:
        print(format_report(report, show_ops=not args.no_ops))
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    from .benchmark import measure_in_subprocess
    from .benchmark_text import format_benchmark
    from .schema import read_model

    read_model(args.model)  # a clear ModelError before any subprocess starts
    options = {"threads": args.num_threads, "runs": args.runs, "warmup": args.warmup}
    if not args.json:
        print(
            f"benchmarking {args.model} ({args.num_threads} thread(s), {args.runs} runs) ...",
            file=sys.stderr,
        )
    results = [measure_in_subprocess("edgelite", args.model, profile=args.profile, **options)]
    if args.compare_litert:
        for runtime in ("litert", "litert-noxnn"):
            if not args.json:
                print(f"... and {runtime}", file=sys.stderr)
            results.append(measure_in_subprocess(runtime, args.model, **options))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(format_benchmark(results))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgelite", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="show a .tflite model's graph, tensors, sizes and metadata")
    p.add_argument("model", help="path to a .tflite file")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-ops", action="store_true", help="leave out the per-operator lines")
    p.set_defaults(func=_inspect)
    p = sub.add_parser("benchmark", help="measure load time, latency, arena and peak memory")
    p.add_argument("model", help="path to a .tflite file")
    p.add_argument("--num-threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--profile", action="store_true", help="per-op time table")
    p.add_argument(
        "--compare-litert",
        action="store_true",
        help="also run ai-edge-litert (with and without XNNPACK) side by side",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_benchmark)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except EdgeliteError as err:
        print(f"edgelite {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
