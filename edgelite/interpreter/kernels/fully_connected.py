"""FULLY_CONNECTED: float32 here; int8 / uint8 / int16 in _fully_connected_quant, hybrid in
_conv_hybrid (schema versions 1-14).

Inputs: input [..., K] (any shape whose size is a multiple of K), weights [units, K],
bias [units] (optional). Output [size / K, units], or with keep_num_dims the input's
shape with the last dim replaced by ``units`` (the input's last dim must then be K).
Fused NONE/RELU/RELU_N1_TO_1/RELU6/TANH. weights_format DEFAULT only.

Optimized path: one BLAS GEMM on the [out, in] weights as they are (transposed
operand, no copy), straight into the output with bias and activation fused.

Deviations: a fused TANH is applied (the official float kernel ignores it). The
SHUFFLED4x16INT8 weights format is not supported.
"""

from __future__ import annotations

import math

import numpy as np

from ...schema.generated.enums import BuiltinOperator, FullyConnectedOptionsWeightsFormat
from . import _window as win
from ._blas import gemm
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_inputs

try:
    from ._conv import gemm_bias_act
except ImportError:  # extensions not built: the reference kernel still runs
    gemm_bias_act = None

INPUT, WEIGHTS, BIAS = 0, 1, 2

NO_BIAS = np.empty(0, np.float32)


class OpData(OpRecord):
    """Prepared float FULLY_CONNECTED (read-only after prepare)."""

    __slots__ = ("rows", "low", "high", "tanh", "num_threads")
    rows: int  # input size / K
    low: float
    high: float
    tanh: bool
    num_threads: int


def prepare(node: Node) -> Prepared:
    """Validate; output [rows, units] or (keep_num_dims) the input shape with units last."""
    check_inputs(node, 2, 3)
    if len(node.outputs) != 1:
        raise PrepareError(f"expects 1 output, got {len(node.outputs)}")
    x, weights = node.input(INPUT), node.input(WEIGHTS)
    quantized = x.dtype in win.QUANTIZED_DTYPES
    hybrid = x.dtype == np.dtype(np.float32) and weights.dtype in win.QUANTIZED_DTYPES
    if not (quantized or hybrid):
        win.require_float(x, "FULLY_CONNECTED")
        win.require_float_weights(weights, "FULLY_CONNECTED", "weights")
        win.require_output_dtype(node, np.dtype(np.float32))
    win.require_rank(weights, 2, "weights", "[units, input size]")
    opts = node.options
    if opts is None:
        raise PrepareError("FULLY_CONNECTED needs FullyConnectedOptions")
    if opts.weights_format != FullyConnectedOptionsWeightsFormat.DEFAULT:
        raise PrepareError(
            f"weights_format {FullyConnectedOptionsWeightsFormat(opts.weights_format).name} "
            "is not supported (DEFAULT only)"
        )
    units, depth = weights.shape
    size = math.prod(x.shape)
    if depth <= 0 or size % depth:
        raise PrepareError(
            f"input {x.name!r} of shape {list(x.shape)} does not split into rows of {depth} "
            f"(weights {weights.name!r} are {list(weights.shape)})"
        )
    if not quantized:
        win.float_bias(node, BIAS, units, "FULLY_CONNECTED")
    rows = size // depth
    if opts.keep_num_dims:
        if not x.shape or x.shape[-1] != depth:
            raise PrepareError(
                f"keep_num_dims needs the input's last dim ({list(x.shape)}) to equal {depth}"
            )
        out_shape = (*x.shape[:-1], units)
    else:
        out_shape = (rows, units)
    # The quantized and hybrid modules are imported only by the models that need them.
    if quantized:
        from . import _fully_connected_quant

        return _fully_connected_quant.prepare(node, rows, out_shape)
    if hybrid:
        from . import _conv_hybrid

        return _conv_hybrid.prepare_fully_connected(node, rows, out_shape)
    low, high, tanh = win.fused_activation(opts.fused_activation_function)
    return Prepared([out_shape], OpData(rows, low, high, tanh, node.num_threads))


def invoke(data: OpData, inputs: list, outputs: list) -> None:
    """Reference: out = x @ W^T + b, then the fused activation."""
    if type(data) is not OpData:  # quantized or hybrid: prepared by their own module
        return data.invoke(inputs, outputs)  # type: ignore[attr-defined]
    x, weights, out = inputs[INPUT], inputs[WEIGHTS], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS else None
    acc = x.reshape(data.rows, -1) @ weights.T
    if bias is not None:
        acc += bias
    win.apply_fused(acc, data.low, data.high, data.tanh)
    out[...] = acc.reshape(out.shape)


def invoke_opt(data: OpData, inputs: list, outputs: list) -> None:
    """Optimized: GEMM straight into the output, one fused bias/activation pass."""
    if type(data) is not OpData:
        return data.invoke_opt(inputs, outputs)  # type: ignore[attr-defined]
    x, weights, out = inputs[INPUT], inputs[WEIGHTS], outputs[0]
    bias = inputs[BIAS] if len(inputs) > BIAS and inputs[BIAS] is not None else NO_BIAS
    out2d = out.reshape(data.rows, -1)
    gemm(
        x.reshape(data.rows, -1),
        weights,
        out2d,
        bias=bias.reshape(-1),
        low=data.low,
        high=data.high,
        b_transposed=True,
        num_threads=data.num_threads,
    )
    if data.tanh:
        np.tanh(out, out=out)


KERNELS = {
    BuiltinOperator.FULLY_CONNECTED: KernelSpec(
        prepare=prepare,
        invoke=invoke,
        versions=(1, 14),
        invoke_opt=invoke_opt if gemm_bias_act is not None else None,
    ),
}
