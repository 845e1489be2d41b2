"""BATCH_MATMUL, float32 (schema versions 1-4).

out[..., i, j] = sum_k lhs[..., i, k] * rhs[..., k, j], where adj_x / adj_y transpose
the last two dims of lhs / rhs first. Ranks 2 to 5; the batch dims (all but the last
two) broadcast like numpy, and the output has the larger rank.

The reference is numpy matmul itself (it is the spec); the optimized kernel is the
same product written straight into the output with the BLAS thread count applied.

Deviations: quantized (int8/int16) and hybrid (int8 rhs, float lhs) variants are not
supported yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from . import _window as win
from ._blas import use_blas_threads
from .base import KernelSpec, Node, Prepared, PrepareError, broadcast_shape, check_inputs

LHS, RHS = 0, 1


@dataclass(frozen=True)
class OpData:
    adj_x: bool
    adj_y: bool
    num_threads: int


def prepare(node: Node) -> Prepared:
    """Validate ranks and inner dims; output = broadcast batch dims + [rows, cols]."""
    check_inputs(node, 2)
    lhs, rhs = node.input(LHS), node.input(RHS)
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
    return Prepared([(*batch, rows, cols)], OpData(adj_x, adj_y, node.num_threads))


def _operands(data: OpData, inputs: list) -> tuple[np.ndarray, np.ndarray]:
    lhs, rhs = inputs[LHS], inputs[RHS]
    return (
        np.swapaxes(lhs, -1, -2) if data.adj_x else lhs,
        np.swapaxes(rhs, -1, -2) if data.adj_y else rhs,
    )


def invoke(data: OpData, inputs: list, outputs: list) -> None:
    """Reference: numpy's batched, broadcasting matmul."""
    lhs, rhs = _operands(data, inputs)
    outputs[0][...] = np.matmul(lhs, rhs)


def invoke_opt(data: OpData, inputs: list, outputs: list) -> None:
    """Optimized: the same product written in place, BLAS threads = num_threads."""
    lhs, rhs = _operands(data, inputs)
    use_blas_threads(data.num_threads)
    np.matmul(lhs, rhs, out=outputs[0])


KERNELS = {
    BuiltinOperator.BATCH_MATMUL: KernelSpec(
        prepare=prepare, invoke=invoke, versions=(1, 4), invoke_opt=invoke_opt
    ),
}
