"""Command-line options of quantization, shared by ``edgelite quantize`` and ``convert``.

``add_quantize_arguments`` declares the flags on any argparse parser and
``options_from_args`` turns the parsed namespace into (QuantizeOptions,
ImagePreprocessing), so every subcommand spells and checks them the same way.
"""

from __future__ import annotations

import argparse

from .images import ImagePreprocessing
from .options import ESTIMATORS, IO_TYPES, MODES, CalibrationOptions, QuantizeOptions


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected HEIGHTxWIDTH like 224x224, got {text!r}"
        ) from None
    return height, width


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, got {text!r}"
        ) from None


def add_quantize_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """Declare --quantize and the calibration / I/O / image flags on ``parser``."""
    parser.add_argument("--quantize", choices=MODES, required=required, help="quantization mode")
    parser.add_argument(
        "--calibration-data",
        metavar="PATH",
        help="representative inputs: .npy (samples on axis 0), .npz (one array per input "
        "name) or a folder of images (int8 and int16x8 modes)",
    )
    parser.add_argument("--calibration-steps", type=int, metavar="N", help="use at most N samples")
    parser.add_argument("--estimator", choices=ESTIMATORS, default="minmax", help="range estimator")
    parser.add_argument("--input-type", choices=IO_TYPES, default="float32")
    parser.add_argument("--output-type", choices=IO_TYPES, default="float32")
    parser.add_argument("--per-tensor", action="store_true", help="no per-channel weights")
    fc = parser.add_mutually_exclusive_group()
    fc.add_argument(
        "--per-channel-fc",
        action="store_true",
        help="per-channel FULLY_CONNECTED weights (the default, as TF 2.21 emits them)",
    )
    fc.add_argument(
        "--per-tensor-fc",
        action="store_true",
        help="one scale per FULLY_CONNECTED weight (for runtimes that take only one)",
    )
    parser.add_argument(
        "--keep-float",
        nargs="+",
        action="extend",
        default=[],
        metavar="REGEX",
        help="ops whose name (CONV_2D) or output tensor name matches stay float",
    )
    images = parser.add_argument_group("image folder preprocessing (pixels 0..255, RGB)")
    images.add_argument(
        "--image-size", type=_size, metavar="HxW", help="resize to (default: input)"
    )
    images.add_argument("--image-scale", type=float, help="x * scale + offset (default 1/255)")
    images.add_argument("--image-offset", type=float, default=0.0)
    images.add_argument("--image-mean", type=_floats, metavar="M[,M,M]", help="(x - mean) / std")
    images.add_argument("--image-std", type=_floats, metavar="S[,S,S]")


def options_from_args(args: argparse.Namespace) -> tuple[QuantizeOptions, ImagePreprocessing]:
    """The QuantizeOptions and image preprocessing the parsed flags ask for."""
    calibration = CalibrationOptions(
        estimator=args.estimator,
        steps=args.calibration_steps,
        progress_every=0 if getattr(args, "quiet", False) else 10,
    )
    options = QuantizeOptions(
        mode=args.quantize,
        input_type=args.input_type,
        output_type=args.output_type,
        per_tensor=args.per_tensor,
        per_channel_fc=True if args.per_channel_fc else False if args.per_tensor_fc else None,
        keep_float=tuple(args.keep_float),
        calibration=calibration,
    )
    images = ImagePreprocessing(
        size=args.image_size,
        scale=args.image_scale,
        offset=args.image_offset,
        mean=args.image_mean,
        std=args.image_std,
    )
    return options, images
