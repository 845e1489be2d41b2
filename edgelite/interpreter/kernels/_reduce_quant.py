"""Quantized MEAN, SUM and REDUCE_PROD (int8, uint8, int16) as ai-edge-litert computes them.

Each op has several official code paths; which one runs decides the integers, so
prepare picks the path exactly as TFLite's reduce.cc does (verified against
ai-edge-litert 2.3.0 on x86-64, tests/kernels/test_reduce_quant.py):

MEAN, int8/uint8 input of rank 4, axis tensor exactly [1, 2] or [2, 1], keep_dims
    ("Mean4D", the global-average-pool shape): the sum of each channel is scaled
    by one multiplier for ``s_in / (count * s_out)`` (computed in float32) and
    offset by ``z_out - round(z_in * s_in / s_out)`` (float32, halves away from
    zero). The optimized kernel multiplies 16 channels at a time with the
    "double_up" rounding and the remaining channels of each thread's range with
    the scalar "double" form, so the rounding depends on the channel (and on the
    thread split, mirrored here).
MEAN, every other case (int16 always)
    ``QuantizedMeanOrSum``: the multiplier of ``s_in / s_out`` absorbs ``1/count``
    (``(m << k) // count`` with ``k = floor(log2(count))`` clamped to 32 and
    ``31 + shift``) and is applied with "double" rounding to ``sum - z_in * count``.
SUM (int8, uint8, int16)
    float32 arithmetic: ``round(float(sum) * s + bias) + z_out`` with
    ``s = s_in / s_out`` and ``bias = -z_in * s * count``, halves away from zero,
    clamped; no fixed-point multiplier, so ``rounding`` does not apply.
REDUCE_PROD (int8, int16 with quantization parameters)
    each step multiplies the running int32 product by ``q - z_in`` and rescales
    with the 64-bit MultiplyByQuantizedMultiplier (the same code in every build)
    by ``s_in / s_out^(1/count)``; the final product is rescaled once more. When
    no reduced axis is longer than 1 the optimized kernel copies the raw values,
    whatever the parameters.

Under rounding="reference" the official reference kernels (BUILTIN_REF) are reproduced:
MEAN always takes the ``QuantizedMeanOrSum`` path (no Mean4D); SUM is
``QuantizedMeanOrSum`` too, with the multiplier of ``s_in / s_out`` (no 1/count) and
"double" rounding instead of float arithmetic; REDUCE_PROD multiplies each output's
elements in row-major input order (the optimized kernel follows the axis list) and
never takes the copy shortcut.

Sums are int32 in TFLite (they wrap past 2^31); the kernels here add in int64 and
wrap the same way. An empty input gives raw zeros for MEAN and SUM, like TFLite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from . import fixedpoint as fp
from ._qparams import check_int16_symmetric, per_tensor, reference_rounding, rounding_mode
from .base import Node, PrepareError, TensorInfo

try:
    from . import _qreduce  # type: ignore[attr-defined]
except ImportError:  # extensions not built: the reference kernels still run
    _qreduce = None  # type: ignore[assignment]

MEAN, MEAN4D, SUM, PROD, COPY = "mean", "mean4d", "sum", "prod", "copy"
# Channels the official Mean4D kernel multiplies per vector step.
_VECTOR = 16
# Mean4D gives each thread at least this many channels.
_MIN_DEPTH_PER_THREAD = 8


@dataclass(frozen=True)
class QuantReduce:
    """The prepared integer reduction (fields unused by a path keep their defaults)."""

    path: str  # MEAN, MEAN4D, SUM, PROD or COPY
    in_zero_point: int
    out_zero_point: int
    low: int  # output type range
    high: int
    multiplier: int = 0
    shift: int = 0
    rounding: str = fp.DEFAULT_ROUNDING
    # MEAN4D: per channel, the rounding of the official vector loop (True) or tail (False)
    vector_channels: np.ndarray | None = None
    vector_rounding: str = "double_up"
    bias: int = 0  # MEAN4D: added after the multiplier
    scale: float = 0.0  # SUM: s_in / s_out in float32
    sum_bias: float = 0.0  # SUM: -z_in * scale * count in float32
    # The optimized kernel's (outer, reduce, inner) block and per-inner vector flags
    block: tuple[int, int, int] | None = None
    fast_mask: np.ndarray | None = None
    row_major: bool = False  # PROD: multiply in row-major input order (reference kernel)


def vector_channels(depth: int, threads: int) -> np.ndarray:
    """Channels the official Mean4D kernel handles in its 16-wide loop, per thread split."""
    tasks = min(max(depth // _MIN_DEPTH_PER_THREAD, 1), max(threads, 1))
    mask = np.zeros(depth, bool)
    start = 0
    for i in range(tasks):
        end = start + (depth - start) // (tasks - i)
        mask[start : start + (end - start) // _VECTOR * _VECTOR] = True
        start = end
    return mask


def is_mean4d(x: TensorInfo, raw_axes: list[int], keep: bool) -> bool:
    """Whether TFLite runs its special 4-D average-pool MEAN kernel for this node."""
    # The axes are resolved first (negative ones wrapped, repeats dropped).
    resolved = list(dict.fromkeys(a + 4 if a < 0 else a for a in raw_axes))
    return (
        x.dtype in (np.int8, np.uint8)
        and keep
        and len(x.shape) == 4
        and resolved in ([1, 2], [2, 1])
    )


def _multiplier(real: float, rounding: str) -> tuple[int, int]:
    """QuantizeMultiplier, refusing ratios whose shift MultiplyByQuantizedMultiplier rejects."""
    multiplier, shift = fp.quantize_multiplier(real, rounding)
    if shift > 30:
        raise PrepareError(
            f"the input/output scale ratio {real:g} is too large for a quantized reduction"
        )
    return multiplier, shift


def _params(node: Node, x: TensorInfo, out: TensorInfo) -> tuple[float, int, float, int]:
    s_in, z_in = per_tensor(x, "input")
    s_out, z_out = per_tensor(out, "output")
    check_int16_symmetric(x, z_in, "input")
    check_int16_symmetric(out, z_out, "output")
    return s_in, z_in, s_out, z_out


def prepare_mean(
    node: Node, x: TensorInfo, out: TensorInfo, count: int, mean4d: bool, total: bool = False
):
    """The prepared quantized MEAN (see the module docstring for the two paths).

    ``total``: the reference kernels' SUM, which is this path without the 1/count.
    """
    s_in, z_in, s_out, z_out = _params(node, x, out)
    limits = np.iinfo(x.dtype)
    if mean4d and not reference_rounding(node):
        f32 = np.float32
        offset = f32(f32(z_in) * f32(s_in)) / f32(s_out)
        offset = offset + f32(0.5) if offset > 0 else offset - f32(0.5)
        real = f32(s_in) / (f32(count) * f32(s_out))
        multiplier, shift = _multiplier(float(real), rounding_mode(node, "double"))
        return QuantReduce(
            MEAN4D,
            z_in,
            z_out,
            int(limits.min),
            int(limits.max),
            multiplier,
            shift,
            rounding=rounding_mode(node, "double"),
            vector_channels=vector_channels(x.shape[3], node.num_threads),
            vector_rounding=rounding_mode(node, "double_up"),
            bias=z_out - int(offset),
        )
    rounding = rounding_mode(node, "double")
    multiplier, shift = _multiplier(s_in / s_out, rounding)
    if count > 0 and not total:
        # Fold 1/count into the multiplier as TFLite does (keeping the shift >= -31).
        k = min(count.bit_length() - 1, 32, 31 + shift)
        multiplier, shift = (multiplier << k) // count, shift - k
    return QuantReduce(
        MEAN, z_in, z_out, int(limits.min), int(limits.max), multiplier, shift, rounding
    )


def prepare_sum(node: Node, x: TensorInfo, out: TensorInfo, count: int) -> QuantReduce:
    """The prepared quantized SUM (float32 rescaling; the reference kernels' integer form)."""
    if reference_rounding(node):
        return prepare_mean(node, x, out, count, False, total=True)
    s_in, z_in, s_out, z_out = _params(node, x, out)
    limits = np.iinfo(x.dtype)
    scale = np.float32(s_in) / np.float32(s_out)
    bias = np.float32(np.float32(-z_in) * scale) * np.float32(count)
    return QuantReduce(
        SUM, z_in, z_out, int(limits.min), int(limits.max), scale=float(scale), sum_bias=float(bias)
    )


def prepare_prod(
    node: Node, x: TensorInfo, out: TensorInfo, axes: tuple[int, ...], count: int
) -> QuantReduce:
    """The prepared quantized REDUCE_PROD (int8, int16)."""
    if x.dtype == np.uint8:
        raise PrepareError("quantized REDUCE_PROD supports int8 and int16, not uint8")
    s_in, z_in, s_out, z_out = _params(node, x, out)
    limits = np.iinfo(x.dtype)
    row_major = reference_rounding(node)
    if all(x.shape[a] == 1 for a in axes) and not row_major:
        return QuantReduce(COPY, z_in, z_out, int(limits.min), int(limits.max))
    multiplier = shift = 0
    if count > 0:
        scaling = s_in / math.pow(s_out, 1.0 / count)
        multiplier, shift = fp.quantize_multiplier(scaling)
        if not -31 <= shift <= 7:
            raise PrepareError(
                f"REDUCE_PROD rescale factor {scaling:g} per element is out of the range the "
                "64-bit multiplier supports (shift must be in [-31, 7])"
            )
    return QuantReduce(
        PROD, z_in, z_out, int(limits.min), int(limits.max), multiplier, shift, row_major=row_major
    )


# -- invoke (numpy reference) ------------------------------------------------------------


def _sum32(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Per-output int32 sums as TFLite keeps them (wrapping), as int64, reduced axes kept."""
    return fp.wrap(np.sum(x, axis=axes, dtype=np.int64, keepdims=True))


def _mean(q: QuantReduce, x: np.ndarray, axes: tuple[int, ...], count: int) -> np.ndarray:
    shifted = fp.wrap(_sum32(x, axes) - q.in_zero_point * count)
    scaled = fp.multiply_by_quantized_multiplier(shifted, q.multiplier, q.shift, q.rounding)
    return np.asarray(scaled, np.int64) + q.out_zero_point


def _mean4d(q: QuantReduce, x: np.ndarray) -> np.ndarray:
    acc = _sum32(x, (1, 2))
    assert q.vector_channels is not None
    tail = fp.multiply_by_quantized_multiplier(acc, q.multiplier, q.shift, q.rounding)
    vector = fp.multiply_by_quantized_multiplier(acc, q.multiplier, q.shift, q.vector_rounding)
    return np.where(q.vector_channels, vector, tail).astype(np.int64) + q.bias


def _sum(q: QuantReduce, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    # float32 throughout, in TFLite's order: sum * scale, then + bias, then round.
    scaled = _sum32(x, axes).astype(np.float32) * np.float32(q.scale)
    value = fp.round_half_away_from_zero(scaled + np.float32(q.sum_bias))
    value = value + np.float32(q.out_zero_point)
    return np.clip(value, q.low, q.high).astype(np.int64)


def _prod(q: QuantReduce, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    # Each output multiplies its elements in input order: the reduced axes, moved to
    # the front in order and flattened, enumerate them in that order.
    if q.row_major:
        axes = tuple(sorted(axes))
    front = np.moveaxis(x, axes, tuple(range(len(axes))))
    count = math.prod(front.shape[: len(axes)])
    rows = front.reshape(count, -1).astype(np.int64) - q.in_zero_point
    product = rows[0]
    for row in rows[1:]:
        product = fp.multiply_by_quantized_multiplier_int64(product * row, q.multiplier, q.shift)
        product = np.asarray(product, np.int64)
    result = fp.multiply_by_quantized_multiplier_int64(product, q.multiplier, q.shift)
    shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    return (np.asarray(result, np.int64) + q.out_zero_point).reshape(shape)


def invoke(q: QuantReduce, x: np.ndarray, view: np.ndarray, axes: tuple[int, ...], count: int):
    """Compute into ``view`` (the output with the reduced axes kept as size 1)."""
    if x.size == 0:
        view.fill(0)
        return
    if q.path == MEAN4D:
        result = _mean4d(q, x)
    elif q.path == MEAN:
        result = _mean(q, x, axes, count)
    elif q.path == SUM:
        result = _sum(q, x, axes)
    elif q.path == COPY:
        result = x.reshape(view.shape)
    else:
        result = _prod(q, x, axes)
    np.copyto(view, np.clip(result, q.low, q.high), casting="unsafe")


# -- invoke (optimized) ------------------------------------------------------------------


def with_block(q: QuantReduce, block: tuple[int, int, int] | None) -> QuantReduce:
    """``q`` prepared for the optimized kernel when the reduced axes form one block."""
    if block is None or _qreduce is None or q.path not in (MEAN, MEAN4D, SUM):
        return q
    inner = block[2]
    if q.path == MEAN4D:
        assert q.vector_channels is not None and len(q.vector_channels) == inner
        mask = q.vector_channels.astype(np.uint8)
    else:
        mask = np.zeros(inner, np.uint8)
    return replace(q, block=block, fast_mask=mask)


def invoke_opt(q: QuantReduce, x: np.ndarray, out: np.ndarray, threads: int) -> bool:
    """Run the Cython kernel if ``with_block`` prepared one; False: use the reference."""
    if q.block is None or x.size == 0:
        return False
    tail, vector = fp.rounding_code(q.rounding), fp.rounding_code(q.vector_rounding)
    _qreduce.run(x, out, q.block, q.path, q, q.fast_mask, tail, vector, threads)
    return True
