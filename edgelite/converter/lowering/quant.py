"""Fake-quantization nodes of quantization-aware training, lowered to range annotations.

A model trained with QAT (tensorflow-model-optimization) carries
FakeQuantWithMinMaxVars[PerChannel] / FakeQuantWithMinMaxArgs nodes whose learned
``[min, max]`` say how the tensor is to be quantized. TFLite has no such op in an
int8 model: the ranges become the tensors' quantization parameters. So:

- on a computed tensor (an activation) the node disappears and its range is recorded on
  the tensor (see ``quantization.ranges``); the float model computes without the
  rounding, and ``quantize`` (int8) uses the recorded ranges instead of calibration;
- on a constant (a weight) it is applied now, exactly as TensorFlow computes it, and
  the range is recorded on the folded constant, per channel where the node is. Weight
  re-layouts (TRANSPOSE/RESHAPE, folded while lowering) carry it along.

Only 8-bit fake quantization maps onto int8 tensors; other widths are reported.
"""

from __future__ import annotations

import numpy as np

from ...quantization.ranges import fake_quant, grid_range, record_range
from .context import Lowering, LoweringError, ir_name
from .graph import GraphNode


def _limits(ctx: Lowering, node: GraphNode) -> tuple[np.ndarray, np.ndarray]:
    """The learned (min, max): inputs 1 and 2 of the Vars ops, attributes of the Args op."""
    if node.type == "FakeQuantWithMinMaxArgs":
        return (
            np.asarray(node.attr("min", -6.0), np.float32),
            np.asarray(node.attr("max", 6.0), np.float32),
        )
    lo = ctx.need_const(node, 1, "min").astype(np.float32)
    return lo, ctx.need_const(node, 2, "max").astype(np.float32)


def lower_fake_quant(ctx: Lowering, node: GraphNode) -> None:
    num_bits = int(node.attr("num_bits", 8))
    if num_bits != 8:
        raise LoweringError(f"{num_bits}-bit fake quantization (only 8 bits maps onto int8)")
    narrow = bool(node.attr("narrow_range", False))
    lo, hi = _limits(ctx, node)
    per_channel = node.type == "FakeQuantWithMinMaxVarsPerChannel"
    if np.any(lo > hi):
        raise LoweringError(f"fake-quant range min {lo} > max {hi}")
    shape = ctx.shape(node.inputs[0])
    if per_channel and (not shape or shape[-1] != lo.size or lo.shape != hi.shape):
        raise LoweringError(
            f"per-channel range of {lo.size} values for a tensor of shape {list(shape)}"
        )
    value = ctx.const(node.inputs[0])
    low, high = grid_range(lo, hi, narrow)
    axis = len(shape) - 1 if per_channel else 0
    if value is not None:
        folded = fake_quant(value, lo, hi, narrow, divide=node.type == "FakeQuantWithMinMaxVars")
        index = ctx.constant(ir_name(node.outputs[0].name), folded)
        record_range(ctx.sg.tensors[index], low, high, axis)
        ctx.bind(node.outputs[0].name, index)
        return
    if per_channel and lo.size > 1:
        raise LoweringError(
            "per-channel fake quantization of a computed tensor (int8 activations have "
            "one scale per tensor)"
        )
    ctx.forward(node)
    record_range(ctx.sg.tensors[ctx.tensor(node.inputs[0])], low, high, 0)


LOWERINGS = {
    "FakeQuantWithMinMaxVars": lower_fake_quant,
    "FakeQuantWithMinMaxVarsPerChannel": lower_fake_quant,
    "FakeQuantWithMinMaxArgs": lower_fake_quant,
}
