"""Einsum with one or two operands, lowered to TRANSPOSE / RESHAPE / BATCH_MATMUL (or one
FULLY_CONNECTED when the right operand is a constant matrix with no batch letters),
with GATHER for diagonals and SUM for letters summed away.

The equation is first made plain: ``...`` becomes letters of their own (right-aligned,
as NumPy and TensorFlow broadcast), an implicit output becomes the letters used once.
Then each operand is reduced to distinct letters: a letter repeated within it takes the
diagonal (the repeated dimensions made adjacent, merged by a reshape, and the diagonal
picked by a GATHER of constant indices), and a letter neither the other operand nor the
output has is summed away. One operand is then transposed to the output order.

For two, letters fall in four groups: batch (both operands and the output), contracted
(both operands, not the output), and the free letters of each side. Each operand is put
in [batch, free, contracted] or [batch, contracted, free] order, whichever needs no
transpose (BATCH_MATMUL's adj flags take the other), groups of several letters are
merged by a reshape, and the product is reshaped and transposed to the output order.
A batch letter of size 1 in one operand broadcasts (BATCH_MATMUL broadcasts too).
Transposes and reshapes that turn out to be identities are never emitted.
"""

from __future__ import annotations

import math
import string

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ...schema.generated.options import (
    BatchMatMulOptions,
    FullyConnectedOptions,
    GatherOptions,
    ReducerOptions,
)
from .context import Lowering, LoweringError
from .graph import GraphNode
from .helpers import text

B = BuiltinOperator


class _Operand:
    """One einsum operand being arranged: its IR tensor, letter order and own sizes."""

    def __init__(self, ctx: Lowering, name: str, tensor: int, letters: str, sizes: dict):
        self.ctx, self.name, self.tensor = ctx, name, tensor
        self.letters = letters
        self.sizes = sizes  # letter -> size in this operand (None: known at run time)

    @classmethod
    def input(cls, ctx: Lowering, node: GraphNode, index: int, letters: str):
        shape = ctx.shape(node.inputs[index])
        if len(shape) != len(letters):
            raise LoweringError(f"einsum operand {index} has rank {len(shape)}, not {letters!r}")
        sizes: dict[str, int | None] = {}
        for c, d in zip(letters, shape):
            if sizes.get(c) is not None and d is not None and sizes[c] != d:
                raise LoweringError(f"einsum letter {c!r} has sizes {sizes[c]} and {d}")
            sizes[c] = d if sizes.get(c) is None else sizes[c]
        return cls(ctx, f"{node.name}/operand{index}", ctx.input(node, index), letters, sizes)

    def shape(self) -> list[int | None]:
        return [self.sizes[c] for c in self.letters]

    def transpose(self, order: list[str]) -> None:
        """Dimensions in ``order`` (letters distinct)."""
        self.permute([self.letters.index(c) for c in order])

    def permute(self, perm: list[int]) -> None:
        if perm == list(range(len(perm))):
            return
        letters = [self.letters[p] for p in perm]
        out = self.ctx.temp(f"{self.name}/transposed", [self.sizes[c] for c in letters], np.float32)
        perm_t = self.ctx.constant(f"{self.name}/perm", perm, "int32")
        self.ctx.emit(B.TRANSPOSE, [self.tensor, perm_t], [out])
        self.tensor, self.letters = out, "".join(letters)

    def merge(self, groups: list[list[str]]) -> None:
        """Reshape so each group of letters becomes one dimension."""
        if all(len(g) == 1 for g in groups):
            return
        dims = [_product(self.sizes, g) for g in groups]
        _reshape(self.ctx, self, f"{self.name}/merged", dims)

    def diagonal(self, letter: str) -> None:
        """Keep only the entries where every occurrence of ``letter`` has the same index."""
        size = self.sizes[letter]
        if size is None:
            raise LoweringError(f"einsum diagonal over letter {letter!r} of unknown size")
        first = self.letters.index(letter)
        count = self.letters.count(letter)
        rest = [c for c in self.letters if c != letter]
        at = [i for i, c in enumerate(self.letters) if c == letter]
        others = [i for i, c in enumerate(self.letters) if c != letter]
        self.permute(others[:first] + at + others[first:])  # the occurrences side by side
        merged = [*rest[:first], letter, *rest[first:]]
        dims = [self.sizes[c] for c in rest[:first]] + [size**count]
        _reshape(self.ctx, self, f"{self.name}/{letter}_grid", dims + self.shape()[first + count :])
        # Row-major index of (k, k, ..., k) in the merged [size ** count] dimension.
        step = sum(size**j for j in range(count))
        indices = self.ctx.constant(
            f"{self.name}/{letter}_diagonal", np.arange(size) * step, "int32"
        )
        out = self.ctx.temp(
            f"{self.name}/{letter}_diag", [self.sizes[c] for c in merged], np.float32
        )
        self.ctx.emit(B.GATHER, [self.tensor, indices], [out], GatherOptions(axis=first))
        self.tensor, self.letters = out, "".join(merged)

    def sum_away(self, letters: list[str]) -> None:
        """SUM over ``letters`` (dimensions dropped)."""
        if not letters:
            return
        axes = [self.letters.index(c) for c in letters]
        kept = [c for c in self.letters if c not in letters]
        out = self.ctx.temp(f"{self.name}/summed", [self.sizes[c] for c in kept], np.float32)
        axes_t = self.ctx.constant(f"{self.name}/sum_axes", axes, "int32")
        self.ctx.emit(B.SUM, [self.tensor, axes_t], [out], ReducerOptions(keep_dims=False))
        self.tensor, self.letters = out, "".join(kept)

    def distinct(self, keep: str) -> None:
        """Diagonals of repeated letters, then letters not in ``keep`` summed away."""
        for letter in dict.fromkeys(self.letters):
            if self.letters.count(letter) > 1:
                self.diagonal(letter)
        self.sum_away([c for c in self.letters if c not in keep])


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


def _parse(ctx: Lowering, node: GraphNode) -> tuple[list[str], str]:
    """Operand letter strings and the output, with '...' spelled out as letters."""
    equation = text(node.attr("equation", "")).replace(" ", "")
    operands_text, arrow, out = equation.partition("->")
    operands = operands_text.split(",")
    if len(operands) != len(node.inputs) or len(operands) not in (1, 2):
        raise LoweringError(f"einsum {equation!r} (one or two operands are supported)")
    spare = [c for c in string.ascii_letters if c not in equation]
    ranks = [len(ctx.shape(name)) for name in node.inputs]
    extra = [r - len(o.replace("...", "")) for r, o in zip(ranks, operands)]
    width = max([e for o, e in zip(operands, extra) if "..." in o], default=0)
    if width > len(spare):
        raise LoweringError(f"einsum {equation!r}: too many '...' dimensions")
    ellipsis = "".join(spare[:width])
    if not arrow:  # implicit output: '...' first, then the letters used once, sorted
        letters = "".join(operands).replace("...", "")
        out = ("..." if width else "") + "".join(sorted(c for c in set(letters)
                                                        if letters.count(c) == 1))  # fmt: skip
    expanded = []
    for o, e in zip(operands, extra):
        if e < 0 or (e and "..." not in o) or o.count("...") > 1:
            raise LoweringError(f"einsum {equation!r} does not fit operand ranks {ranks}")
        expanded.append(o.replace("...", ellipsis[width - e :] if e else ""))
    out = out.replace("...", ellipsis)
    if len(set(out)) != len(out) or any(c not in "".join(expanded) for c in out):
        raise LoweringError(f"einsum {equation!r}: bad output letters")
    return expanded, out


def lower_einsum(ctx: Lowering, node: GraphNode) -> None:
    operands, out = _parse(ctx, node)
    if len(operands) == 1:
        _single(ctx, node, operands[0], out)
        return
    lhs, rhs = operands
    a = _Operand.input(ctx, node, 0, lhs)
    b = _Operand.input(ctx, node, 1, rhs)
    a.distinct(out + rhs)
    b.distinct(out + a.letters)
    lhs, rhs = a.letters, b.letters
    sizes = _broadcast_sizes(a.sizes, b.sizes, node)
    batch = [c for c in out if c in lhs and c in rhs]
    contract = [c for c in lhs if c in rhs and c not in out]
    left = [c for c in lhs if c not in rhs]
    right = [c for c in rhs if c not in lhs]
    weights = _constant(ctx, b.tensor)
    if not batch and weights is not None and list(lhs) == left + contract:
        _as_fully_connected(ctx, node, a, (weights, rhs), out, sizes, contract, right)
        return
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
    split = len(left) != 1 or len(right) != 1
    _finish(ctx, node, product, batch + left + right, sizes, out, split=split)


def _broadcast_sizes(a: dict, b: dict, node: GraphNode) -> dict:
    """Letter -> size after broadcasting (a size 1 takes the other operand's size; an
    unknown size against a known one other than 1 must be that one)."""
    sizes = dict(a)
    for c, d in b.items():
        mine = sizes.get(c, 1)
        if d == 1 or d == mine:
            continue
        if mine == 1 or mine is None or d is None:
            sizes[c] = d if mine in (1, None) else mine
            continue
        raise LoweringError(f"einsum letter {c!r} has sizes {mine} and {d} in {node.name}")
    return sizes


def _single(ctx: Lowering, node: GraphNode, letters: str, out: str) -> None:
    """One operand: diagonals, sums, then the output's order."""
    a = _Operand.input(ctx, node, 0, letters)
    source = a.tensor
    a.distinct(out)
    a.transpose(list(out))
    if a.tensor == source:  # "ij->ij": nothing to compute
        ctx.forward(node)
        return
    ctx.bind(node.outputs[0].name, a.tensor)
    ctx.sg.tensors[a.tensor].name = node.name


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


def _constant(ctx: Lowering, tensor: int) -> np.ndarray | None:
    t = ctx.sg.tensors[tensor]
    return ctx.model.constant(t) if t.buffer != 0 else None


def _as_fully_connected(ctx, node, a: _Operand, right_operand, out, sizes, contract, right):
    """No batch letters and a constant right operand: one FULLY_CONNECTED (keep_num_dims)."""
    weights, rhs = right_operand
    order = [rhs.index(c) for c in right + contract]
    rows, columns = _product(sizes, right), _product(sizes, contract)
    if rows is None or columns is None:
        raise LoweringError("einsum weights of unknown size")
    matrix = np.transpose(weights, order).reshape(rows, columns)
    left = [c for c in a.letters if c not in contract]
    a.merge([[c] for c in left] + [contract])
    w = ctx.constant(f"{node.name}/weights", np.asarray(matrix, np.float32, order="C"))
    product = ctx.temp(
        f"{node.name}/product", [sizes[c] for c in left] + [matrix.shape[0]], np.float32
    )
    options = FullyConnectedOptions(keep_num_dims=True)
    ctx.emit(B.FULLY_CONNECTED, [a.tensor, w, -1], [product], options)
    _finish(ctx, node, product, left + right, sizes, out, split=len(right) != 1)


LOWERINGS = {"Einsum": lower_einsum}
