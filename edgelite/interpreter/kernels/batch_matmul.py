"""BATCH_MATMUL: float32, int8, int16, and hybrid (schema versions 1-4).

out[..., i, j] = sum_k lhs[..., i, k] * rhs[..., k, j], where adj_x / adj_y transpose
the last two dims of lhs / rhs first. Ranks 2 to 5; the batch dims (all but the last
two) broadcast like numpy, and the output has the larger rank.

Quantized (the official runtime has only its reference kernel here):

- int8 x int8 -> int8: acc = sum (lhs - zl) * (rhs - zr) in int32, then
  MultiplyByQuantizedMultiplier(s_l * s_r / s_out) ("double" under rounding "tflite"),
  + output zero point; per-tensor parameters only;
- int8 x int8 -> int32: the raw sum of products (zero points ignored, as TFLite);
- int16 x int16 / int16 x int8 -> int16: int64 sums and the int64 multiplier; all zero
  points 0;
- hybrid (float lhs, int8 rhs): _conv_hybrid (exact mode).

The float reference is numpy matmul itself (it is the spec); the optimized kernel is the
same product written straight into the output with the BLAS thread count applied. The
quantized optimized kernel takes the integer product through a float64 BLAS matmul
(exact) and the Cython epilogue.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from . import _window as win
from ._blas import use_blas_threads
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, broadcast_shape, check_inputs

LHS, RHS = 0, 1


class OpData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("adj_x", "adj_y", "num_threads", "quant")
    adj_x: bool
    adj_y: bool
    num_threads: int
    quant: Any  # quantized: (lhs zero, rhs zero, Requant or None for int32 output)
    _defaults = {"quant": None}


def prepare(node: Node) -> Prepared:
    """Validate ranks and inner dims; output = broadcast batch dims + [rows, cols]."""
    check_inputs(node, 2)
    lhs, rhs = node.input(LHS), node.input(RHS)
    quantized = lhs.dtype in win.QUANTIZED_DTYPES
    hybrid = lhs.dtype == np.dtype(np.float32) and rhs.dtype in win.QUANTIZED_DTYPES
    if not (quantized or hybrid):
        win.require_float(lhs, "BATCH_MATMUL", "lhs")
        win.require_float_weights(rhs, "BATCH_MATMUL", "rhs")
        win.require_output_dtype(node, np.dtype(np.float32))
    for info, what in ((lhs, "lhs"), (rhs, "rhs")):
        if not 2 <= len(info.shape) <= 5:
            raise PrepareError(f"{what} {info.name!r} has {len(info.shape)} dims; needs 2 to 5")
    opts = node.options
    adj_x = bool(opts.adj_x) if opts is not None else False
    adj_y = bool(opts.adj_y) if opts is not None else False
    rows, inner = lhs.shape[-2:] if not adj_x else lhs.shape[:-3:-1]
    inner_rhs, cols = rhs.shape[-2:] if not adj_y else rhs.shape[:-3:-1]
    if inner != inner_rhs:
        raise PrepareError(
            f"lhs {list(lhs.shape)} (adj_x={adj_x}) and rhs {list(rhs.shape)} (adj_y={adj_y}) "
            f"have different inner dims {inner} and {inner_rhs}"
        )
    batch = broadcast_shape(tuple(lhs.shape[:-2]), tuple(rhs.shape[:-2]))
    out_shape = (*batch, rows, cols)
    if hybrid:
        from . import _conv_hybrid  # imported only by the models that need it

        return _conv_hybrid.prepare_batch_matmul(node, out_shape, adj_x, adj_y)
    quant = _prepare_quantized(node, lhs, rhs) if quantized else None
    return Prepared([out_shape], OpData(adj_x, adj_y, node.num_threads, quant))


def _prepare_quantized(node: Node, lhs, rhs) -> tuple:
    from . import _requant as rq  # imported only by the models that need it

    out = node.outputs[0]
    allowed = {np.dtype(np.int8): (np.int8,), np.dtype(np.int16): (np.int16, np.int8)}
    if lhs.dtype not in allowed or rhs.dtype not in [np.dtype(t) for t in allowed[lhs.dtype]]:
        raise PrepareError(
            f"quantized BATCH_MATMUL takes int8 x int8 or int16 x int16/int8, got "
            f"{lhs.dtype.name} x {rhs.dtype.name}"
        )
    rq.affine(lhs, "lhs", "BATCH_MATMUL")
    rq.affine(rhs, "rhs", "BATCH_MATMUL")
    if lhs.dtype == np.dtype(np.int8) and out.dtype == np.dtype(np.int32):
        return (0, 0, None)  # TFLite sums the raw products
    win.require_output_dtype(node, lhs.dtype)
    rq.affine(out, "output", "BATCH_MATMUL")
    if lhs.dtype == np.dtype(np.int16):
        for info, what in ((lhs, "lhs"), (rhs, "rhs"), (out, "output")):
            if info.zero_point != 0:
                raise PrepareError(f"{what} {info.name!r} of int16 BATCH_MATMUL needs zero point 0")
        mode = rq.INT64
    else:
        mode = rq.pick_rounding(node, "double")  # the official kernel is the reference one
    requant = rq.make_requant(lhs.scale, np.full(1, rhs.scale, np.float32), out, 1, 0, mode)
    return (lhs.zero_point, rhs.zero_point, requant)


def _operands(data: OpData, inputs: list) -> tuple[np.ndarray, np.ndarray]:
    lhs, rhs = inputs[LHS], inputs[RHS]
    return (
        np.swapaxes(lhs, -1, -2) if data.adj_x else lhs,
        np.swapaxes(rhs, -1, -2) if data.adj_y else rhs,
    )


def invoke(data: OpData, inputs: list, outputs: list) -> None:
    """Reference: numpy's batched, broadcasting matmul (int64 for quantized operands)."""
    if type(data) is not OpData:  # hybrid: prepared by _conv_hybrid
        return data.invoke(inputs, outputs)  # type: ignore[attr-defined]
    lhs, rhs = _operands(data, inputs)
    if data.quant is not None:
        _quantized(data, lhs, rhs, outputs[0], np.int64)
        return
    outputs[0][...] = np.matmul(lhs, rhs)


def _quantized(data: OpData, lhs: np.ndarray, rhs: np.ndarray, out: np.ndarray, dtype) -> None:
    from . import _requant as rq

    lhs_zero, rhs_zero, requant = data.quant
    acc = np.matmul(lhs.astype(dtype) - lhs_zero, rhs.astype(dtype) - rhs_zero)
    if requant is None:
        out[...] = acc.astype(np.int64).astype(np.int32)  # wraps like the C int32 sum
        return
    from ._qgemm import requant as requant_rows

    if dtype == np.int64 or requant_rows is None:  # the reference (or no extension)
        out[...] = rq.requantize(acc.astype(np.int64)[..., None], requant)[..., 0]
    else:
        flat = acc.reshape(-1, 1).astype(np.int64)
        requant_rows(flat, out.reshape(-1, 1), requant.epilogue(None, None))


def invoke_opt(data: OpData, inputs: list, outputs: list) -> None:
    """Optimized: the same product written in place, BLAS threads = num_threads."""
    if type(data) is not OpData:
        return data.invoke_opt(inputs, outputs)  # type: ignore[attr-defined]
    lhs, rhs = _operands(data, inputs)
    if data.quant is not None:
        use_blas_threads(data.num_threads)
        _quantized(data, lhs, rhs, outputs[0], np.float64)
        return
    use_blas_threads(data.num_threads)
    np.matmul(lhs, rhs, out=outputs[0])


KERNELS = {
    BuiltinOperator.BATCH_MATMUL: KernelSpec(
        prepare=prepare, invoke=invoke, versions=(1, 4), invoke_opt=invoke_opt
    ),
}
