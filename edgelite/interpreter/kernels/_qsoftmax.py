"""Quantized SOFTMAX and LOG_SOFTMAX over the last axis: prepare and numpy reference.

What ai-edge-litert's BUILTIN kernels compute (x86-64, checked against the oracle):

* SOFTMAX with 8-bit input (int8 -> int8/int16, uint8 -> uint8/int16): float math
  from a 256-entry table ``exp(-input_scale * beta * d)`` indexed by the distance
  ``d`` to the row maximum, a float32 running sum in index order, then
  ``prob / (sum * output_scale)`` rounded onto the output (``fixedpoint_lut``).
* SOFTMAX int16: two fixed int16 tables (exp on [-10, 0] and 1 / (1 + x)) and an
  integer normalisation (``SoftmaxInt16``), ranks 1 to 4.
* LOG_SOFTMAX with 8-bit input: the same exp table (beta 1) and float sum, then
  ``rint(input_scale / output_scale * x - (input_scale * max + log(sum)) /
  output_scale) + zero_point``.

Output parameters are fixed by TFLite and checked here with its rules: SOFTMAX int8
-> int8 needs zero point -128 and scale 1/256 (within 0.1%), int16 -> int16 zero
point 0 and scale 1/32768 (within 0.1%); LOG_SOFTMAX needs scale 16/256 and zero
point 127 (int8) / 255 (uint8). The optimized row loops are in ``_qsoftmax_rows``.
Under rounding="reference" 8-bit SOFTMAX is the reference kernels' fixed-point
computation instead (``_qsoftmax_ref``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _qsoftmax_ref
from . import fixedpoint as fp
from . import fixedpoint_lut as fl
from . import fixedpoint_math as fm
from ._qparams import per_tensor, reference_rounding, rounding_mode
from .base import Node, Prepared, PrepareError

try:
    from . import _qsoftmax_rows  # type: ignore[attr-defined]  # Cython, no stub
except ImportError:  # extensions not built: the reference kernels still run
    _qsoftmax_rows = None  # type: ignore[assignment]

_8BIT = (np.dtype(np.int8), np.dtype(np.uint8))


@dataclass(frozen=True)
class QSoftmaxData:
    """A quantized (log-)softmax, decided at prepare."""

    kind: str  # "softmax8", "softmax16" or "log_softmax8"
    table: np.ndarray | None  # float32 exp table (8-bit inputs)
    input_scale: float
    output_scale: float
    output_zero_point: int
    multiplier: tuple[int, int] = (0, 0)  # softmax16: input rescale
    mode: str = "double"
    num_threads: int = 1
    reference: tuple[int, int, int] | None = None  # softmax8_ref: _qsoftmax_ref params


def prepare(node: Node, log: bool) -> Prepared:
    """Validate the (fixed) output parameters and build the tables."""
    x, out = node.input(0), node.outputs[0]
    if len(x.shape) < 1:
        raise PrepareError(f"{node.op} needs an input of rank >= 1, got a scalar")
    s_in, z_in = per_tensor(x, "input")
    s_out, z_out = per_tensor(out, "output")
    threads = max(node.num_threads, 1)
    if log:
        _check_log_softmax(x.dtype, out, s_out, z_out)
        table = fl.softmax_exp_table(s_in, 1.0)
        data = QSoftmaxData("log_softmax8", table, s_in, s_out, z_out, num_threads=threads)
        return Prepared(output_shapes=[x.shape], data=data)
    beta = float(np.float32(getattr(node.options, "beta", 0.0)))
    _check_softmax(x.dtype, out, s_out, z_out)
    if x.dtype in _8BIT and reference_rounding(node):  # BUILTIN_REF: gemmlowp fixed point
        params = _qsoftmax_ref.reference_params(beta, float(np.float32(s_in)))
        data = QSoftmaxData("softmax8_ref", None, s_in, s_out, z_out, reference=params)
        return Prepared(output_shapes=[x.shape], data=data)
    if x.dtype in _8BIT:
        table = fl.softmax_exp_table(s_in, beta)
        data = QSoftmaxData("softmax8", table, s_in, s_out, z_out, num_threads=threads)
        return Prepared(output_shapes=[x.shape], data=data)
    if z_in != 0:
        raise PrepareError(f"int16 input {x.name!r} has zero point {z_in}; SOFTMAX needs 0")
    if not 1 <= len(x.shape) <= 4:
        raise PrepareError(f"int16 SOFTMAX supports ranks 1 to 4, got {len(x.shape)}")
    mode = rounding_mode(node, "double")
    # input_scale * beta is a float product in C; the division is in double.
    real = float(np.float32(s_in) * np.float32(beta)) / (10.0 / 65535.0)
    multiplier = fp.quantize_multiplier(real, "single" if mode == "single" else "double")
    data = QSoftmaxData("softmax16", None, s_in, s_out, 0, multiplier, mode, threads)
    return Prepared(output_shapes=[x.shape], data=data)


def _check_softmax(in_type: np.dtype, out: Any, scale: float, zero_point: int) -> None:
    allowed = {
        np.dtype(np.int8): (np.int8, np.int16),
        np.dtype(np.uint8): (np.uint8, np.int16),
        np.dtype(np.int16): (np.int16,),
    }[in_type]
    if out.dtype not in [np.dtype(t) for t in allowed]:
        names = " or ".join(np.dtype(t).name for t in allowed)
        raise PrepareError(
            f"SOFTMAX with {in_type.name} input produces {names}; output {out.name!r} is "
            f"{out.dtype.name}"
        )
    rule = None
    if in_type == np.int8 and out.dtype == np.int8:
        rule = (-128, 1.0 / 256)
    elif in_type == np.int16:
        rule = (0, 1.0 / 32768)
    if rule is not None:
        want_zero, want_scale = rule
        # TF_LITE_ENSURE_NEAR(scale, want, 0.001 * want), in float32.
        near = abs(np.float32(scale) - np.float32(want_scale)) <= np.float32(0.001 * want_scale)
        if zero_point != want_zero or not near:
            raise PrepareError(
                f"output {out.name!r} has scale {scale!r} and zero point {zero_point}; "
                f"{in_type.name} SOFTMAX needs scale 1/{round(1 / want_scale)} and zero "
                f"point {want_zero}"
            )


def _check_log_softmax(in_type: np.dtype, out: Any, scale: float, zero_point: int) -> None:
    if in_type not in _8BIT or out.dtype != in_type:
        raise PrepareError(
            f"quantized LOG_SOFTMAX supports int8 and uint8 in and out; got {in_type.name} -> "
            f"{out.dtype.name}"
        )
    want_zero = 127 if in_type == np.int8 else 255
    if scale != 16.0 / 256 or zero_point != want_zero:
        raise PrepareError(
            f"output {out.name!r} has scale {scale!r} and zero point {zero_point}; "
            f"{in_type.name} LOG_SOFTMAX needs scale 16/256 and zero point {want_zero}"
        )


# -- the numpy reference -----------------------------------------------------------------


def _exps(x: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row maxima, table exps and their float32 running sums (C's summation order)."""
    values = x.astype(np.int64)
    top = values.max(axis=-1, keepdims=True)
    exps = table[255 - top + values]
    sums = np.cumsum(exps, axis=-1, dtype=np.float32)[..., -1:]
    return top, exps, sums


def _softmax8(x: np.ndarray, out: np.ndarray, data: QSoftmaxData) -> None:
    assert data.table is not None
    _, exps, sums = _exps(x, data.table)
    inverse = np.float32(1.0) / (sums * np.float32(data.output_scale))
    quantized = fl.quantize_softmax_output(exps * inverse, data.output_zero_point, out.dtype)
    info = np.iinfo(out.dtype)
    out[...] = np.clip(quantized, info.min, info.max)


def _log_softmax8(x: np.ndarray, out: np.ndarray, data: QSoftmaxData) -> None:
    assert data.table is not None
    top, _, sums = _exps(x, data.table)
    log_sum = np.log(sums.astype(np.float64)).astype(np.float32)  # logf, correctly rounded
    s_in, s_out = np.float32(data.input_scale), np.float32(data.output_scale)
    scale = s_in / s_out
    precomputed = (s_in * top.astype(np.float32) + log_sum) / s_out
    log_prob = scale * x.astype(np.float32) - precomputed
    quantized = np.rint(log_prob).astype(np.int64) + data.output_zero_point
    info = np.iinfo(out.dtype)
    out[...] = np.clip(quantized, info.min, info.max)


def _softmax16(x: np.ndarray, out: np.ndarray, data: QSoftmaxData) -> None:
    exp_lut, reciprocal_lut = fl.softmax_int16_luts()
    values = x.astype(np.int64)
    diff = values - values.max(axis=-1, keepdims=True)
    scaled = fp.multiply_by_quantized_multiplier(diff, *data.multiplier, data.mode)
    # exp of [-10, 0] is the table's input range [-32767 - 1, 32767].
    shifted = np.clip(scaled.astype(np.int64) + 32767, -32768, 32767)
    exps = fl.lut_lookup_int16(shifted, exp_lut).astype(np.int64)
    total = exps.sum(axis=-1, keepdims=True)
    headroom = fm.count_leading_zeros32(total).astype(np.int64)
    # The sum normalised to Q1.15 in [1, 2), minus 1 (in the table's int16 input range).
    normalised = ((total << (headroom - 1)) + (1 << 13)) >> 14
    centred = np.clip(normalised - ((1 << 15) + (1 << 16)), -32768, 32767)
    reciprocal = fl.lut_lookup_int16(centred, reciprocal_lut).astype(np.int64)
    right = 31 - headroom
    result = (exps * reciprocal + (np.int64(1) << (right - 1))) >> right
    out[...] = np.clip(result, 0, 32767)


def _softmax8_ref(x: np.ndarray, out: np.ndarray, data: QSoftmaxData) -> None:
    assert data.reference is not None
    _qsoftmax_ref.softmax8(x, out, data.reference)


_REFERENCE = {
    "softmax8": _softmax8,
    "log_softmax8": _log_softmax8,
    "softmax16": _softmax16,
    "softmax8_ref": _softmax8_ref,
}


def invoke_reference(data: QSoftmaxData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Row by row over the last axis, vectorized over rows."""
    if outputs[0].size:
        _REFERENCE[data.kind](np.asarray(inputs[0]), outputs[0], data)


_OUT_KINDS = {np.dtype(np.int8): 0, np.dtype(np.uint8): 1, np.dtype(np.int16): 2}


def invoke_optimized(data: QSoftmaxData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """8-bit inputs: the Cython row loop (``_qsoftmax_rows.softmax8``); int16: the reference."""
    x, out = np.ascontiguousarray(inputs[0]), outputs[0]
    if data.kind in ("softmax16", "softmax8_ref") or _qsoftmax_rows is None:
        invoke_reference(data, inputs, outputs)
        return
    if not out.flags.c_contiguous:
        invoke_reference(data, inputs, outputs)
        return
    params = dict(
        signed_input=int(x.dtype == np.int8),
        out_kind=_OUT_KINDS[out.dtype],
        log_softmax=int(data.kind == "log_softmax8"),
        zero_point=data.output_zero_point,
        input_scale=data.input_scale,
        output_scale=data.output_scale,
    )
    depth = x.shape[-1]
    rows = x.size // depth if depth else 0
    target = out.reshape(rows, depth)
    if out.dtype != np.int16:
        target = target.view(np.uint8)
    _qsoftmax_rows.softmax8(
        x.reshape(rows, depth).view(np.uint8), target, data.table, params, data.num_threads
    )
