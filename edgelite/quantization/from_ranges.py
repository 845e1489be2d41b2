"""Full-integer quantization from recorded ranges: QAT models need no calibration data.

A model converted from quantization-aware training carries the learned fake-quant
ranges on its float tensors (``ranges``). Here they take the place of calibration:

- each recorded activation range gives the tensor's scale and zero point exactly as
  TensorFlow's nudging does (``qmath.activation_params`` is that rule for a range
  holding 0);
- tensors without one get theirs through the ops that fix them: same-scale ops
  (pooling, reshape, concat...) hand a range across, fixed-output ops (softmax,
  logistic...) have theirs; with representative data as well, calibration measures
  the rest (recorded ranges win where both exist);
- a weight's recorded symmetric range gives its int8 scale (per channel where the
  fake quantization was per channel), so the int8 weights are the trained ones;
- an op still touching a tensor without any range stays float, and is reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

import numpy as np

from ..schema.generated.enums import BuiltinOperator as B
from ..schema.model import Model, QuantizationParameters
from .calibrate import calibrate
from .constants import ConstantQuantizer
from .control_flow import called_subgraphs
from .data import InputSpec
from .full_integer import constant_ranges, io_tensors, widen_sum_inputs
from .graph_edit import add_constant, clone_model
from .op_rules import FIXED, SAME, fixed_params, rule_for
from .options import QuantizeOptions
from .plan import make_plan
from .qmath import quantize
from .ranges import clear_range, recorded_range, symmetric_weight_scales
from .report import QuantizeReport
from .rewrite import IntegerRewriter
from .select_ops import KeptFloat, check_keep_float, choose_integer_ops, float_tensors

Range = tuple[float, float]


def has_recorded_ranges(model: Model) -> bool:
    """True when a tensor of the main subgraph carries a recorded (fake-quant) range."""
    return any(recorded_range(t) is not None for t in model.main.tensors)


def recorded_activation_ranges(model: Model) -> dict[int, Range]:
    """Recorded per-tensor ranges of the main subgraph's non-constant tensors."""
    ranges = {}
    for index, tensor in enumerate(model.main.tensors):
        found = recorded_range(tensor)
        if found is not None and len(found[0]) == 1 and model.constant(tensor) is None:
            ranges[index] = (float(found[0][0]), float(found[1][0]))
    return ranges


def _same_scale_members(model: Model, op_index: int) -> tuple[list[int], list[int]] | None:
    """(data inputs, outputs) of a same-scale op: float, not constant; None otherwise."""
    op = model.main.operators[op_index]
    rule = rule_for(model.operator_codes[op.opcode_index].builtin_code)
    if rule is None or rule.output != SAME:
        return None
    ins, outs = float_tensors(model, op)
    ins = [t for t in ins if model.constant(model.main.tensors[t]) is None]
    return ins, outs


def propagate_ranges(model: Model, ranges: dict[int, Range], int16: bool) -> dict[int, Range]:
    """Ranges the ops themselves imply for tensors that have none (a new dict).

    Same-scale ops share one range between inputs and outputs (in either direction: a
    max-pool's input gets its output's, a reshape's output its input's; a concat's
    output the union of its inputs'); fixed-output ops give theirs. Repeated until
    nothing changes, so a range runs along a chain of such ops.
    """
    known = dict(ranges)
    added: dict[int, Range] = {}

    def give(t: int, value: Range) -> bool:
        if t in known:
            return False
        known[t] = added[t] = value
        return True

    changed = True
    while changed:
        changed = False
        for i, op in enumerate(model.main.operators):
            code = model.operator_codes[op.opcode_index].builtin_code
            rule = rule_for(code)
            if rule is not None and rule.output == FIXED:
                fixed = fixed_params(rule, int16)
                if fixed is not None:
                    scale, zp = fixed
                    qmin, qmax = (-32768, 32767) if int16 else (-128, 127)
                    for t in float_tensors(model, op)[1]:
                        changed |= give(t, (scale * (qmin - zp), scale * (qmax - zp)))
                continue
            members = _same_scale_members(model, i)
            if members is None:
                continue
            ins, outs = members
            known_ins = [known[t] for t in ins if t in known]
            source = next((known[t] for t in outs if t in known), None)
            if source is None and known_ins and len(known_ins) == len(ins):
                source = (min(r[0] for r in known_ins), max(r[1] for r in known_ins))
            if source is None and len(ins) == 1 and known_ins:
                source = known_ins[0]
            if source is not None:
                for t in ins + outs:
                    changed |= give(t, source)
    return added


class RecordedWeights(ConstantQuantizer):
    """Weights quantized at their recorded (trained) scales where they have them."""

    def weight_axis(self, op, rule) -> int | None:
        """A FULLY_CONNECTED weight trained with one scale keeps it (as the official
        converter does) unless per-channel FC weights were asked for explicitly."""
        axis = super().weight_axis(op, rule)
        code = self.model.operator_codes[op.opcode_index].builtin_code
        if axis is None or code != B.FULLY_CONNECTED or self.options.per_channel_fc:
            return axis
        found = recorded_range(self.sg.tensors[op.inputs[rule.weight]])
        return None if found is not None and len(found[0]) == 1 else axis

    def weight(self, t: int, op, rule) -> int:
        axis = self.weight_axis(op, rule)
        values = self._values(t)
        channels = values.shape[axis] if axis is not None else 1
        scales = symmetric_weight_scales(self.sg.tensors[t], channels, axis)
        if scales is None:
            return super().weight(t, op, rule)
        key = ("weight", t, axis)
        if key not in self.cache:
            q = quantize(values, scales, 0, np.dtype(np.int8), axis)
            params = QuantizationParameters(
                scale=scales,
                zero_point=np.zeros(len(scales), np.int64),
                quantized_dimension=0 if axis is None else axis,
            )
            name = self.sg.tensors[t].name
            weights = np.clip(q, -127, 127).astype(np.int8)
            self.cache[key] = add_constant(self.model, self.sg, name, weights, params)
        return self.cache[key]


def quantize_recorded(
    model: Model,
    options: QuantizeOptions,
    samples: Iterable[list[np.ndarray]] | None,
    specs: list[InputSpec],
    log: TextIO | None,
) -> tuple[Model, QuantizeReport]:
    """The int8 / int16x8 model of ``model`` from its recorded ranges (+ calibration)."""
    patterns = options.keep_float_patterns()
    check_keep_float(model, patterns)
    dtype = options.activation_dtype
    ranges: dict[int, Range] = {}
    steps = 0
    if samples is not None:
        trackers = calibrate(model, samples, specs, options.calibration, log)
        ranges = {t: tr.range(dtype) for (_, t), tr in trackers.items() if tr.seen}
        steps = max((tr.steps for tr in trackers.values()), default=0)
    recorded = recorded_activation_ranges(model)
    ranges.update(recorded)
    ranges.update(propagate_ranges(model, ranges, dtype == np.int16))
    ops, kept = choose_integer_ops(model, set(ranges), dtype == np.int16, patterns)
    if samples is None:
        kept = [_no_range_reason(k) for k in kept]
    ranges.update(constant_ranges(model, ops))
    if samples is not None:  # learned ranges are kept exactly; only measured ones widen
        widened = widen_sum_inputs(model, ops, ranges)
        ranges.update({t: r for t, r in widened.items() if t not in recorded})
    io = [(0, t) for t in io_tensors(model, options, ranges)]
    keyed = {(0, t): r for t, r in ranges.items()}
    plan = make_plan(model, {0: ops}, keyed, dtype, io)[0]
    quantized = clone_model(model)
    rewriter = IntegerRewriter(quantized, plan, options)
    rewriter.constants = RecordedWeights(quantized, quantized.main, options)
    rewriter.run()
    for sg in quantized.subgraphs:
        for tensor in sg.tensors:
            clear_range(tensor)
    report = QuantizeReport(
        mode=options.mode,
        quantized_ops=len(ops),
        total_ops=len(model.main.operators),
        quantized_weights=sum(1 for key in rewriter.constants.cache if key[0] == "weight"),
        calibration_steps=steps,
        kept_float=kept,
    )
    report.notes.append(
        f"{len(recorded)} activation ranges from quantization-aware training"
        + (", the rest calibrated" if samples is not None else " (no calibration)")
    )
    if len(called_subgraphs(model)) > 1:
        report.notes.append(
            "from recorded ranges only the main subgraph is quantized; the control-flow "
            "subgraphs it runs stay float"
        )
    return quantized, report


def _no_range_reason(kept: KeptFloat) -> KeptFloat:
    """Without calibration, 'never computed during calibration' means 'no recorded range'."""
    reason = kept.reason.replace(
        "was never computed during calibration",
        "has no fake-quant range (give calibration data for the rest)",
    )
    return KeptFloat(kept.op_index, kept.op_name, kept.output, reason)
