"""GATHER, GATHER_ND, SCATTER_ND, EMBEDDING_LOOKUP: index-driven copies (bit-exact).

Quantized tables are copied raw, whatever their parameters. EMBEDDING_LOOKUP of an
int8/uint8 table into a float32 output is the hybrid kernel: each looked-up row is
``row * scale`` (per tensor, or per row), zero point 0, as TFLite's EvalHybrid.

Indices are checked at invoke: like TFLite, an index outside the indexed
dimension (negative ones included; numpy would wrap them) is an error, never a
silent wrap or clamp.
"""

from __future__ import annotations

import math

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ._shape_util import (
    KernelInvokeError,
    all_known,
    check_plain,
    check_same_dtype,
    index_values,
)
from .base import (
    KernelSpec,
    Node,
    OpRecord,
    Prepared,
    PrepareError,
    TensorInfo,
    check_dtype,
    check_inputs,
)

try:
    from . import _gather as fast  # type: ignore[attr-defined]
except ImportError:  # extensions not built: the reference kernels still run
    fast = None  # type: ignore[assignment]

GATHER_INDEX_DTYPES = (np.int16, np.int32, np.int64)


def _check_bounds(indices: np.ndarray, limit: int | np.ndarray, op: str) -> None:
    if indices.size and (indices.min() < 0 or (indices >= limit).any()):
        bad = indices[(indices < 0) | (indices >= limit)].reshape(-1)[0]
        raise KernelInvokeError(f"{op}: index {bad} is out of bounds (limit {limit})")


class GatherData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("axis", "batch_dims", "batch", "outer", "num_threads")
    axis: int  # in the params tensor
    batch_dims: int
    batch: int  # product of the batch dimensions
    outer: int  # product of the params dimensions before axis
    num_threads: int
    _defaults = {"num_threads": 1}


def _prepare_gather(node: Node) -> Prepared:
    check_inputs(node, 2)
    x, idx, out = node.input(0), node.input(1), node.outputs[0]
    check_same_dtype(node, x, out)
    check_dtype(idx, GATHER_INDEX_DTYPES, "indices")
    rank, idx_rank = len(x.shape), len(idx.shape)
    opts = node.options
    axis = opts.axis if opts is not None else 0
    batch_dims = opts.batch_dims if opts is not None else 0
    axis = axis + rank if axis < 0 else axis
    batch_dims = batch_dims + idx_rank if batch_dims < 0 else batch_dims
    if not 0 <= axis < rank:
        raise PrepareError(f"axis {axis} is out of range for params {x.name!r} of rank {rank}")
    if not 0 <= batch_dims <= min(axis, idx_rank):
        raise PrepareError(f"batch_dims {batch_dims} must be in [0, min(axis, indices rank)]")
    if x.shape[:batch_dims] != idx.shape[:batch_dims]:
        raise PrepareError(
            f"params {list(x.shape)} and indices {list(idx.shape)} differ in the first "
            f"{batch_dims} (batch) dimensions"
        )
    shape = x.shape[:axis] + idx.shape[batch_dims:] + x.shape[axis + 1 :]
    batch = math.prod(x.shape[:batch_dims])
    outer = math.prod(x.shape[:axis])
    return Prepared([shape], data=GatherData(axis, batch_dims, batch, outer, node.num_threads))


def _invoke_gather(data: GatherData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    x, idx, out = inputs[0], inputs[1], outputs[0]
    _check_bounds(idx, x.shape[data.axis], "GATHER")
    if data.batch_dims == 0:
        np.take(x, idx, axis=data.axis, out=out, mode="clip")  # bounds checked above
        return
    bd = data.batch_dims
    xb = x.reshape((data.batch, *x.shape[bd:]))
    ib = idx.reshape((data.batch, *idx.shape[bd:]))
    ob = out.reshape((data.batch, *out.shape[bd:]))
    for b in range(data.batch):
        np.take(xb[b], ib[b], axis=data.axis - bd, out=ob[b], mode="clip")


def _invoke_gather_opt(
    data: GatherData, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> None:
    """Row memcpys in ``_gather.pyx``; batched gathers use the reference."""
    x, idx, out = inputs[0], inputs[1], outputs[0]
    if data.batch_dims:
        _invoke_gather(data, inputs, outputs)
        return
    rows = x.shape[data.axis]
    bad = fast.run(x, idx, out, data.outer, rows, data.num_threads)
    if bad >= 0:
        raise KernelInvokeError(
            f"GATHER: index {idx.reshape(-1)[bad]} is out of bounds (limit {rows})"
        )


class GatherNdData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("depth", "inner")
    depth: int  # how many leading params dimensions one index addresses
    inner: tuple[int, ...]  # the remaining params dimensions, copied whole


def _prepare_gather_nd(node: Node) -> Prepared:
    check_inputs(node, 2)
    x, idx, out = node.input(0), node.input(1), node.outputs[0]
    check_same_dtype(node, x, out)
    check_dtype(idx, GATHER_INDEX_DTYPES, "indices")
    if not idx.shape:
        raise PrepareError(f"indices {idx.name!r} must have at least one dimension")
    depth = idx.shape[-1]
    if depth > len(x.shape):
        raise PrepareError(
            f"index depth {depth} exceeds the rank {len(x.shape)} of params {x.name!r}"
        )
    inner = x.shape[depth:]
    return Prepared([idx.shape[:-1] + inner], data=GatherNdData(depth, inner))


def _flat_positions(idx: np.ndarray, dims: tuple[int, ...], op: str) -> np.ndarray:
    """Row numbers into the leading ``dims`` (flattened) for each index vector."""
    vectors = idx.reshape(math.prod(idx.shape[:-1]), len(dims)).astype(np.int64)
    _check_bounds(vectors, np.array(dims, np.int64), op)
    if not dims:
        return np.zeros(len(vectors), np.int64)
    return np.asarray(np.ravel_multi_index(tuple(vectors.T), dims))


def _invoke_gather_nd(
    data: GatherNdData, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> None:
    x, idx, out = inputs[0], inputs[1], outputs[0]
    rows = _flat_positions(idx, x.shape[: data.depth], "GATHER_ND")
    inner = math.prod(data.inner)
    np.take(x.reshape(-1, inner), rows, axis=0, out=out.reshape(-1, inner), mode="clip")


def _prepare_scatter_nd(node: Node) -> Prepared:
    check_inputs(node, 3)
    idx, updates, shape_info, out = node.input(0), node.input(1), node.input(2), node.outputs[0]
    check_same_dtype(node, updates, out)
    check_dtype(idx, (np.int32,), "indices")
    check_dtype(shape_info, (np.int32,), "shape")
    check_dtype(updates, (np.float32, np.uint8, np.bool_, np.int8, np.int32, np.int64), "updates")
    if len(shape_info.shape) != 1 or not idx.shape or not updates.shape:
        raise PrepareError("SCATTER_ND needs indices and updates of rank >= 1 and a 1-D shape")
    if not all_known(shape_info):
        return Prepared(dynamic=True)
    shape = tuple(index_values(shape_info, "shape"))
    outer, depth = len(idx.shape) - 1, idx.shape[-1]
    if depth > len(shape) or updates.shape != idx.shape[:outer] + shape[depth:]:
        raise PrepareError(
            f"updates shape {list(updates.shape)} does not match indices {list(idx.shape)} "
            f"scattered into {list(shape)}"
        )
    return Prepared([shape], data=depth)


def _invoke_scatter_nd(depth: int, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    idx, updates, out = inputs[0], inputs[1], outputs[0]
    rows = _flat_positions(idx, out.shape[:depth], "SCATTER_ND")
    inner = math.prod(out.shape[depth:])
    flat_out = out.reshape(-1, inner)
    flat_out.fill(0)
    flat_updates = updates.reshape(-1, inner)
    if out.dtype == np.bool_:
        np.logical_or.at(flat_out, rows, flat_updates)  # bool "+=" in TFLite is an or
    else:
        np.add.at(flat_out, rows, flat_updates)  # repeated indices accumulate


class HybridEmbedding(OpRecord):
    """EMBEDDING_LOOKUP of an int8/uint8 table into float32: each row's scale."""

    __slots__ = ("row_scales",)
    row_scales: np.ndarray  # float64 [rows]: scale of each table row


def _hybrid_embedding(node: Node, table: TensorInfo, out: TensorInfo) -> HybridEmbedding | None:
    """Validate the table's quantization as TFLite does; hybrid data when the output is float."""
    q = table.quantization
    quantized = q is not None and len(q.scale) > 0
    hybrid = table.dtype in (np.int8, np.uint8) and out.dtype == np.float32
    if not quantized:
        if hybrid:
            raise PrepareError(
                f"table {table.name!r} is {table.dtype.name} without quantization parameters; "
                "a float32 output needs its scale"
            )
        return None
    assert q is not None
    rows = table.shape[0]
    if hybrid and (len(q.zero_point) == 0 or int(q.zero_point[0]) != 0):
        raise PrepareError(
            f"hybrid EMBEDDING_LOOKUP needs a symmetric table: {table.name!r} has zero point "
            f"{int(q.zero_point[0]) if len(q.zero_point) else None}, not 0"
        )
    if len(q.scale) > 1 or len(q.zero_point) > 1:
        if not hybrid:
            raise PrepareError(
                f"per-row quantization of {table.name!r} needs an int8/uint8 table and a "
                "float32 output (hybrid EMBEDDING_LOOKUP)"
            )
        if q.quantized_dimension != 0 or len(q.scale) != rows or len(q.zero_point) != rows:
            raise PrepareError(
                f"table {table.name!r} has {len(q.scale)} scales and {len(q.zero_point)} zero "
                f"points on dimension {q.quantized_dimension}; per-row quantization needs "
                f"{rows} of each on dimension 0"
            )
    if not hybrid:
        return None
    scales = np.asarray(q.scale, np.float32).astype(np.float64)
    if not (np.isfinite(scales).all() and (scales > 0).all()):
        raise PrepareError(f"table {table.name!r} has a scale that is not > 0")
    return HybridEmbedding(np.broadcast_to(scales, (rows,)).copy())


def _prepare_embedding_lookup(node: Node) -> Prepared:
    check_inputs(node, 2)
    ids, table, out = node.input(0), node.input(1), node.outputs[0]
    check_dtype(ids, (np.int32,), "ids")
    check_plain(table)
    if len(ids.shape) != 1 or len(table.shape) < 2:
        raise PrepareError("EMBEDDING_LOOKUP needs 1-D ids and a table of rank >= 2")
    hybrid = _hybrid_embedding(node, table, out)
    if hybrid is None and table.dtype != out.dtype:
        raise PrepareError(
            f"EMBEDDING_LOOKUP of a {table.dtype.name} table gives {table.dtype.name} (or "
            f"float32 from an int8/uint8 table); output {out.name!r} is {out.dtype.name}"
        )
    return Prepared([ids.shape + table.shape[1:]], data=hybrid)


def _invoke_hybrid_embedding(
    data: HybridEmbedding, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> None:
    """float32(row * scale): TFLite reads the table as int8 (uint8 too) and scales in double."""
    ids, table = inputs
    _check_bounds(ids, table.shape[0], "EMBEDDING_LOOKUP")
    rows = table.view(np.int8)[ids].reshape(len(ids), -1)
    # An 8-bit integer times a float32 scale is exact in double: one rounding to float32.
    scaled = rows * data.row_scales[ids][:, None]
    np.copyto(outputs[0].reshape(len(ids), -1), scaled, casting="same_kind")


def _invoke_embedding_lookup_opt(
    data: HybridEmbedding | None, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> None:
    if data is not None:
        _invoke_hybrid_embedding(data, inputs, outputs)
        return
    ids, table = inputs
    bad = fast.run(table, ids, outputs[0], 1, table.shape[0])
    if bad >= 0:
        raise KernelInvokeError(
            f"EMBEDDING_LOOKUP: index {ids[bad]} is out of bounds (limit {table.shape[0]})"
        )


def _invoke_embedding_lookup(
    data: HybridEmbedding | None, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> None:
    if data is not None:
        _invoke_hybrid_embedding(data, inputs, outputs)
        return
    ids, table = inputs
    _check_bounds(ids, table.shape[0], "EMBEDDING_LOOKUP")
    np.take(table, ids, axis=0, out=outputs[0], mode="clip")


KERNELS = {
    BuiltinOperator.GATHER: KernelSpec(
        _prepare_gather,
        _invoke_gather,
        versions=(1, 8),
        invoke_opt=_invoke_gather_opt if fast is not None else None,
    ),
    BuiltinOperator.GATHER_ND: KernelSpec(_prepare_gather_nd, _invoke_gather_nd, versions=(1, 6)),
    BuiltinOperator.SCATTER_ND: KernelSpec(
        _prepare_scatter_nd, _invoke_scatter_nd, versions=(1, 1)
    ),
    BuiltinOperator.EMBEDDING_LOOKUP: KernelSpec(
        _prepare_embedding_lookup,
        _invoke_embedding_lookup,
        versions=(1, 5),
        invoke_opt=_invoke_embedding_lookup_opt if fast is not None else None,
    ),
}
