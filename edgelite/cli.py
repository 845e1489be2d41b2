"""The ``edgelite`` command line: inspect, convert (more subcommands arrive with their issues)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

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


def _input_shape(text: str) -> tuple[str, list[int]]:
    """``NAME:1,224,224,3`` -> ("NAME", [1, 224, 224, 3])."""
    name, sep, dims = text.rpartition(":")
    try:
        shape = [int(d) for d in dims.split(",")]
    except ValueError:
        shape = []
    if not sep or not name or not shape or min(shape) < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected NAME:D1,D2,... e.g. image:1,224,224,3"
        )
    return name, shape


def _convert(args: argparse.Namespace) -> int:
    from .converter import ConvertOptions, convert_with_report, save

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"[convert] {line}", file=sys.stderr, flush=True)

    options = ConvertOptions(
        signature_keys=args.signature or None,
        input_shapes=dict(args.input_shape or []),
        allow_custom_ops=args.allow_custom_ops,
        optimize=not args.no_optimize,
        progress=progress,
    )
    model, report = convert_with_report(args.source, options=options)
    if args.quantize:
        model = _quantize_converted(model, args, progress)
    progress(f"writing {args.output}")
    report.size_bytes = save(model, args.output)
    if args.json_report:
        Path(args.json_report).write_text(json.dumps(report.as_dict(), indent=2, default=str))
    print(_summary(report, args.output))
    return 0


def _quantize_converted(model: Any, args: argparse.Namespace, progress: Any) -> Any:
    """``convert --quantize MODE``: run the quantizer on the converted model before writing."""
    from .quantization import quantize_with_report
    from .quantization.cli_args import options_from_args

    options, images = options_from_args(args)
    progress(f"quantizing ({options.mode})")
    log = None if args.quiet else sys.stderr
    quantized, qreport = quantize_with_report(
        model, options, args.calibration_data, images=images, log=log
    )
    if not args.quiet:
        print(qreport.format(), file=sys.stderr)
    return quantized


def _summary(report: Any, output: str) -> str:
    lines = [
        f"wrote {output}: {report.size_bytes:,} bytes, signatures {report.signatures}",
        f"operators: {report.ops_lowered} lowered -> {report.ops_final} after passes"
        f" (min runtime {report.min_runtime_version or 'n/a'})",
    ]
    lines += [f"  {count:5d}  {name}" for name, count in report.op_histogram.items()]
    for op in report.custom_ops:
        lines.append(f"custom op: {op.describe()}")
    return "\n".join(lines)


def _add_convert_parser(sub: Any) -> None:
    c = sub.add_parser("convert", help="convert a Keras model / SavedModel to a .tflite file")
    c.add_argument("source", help="SavedModel directory, .keras or .h5 file")
    c.add_argument("-o", "--output", required=True, help="the .tflite file to write")
    c.add_argument("--signature", action="append", metavar="KEY", help="SavedModel signature")
    c.add_argument(
        "--input-shape",
        action="append",
        type=_input_shape,
        metavar="NAME:D1,D2,...",
        help="full shape of an input with unknown sizes, e.g. image:1,224,224,3",
    )
    c.add_argument("--allow-custom-ops", action="store_true", help="emit unsupported ops as custom")
    c.add_argument("--no-optimize", action="store_true", help="skip the graph passes")
    c.add_argument("--json-report", metavar="PATH", help="also write the report as JSON")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    from .quantization.cli_args import add_quantize_arguments

    add_quantize_arguments(c, required=False)
    c.set_defaults(func=_convert)


def _quantize(args: argparse.Namespace) -> int:
    from .quantization import quantize_with_report
    from .quantization.cli_args import options_from_args
    from .schema import read_model, write_model

    options, images = options_from_args(args)
    model = read_model(args.model)
    log = None if args.quiet else sys.stderr
    quantized, report = quantize_with_report(
        model, options, args.calibration_data, images=images, log=log
    )
    data = write_model(quantized)
    # Write next to the target and rename: a failure never leaves half a model behind.
    output = Path(args.output)
    partial = output.with_name(output.name + ".partial")
    partial.write_bytes(data)
    partial.replace(output)
    if not args.quiet:
        print(report.format(), file=sys.stderr)
    print(f"wrote {output} ({len(data) / 1024:.1f} KiB, {options.mode})")
    return 0


def _check(args: argparse.Namespace) -> int:
    from .quantization import check_model
    from .schema import read_model

    violations = check_model(read_model(args.model))
    if args.json:
        print(json.dumps([vars(v) for v in violations], indent=2))
    else:
        for violation in violations:
            print(violation)
        verdict = f"{len(violations)} violation(s)" if violations else "passes the spec"
        print(f"{args.model}: {verdict}")
    return 1 if violations else 0


def _add_quantization_parsers(sub: Any) -> None:
    from .quantization.cli_args import add_quantize_arguments

    q = sub.add_parser("quantize", help="quantize a float .tflite model (int8, int16x8, ...)")
    q.add_argument("model", help="path to a float .tflite file")
    q.add_argument("-o", "--output", required=True, help="the .tflite file to write")
    add_quantize_arguments(q)
    q.add_argument("-q", "--quiet", action="store_true", help="no progress or report lines")
    q.set_defaults(func=_quantize)
    c = sub.add_parser("check", help="validate a quantized model against the TFLite int8 spec")
    c.add_argument("model", help="path to a .tflite file")
    c.add_argument("--json", action="store_true", help="print the violations as JSON")
    c.set_defaults(func=_check)


def _add_quant_debug_parser(sub: Any) -> None:
    from .quantization.debug_cli import add_quant_debug_parser

    add_quant_debug_parser(sub)


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
    _add_convert_parser(sub)
    _add_quantization_parsers(sub)
    _add_quant_debug_parser(sub)
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
