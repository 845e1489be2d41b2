"""QUANTIZE (float32 -> int8/uint8/int16), DEQUANTIZE (int8/uint8/int16/float16 ->
float32) and DENSIFY (a sparse constant -> its dense value).

Both quantization directions take per-tensor or per-channel parameters (one scale
and zero point per index of ``quantized_dimension``) and follow the official
BUILTIN kernels bit for bit:

* QUANTIZE per tensor (TFLite's optimized kernel): blocks of 8 elements compute
  ``rint(x * float(1 / scale))`` (a float32 product, halves to even), the last
  ``size % 8`` elements ``round(double(x) / scale)`` (halves away from zero); then
  ``+ zero_point``, clamped to the output type.
* QUANTIZE per channel (TFLite's reference kernel everywhere), and per tensor under
  rounding="reference" (BUILTIN_REF): ``round(x / scale)`` with a float32 division,
  halves away from zero.
* In both, NaN and values beyond int32 become INT_MIN before the zero point is
  added, as the x86 conversion instructions do.
* DEQUANTIZE: ``float(scale * (q - zero_point))``, the product taken exactly.

:func:`dequantize_values` and :func:`densify` are the same computations for the
loader, which folds constant float16/int8 weights and sparse constants once.
QUANTIZE from an integer input requantizes (``_qrequantize``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator, DimensionType, TensorType
from ...schema.model import QuantizationParameters, Sparsity
from ._qparams import reference_rounding
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, TensorInfo, check_inputs
from .unary import QUANTIZED_TYPES, c_cast_int32, check_output, check_type, is_quantized


def _qrequantize() -> Any:
    """``_qrequantize`` (integer-to-integer QUANTIZE), imported on first use."""
    from . import _qrequantize as module

    return module


class AffineData(OpRecord):
    """Prepared QUANTIZE / DEQUANTIZE parameters (read-only after prepare)."""

    __slots__ = ("scale", "zero_point", "blocked")
    # scale (float32) and zero point (int32), shaped to broadcast against the tensor.
    scale: np.ndarray
    zero_point: np.ndarray
    # Per-tensor QUANTIZE: the optimized kernel's blocks of 8 (False: the reference
    # kernel's float division everywhere, as for per-channel parameters).
    blocked: bool
    _defaults = {"blocked": True}


def _affine(info: TensorInfo, what: str) -> AffineData:
    """Per-tensor or per-channel parameters of ``info``, ready to broadcast."""
    q = info.quantization
    if not is_quantized(info):
        raise PrepareError(f"{what} {info.name!r} has no quantization parameters")
    assert q is not None
    scale = np.asarray(q.scale, np.float32)
    zero_point = np.asarray(q.zero_point, np.int64)
    if len(zero_point) == 0:
        zero_point = np.zeros(1, np.int64)
    if len(scale) == 1 and len(zero_point) == 1:
        return AffineData(scale.reshape(()), zero_point.astype(np.int32).reshape(()))
    axis = q.quantized_dimension
    rank = len(info.shape)
    if not 0 <= axis < rank or len(scale) != info.shape[axis]:
        raise PrepareError(
            f"{what} {info.name!r} has {len(scale)} scales along dimension {axis}; "
            f"its shape is {list(info.shape)}"
        )
    if len(zero_point) == 1:
        zero_point = np.repeat(zero_point, len(scale))
    if len(zero_point) != len(scale):
        raise PrepareError(
            f"{what} {info.name!r} has {len(scale)} scales but {len(zero_point)} zero points"
        )
    shape = [1] * rank
    shape[axis] = len(scale)
    return AffineData(scale.reshape(shape), zero_point.astype(np.int32).reshape(shape))


# -- QUANTIZE -----------------------------------------------------------------------


def prepare_quantize(node: Node) -> Prepared:
    """QUANTIZE float32 -> int8/uint8/int16 (per tensor or per channel), or requantize."""
    check_inputs(node, 1)
    x, out = node.input(0), node.outputs[0]
    if x.type in (*QUANTIZED_TYPES, TensorType.INT32):
        check_type(node, out, (*QUANTIZED_TYPES, TensorType.INT32), "output", True)
        return _qrequantize().prepare(node)
    check_type(node, x, (TensorType.FLOAT32,))
    check_type(node, out, QUANTIZED_TYPES, "output", allow_quantized=True)
    params = _affine(out, "output")
    if reference_rounding(node):  # BUILTIN_REF: AffineQuantize, a float32 division
        params = AffineData(params.scale, params.zero_point, blocked=False)
    return Prepared(output_shapes=[x.shape], data=params)


def round_half_away(values: np.ndarray) -> np.ndarray:
    """std::round: halves go away from zero (exact; NaN and inf stay as they are)."""
    whole = np.trunc(values)
    fraction = values - whole  # exact in floating point
    step = np.where(np.abs(fraction) >= 0.5, np.sign(values), 0).astype(values.dtype)
    return whole + step


def quantize_values(x: np.ndarray, params: AffineData, dtype: np.dtype) -> np.ndarray:
    """The official reference QUANTIZE of float32 ``x`` into ``dtype`` (per channel)."""
    info = np.iinfo(dtype)
    with np.errstate(all="ignore"):
        scaled = np.asarray(x, np.float32) / params.scale  # float32 division
        rounded = round_half_away(scaled)
        # int32 + int32 wraps (INT_MIN + a negative zero point), as on x86.
        q = c_cast_int32(rounded) + params.zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


# Elements per block of TFLite's vectorized per-tensor QUANTIZE.
QUANTIZE_BLOCK = 8


def quantize_values_blocked(x: np.ndarray, params: AffineData, dtype: np.dtype) -> np.ndarray:
    """The official optimized per-tensor QUANTIZE of float32 ``x`` into ``dtype``.

    Flat element i < size - size % 8 takes the vector form, the rest the scalar tail.
    """
    info = np.iinfo(dtype)
    flat = np.asarray(x, np.float32).reshape(-1)
    limit = flat.size - flat.size % QUANTIZE_BLOCK
    scale = float(params.scale)
    with np.errstate(all="ignore"):
        reciprocal = np.float32(1.0 / scale)  # 1.0f / (double)scale, stored as float
        vector = np.rint(flat[:limit] * reciprocal)
        tail = round_half_away(flat[limit:].astype(np.float64) / scale)
        rounded = np.concatenate([c_cast_int32(vector), c_cast_int32(tail)])
        q = rounded + params.zero_point  # int32 + int32 wraps, as in C
    return np.clip(q, info.min, info.max).astype(dtype).reshape(np.shape(x))


def invoke_quantize(data: AffineData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Round and clamp into the quantized output."""
    if not isinstance(data, AffineData):  # requantizing: _qrequantize's data
        _qrequantize().invoke_reference(data, inputs, outputs)
        return
    out = outputs[0]
    if data.scale.ndim == 0 and data.blocked:
        out[...] = quantize_values_blocked(inputs[0], data, out.dtype)
    else:
        out[...] = quantize_values(inputs[0], data, out.dtype)


# -- DEQUANTIZE ---------------------------------------------------------------------

_DEQUANTIZE_TYPES = (TensorType.INT8, TensorType.UINT8, TensorType.INT16, TensorType.FLOAT16)


def prepare_dequantize(node: Node) -> Prepared:
    """DEQUANTIZE int8/uint8/int16 (per tensor or per channel) or float16 -> float32."""
    check_inputs(node, 1)
    x = node.input(0)
    check_type(node, x, _DEQUANTIZE_TYPES, allow_quantized=True)
    check_output(node, TensorType.FLOAT32)
    data = None if x.type == TensorType.FLOAT16 else _affine(x, "input")
    if x.type == TensorType.INT16 and data is not None and np.any(data.zero_point != 0):
        # int16 quantization is symmetric; the official kernel refuses anything else.
        raise PrepareError(f"int16 input {x.name!r} needs zero point 0 (symmetric int16)")
    return Prepared(output_shapes=[x.shape], data=data)


def dequantize_values(
    values: np.ndarray, quantization: QuantizationParameters | None, type_: int
) -> np.ndarray:
    """float32 values of a float16 or int8/uint8/int16 constant (for load-time folding)."""
    values = np.asarray(values)
    if type_ == TensorType.FLOAT16:
        return values.astype(np.float32)
    info = TensorInfo(-1, "constant", values.shape, values.dtype, TensorType(type_), quantization)
    return _dequantize(values, _affine(info, "constant"))


def _dequantize(values: np.ndarray, params: AffineData) -> np.ndarray:
    # Exact in float64 ((q - zp) has at most 17 bits, the scale 24), rounded once.
    centered = values.astype(np.int64) - params.zero_point
    return (centered * params.scale.astype(np.float64)).astype(np.float32)


def invoke_dequantize(
    data: AffineData | None, inputs: list[Any], outputs: list[np.ndarray]
) -> None:
    """Widen float16, or scale the zero-point-centred integers."""
    x, out = inputs[0], outputs[0]
    if data is None:
        out[...] = x
    else:
        out[...] = _dequantize(x, data)


# -- DENSIFY ------------------------------------------------------------------------

_DENSIFY_TYPES = (TensorType.FLOAT32, TensorType.FLOAT16, TensorType.INT8)


class DensifyData(OpRecord):
    """The decoded dense constant of a DENSIFY (read-only after prepare)."""

    __slots__ = ("dense",)
    dense: np.ndarray


def prepare_densify(node: Node) -> Prepared:
    """DENSIFY: decode the sparse constant input once, here.

    The input's TensorInfo carries the tensor's ``sparsity``, its dense ``shape``
    and its stored values as ``data`` (typed, or the raw buffer bytes).
    """
    check_inputs(node, 1)
    x = node.input(0)
    check_type(node, x, _DENSIFY_TYPES, allow_quantized=True)
    check_output(node, x.type)
    sparsity = x.sparsity
    if sparsity is None or x.data is None:
        raise PrepareError(f"input {x.name!r} must be a sparse constant (sparsity and data)")
    values = np.asarray(x.data)
    if values.dtype != x.dtype:  # raw buffer bytes
        values = np.ascontiguousarray(values).reshape(-1).view(np.uint8).view(x.dtype)
    dense = densify(values.reshape(-1), x.shape, sparsity)
    return Prepared(output_shapes=[x.shape], data=DensifyData(dense))


def invoke_densify(data: DensifyData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Copy the dense value decoded at prepare."""
    np.copyto(outputs[0], data.dense)


def densify(values: np.ndarray, dense_shape: tuple[int, ...], sparsity: Sparsity) -> np.ndarray:
    """The dense array a TACO-encoded sparse tensor stands for.

    Levels are walked in traversal order; each level turns every partial path into
    its children (all ``dense_size`` of them for DENSE, the CSR segment's entries
    for SPARSE_CSR). The leaves, in order, are the stored values.
    """
    rank = len(dense_shape)
    order = [int(d) for d in sparsity.traversal_order]
    block_map = [int(d) for d in sparsity.block_map]
    levels = sparsity.dim_metadata
    _check_layout(rank, order, block_map, levels)
    paths = np.zeros(1, np.int64)  # the position of each partial path in its level
    coords: list[np.ndarray] = []
    for level, meta in enumerate(levels):
        if meta.format == DimensionType.DENSE:
            size = int(meta.dense_size)
            parents = np.repeat(np.arange(len(paths)), size)
            children = np.tile(np.arange(size, dtype=np.int64), len(paths))
            paths = paths[parents] * size + children
            coords = [c[parents] for c in coords] + [children]
        else:
            parents, paths, coord = _csr_children(level, meta, paths)
            coords = [c[parents] for c in coords] + [coord]
    if len(paths) > len(values):
        raise PrepareError(f"sparse tensor lists {len(paths)} values but stores {len(values)}")
    index = _dense_index(dense_shape, order, block_map, levels, coords)
    dense = np.zeros(dense_shape, values.dtype)
    dense.reshape(-1)[index] = values[: len(paths)]
    return dense


def _check_layout(rank: int, order: list[int], block_map: list[int], levels: list) -> None:
    total = rank + len(block_map)
    if sorted(order) != list(range(total)) or sorted(order[:rank]) != list(range(rank)):
        raise PrepareError(
            f"sparsity traversal_order {order} is not a permutation of the {rank} dims "
            f"followed by the {len(block_map)} block dims"
        )
    if len(levels) != total:
        raise PrepareError(f"sparsity has {len(levels)} dim_metadata for {total} dims")
    if any(not 0 <= d < rank for d in block_map):
        raise PrepareError(f"sparsity block_map {block_map} names dims outside rank {rank}")
    for level in range(rank, total):
        if levels[level].format != DimensionType.DENSE:
            raise PrepareError("sparse block dimensions are not supported (blocks are dense)")


def _csr_children(
    level: int, meta: Any, paths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(parent of each child, child position, child coordinate) of a SPARSE_CSR level."""
    segments = np.asarray(meta.array_segments, np.int64)
    indices = np.asarray(meta.array_indices, np.int64)
    if len(paths) and paths.max() + 1 >= len(segments):
        raise PrepareError(f"sparsity level {level}: array_segments too short")
    starts = segments[paths]
    counts = segments[paths + 1] - starts
    if np.any(counts < 0):
        raise PrepareError(f"sparsity level {level}: array_segments decrease")
    parents = np.repeat(np.arange(len(paths)), counts)
    first_child = np.cumsum(counts) - counts
    children = np.arange(int(counts.sum()), dtype=np.int64) - first_child[parents] + starts[parents]
    if len(children) and children.max() >= len(indices):
        raise PrepareError(f"sparsity level {level}: array_indices too short")
    return parents, children, indices[children]


def _dense_index(
    dense_shape: tuple[int, ...],
    order: list[int],
    block_map: list[int],
    levels: list,
    coords: list[np.ndarray],
) -> np.ndarray:
    """Flat dense index of every stored value from its per-level coordinates."""
    rank = len(dense_shape)
    position: list[np.ndarray] = [np.zeros(0, np.int64)] * rank
    for level in range(rank):
        position[order[level]] = coords[level]
    block_size = {
        order[level] - rank: int(levels[level].dense_size) for level in range(rank, len(order))
    }
    for level in range(rank, len(order)):
        block = order[level] - rank
        dim = block_map[block]
        position[dim] = position[dim] * block_size[block] + coords[level]
    for dim, (where, size) in enumerate(zip(position, dense_shape)):
        if len(where) and (where.min() < 0 or where.max() >= size):
            raise PrepareError(f"sparse tensor has an index out of range in dimension {dim}")
    if rank == 0:
        return np.zeros(len(coords[0]) if coords else 1, np.int64)
    return np.ravel_multi_index(position, dense_shape)


_KERNEL: dict[str, Any] = {}
QUANTIZE_INTS = (np.int8, np.uint8, np.int16)


def _quantize_f32() -> Any:
    """``_qelementwise.quantize_f32`` (looked up once), or None when extensions are not built."""
    if "f32" not in _KERNEL:
        try:
            from ._qelementwise import quantize_f32
        except ImportError:
            quantize_f32 = None
        _KERNEL["f32"] = quantize_f32
    return _KERNEL["f32"]


_INT_RANGE = {
    np.dtype(t): (np.iinfo(t).min, np.iinfo(t).max) for t in (np.int8, np.uint8, np.int16)
}


def invoke_quantize_opt(data: Any, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Requantizing: table gathers; float input per tensor: one C loop (the numpy
    reference costs ~15 array passes, which dominates small models' input QUANTIZE)."""
    if not isinstance(data, AffineData):
        _qrequantize().invoke_optimized(data, inputs, outputs)
        return
    x, out = inputs[0], outputs[0]
    kernel = _quantize_f32() if data.scale.ndim == 0 and data.blocked else None
    limits = _INT_RANGE.get(out.dtype)
    if kernel is None or limits is None or x.dtype != np.float32:
        invoke_quantize(data, inputs, outputs)
        return
    flat = x.reshape(-1) if x.flags.c_contiguous else np.ascontiguousarray(x).reshape(-1)
    result = np.empty(flat.size, np.int32)
    scale = data.scale.item()
    reciprocal = 1.0 / scale  # the C code stores it as a float: 1.0f / (double)scale
    limit = flat.size - flat.size % QUANTIZE_BLOCK
    kernel(flat, result, reciprocal, scale, data.zero_point.item(), *limits, limit)
    out[...] = result.reshape(out.shape)


KERNELS = {
    BuiltinOperator.QUANTIZE: KernelSpec(
        prepare=prepare_quantize,
        invoke=invoke_quantize,
        versions=(1, 3),
        invoke_opt=invoke_quantize_opt,
    ),
    BuiltinOperator.DEQUANTIZE: KernelSpec(
        prepare=prepare_dequantize, invoke=invoke_dequantize, versions=(1, 5)
    ),
    BuiltinOperator.DENSIFY: KernelSpec(prepare=prepare_densify, invoke=invoke_densify),
}
