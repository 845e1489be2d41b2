"""DEPTH_TO_SPACE, SPACE_TO_DEPTH, BATCH_TO_SPACE_ND, SPACE_TO_BATCH_ND (bit-exact moves).

The depth/space pair are one reshape-transpose-reshape copy on NHWC tensors
(TensorFlow's DCR channel order). The batch/space pair are done as one strided
copy per block offset, precomputed at prepare, so invoke never builds the padded
intermediate tensor.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ._shape_util import (
    QUANTIZED_DTYPES,
    all_known,
    check_same_dtype,
    check_same_quantization,
    index_values,
)
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, TensorInfo, check_inputs
from .transpose import TransposeData, fast_transpose, plan_transpose

_BLOCK_ORDER = (0, 1, 3, 2, 4, 5)  # swaps the block row axis with the width axis


class BlockData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("in_view", "out_view", "move")
    in_view: tuple[int, ...]
    out_view: tuple[int, ...]
    move: TransposeData  # the same move as a transpose of in_view, for the optimized kernel


def _block_size(node: Node, x: TensorInfo) -> int:
    if len(x.shape) != 4:
        raise PrepareError(f"{node.op} needs a 4-D NHWC input; {x.name!r} is {list(x.shape)}")
    size = node.options.block_size if node.options is not None else 0
    if size < 1:
        raise PrepareError(f"block_size {size} must be >= 1")
    return size


def _prepare_depth_to_space(node: Node) -> Prepared:
    check_inputs(node, 1)
    x, out = node.input(0), node.outputs[0]
    check_same_dtype(node, x, out)
    bs = _block_size(node, x)
    n, h, w, c = x.shape
    if c % (bs * bs):
        raise PrepareError(f"depth {c} is not divisible by block_size^2 = {bs * bs}")
    depth = c // (bs * bs)
    view = (n, h, w, bs, bs, depth)
    data = BlockData(
        view, (n, h, bs, w, bs, depth), plan_transpose(view, _BLOCK_ORDER, node.num_threads)
    )
    return Prepared([(n, h * bs, w * bs, depth)], data=data)


def _invoke_depth_to_space(
    data: BlockData, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> None:
    moved = inputs[0].reshape(data.in_view).transpose(_BLOCK_ORDER)
    np.copyto(outputs[0].reshape(data.out_view), moved)


def _prepare_space_to_depth(node: Node) -> Prepared:
    check_inputs(node, 1)
    x, out = node.input(0), node.outputs[0]
    check_same_dtype(node, x, out)
    bs = _block_size(node, x)
    n, h, w, c = x.shape
    if h % bs or w % bs:
        raise PrepareError(f"height {h} and width {w} must be divisible by block_size {bs}")
    view = (n, h // bs, bs, w // bs, bs, c)
    move = plan_transpose(view, _BLOCK_ORDER, node.num_threads)
    data = BlockData(view, (n, h // bs, w // bs, bs, bs, c), move)
    return Prepared([(n, h // bs, w // bs, c * bs * bs)], data=data)


def _invoke_block_opt(data: BlockData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    """Both directions are one transpose of a 6-D view: the optimized TRANSPOSE kernel."""
    assert fast_transpose is not None  # only registered when the extension is built
    fast_transpose(data.move, inputs[0], outputs[0])


def _invoke_space_to_depth(
    data: BlockData, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> None:
    moved = inputs[0].reshape(data.in_view).transpose(_BLOCK_ORDER)
    np.copyto(outputs[0].reshape(data.out_view), moved)


class BatchSpaceData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("fill", "batch_view", "copies", "to_batch")
    fill: int | None  # SPACE_TO_BATCH fills the padding first; None: every element is copied
    batch_view: tuple[int, ...]  # the batched side seen as (blocks, batch, spatial..., rest)
    copies: tuple[tuple[tuple, tuple], ...]  # (batched-side index, spatial-side index)
    to_batch: bool


def _block_inputs(node: Node, x: TensorInfo, block_info: TensorInfo, pairs_info: TensorInfo):
    """Block shape and (before, after) pairs, validated against the input rank."""
    blocks = index_values(block_info, "block_shape", (np.int32,))
    flat = index_values(pairs_info, "paddings/crops", (np.int32,))
    m = len(blocks)
    if len(block_info.shape) != 1 or pairs_info.shape != (m, 2):
        raise PrepareError(
            f"block_shape must be 1-D and paddings/crops [{m}, 2]; got "
            f"{list(block_info.shape)} and {list(pairs_info.shape)}"
        )
    if not 1 <= m < len(x.shape):
        raise PrepareError(
            f"{m} block dimensions do not fit input {x.name!r} of shape {list(x.shape)}"
        )
    if any(b < 1 for b in blocks) or any(v < 0 for v in flat):
        raise PrepareError(f"block_shape {blocks} must be >= 1 and paddings/crops {flat} >= 0")
    return blocks, [(flat[2 * i], flat[2 * i + 1]) for i in range(m)]


def _axis_run(offset: int, block: int, shift: int, limit: int, count: int):
    """Outer positions o in [0, count) with 0 <= o*block + offset - shift < limit, as two slices."""
    lo = max(0, -((offset - shift) // block))
    hi = min(count, -((offset - shift - limit) // block))
    if hi <= lo:
        return None
    first = lo * block + offset - shift
    return slice(lo, hi), slice(first, first + (hi - lo - 1) * block + 1, block)


def _batch_space_copies(blocks, pairs, spatial, outer) -> tuple:
    """One (batched index, spatial index) pair per block offset with anything to copy."""
    copies = []
    for lin, offsets in enumerate(itertools.product(*(range(b) for b in blocks))):
        runs = [
            _axis_run(i, b, before, size, count)
            for i, b, (before, _), size, count in zip(offsets, blocks, pairs, spatial, outer)
        ]
        if all(run is not None for run in runs):
            batched = (lin, slice(None), *tuple(r[0] for r in runs))
            spatial_index = (slice(None), *tuple(r[1] for r in runs))
            copies.append((batched, spatial_index))
    return tuple(copies)


def _prepare_space_to_batch(node: Node) -> Prepared:
    check_inputs(node, 3)
    x, out = node.input(0), node.outputs[0]
    check_same_dtype(node, x, out)
    check_same_quantization(node, x, out)
    if not all_known(node.input(1), node.input(2)):
        return Prepared(dynamic=True)
    blocks, pads = _block_inputs(node, x, node.input(1), node.input(2))
    m = len(blocks)
    spatial = x.shape[1 : 1 + m]
    padded = [s + b + a for s, (b, a) in zip(spatial, pads)]
    if any(p % b for p, b in zip(padded, blocks)):
        raise PrepareError(
            f"padded spatial shape {padded} is not divisible by block_shape {blocks}"
        )
    outer = [p // b for p, b in zip(padded, blocks)]
    rest = x.shape[1 + m :]
    batch = x.shape[0]
    shape = (batch * math.prod(blocks), *outer, *rest)
    fill = out.zero_point if out.dtype in QUANTIZED_DTYPES else 0
    copies = _batch_space_copies(blocks, pads, spatial, outer)
    view = (math.prod(blocks), batch, *outer, *rest)
    return Prepared([shape], data=BatchSpaceData(fill, view, copies, True))


def _prepare_batch_to_space(node: Node) -> Prepared:
    check_inputs(node, 3)
    x, out = node.input(0), node.outputs[0]
    check_same_dtype(node, x, out)
    check_same_quantization(node, x, out)
    if not all_known(node.input(1), node.input(2)):
        return Prepared(dynamic=True)
    blocks, crops = _block_inputs(node, x, node.input(1), node.input(2))
    m = len(blocks)
    num_blocks = math.prod(blocks)
    if x.shape[0] % num_blocks:
        raise PrepareError(f"batch {x.shape[0]} is not divisible by the {num_blocks} blocks")
    outer = list(x.shape[1 : 1 + m])
    spatial = [o * b - s - e for o, b, (s, e) in zip(outer, blocks, crops)]
    if any(s < 0 for s in spatial):
        raise PrepareError(f"crops {crops} are larger than the block-expanded shape")
    rest = x.shape[1 + m :]
    batch = x.shape[0] // num_blocks
    copies = _batch_space_copies(blocks, crops, spatial, outer)
    view = (num_blocks, batch, *outer, *rest)
    return Prepared([(batch, *spatial, *rest)], data=BatchSpaceData(None, view, copies, False))


def _invoke_batch_space(
    data: BatchSpaceData, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> None:
    out = outputs[0]
    if data.to_batch:
        out.fill(data.fill)
        batched, spatial = out.reshape(data.batch_view), inputs[0]
        for batched_index, spatial_index in data.copies:
            batched[batched_index] = spatial[spatial_index]
    else:
        batched, spatial = inputs[0].reshape(data.batch_view), out
        for batched_index, spatial_index in data.copies:
            spatial[spatial_index] = batched[batched_index]


_block_opt = _invoke_block_opt if fast_transpose is not None else None

KERNELS = {
    BuiltinOperator.DEPTH_TO_SPACE: KernelSpec(
        _prepare_depth_to_space, _invoke_depth_to_space, versions=(1, 2), invoke_opt=_block_opt
    ),
    BuiltinOperator.SPACE_TO_DEPTH: KernelSpec(
        _prepare_space_to_depth, _invoke_space_to_depth, versions=(1, 2), invoke_opt=_block_opt
    ),
    BuiltinOperator.SPACE_TO_BATCH_ND: KernelSpec(
        _prepare_space_to_batch, _invoke_batch_space, versions=(1, 4)
    ),
    BuiltinOperator.BATCH_TO_SPACE_ND: KernelSpec(
        _prepare_batch_to_space, _invoke_batch_space, versions=(1, 4)
    ),
}
