"""Einsum with two operands, lowered to TRANSPOSE / RESHAPE / BATCH_MATMUL (or one
FULLY_CONNECTED when the right operand is a constant matrix with no batch letters).

Letters fall in four groups: batch (both operands and the output), contracted (both
operands, not the output), and the free letters of each side. Each operand is put in
[batch, free, contracted] or [batch, contracted, free] order, whichever needs no
transpose (BATCH_MATMUL's adj flags take the other), groups of several letters are
merged by a reshape, and the product is reshaped and transposed to the output order.
Transposes and reshapes that turn out to be identities are never emitted.
"""

from __future__ import annotations

import math

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ...schema.generated.options import BatchMatMulOptions, FullyConnectedOptions
from .context import Lowering, LoweringError
from .graph import GraphNode
from .helpers import text

B = BuiltinOperator


class _Operand:
    """One einsum operand being arranged: its IR tensor, letter order and letter sizes."""

    def __init__(self, ctx: Lowering, name: str, tensor: int, letters: str, sizes: dict):
        self.ctx, self.name, self.tensor = ctx, name, tensor
        self.letters = letters
        self.sizes = sizes

    @classmethod
    def input(cls, ctx: Lowering, node: GraphNode, index: int, letters: str, sizes: dict):
        return cls(ctx, f"{node.name}/operand{index}", ctx.input(node, index), letters, sizes)

    def transpose(self, order: list[str]) -> None:
        if order == list(self.letters):
            return
        perm = [self.letters.index(c) for c in order]
        out = self.ctx.temp(f"{self.name}/transposed", [self.sizes[c] for c in order], np.float32)
        perm_t = self.ctx.constant(f"{self.name}/perm", perm, "int32")
        self.ctx.emit(B.TRANSPOSE, [self.tensor, perm_t], [out])
        self.tensor, self.letters = out, "".join(order)

    def merge(self, groups: list[list[str]]) -> None:
        """Reshape so each group of letters becomes one dimension."""
        if all(len(g) == 1 for g in groups):
            return
        dims = [_product(self.sizes, g) for g in groups]
        _reshape(self.ctx, self, f"{self.name}/merged", dims)


def _product(sizes: dict, letters: list[str]) -> int | None:
    values = [sizes[c] for c in letters]
    return None if None in values else math.prod(values)


def _reshape(ctx: Lowering, operand: _Operand, name: str, dims: list[int | None]) -> None:
    if dims.count(None) > 1:
        raise LoweringError(f"einsum needs a reshape to {dims} with several unknown sizes")
    out = ctx.temp(name, dims, np.float32)
    target = ctx.constant(f"{name}/shape", [-1 if d is None else d for d in dims], "int32")
    ctx.emit(B.RESHAPE, [operand.tensor, target], [out])
    operand.tensor = out


def _parse(node: GraphNode) -> tuple[str, str, str]:
    equation = text(node.attr("equation", "")).replace(" ", "")
    if len(node.inputs) != 2 or "->" not in equation or "." in equation:
        raise LoweringError(f"einsum {equation!r} (two operands without '...' are supported)")
    operands, out = equation.split("->")
    lhs, rhs = operands.split(",")
    for part in (lhs, rhs, out):
        if len(set(part)) != len(part):
            raise LoweringError(f"einsum {equation!r} repeats a letter within one operand")
    return lhs, rhs, out


def lower_einsum(ctx: Lowering, node: GraphNode) -> None:
    lhs, rhs, out = _parse(node)
    sizes: dict[str, int | None] = {}
    for letters, name in ((lhs, node.inputs[0]), (rhs, node.inputs[1])):
        for c, d in zip(letters, ctx.shape(name)):
            sizes[c] = d if sizes.get(c) is None else sizes[c]
    batch = [c for c in out if c in lhs and c in rhs]
    contract = [c for c in lhs if c in rhs and c not in out]
    left = [c for c in lhs if c not in rhs]
    right = [c for c in rhs if c not in lhs]
    if any(c not in out for c in left + right) or sorted(out) != sorted(batch + left + right):
        raise LoweringError(f"einsum {lhs},{rhs}->{out} sums over a free letter")
    if not batch and ctx.const(node.inputs[1]) is not None and list(lhs) == left + contract:
        _as_fully_connected(ctx, node, lhs, rhs, out, sizes, contract, right)
        return
    a = _Operand.input(ctx, node, 0, lhs, sizes)
    b = _Operand.input(ctx, node, 1, rhs, sizes)
    adj_x = list(lhs) == batch + contract + left
    a.transpose(batch + (contract + left if adj_x else left + contract))
    adj_y = list(rhs) == batch + right + contract
    b.transpose(batch + (right + contract if adj_y else contract + right))
    a.merge([[c] for c in batch] + ([contract, left] if adj_x else [left, contract]))
    b.merge([[c] for c in batch] + ([right, contract] if adj_y else [contract, right]))
    product_shape = [sizes[c] for c in batch] + [_product(sizes, left), _product(sizes, right)]
    product = ctx.temp(f"{node.name}/product", product_shape, np.float32)
    options = BatchMatMulOptions(adj_x=adj_x, adj_y=adj_y)
    ctx.emit(B.BATCH_MATMUL, [a.tensor, b.tensor], [product], options)
    _finish(
        ctx,
        node,
        product,
        batch + left + right,
        sizes,
        out,
        split=len(left) != 1 or len(right) != 1,
    )


def _finish(ctx, node, tensor: int, letters: list[str], sizes: dict, out: str, split: bool) -> None:
    """Reshape the product back to one dimension per letter and transpose to ``out``."""
    result = _Operand(ctx, f"{node.name}/result", tensor, "".join(letters), sizes)
    if split:
        _reshape(ctx, result, f"{node.name}/unmerged", [sizes[c] for c in letters])
    if list(out) == letters:
        ctx.bind(node.outputs[0].name, result.tensor)
        ctx.sg.tensors[result.tensor].name = node.name
        return
    perm = [letters.index(c) for c in out]
    perm_t = ctx.constant(f"{node.name}/perm", perm, "int32")
    ctx.emit(B.TRANSPOSE, [result.tensor, perm_t], [ctx.output(node)])


def _as_fully_connected(ctx, node, lhs, rhs, out, sizes, contract, right) -> None:
    """No batch letters and a constant right operand: one FULLY_CONNECTED (keep_num_dims)."""
    weights = ctx.const(node.inputs[1])
    order = [rhs.index(c) for c in right + contract]
    rows, columns = _product(sizes, right), _product(sizes, contract)
    if weights is None or rows is None or columns is None:
        raise LoweringError("einsum weights of unknown size")
    matrix = np.transpose(weights, order).reshape(rows, columns)
    a = _Operand.input(ctx, node, 0, lhs, sizes)
    left = [c for c in lhs if c not in contract]
    a.merge([[c] for c in left] + [contract])
    w = ctx.constant(f"{node.name}/weights", np.asarray(matrix, np.float32, order="C"))
    product = ctx.temp(
        f"{node.name}/product", [sizes[c] for c in left] + [matrix.shape[0]], np.float32
    )
    options = FullyConnectedOptions(keep_num_dims=True)
    ctx.emit(B.FULLY_CONNECTED, [a.tensor, w, -1], [product], options)
    _finish(ctx, node, product, left + right, sizes, out, split=len(right) != 1)


LOWERINGS = {"Einsum": lower_einsum}
