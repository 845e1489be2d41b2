"""Quantized activations (int8, uint8, int16): prepare and numpy reference.

RELU RELU6 RELU_N1_TO_1 RELU_0_TO_1 LEAKY_RELU HARD_SWISH LOGISTIC TANH ELU GELU,
each as TFLite's BUILTIN kernels compute it (ai-edge-litert 2.3.0, x86-64):

* RELU family: ``zp_out + MultiplyByQuantizedMultiplier(x - zp_in, s_in / s_out)``
  clamped to the quantized activation range (``ReluX``).
* LEAKY_RELU: the same with a second multiplier ``s_in * alpha / s_out`` for negative
  inputs. Both ratios are float32 arithmetic, as in the C++ Prepare.
* HARD_SWISH (8-bit): TFLite's int16 fixed-point recipe (``fixedpoint`` helpers).
* LOGISTIC / TANH (8-bit), ELU (int8), GELU (8-bit): a 256-entry table of the float
  function (``fixedpoint_lut.lut_populate_int8``); GELU (int16): the interpolated
  513-entry table (``fixedpoint_lut.lut_populate_int16``).
* LOGISTIC / TANH (int16): at input scale 2^-12 (TANH also 2^-11) gemmlowp's
  fixed-point functions; at other scales TFLite's 256-entry sigmoid table with
  linear interpolation (:func:`sigmoid_table_uint16`); BUILTIN_REF: always the table.

Every op is a function of one 8- or 16-bit value, so prepare also tabulates the
reference over all 256 / 65536 inputs; the optimized invoke is a gather
(``_qelementwise.lookup8`` / ``lookup16``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from . import fixedpoint as fp
from . import fixedpoint_lut as fl
from . import fixedpoint_math as fm
from ._qparams import check_int16_symmetric, per_tensor, reference_rounding, rounding_mode
from .base import Node, Prepared, PrepareError

try:
    from . import _qelementwise  # type: ignore[attr-defined]  # Cython, no stub
except ImportError:  # extensions not built: the numpy gather still runs
    _qelementwise = None  # type: ignore[assignment]

Compute = Callable[[np.ndarray], np.ndarray]  # raw input values -> int64 results


@dataclass(frozen=True)
class QUnaryData:
    """A quantized elementwise activation, decided at prepare."""

    compute: Compute  # the reference arithmetic on raw input values
    dtype: np.dtype
    table: np.ndarray  # compute() of every input bit pattern, as the output's unsigned type
    num_threads: int = 1
    min_valid: int | None = None  # inputs below this fail at invoke (RSQRT of negatives)


def _f32_ratio(numerator: Any, denominator: Any) -> float:
    """A float32 quotient as the double that C++ passes on (``float / float``)."""
    return float(np.float32(numerator) / np.float32(denominator))


def _mode(node: Node) -> str:
    return "single" if rounding_mode(node, "double") == "single" else "double"


def _mbqm(values: np.ndarray, pair: tuple[int, int], mode: str) -> np.ndarray:
    return fp.multiply_by_quantized_multiplier(fp.wrap(values), pair[0], pair[1], mode).astype(
        np.int64
    )


# -- RELU family, LEAKY_RELU ------------------------------------------------------------


def relu_bounds(low: float, high: float, scale: float, zero_point: int, dtype: np.dtype):
    """QuantizedReluX's clamp: zp + roundf(bound / scale) in float32, within the type."""
    info = np.iinfo(dtype)

    def quantize(value: float) -> int:
        ratio = np.float32(value) / np.float32(scale)
        return zero_point + int(fp.round_half_away_from_zero(ratio))

    qmin = max(int(info.min), quantize(low))
    qmax = int(info.max) if math.isinf(high) else min(int(info.max), quantize(high))
    return qmin, qmax


def relu_compute(node: Node, low: float, high: float) -> Compute:
    """RELU / RELU6 / RELU_N1_TO_1 / RELU_0_TO_1 with clamp bounds (low, high)."""
    (s_in, z_in), (s_out, z_out) = _in_out(node)
    mode = _mode(node)
    multiplier = fp.quantize_multiplier(_f32_ratio(s_in, s_out), mode)
    qmin, qmax = relu_bounds(low, high, s_out, z_out, node.outputs[0].dtype)

    def compute(x: np.ndarray) -> np.ndarray:
        scaled = _mbqm(x.astype(np.int64) - z_in, multiplier, mode) + z_out
        return np.clip(scaled, qmin, qmax)

    return compute


def leaky_relu_compute(node: Node) -> Compute:
    """LEAKY_RELU: identity and alpha multipliers, picked by the sign of x - zp."""
    (s_in, z_in), (s_out, z_out) = _in_out(node)
    mode = _mode(node)
    alpha = np.float32(getattr(node.options, "alpha", 0.0))
    alpha_real = float(np.float32(np.float32(s_in) * alpha) / np.float32(s_out))
    alpha_pair = fp.quantize_multiplier(alpha_real, mode)
    identity_pair = fp.quantize_multiplier(_f32_ratio(s_in, s_out), mode)
    info = np.iinfo(node.outputs[0].dtype)

    def compute(x: np.ndarray) -> np.ndarray:
        centred = x.astype(np.int64) - z_in
        positive = _mbqm(centred, identity_pair, mode)
        negative = _mbqm(centred, alpha_pair, mode)
        return np.clip(np.where(centred >= 0, positive, negative) + z_out, info.min, info.max)

    return compute


# -- HARD_SWISH ---------------------------------------------------------------------------


def hard_swish_compute(node: Node) -> Compute:
    """HARD_SWISH (8-bit): x * relu6(x + 3) / 6 in TFLite's int16 fixed point."""
    (s_in, z_in), (s_out, z_out) = _in_out(node)
    mode = _mode(node)
    hires_scale = np.float32(1.0 / 128.0) * np.float32(s_in)
    out_m32, out_exp = fp.quantize_multiplier(_f32_ratio(hires_scale, s_out), mode)
    if out_exp > 0:
        raise PrepareError(
            f"HARD_SWISH output scale {s_out!r} is too small for input scale {s_in!r} "
            "(TFLite needs output_multiplier_exponent <= 0)"
        )
    relu_m32, relu_exp = fp.quantize_multiplier(_f32_ratio(hires_scale, 3.0 / 32768.0), mode)
    out_m16 = fp.downscale_int32_to_int16_multiplier(out_m32)
    relu_m16 = fp.downscale_int32_to_int16_multiplier(relu_m32)
    info = np.iinfo(node.outputs[0].dtype)

    def compute(x: np.ndarray) -> np.ndarray:
        hires = (x.astype(np.int64) - z_in) * 128
        preshift = fp.saturating_rounding_doubling_high_mul(hires, out_m16, 16)
        reluish = hires
        if relu_exp > 0:
            reluish = fp.saturating_left_shift_int16(reluish, relu_exp - 1)
        reluish = fp.saturating_rounding_doubling_high_mul(reluish, relu_m16, 16)
        if relu_exp > 0:
            reluish = fp.saturating_left_shift_int16(reluish, 1)
        if relu_exp < 0:
            reluish = fp.rounding_divide_by_pot(reluish, -relu_exp, 16)
        # From [-1, 1] (Q0.15) to [0, 1]: (x + 1) / 2.
        reluish = (reluish.astype(np.int64) + (1 << 15)) >> 1
        product = fp.saturating_doubling_high_mul_int16(reluish, preshift)
        out = fp.rounding_divide_by_pot(product, -out_exp, 16).astype(np.int64) + z_out
        return np.clip(out, info.min, info.max)

    return compute


# -- table activations: LOGISTIC TANH ELU GELU ------------------------------------------


@cache
def _libm_f32(name: str) -> Any:
    """The C library's float function ``name`` (erfcf, tanhf), or None.

    The official runtime's GELU tables call them, and glibc's are not correctly rounded
    (erfcf differs from the rounded double erfc in about 1 of 6 arguments): the int16
    table (1025 samples) shows it, so the tables are built with the same functions.
    """
    import ctypes

    for library in ("libm.so.6", "libm.dylib"):
        try:
            function = getattr(ctypes.CDLL(library), name)
        except (OSError, AttributeError):
            continue
        function.restype, function.argtypes = ctypes.c_float, [ctypes.c_float]
        return function
    return None


def _f32_function(name: str, fallback: Any, values: np.ndarray) -> np.ndarray:
    """``name`` of float32 ``values`` by the C library, else by the rounded double."""
    flat = np.asarray(values, np.float32).reshape(-1)
    function = _libm_f32(name)
    if function is not None:
        return np.array([function(float(v)) for v in flat], np.float32)
    return np.array([fallback(v) for v in flat.astype(np.float64)], np.float64).astype(np.float32)


def _erfc_f32(values: np.ndarray) -> np.ndarray:
    return _f32_function("erfcf", math.erfc, values)


def gelu_float32(x: np.ndarray) -> np.ndarray:
    """GeluTransform: 0.5f * x * erfcf(x * -sqrt(1/2)) in float32."""
    x = np.asarray(x, np.float32)
    argument = x * np.float32(-math.sqrt(0.5))
    return (np.float32(0.5) * x) * _erfc_f32(argument).reshape(x.shape)


def gelu_tanh_float32(x: np.ndarray) -> np.ndarray:
    """GeluTransformApproximate: 0.5f x (1 + tanhf(sqrt(2/pi) (x + 0.044715f x^3)))."""
    x = np.asarray(x, np.float32)
    k = np.float32(2.0 / math.sqrt(math.pi) * math.sqrt(0.5))
    inner = x + np.float32(0.044715) * x * x * x
    tanh = _f32_function("tanhf", math.tanh, k * inner).reshape(x.shape)
    return (np.float32(0.5) * x) * (np.float32(1.0) + tanh)


_TRANSFORMS = {
    "LOGISTIC": fl.logistic_float32,
    "TANH": fl.tanh_float32,
    "ELU": fl.elu_float32,
    "GELU": gelu_float32,
    "GELU_TANH": gelu_tanh_float32,
}


def lut8_compute(node: Node, kind: str) -> Compute:
    """An 8-bit op by LUTPopulate's 256-entry table of the float function."""
    (s_in, z_in), (s_out, z_out) = _in_out(node)
    dtype = node.outputs[0].dtype
    lut = fl.lut_populate_int8(_TRANSFORMS[kind], s_in, z_in, s_out, z_out, dtype)

    def compute(x: np.ndarray) -> np.ndarray:
        return fl.lut_lookup_int8(x, lut).astype(np.int64)

    return compute


def lut16_compute(node: Node, kind: str) -> Compute:
    """An int16 op by LUTPopulate<int16_t>'s 513-entry interpolated table of the float
    function (TFLite's int16 GELU)."""
    (s_in, z_in), (s_out, z_out) = _in_out(node)
    lut = fl.lut_populate_int16(_TRANSFORMS[kind], s_in, z_in, s_out, z_out)

    def compute(x: np.ndarray) -> np.ndarray:
        return fl.lut_lookup_int16(x, lut).astype(np.int64)

    return compute


@cache
def sigmoid_table_uint16() -> np.ndarray:
    """TFLite's 256-entry ``sigmoid_table_uint16`` of the int16 LOGISTIC/TANH kernels.

    Entry i is 65536 * sigmoid(i / 24) raised by half the chord error at the
    segment's midpoint (so linear interpolation errs both ways), rounded; the last
    entry is 65535. Recovered from the official runtime's int16 TANH outputs (see
    tests/kernels/test_activations_quant.py) and matched by this formula exactly.
    """
    i = np.arange(256, dtype=np.float64)

    def sigmoid(x: np.ndarray) -> np.ndarray:
        return 65536.0 / (1.0 + np.exp(-x / 24.0))

    start, end, middle = sigmoid(i), sigmoid(i + 1), sigmoid(i + 0.5)
    table = fp.round_half_away_from_zero(start + (middle - (start + end) / 2) / 2)
    table[255] = 65535
    table = table.astype(np.int64)
    table.flags.writeable = False
    return table


def _table16_prepare(scale: float) -> tuple[int, int]:
    """TFLite's (input_multiplier, input_left_shift) for the int16 sigmoid-table kernels."""
    multiplier, left_shift = float(np.float32(scale)) * 4096.0 * 3.0, 0
    while multiplier <= 32767.0 / 2.0 and left_shift <= 30:
        left_shift += 1
        multiplier *= 2.0
    return int(multiplier), left_shift


def _table16(x: np.ndarray, multiplier: int, left_shift: int, tanh: bool) -> np.ndarray:
    """reference_integer_ops::Logistic / Tanh for int16 (the sigmoid table kernel)."""
    table = sigmoid_table_uint16()
    nudge = (1 << (left_shift - 1)) if left_shift > 0 else 0
    scaled = (x.astype(np.int64) * multiplier + nudge) >> left_shift
    magnitude = np.abs(scaled)
    # Q3.12-style input: 2^8 (TANH) or 2^9 (LOGISTIC) input steps per table step.
    bits = 8 if tanh else 9
    step = np.minimum(magnitude >> bits, 254)
    fraction = magnitude & ((1 << bits) - 1)
    low, high = table[step], table[step + 1]
    top = (0xFFFF << 8) if tanh else (0x7FFF << 10)
    value = np.where((magnitude >> bits) >= 255, top, (low << bits) + fraction * (high - low))
    if tanh:
        value = np.where(scaled >= 0, value - (1 << 23) + (1 << 7), -value + (1 << 23) + 127)
        return value >> 8
    value = np.where(scaled >= 0, value + (1 << 9), (1 << 25) - value + (1 << 9) - 1)
    return value >> 10


def int16_sigmoid_compute(node: Node, tanh: bool) -> Compute:
    """int16 LOGISTIC / TANH: gemmlowp at power-of-two input scales, else the table."""
    (s_in, _), (s_out, _) = _in_out(node)  # zero points are 0 (checked there)
    name = "TANH" if tanh else "LOGISTIC"
    is_pot, log2_out = fm.checked_log2(s_out)
    if not is_pot or log2_out != -15 or (not tanh and s_out != 1.0 / 32768):
        raise PrepareError(
            f"output {node.outputs[0].name!r} has scale {s_out!r}; int16 {name} needs "
            "output scale 1/32768 (zero point 0)"
        )
    is_pot, log2_in = fm.checked_log2(s_in)
    left_shift = 12 + log2_in
    pot = is_pot and (left_shift == 0 or (tanh and left_shift == 1))
    if pot and not reference_rounding(node):  # BUILTIN_REF runs the table at every scale
        function = fm.tanh if tanh else fm.logistic

        def compute_pot(x: np.ndarray) -> np.ndarray:
            raw = x.astype(np.int64)
            if left_shift == 1:  # Q4.11 -> Q3.12, saturating
                raw = fm.rescale(raw, 4, 3, bits=16)
            return function(raw, 3, bits=16).astype(np.int64)

        return compute_pot
    # The table kernel's input_multiplier == 0 (power of two) case: 3 << left_shift.
    multiplier, shift = (3 << left_shift, 0) if pot else _table16_prepare(s_in)

    def compute_table(x: np.ndarray) -> np.ndarray:
        return _table16(x, multiplier, shift, tanh)

    return compute_table


def _in_out(node: Node) -> tuple[tuple[float, int], tuple[float, int]]:
    """Checked per-tensor (scale, zero point) of input 0 and the output."""
    x, out = node.input(0), node.outputs[0]
    if out.dtype != x.dtype:
        raise PrepareError(
            f"output {out.name!r} is {out.dtype.name}; {node.op} keeps the input type "
            f"{x.dtype.name}"
        )
    pair_in, pair_out = per_tensor(x, "input"), per_tensor(out, "output")
    if x.dtype == np.int16:
        check_int16_symmetric(x, pair_in[1], "input")
        check_int16_symmetric(out, pair_out[1], "output")
    return pair_in, pair_out


# -- RSQRT ---------------------------------------------------------------------------------


def rsqrt_compute(node: Node) -> Compute:
    """RSQRT: int8 by GetInvSqrtQuantizedMultiplierExp (20 bits of headroom); int16 by a
    513-entry LUTPopulate table of 1/sqrtf (inputs <= 0 map to the top of the range)."""
    (s_in, z_in), (s_out, z_out) = _in_out(node)
    mode = _mode(node)
    if node.input(0).dtype == np.int16:
        top = np.float32(32767) * np.float32(s_out)

        def transform(v: np.ndarray) -> np.ndarray:
            v = np.asarray(v, np.float32)
            with np.errstate(divide="ignore", invalid="ignore"):
                root = np.sqrt(np.maximum(v, np.float32(1e-30)))
                return np.where(v <= 0, top, np.float32(1.0) / root).astype(np.float32)

        lut = fl.lut_populate_int16(transform, s_in, z_in, s_out, z_out)
        return lambda x: fl.lut_lookup_int16(x, lut).astype(np.int64)
    # 1. / (std::sqrt(float) * float): float32 product, double reciprocal.
    real = 1.0 / float(np.sqrt(np.float32(s_in)) * np.float32(s_out))
    multiplier, shift = fp.quantize_multiplier(real, mode)
    if not -11 <= shift <= 30:
        raise PrepareError(
            f"RSQRT rescale factor {real:.6g} (input scale {s_in!r}, output scale {s_out!r}) "
            "is outside the range TFLite's int8 kernel handles"
        )
    info = np.iinfo(node.outputs[0].dtype)

    def compute(x: np.ndarray) -> np.ndarray:
        value = x.astype(np.int64) - z_in
        safe = np.maximum(value, 1)  # 0 gives the maximum; negatives fail at invoke
        inv_multiplier, inv_shift = fm.get_inv_sqrt_quantized_multiplier_exp(safe, -1)
        data = fp.multiply_by_quantized_multiplier(1, inv_multiplier, inv_shift + 20, mode)
        out = fp.multiply_by_quantized_multiplier(data, multiplier, shift - 20, mode)
        result = np.clip(out.astype(np.int64) + z_out, info.min, info.max)
        return np.where(value == 0, info.max, result)

    return compute


def check_min_valid(data: QUnaryData, x: np.ndarray) -> None:
    """RSQRT fails on inputs below its zero point, as the official kernel does."""
    if data.min_valid is not None and x.size and int(x.min()) < data.min_valid:
        raise ValueError("Rsqrt is only defined for positive values")


# -- prepare / invoke --------------------------------------------------------------------


def tabulate(compute: Compute, dtype: np.dtype) -> np.ndarray:
    """``compute`` of every bit pattern of ``dtype``, as unsigned bits indexed by pattern."""
    unsigned = np.dtype(f"uint{dtype.itemsize * 8}")
    inputs = np.arange(1 << (8 * dtype.itemsize), dtype=np.int64).astype(unsigned).view(dtype)
    table = np.ascontiguousarray(compute(inputs).astype(dtype)).view(unsigned)
    table.flags.writeable = False
    return table


def make_data(node: Node, compute: Compute, min_valid: int | None = None) -> Prepared:
    """Prepared data for a quantized elementwise activation (the output keeps the shape)."""
    dtype = node.input(0).dtype
    table = tabulate(compute, dtype)
    data = QUnaryData(compute, dtype, table, max(node.num_threads, 1), min_valid)
    return Prepared(output_shapes=[node.input(0).shape], data=data)


def invoke_reference(data: QUnaryData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """The numpy arithmetic."""
    check_min_valid(data, np.asarray(inputs[0]))
    outputs[0][...] = data.compute(np.asarray(inputs[0]))


def invoke_table(data: QUnaryData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """A gather from the prepared table (Cython when built, else numpy)."""
    x, out = np.ascontiguousarray(inputs[0]), outputs[0]
    check_min_valid(data, x)
    unsigned = data.table.dtype
    if _qelementwise is None or not out.flags.c_contiguous:
        out[...] = data.table[x.view(unsigned)].view(data.dtype)
        return
    gather = _qelementwise.lookup8 if unsigned.itemsize == 1 else _qelementwise.lookup16
    gather(
        x.reshape(-1).view(unsigned), out.reshape(-1).view(unsigned), data.table, data.num_threads
    )
