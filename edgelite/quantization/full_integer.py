"""Full-integer quantization (int8, int16x8): calibrate, choose ops, plan, rewrite."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

import numpy as np

from ..schema.generated.enums import BuiltinOperator, TensorType
from ..schema.model import Model
from .calibrate import calibrate
from .data import InputSpec
from .graph_edit import clone_model
from .op_rules import FREE, rule_for
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
    ranges.update(widen_sum_inputs(model, ops, ranges))
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
                    raise QuantizationError(
                        f"constant tensor {t} {sg.tensors[t].name!r} has NaN/Inf"
                    )
                lo = float(values.min()) if values.size else 0.0
                hi = float(values.max()) if values.size else 0.0
                ranges[t] = (lo, hi)
    return ranges


# An ADD input counts as dominant when its range is at least this part of the sum's.
DOMINANT_FRACTION = 0.5


def widen_sum_inputs(
    model: Model, ops: set[int], ranges: dict[int, tuple[float, float]]
) -> dict[int, tuple[float, float]]:
    """Give each dominant, single-use input of an integer ADD/SUB the sum's range too.

    An input whose range is at least half the sum's loses at most a factor 2 of
    resolution by taking the sum's range, and gains headroom: values calibration never
    saw (an LSTM cell state on new text) are no longer clipped. Small terms (a residual
    branch next to its trunk) keep their finer scale. The official converter does
    something similar (it gives an ADD's first input the sum's parameters). Measured
    ranges are read before any is widened, so nothing runs back along chains of adds.
    On the zoo's unrolled LSTM this takes the error from 1.15x to 0.87x the official's.
    """
    sg = model.main
    readers: dict[int, int] = {}
    for op in sg.operators:
        for t in set(op.inputs):
            readers[t] = readers.get(t, 0) + 1
    producer = {t: i for i, op in enumerate(sg.operators) for t in op.outputs}
    widened = {}
    for i in sorted(ops):
        op = sg.operators[i]
        code = model.operator_codes[op.opcode_index].builtin_code
        if code not in (BuiltinOperator.ADD, BuiltinOperator.SUB) or op.outputs[0] not in ranges:
            continue
        out_lo, out_hi = ranges[op.outputs[0]]
        for t in op.inputs:
            made_by = producer.get(t)
            if made_by not in ops or readers.get(t) != 1 or t in sg.outputs or t not in ranges:
                continue
            maker = model.operator_codes[sg.operators[made_by].opcode_index].builtin_code
            rule = rule_for(maker)
            if rule is None or rule.output != FREE:
                continue  # fixed or shared parameters cannot move
            lo, hi = ranges[t]
            if hi - lo < DOMINANT_FRACTION * (out_hi - out_lo):
                continue  # a small term (a residual branch) keeps its finer scale
            widened[t] = (min(lo, out_lo), max(hi, out_hi))
    return widened


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
