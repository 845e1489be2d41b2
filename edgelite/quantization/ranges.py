"""Recorded value ranges on float tensors, and TensorFlow's fake-quantization arithmetic.

A model trained with quantization-aware training (QAT) carries fake-quant nodes whose
learned ``[min, max]`` say how each tensor is to be quantized. The converter keeps
them as *range annotations*: a float32 tensor whose QuantizationParameters hold
``min``/``max`` but no scale. That is valid TFLite (runtimes only look at the scale),
so the annotations survive in a float ``.tflite`` file, and the quantizer can make an
int8 model from them without calibration data.

The annotation means: the tensor's values lie on the 256-level affine grid that maps
``[min, max]`` onto ``[-128, 127]``. Activation ranges are stored as learned (the
quantizer derives scale and zero point from them as the official converter does);
narrow-range and zero-excluding ranges are first turned into the equivalent full
grid. Weights carry one range per channel along ``quantized_dimension``.
"""

from __future__ import annotations

import numpy as np

from ..schema.model import QuantizationParameters, Tensor

FULL_STEPS = 255  # an 8-bit grid has 256 levels


def is_quantized(tensor: Tensor) -> bool:
    """True when ``tensor`` has real quantization parameters (a scale), not just a range."""
    q = tensor.quantization
    return q is not None and not q.is_empty


def recorded_range(tensor: Tensor) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(min, max, axis) of a float tensor's range annotation, or None."""
    q = tensor.quantization
    if q is None or not q.is_empty or q.min is None or q.max is None:
        return None
    if len(q.min) == 0 or len(q.min) != len(q.max):
        return None
    return np.asarray(q.min, np.float64), np.asarray(q.max, np.float64), q.quantized_dimension


def record_range(tensor: Tensor, lo: np.ndarray, hi: np.ndarray, axis: int = 0) -> None:
    """Annotate ``tensor`` with the grid range ``[lo, hi]`` (per channel along ``axis``).

    Kept as float64 in memory so a range derived by nudging keeps its exact scale when
    the quantizer runs right after the converter; a file stores float32.
    """
    tensor.quantization = QuantizationParameters(
        min=np.atleast_1d(np.asarray(lo, np.float64)),
        max=np.atleast_1d(np.asarray(hi, np.float64)),
        quantized_dimension=int(axis),
    )


def clear_range(tensor: Tensor) -> None:
    """Drop a range annotation (real quantization parameters stay)."""
    if tensor.quantization is not None and recorded_range(tensor) is not None:
        tensor.quantization = None


def _nudge(
    lo: np.ndarray, hi: np.ndarray, narrow: bool, dtype: type
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """TensorFlow's 8-bit nudging in ``dtype`` arithmetic.

    Returns (scale, inverse scale, nudged min, nudged max). The zero point moves to the
    nearest integer of the quantized range [0 or 1, 255] (clamped to it), so that real
    0.0 is exactly representable; min and max move with it. The inverse is computed
    from the range, not as 1/scale, as TensorFlow does.
    """
    lo, hi = np.asarray(lo, dtype), np.asarray(hi, dtype)
    qmin, qmax = dtype(1 if narrow else 0), dtype(FULL_STEPS)
    width = np.where(hi > lo, hi - lo, dtype(1.0)).astype(dtype)  # an empty range: unused
    scale = (width / (qmax - qmin)).astype(dtype)
    inverse = ((qmax - qmin) / width).astype(dtype)
    zp_from_min = (qmin - lo / scale).astype(dtype)
    # Only values inside [qmin, qmax] (>= 0) are rounded: floor(x + 0.5) is std::round.
    zero_point = np.clip(np.floor(zp_from_min + dtype(0.5)), qmin, qmax).astype(dtype)
    nudged_min = ((qmin - zero_point) * scale).astype(dtype)
    nudged_max = ((qmax - zero_point) * scale).astype(dtype)
    return scale, inverse, nudged_min, nudged_max


def fake_quant(
    values: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    narrow: bool = False,
    divide: bool = False,
) -> np.ndarray:
    """TensorFlow's 8-bit FakeQuantWithMinMax{Vars,Args}[PerChannel] on float32 ``values``.

    ``lo``/``hi`` are scalars, or one per channel along the last axis (as TensorFlow's
    per-channel op defines). The arithmetic is float32 step by step like TensorFlow's
    kernels, so folded weights equal what the source framework computes: the
    per-tensor Vars kernel divides by the scale (``divide``), the others multiply by
    the inverse. A [0, 0] range gives zeros.
    """
    f32 = np.float32
    x = np.asarray(values, f32)
    lo, hi = np.asarray(lo, f32), np.asarray(hi, f32)
    scale, inverse, nudged_min, nudged_max = _nudge(lo, hi, narrow, f32)
    quant_zero = np.floor((-nudged_min * inverse).astype(f32) + f32(0.5)).astype(f32)
    shifted = (np.clip(x, nudged_min, nudged_max) - nudged_min).astype(f32)
    steps = (shifted / scale if divide else shifted * inverse).astype(f32)
    levels = np.floor((steps - quant_zero).astype(f32) + f32(0.5)).astype(f32)
    result = (levels * scale).astype(f32)
    return np.where((lo == 0) & (hi == 0), f32(0.0), result).astype(f32)


def grid_range(
    lo: np.ndarray, hi: np.ndarray, narrow: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The annotation of an 8-bit fake-quant range: the 256-level grid it defines.

    A plain range that holds 0 is kept as learned (the quantizer derives the same scale
    and zero point from it as TensorFlow's nudging). Otherwise (a narrow range, or one
    that excludes 0 and so has its zero point clamped) the nudged grid is extended to
    all 256 levels: the same values are representable, at the same scale.
    """
    lo64, hi64 = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    if (not narrow and np.all(lo64 <= 0) and np.all(hi64 >= 0)) or not np.any(hi64 > lo64):
        return lo64, hi64
    scale, _, nudged_min, _ = _nudge(lo64, hi64, narrow, np.float64)
    low = nudged_min - (scale if narrow else 0.0)  # the level below a narrow range's first
    return low, low + FULL_STEPS * scale


def symmetric_weight_scales(tensor: Tensor, channels: int, axis: int | None) -> np.ndarray | None:
    """int8 weight scales a recorded range defines, if it is symmetric (zero point 0).

    ``axis``: the per-channel axis the quantizer chose (None: one scale). A per-channel
    range read per tensor takes the widest channel's scale; a per-tensor range read per
    channel repeats its one scale. None when nothing usable is recorded.
    """
    found = recorded_range(tensor)
    if found is None:
        return None
    lo, hi, recorded_axis = found
    if len(lo) > 1 and (axis is not None and (recorded_axis != axis or len(lo) != channels)):
        return None
    scale = (hi - lo) / FULL_STEPS
    if np.any(scale <= 0) or np.any(np.abs(lo / scale + 128.0) > 1e-3):
        return None  # zero point not 0: int8 weights must be symmetric
    # A symmetric grid's step is the weight scale: its levels are -128..127 steps.
    if axis is None:
        return np.asarray([scale.max()], np.float32)
    if len(scale) == 1:
        return np.full(channels, scale[0], np.float32)
    return scale.astype(np.float32)


def carried_axis(
    axis: int, old_shape: list[int], new_shape: list[int], perm: list[int] | None = None
) -> int | None:
    """Where per-channel ``axis`` lands after a TRANSPOSE (``perm``) or a RESHAPE.

    A reshape keeps the channels only if the axis keeps its size and everything before
    it keeps its element count; None when the channels are mixed up.
    """
    if perm is not None:
        return list(perm).index(axis) if axis in perm else None
    if not 0 <= axis < len(old_shape):
        return None
    before, size = int(np.prod(old_shape[:axis], dtype=np.int64)), old_shape[axis]
    running = 1
    for i, d in enumerate(new_shape):
        if running == before and d == size:
            return i
        running *= d
    return None


def carry_range(source: Tensor, target: Tensor, perm: list[int] | None = None) -> None:
    """Give ``target`` (a moved copy of ``source``'s values) ``source``'s range annotation."""
    found = recorded_range(source)
    if found is None or recorded_range(target) is not None or is_quantized(target):
        return
    lo, hi, axis = found
    if len(lo) > 1:
        moved = carried_axis(axis, list(source.shape), list(target.shape), perm)
        if moved is None:
            return
        axis = moved
    record_range(target, lo, hi, axis if len(lo) > 1 else 0)
