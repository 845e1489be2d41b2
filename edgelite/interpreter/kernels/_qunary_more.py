"""Quantized ABS, NEG, EXP, LOG (int8, int16): prepare for the _qactivation table kernels.

What ai-edge-litert 2.3.0 computes (elementwise.cc, neg.cc, exp.cc), measured
against it over every input value:

* ABS: ``|q - zp_in| + zp_out`` when the two float32 scales are equal, else
  ``MultiplyByQuantizedMultiplier(|q - zp_in|, s_in / s_out) + zp_out`` (the ratio in
  float32), clamped to the type. int16 needs zero points 0.
* NEG: a plain integer negation of the raw values; the quantization parameters are
  not looked at (-128 wraps onto itself). Unquantized int8/int16 run the same.
* EXP: LUTPopulate of ``expf``: a 256-entry table for int8, the 513-entry
  interpolated table for int16 (zero points 0).
* LOG: LUTPopulate of ``logf``, inputs <= 0 mapping to the output's lowest real
  value; int16 needs zero points 0.

ABS, EXP and LOG are functions of one 8- or 16-bit value, so ``_qactivation.make_data``
tabulates them at prepare and the optimized invoke is a gather; the numpy reference
is the ``compute`` below. NEG stays a numpy negation (``unary.UnaryData``). The
tables call the C library's ``expf`` / ``logf``, as the runtime does (they are not
always the correctly rounded value).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _qactivation as qa
from . import fixedpoint as fp
from . import fixedpoint_lut as fl
from ._qparams import check_int16_symmetric, per_tensor, rounding_mode
from .base import Node, Prepared, PrepareError, check_inputs
from .unary import UnaryData

Compute = Callable[[np.ndarray], np.ndarray]
Transform = Callable[[np.ndarray], np.ndarray]

_TYPES = (np.dtype(np.int8), np.dtype(np.int16))


def prepare(node: Node) -> Prepared:
    """Quantized ABS / EXP / LOG (a QUnaryData table op) and 8/16-bit NEG (a UnaryData)."""
    check_inputs(node, 1)
    x, out = node.input(0), node.outputs[0]
    if x.dtype not in _TYPES:
        raise PrepareError(
            f"quantized {node.op} supports int8 and int16 (as TFLite); input {x.name!r} is "
            f"{x.dtype.name}"
        )
    if out.dtype != x.dtype:
        raise PrepareError(
            f"output {out.name!r} is {out.dtype.name}; {node.op} keeps the input type "
            f"{x.dtype.name}"
        )
    if node.op == "NEG":
        # A plain (wrapping) integer negation: numpy's, not a table, in both resolvers.
        return Prepared(output_shapes=[x.shape], data=UnaryData(_negate))
    (s_in, z_in), (s_out, z_out) = per_tensor(x, "input"), per_tensor(out, "output")
    if x.dtype == np.int16:
        check_int16_symmetric(x, z_in, "input")
        check_int16_symmetric(out, z_out, "output")
    if node.op == "ABS":
        return qa.make_data(node, _abs_compute(node, s_in, z_in, s_out, z_out))
    if node.op == "EXP":
        transform = _libm("expf")
    elif node.op == "LOG":
        transform = _log_transform(np.iinfo(x.dtype).min, s_out, z_out)
    else:
        raise PrepareError(f"no quantized kernel for {node.op} here")
    return qa.make_data(node, _lut_compute(transform, x.dtype, s_in, z_in, s_out, z_out))


def _negate(x: np.ndarray, out: np.ndarray) -> None:
    # C negates the promoted value and stores it back: -(-128) wraps to -128, as numpy's.
    np.negative(x, out=out)


def _abs_compute(node: Node, s_in: float, z_in: int, s_out: float, z_out: int) -> Compute:
    info = np.iinfo(node.input(0).dtype)
    if np.float32(s_in) == np.float32(s_out):  # needs_rescale is false: no multiplier

        def same_scale(x: np.ndarray) -> np.ndarray:
            return np.clip(np.abs(x.astype(np.int64) - z_in) + z_out, info.min, info.max)

        return same_scale
    mode = "single" if rounding_mode(node, "double") == "single" else "double"
    multiplier, shift = fp.quantize_multiplier(float(np.float32(s_in) / np.float32(s_out)), mode)

    def rescaled(x: np.ndarray) -> np.ndarray:
        magnitude = np.abs(x.astype(np.int64) - z_in)
        scaled = fp.multiply_by_quantized_multiplier(magnitude, multiplier, shift, mode)
        return np.clip(scaled.astype(np.int64) + z_out, info.min, info.max)

    return rescaled


def _libm(name: str) -> Transform:
    """The C library's float32 ``name`` (expf, logf) on an array, else numpy in double."""
    fallback = {"expf": np.exp, "logf": np.log}[name]

    def transform(values: np.ndarray) -> np.ndarray:
        flat = np.asarray(values, np.float32).reshape(-1)
        function = qa._libm_f32(name)
        if function is None:
            with np.errstate(all="ignore"):
                result = fallback(flat.astype(np.float64)).astype(np.float32)
        else:
            result = np.array([function(float(v)) for v in flat], np.float32)
        return result.reshape(np.shape(values))

    return transform


def _log_transform(type_min: int, s_out: float, z_out: int) -> Transform:
    """LOG's LUT function: logf(v), or the lowest output value for v <= 0."""
    output_min = np.float32(type_min - z_out) * np.float32(s_out)
    logf = _libm("logf")

    def transform(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, np.float32)
        positive = values > 0
        result = np.full(values.shape, output_min, np.float32)
        result[positive] = logf(values[positive])
        return result

    return transform


def _lut_compute(
    transform: Transform, dtype: np.dtype, s_in: float, z_in: int, s_out: float, z_out: int
) -> Compute:
    """LUTPopulate + LUTLookup: the 256-entry table (8-bit) or the interpolated int16 one."""
    if dtype == np.int16:
        with np.errstate(all="ignore"):  # overflowing EXP samples: C's float arithmetic too
            lut16 = fl.lut_populate_int16(transform, s_in, z_in, s_out, z_out)
        return lambda x: fl.lut_lookup_int16(x, lut16).astype(np.int64)
    lut8 = _lut_populate_8bit(transform, dtype, s_in, z_in, s_out, z_out)
    low = int(np.iinfo(dtype).min)
    return lambda x: lut8[x.astype(np.int64) - low]


def _lut_populate_8bit(
    transform: Transform, dtype: np.dtype, s_in: float, z_in: int, s_out: float, z_out: int
) -> np.ndarray:
    """LUTPopulate<int8_t>: quantize(transform(dequantize(q))) for q = min..max, as int64.

    The official table saturates in float before converting, so an expf that
    overflows to +inf gives the type's maximum (``fixedpoint_lut.lut_populate_int8``
    converts first, which is right for the bounded functions it serves).
    """
    info = np.iinfo(dtype)
    values = np.arange(info.min, info.max + 1, dtype=np.int64)
    dequantized = np.float32(s_in) * (values - z_in).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        transformed = np.asarray(transform(dequantized), np.float32)
        rescaled = fp.round_half_away_from_zero(transformed * (np.float32(1.0) / np.float32(s_out)))
        quantized = np.clip(rescaled + np.float32(z_out), info.min, info.max)
    return quantized.astype(np.int64)
