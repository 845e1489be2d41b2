"""Full-integer quantization (int8, int16x8): calibrate, choose ops, plan, rewrite."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

import numpy as np

from ..schema.generated.enums import TensorType
from ..schema.model import Model
from .calibrate import calibrate
from .data import InputSpec
from .graph_edit import clone_model
from .options import QuantizationError, QuantizeOptions
from .plan import make_plan
from .report import QuantizeReport
from .rewrite import IntegerRewriter
from .select_ops import check_keep_float, choose_integer_ops, float_tensors


def quantize_integer(
    model: Model,
    options: QuantizeOptions,
    samples: Iterable[list[np.ndarray]],
    specs: list[InputSpec],
    log: TextIO | None,
) -> tuple[Model, QuantizeReport]:
    """The int8 / int16x8 model of float ``model`` and what was done."""
    patterns = options.keep_float_patterns()
    check_keep_float(model, patterns)
    trackers = calibrate(model, samples, specs, options.calibration, log)
    dtype = options.activation_dtype
    ranges = {t: tracker.range(dtype) for t, tracker in trackers.items() if tracker.seen}
    steps = max((tracker.steps for tracker in trackers.values()), default=0)
    ops, kept = choose_integer_ops(model, set(ranges), dtype == np.int16, patterns)
    ranges.update(_constant_ranges(model, ops))
    io = _io_tensors(model, options, ranges)
    plan = make_plan(model, ops, ranges, dtype, io)
    quantized = clone_model(model)
    rewriter = IntegerRewriter(quantized, plan, options)
    rewriter.run()
    report = QuantizeReport(
        mode=options.mode,
        quantized_ops=len(ops),
        total_ops=len(model.main.operators),
        quantized_weights=sum(1 for key in rewriter.constants.cache if key[0] == "weight"),
        calibration_steps=steps,
        kept_float=kept,
    )
    if len(model.subgraphs) > 1:
        report.notes.append(
            f"only the main subgraph is quantized; {len(model.subgraphs) - 1} control-flow "
            "subgraphs stay float"
        )
    return quantized, report


def _constant_ranges(model: Model, ops: set[int]) -> dict[int, tuple[float, float]]:
    """Value ranges of the float constants the integer ops read (weights included)."""
    sg = model.main
    ranges = {}
    for i in ops:
        for t in float_tensors(model, sg.operators[i])[0]:
            values = model.constant(sg.tensors[t])
            if values is not None and t not in ranges:
                values = np.asarray(values, np.float32)
                if not np.isfinite(values).all():
                    raise QuantizationError(f"constant tensor {t} {sg.tensors[t].name!r} has NaN/Inf")
                lo = float(values.min()) if values.size else 0.0
                hi = float(values.max()) if values.size else 0.0
                ranges[t] = (lo, hi)
    return ranges


def _io_tensors(model: Model, options: QuantizeOptions, ranges: dict) -> list[int]:
    """Float model inputs/outputs that become integer (their ranges must be known)."""
    sg = model.main
    chosen = []
    for kind, tensors in (("input", sg.inputs), ("output", sg.outputs)):
        wanted = options.input_type if kind == "input" else options.output_type
        if wanted == "float32":
            continue
        for t in tensors:
            if sg.tensors[t].type != TensorType.FLOAT32:
                continue
            if t not in ranges:
                raise QuantizationError(
                    f"model {kind} {t} {sg.tensors[t].name!r} got no range in calibration; "
                    f"it cannot be {wanted}"
                )
            chosen.append(t)
    return chosen
