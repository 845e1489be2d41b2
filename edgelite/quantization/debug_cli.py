"""``edgelite quant-debug FLOAT.tflite QUANT.tflite --data PATH``: the debugger's command line.

The table goes to stdout, progress to stderr; ``--json`` and ``--html`` write the
report to files (next to the target, then renamed: never half a file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .cli_args import _floats, _size
from .images import ImagePreprocessing


def add_quant_debug_parser(sub: Any) -> None:
    """Declare the ``quant-debug`` subcommand on the CLI's subparsers."""
    from .debug_run import RUNTIMES

    d = sub.add_parser(
        "quant-debug", help="compare a quantized model with its float model, layer by layer"
    )
    d.add_argument("float_model", help="the float .tflite file")
    d.add_argument("quant_model", help="its quantized .tflite file")
    d.add_argument(
        "--data",
        required=True,
        metavar="PATH",
        help="inputs to run: .npy (samples on axis 0), .npz (one array per input name) or "
        "a folder of images",
    )
    d.add_argument("--json", metavar="R.json", help="also write the report as JSON")
    d.add_argument("--html", metavar="R.html", help="also write an HTML report with a plot")
    d.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="edgelite",
        help="run the models in edgelite (default) or in ai-edge-litert, for models edgelite "
        "cannot run yet",
    )
    d.add_argument("--max-samples", type=int, metavar="N", help="use at most N samples")
    d.add_argument("--top", type=int, metavar="N", help="print only the N worst layers")
    d.add_argument(
        "--suggest", type=int, default=3, metavar="N", help="--keep-float candidates to name"
    )
    d.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    images = d.add_argument_group("image folder preprocessing (pixels 0..255, RGB)")
    images.add_argument("--image-size", type=_size, metavar="HxW", help="resize to")
    images.add_argument("--image-scale", type=float, help="x * scale + offset (default 1/255)")
    images.add_argument("--image-offset", type=float, default=0.0)
    images.add_argument("--image-mean", type=_floats, metavar="M[,M,M]", help="(x - mean) / std")
    images.add_argument("--image-std", type=_floats, metavar="S[,S,S]")
    d.set_defaults(func=run_quant_debug)


def run_quant_debug(args: argparse.Namespace) -> int:
    """Run the debugger as the parsed arguments ask; print the table, write the files."""
    from .debug import debug_quantization

    images = ImagePreprocessing(
        size=args.image_size,
        scale=args.image_scale,
        offset=args.image_offset,
        mean=args.image_mean,
        std=args.image_std,
    )
    report = debug_quantization(
        args.float_model,
        args.quant_model,
        args.data,
        runtime=args.runtime,
        images=images,
        max_samples=args.max_samples,
        suggest=args.suggest,
        log=None if args.quiet else sys.stderr,
    )
    print(report.format(top=args.top))
    if args.json:
        _write(Path(args.json), json.dumps(report.as_dict(), indent=2))
    if args.html:
        _write(Path(args.html), report.to_html())
    return 0


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    print(f"wrote {path}", file=sys.stderr)
