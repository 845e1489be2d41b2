"""Quantized DIV (int8, uint8, int16): prepare, numpy reference and the table kernel.

TFLite's integer division (reference_ops::DivElementwise, which is also what the
official BUILTIN kernels run on x86 for every quantized type, with or without
broadcasting). With ``x = a - zp_a`` and ``y = b - zp_b`` (both negated when y < 0):

* ``1/y`` as GetReciprocal(y, 31): a Q0.31 mantissa and ``recip_shift`` bits,
* ``x`` normalised by its redundant sign bits (``headroom``) and multiplied by that
  mantissa (MultiplyByQuantizedMultiplierGreaterThanOne),
* the quotient rescaled by ``s_a / (s_b * s_out)`` (float32 arithmetic, as Prepare)
  with the total shift ``output_shift - recip_shift - headroom``, then the zero point
  and the fused activation's clamp.

The total shift is a right shift of up to 77 bits, but gemmlowp's RoundingDivideByPOT
is only defined up to 31: above that the official runtime computes what x86 makes of
it (shift counts taken mod 64 for the mask, mod 32 for the value). Small quotients
(x near 0, a large divisor, ``0 / y``) then come out as ``(v >> (e % 32)) + (v >= 0)``
instead of 0, which often saturates; :func:`_rounding_divide_by_pot` reproduces that,
so the results match the oracle bit for bit. A divisor equal to its zero point fails at
invoke, as in the official kernel.

8-bit results depend on the (a, b) byte pair only: the optimized kernel looks them up
in a 65536-entry table filled by the reference at prepare (``walk_pair_table``);
int16 computes element by element in ``_qdivide.div16`` (Cython).

8/16-bit FLOOR_DIV (quantized or not: TFLite ignores the parameters) is here too,
for how its one overflowing case comes back (:func:`floor_div_narrow`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import fixedpoint as fp
from . import fixedpoint_math as fm
from ._qbinary import walk_pair_table
from ._qbinary_params import activation_bounds
from ._qparams import per_tensor, rounding_mode
from .base import Node, Prepared, PrepareError, broadcast_shape

try:
    from . import _qelementwise  # type: ignore[attr-defined]  # Cython, no stub
except ImportError:  # extensions not built: the reference kernel still runs (no table)
    _qelementwise = None  # type: ignore[assignment]
try:
    from . import _qdivide  # type: ignore[attr-defined]  # Cython, no stub
except ImportError:  # not built: int16 runs the numpy arithmetic
    _qdivide = None  # type: ignore[assignment]

_TYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


class QDivData:
    """Offsets, multiplier, clamp and (8-bit) pair table of a quantized DIV."""

    # ``op`` tells elementwise_binary's invoke that this data runs its own kernels.
    op = "DIV"
    __slots__ = (
        "act_max", "act_min", "dtype", "multiplier", "num_threads", "offsets", "output_offset",
        "params", "table",
    )  # fmt: skip

    def __init__(
        self,
        dtype: np.dtype,
        offsets: tuple[int, int],  # the input zero points (subtracted)
        output_offset: int,
        multiplier: tuple[int, int],  # QuantizeMultiplier(s_a / (s_b * s_out))
        act_min: int,
        act_max: int,
        num_threads: int = 1,
    ) -> None:
        self.dtype = dtype
        self.offsets = offsets
        self.output_offset = output_offset
        self.multiplier = multiplier
        self.act_min = act_min
        self.act_max = act_max
        self.num_threads = num_threads
        self.table: np.ndarray | None = None  # (1, 65536) results by (a, b) byte, as bytes
        # The C struct of _qdivide.div16 (int16).
        self.params = dict(
            offset1=offsets[0], offset2=offsets[1], output_offset=output_offset,
            multiplier=multiplier[0], shift=multiplier[1], act_min=act_min, act_max=act_max,
        )  # fmt: skip

    def reference(self, inputs: list[Any], outputs: list[np.ndarray]) -> None:
        """The numpy arithmetic over the broadcast inputs."""
        out = outputs[0]
        _check_divisor(self, inputs[1])
        out[...] = divide(np.asarray(inputs[0]), np.asarray(inputs[1]), self)

    def optimized(self, inputs: list[Any], outputs: list[np.ndarray]) -> None:
        """8-bit: the pair-table walk; int16: the Cython kernel (else the reference)."""
        _check_divisor(self, inputs[1])
        a, b, out = inputs[0], inputs[1], outputs[0]
        if self.table is not None:
            done = walk_pair_table(self.table, a, b, out)
        else:
            done = self.dtype == np.int16 and _divide16(self, a, b, out)
        if not done:
            out[...] = divide(np.asarray(a), np.asarray(b), self)


def prepare(node: Node) -> Prepared:
    """Validate a quantized DIV and precompute its multiplier, clamp and table."""
    a, b, out = node.input(0), node.input(1), node.outputs[0]
    if a.dtype not in _TYPES:
        raise PrepareError(
            f"quantized DIV supports int8, uint8 and int16; input {a.name!r} is {a.dtype.name}"
        )
    for info, what in ((b, "input"), (out, "output")):
        if info.dtype != a.dtype:
            raise PrepareError(
                f"{what} {info.name!r} is {info.dtype.name}; quantized DIV needs every tensor "
                f"{a.dtype.name}"
            )
    if rounding_mode(node, "double") == "single":
        # Single-rounding MultiplyByQuantizedMultiplier allows left shifts up to 30, but the
        # numerator normalisation shifts by up to 31: no defined answer to reproduce.
        raise PrepareError(
            "quantized DIV has no TFLITE_SINGLE_ROUNDING form here; use rounding "
            "'tflite', 'reference' or 'double'"
        )
    (s_a, z_a), (s_b, z_b) = per_tensor(a, "input"), per_tensor(b, "input")
    s_out, z_out = per_tensor(out, "output")
    # input1_scale / (input2_scale * output_scale), all float32 in the C++ Prepare.
    real = float(np.float32(s_a) / (np.float32(s_b) * np.float32(s_out)))
    multiplier = fp.quantize_multiplier(real, "double")
    _check_shift_range(multiplier[1], a, z_a, real)
    act = getattr(node.options, "fused_activation_function", 0)
    act_min, act_max = activation_bounds(act, s_out, z_out, a.dtype)
    shape = broadcast_shape(a.shape, b.shape)
    threads = max(node.num_threads, 1)
    data = QDivData(a.dtype, (z_a, z_b), z_out, multiplier, act_min, act_max, threads)
    if _qelementwise is not None and a.dtype.itemsize == 1:
        data.table = _pair_table(data)
    return Prepared(output_shapes=[shape], data=data)


def _check_shift_range(output_shift: int, a: Any, zero_point: int, real: float) -> None:
    """The total shift must not turn into a left shift (undefined in the C kernel).

    It is largest for the divisor 1 (no reciprocal shift) and the numerator with the
    fewest redundant sign bits, i.e. the largest |a - zp|.
    """
    info = np.iinfo(a.dtype)
    extremes = np.array([info.min - zero_point, info.max - zero_point], np.int64)
    headroom = int(_leading_sign_bits(np.concatenate([extremes, -extremes])).min())
    if output_shift > headroom:
        raise PrepareError(
            f"DIV rescale factor {real:.6g} (input scale / (divisor scale * output scale)) is "
            f"too large for TFLite's integer division of {a.dtype.name} values; it needs "
            f"output_shift <= {headroom}, got {output_shift}"
        )


def _check_divisor(data: QDivData, divisor: Any) -> None:
    # The official kernel checks every divisor element against its zero point first.
    if np.any(np.asarray(divisor) == data.offsets[1]):
        raise ZeroDivisionError(
            "DIV: the divisor holds its zero point (a real 0); the official runtime fails too"
        )


def _leading_sign_bits(values: np.ndarray) -> np.ndarray:
    """CountLeadingSignBits of int32 values (31 for 0, 0 for INT32_MIN)."""
    magnitude = np.where(values >= 0, values, ~values)
    return fm.count_leading_zeros32(magnitude).astype(np.int64) - 1


def _rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT as the x86 build computes it for exponents 0..77.

    C builds the mask as ``int32((1ll << e) - 1)`` and shifts ``x >> e`` in int32; x86
    takes shift counts mod 64 and mod 32. So from e = 32 the mask is all ones (until
    e = 64 starts it over) and x is shifted by e % 32; below 32 this is the exact
    rounding shift. Measured: 0 / y gives 1 for 32 <= e < 64 and 0 again from 64.
    """
    mask = fp.wrap((np.int64(1) << (exponent & 63)) - 1)
    remainder = x & mask
    threshold = fp.wrap((mask >> 1) + (x < 0))
    return fp.wrap((x >> (exponent & 31)) + (remainder > threshold))


def divide(a: np.ndarray, b: np.ndarray, data: QDivData) -> np.ndarray:
    """DivElementwise on broadcasting raw inputs (divisors already checked), as int64.

    What depends on one input only (the reciprocal of the divisor, the normalised
    numerator for either divisor sign) is computed over that input's own shape.
    """
    x = a.astype(np.int64) - data.offsets[0]
    y = b.astype(np.int64) - data.offsets[1]
    # The reciprocal needs a positive divisor: the sign moves onto the numerator.
    negative = y < 0
    # y == 0 only reaches here in table entries that invoke never reads (it fails first).
    reciprocal, recip_shift = fm.get_reciprocal(np.maximum(np.abs(y), 1), 31)
    (kept, kept_headroom), (flipped, flipped_headroom) = _normalise(x), _normalise(-x)
    numerator = np.where(negative, flipped, kept)
    headroom = np.where(negative, flipped_headroom, kept_headroom)
    # MultiplyByQuantizedMultiplierGreaterThanOne(x, 1/y, headroom), then the output
    # multiplier with the total (right) shift: two double-rounding steps.
    unscaled = fp._srdhm(numerator, reciprocal.astype(np.int64), 32)
    multiplier, shift = data.multiplier
    total_shift = shift - recip_shift.astype(np.int64) - headroom  # <= 0 (checked at prepare)
    scaled = fp._srdhm(unscaled, np.int64(multiplier), 32)
    result = _rounding_divide_by_pot(scaled, -total_shift) + data.output_offset
    return np.clip(result, data.act_min, data.act_max)


def _normalise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x << headroom, headroom) with headroom = CountLeadingSignBits(x).

    The shift never overflows int32 except -1 << 31, which wraps to INT32_MIN as in C.
    """
    headroom = _leading_sign_bits(x)
    return fp.wrap(x << headroom), headroom


def _pair_table(data: QDivData) -> np.ndarray:
    """The result of every (a byte, b byte) pair, one row of bytes for walk_pair_table."""
    values = np.arange(256, dtype=np.uint8).view(data.dtype)
    result = divide(values[:, None], values[None, :], data)  # [a byte, b byte]
    table = np.ascontiguousarray(result.astype(data.dtype).reshape(1, -1)).view(np.uint8)
    table.flags.writeable = False
    return table


def _divide16(data: QDivData, a: Any, b: Any, out: np.ndarray) -> bool:
    """int16 by ``_qdivide.div16``; False (nothing done) when it cannot run here."""
    if _qdivide is None or out.ndim > 6 or not out.flags.c_contiguous:
        return False
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    shape = (1,) * (6 - out.ndim) + out.shape
    _qdivide.div16(
        a.reshape(-1), b.reshape(-1), out.reshape(-1), shape, _strides(a.shape, shape),
        _strides(b.shape, shape), data.params, data.num_threads,
    )  # fmt: skip
    return True


def _strides(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of a C-contiguous ``shape`` broadcast to 6-d ``out_shape`` (0: repeat)."""
    padded = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    strides, step = [0] * len(out_shape), 1
    for d in range(len(out_shape) - 1, -1, -1):
        strides[d] = step if padded[d] != 1 else 0
        step *= padded[d]
    return tuple(strides)


# -- FLOOR_DIV of 8/16-bit tensors ----------------------------------------------------------


def floor_div_narrow(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """FLOOR_DIV of int8 / int16 tensors (quantized or not: the raw values), into ``out``.

    TFLite takes floor(a / b) in double and converts it back, so only INT_MIN / -1
    leaves the type. How it comes back depends on the loop: with same-shape inputs
    the compiler vectorised the official loop, and its conversion saturates (127) in
    the first ``size - size % 8`` elements, while the scalar rest, like the
    broadcasting kernel, wraps (-128). Measured against ai-edge-litert 2.3.0 (x86-64).
    """
    if not np.all(b):
        raise ZeroDivisionError("FLOOR_DIV: the divisor holds a 0 (the official runtime fails too)")
    with np.errstate(all="ignore"):  # INT_MIN // -1 wraps in numpy too
        np.floor_divide(a, b, out=out)
    info = np.iinfo(out.dtype)
    if a.shape != b.shape or not np.any((a == info.min) & (b == -1)):
        return
    vectorised = out.size - out.size % 8
    in_block = np.arange(out.size).reshape(out.shape) < vectorised
    out[(a == info.min) & (b == -1) & in_block] = info.max
