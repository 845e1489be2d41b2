"""Quantized ADD, SUB, MUL, SQUARED_DIFFERENCE (int8, uint8, int16): prepare and numpy reference.

The arithmetic is TFLite's. ADD and SUB bring both inputs to a common scale with
``left_shift`` bits of headroom (20 for 8-bit, 15 for int16), add or subtract, and
rescale to the output; MUL rescales the product of the centred inputs once;
SQUARED_DIFFERENCE squares the difference taken like SUB (headroom 7). int16
ADD/SUB with power-of-two scales and ``pot_scale_int16`` take the LSTM path: one
input is rounding-shifted right, then a saturating int16 add.

``rounding="tflite"`` reproduces the official optimized kernels element by element
(x86-64 build, measured against ai-edge-litert 2.3.0). Their SIMD loops (ARM NEON
code, compiled through NEON_2_SSE on x86) compute the same rescaling as the scalar
loop except for these details, which decide some roundings and saturations:

* int8 and int16 ADD, elementwise: ``left_shift`` and the input shift are applied
  as one shift before the rounding doubling multiply (vshl by 20 or 15 + shift; a
  negative total shift truncates), instead of a rounding shift after it. (int16 ADD
  has this loop only without broadcasting; int16 SUB and MUL have none.)
* uint8 ADD, and ADD with one scalar operand: the input shift after the multiply
  truncates (vshl by a negative amount) instead of rounding.
* ADD: the rescaled sum is narrowed to int16 by wrapping before the zero point is
  added (in int16, wrapping), then saturated to 8 bits; MUL saturates to int16
  first; int16 ADD clamps in int32 before narrowing, like the scalar loop.

``_qbroadcast`` decides which elements the SIMD loops compute. A forced rounding
("double" / "single") applies that MultiplyByQuantizedMultiplier everywhere.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import fixedpoint as fp
from ._qbinary_params import (
    ADD,
    MUL,
    SQUARED_DIFFERENCE,
    SUB,
    activation_bounds,
    additive_params,
    mul_params,
    pot_shifts,
)
from ._qbroadcast import (
    FORM_ELEMENTWISE,
    FORM_SCALAR_BROADCAST,
    NON_BROADCAST,
    Plan,
    element_forms,
    make_plan,
)
from ._qparams import check_int16_symmetric, per_tensor, rounding_mode
from .base import Node, OpRecord, Prepared, PrepareError, broadcast_shape

try:
    from . import _qelementwise  # type: ignore[attr-defined]  # Cython, no stub
except ImportError:  # extensions not built: the reference kernels still run
    _qelementwise = None  # type: ignore[assignment]


# SIMD block sizes of the official x86 build per (op, dtype): elementwise, scalar-broadcast.
_WIDTHS: dict[tuple[str, str], dict[int, int]] = {
    (ADD, "int8"): {FORM_ELEMENTWISE: 16, FORM_SCALAR_BROADCAST: 8},
    (ADD, "uint8"): {FORM_ELEMENTWISE: 8, FORM_SCALAR_BROADCAST: 8},
    (MUL, "int8"): {FORM_ELEMENTWISE: 16, FORM_SCALAR_BROADCAST: 16},
    (ADD, "int16"): {FORM_ELEMENTWISE: 16},  # without broadcasting only
    (MUL, "uint8"): {FORM_ELEMENTWISE: 8, FORM_SCALAR_BROADCAST: 8},
}


class QBinaryData(OpRecord):
    """Everything a quantized binary kernel needs, decided at prepare (read-only after)."""

    __slots__ = (
        "op",
        "dtype",
        "offsets",
        "output_offset",
        "left_shift",
        "input_multipliers",
        "output_multiplier",
        "act_min",
        "act_max",
        "rounding",
        "pot_shifts",
        "plan",
        "forms",
        "wrapping_forms",
        "params",
        "table",
    )
    op: str
    dtype: np.dtype
    offsets: tuple[int, int]  # minus the input zero points
    output_offset: int
    left_shift: int
    input_multipliers: tuple[tuple[int, int], tuple[int, int]]  # (multiplier, shift) each
    output_multiplier: tuple[int, int]
    act_min: int
    act_max: int
    rounding: str  # "tflite" (official per-element forms), "double" or "single"
    pot_shifts: tuple[int, int] | None  # int16 POT path: right shift of each input
    plan: Plan
    forms: np.ndarray | None  # FORM_* per output element ("tflite" only)
    wrapping_forms: tuple[int, ...]  # SIMD forms narrowing to int16 by wrapping
    params: dict[str, int] | None  # the C struct of the optimized int16 kernel
    table: np.ndarray | None  # 8-bit: pair_table() for the optimized kernel
    _defaults = {"params": None, "table": None}


def simd_forms(op: str, dtype: np.dtype, plan: Plan, rounding: str) -> np.ndarray | None:
    """Per-element forms for "tflite" rounding; None when every element is scalar."""
    widths = _WIDTHS.get((op, dtype.name))
    if rounding != "tflite" or widths is None:
        return None
    if dtype == np.int16 and plan.category != NON_BROADCAST:
        return None  # broadcasting int16 ADD runs the reference kernel
    forms = element_forms(plan, widths)
    return forms if forms.any() else None


# -- the numpy reference ------------------------------------------------------------------


def _mbqm(x: np.ndarray, multiplier: int, shift: int, mode: str) -> np.ndarray:
    return fp.multiply_by_quantized_multiplier(fp.wrap(x), multiplier, shift, mode).astype(np.int64)


def _neon_shift(x: np.ndarray, amount: int) -> np.ndarray:
    """ARM vshl by a signed amount: a wrapping left shift, or a truncating right shift."""
    return fp.wrap(x << amount) if amount >= 0 else x >> -amount


def _srdhm(x: np.ndarray, multiplier: int) -> np.ndarray:
    return fp._srdhm(fp.wrap(x), np.int64(multiplier), 32)


def _rescale_input(centred: np.ndarray, data: QBinaryData, i: int, form: int) -> np.ndarray:
    """One input brought to the common scale, in the arithmetic of ``form``."""
    multiplier, shift = data.input_multipliers[i]
    if data.rounding != "tflite":
        return _mbqm(centred << data.left_shift, multiplier, shift, data.rounding)
    if form == FORM_ELEMENTWISE and data.dtype != np.uint8:  # int8, int16 ADD
        return _srdhm(_neon_shift(centred, data.left_shift + shift), multiplier)
    if form != 0:
        return _neon_shift(_srdhm(centred << data.left_shift, multiplier), shift)
    return _mbqm(centred << data.left_shift, multiplier, shift, "double")


def _finish(raw: np.ndarray, data: QBinaryData, form: int) -> np.ndarray:
    """Output rescale + zero point + clamp, as the scalar or the SIMD loop does it."""
    multiplier, shift = data.output_multiplier
    scaled = _mbqm(raw, multiplier, shift, "double" if data.rounding == "tflite" else data.rounding)
    info = np.iinfo(data.dtype)
    if form != 0 and data.dtype != np.int16:
        # Narrow to int16 (wrapping for ADD, saturating for MUL), add the zero point
        # in int16 (wrapping), saturate to 8 bits. (int16 clamps in int32 first.)
        wraps = form in data.wrapping_forms
        narrowed = fp.wrap(scaled, 16) if wraps else np.clip(scaled, -32768, 32767)
        scaled = np.clip(fp.wrap(narrowed + data.output_offset, 16), info.min, info.max)
    else:
        scaled = scaled + data.output_offset
    return np.clip(scaled, data.act_min, data.act_max)


def _compute(a: np.ndarray, b: np.ndarray, data: QBinaryData, form: int) -> np.ndarray:
    """The op on broadcast int64 inputs, every element in the arithmetic of ``form``."""
    ca, cb = a + data.offsets[0], b + data.offsets[1]
    if data.op == MUL:
        return _finish(ca * cb, data, form)
    if data.pot_shifts is not None:
        sa = fp._rdbpot(ca, data.pot_shifts[0], 16)
        sb = fp._rdbpot(cb, data.pot_shifts[1], 16)
        total = sa + sb if data.op == ADD else sa - sb
        return np.clip(np.clip(total, -32768, 32767), data.act_min, data.act_max)
    ra, rb = _rescale_input(ca, data, 0, form), _rescale_input(cb, data, 1, form)
    if data.op == ADD:
        return _finish(ra + rb, data, form)
    if data.op == SUB:
        return _finish(ra - rb, data, form)
    difference = fp.wrap(ra - rb)
    return _finish(fp.wrap(difference * difference), data, form)


def invoke_reference(data: QBinaryData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """The readable reference: every form computed on whole arrays, then picked per element."""
    out = outputs[0]
    a = np.broadcast_to(inputs[0], out.shape).astype(np.int64)
    b = np.broadcast_to(inputs[1], out.shape).astype(np.int64)
    result = _compute(a, b, data, 0)
    if data.forms is not None:
        forms = data.forms.reshape(out.shape)
        for form in (FORM_ELEMENTWISE, FORM_SCALAR_BROADCAST):
            if np.any(forms == form):
                result = np.where(forms == form, _compute(a, b, data, form), result)
    out[...] = result


# -- prepare -------------------------------------------------------------------------------

_TYPES = {
    ADD: ("int8", "uint8", "int16"),
    SUB: ("int8", "uint8", "int16"),
    MUL: ("int8", "uint8", "int16"),
    SQUARED_DIFFERENCE: ("int8",),
}


def prepare(node: Node, op: str) -> Prepared:
    """Validate the quantization parameters and precompute the multipliers of ``op``."""
    a, b, out = node.input(0), node.input(1), node.outputs[0]
    dtype = a.dtype
    if dtype.name not in _TYPES[op]:
        allowed = ", ".join(_TYPES[op])
        raise PrepareError(f"quantized {op} supports {allowed}; input {a.name!r} is {dtype.name}")
    for info, what in ((b, "input"), (out, "output")):
        if info.dtype != dtype:
            raise PrepareError(
                f"{what} {info.name!r} is {info.dtype.name}; quantized {op} needs every "
                f"tensor {dtype.name}"
            )
    (s1, z1), (s2, z2) = per_tensor(a, "input"), per_tensor(b, "input")
    so, zo = per_tensor(out, "output")
    pot = pot_shifts(node, op, (s1, s2, so)) if dtype == np.int16 else None
    if dtype == np.int16:
        for info, zero_point, what in ((a, z1, "input"), (b, z2, "input"), (out, zo, "output")):
            check_int16_symmetric(info, zero_point, what)
    rounding = rounding_mode(node, "tflite")
    act = getattr(node.options, "fused_activation_function", 0) if op != SQUARED_DIFFERENCE else 0
    act_min, act_max = activation_bounds(act, so, zo, dtype)
    left_shift, inputs, output = 0, ((0, 0), (0, 0)), (0, 0)
    if op == MUL:
        output = mul_params((s1, s2, so), rounding)
    elif pot is None:
        left_shift, inputs, output = additive_params(op, (s1, s2, so), dtype == np.int16, rounding)
    shape = broadcast_shape(a.shape, b.shape)
    if pot is not None and op == ADD and a.shape != b.shape:
        # TFLite's LSTM-path ADD is elementwise only (it aborts on broadcasting shapes).
        raise PrepareError(
            f"int16 ADD with power-of-two scales (pot_scale_int16) cannot broadcast "
            f"{list(a.shape)} and {list(b.shape)}; give both inputs one shape"
        )
    size = math.prod(shape)
    plan = make_plan(a.shape, b.shape, size)
    forms = None if pot is not None else simd_forms(op, dtype, plan, rounding)
    data = QBinaryData(
        op, dtype, (-z1, -z2), zo, left_shift, inputs, output, act_min, act_max, rounding,
        pot, plan, forms, _wrapping_forms(op, dtype),
    )  # fmt: skip
    # The optimized kernel's data, the last fields filled in before anyone sees ``data``.
    if dtype == np.int16:
        data.set_fields(params=kernel_params(data))
    elif _qelementwise is not None:
        data.set_fields(table=pair_table(data))
    return Prepared(output_shapes=[shape], data=data)


def _wrapping_forms(op: str, dtype: np.dtype) -> tuple[int, ...]:
    # ADD narrows with vmovn everywhere; MUL with vqmovn, except uint8 MulSimpleBroadcast.
    if op != MUL:
        return (FORM_ELEMENTWISE, FORM_SCALAR_BROADCAST)
    return (FORM_SCALAR_BROADCAST,) if dtype == np.uint8 else ()


# -- the optimized kernel ------------------------------------------------------------------


def _strides6(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of a C-contiguous ``shape`` broadcast to 6-d ``out_shape`` (0 = repeat)."""
    padded = (1,) * (6 - len(shape)) + tuple(shape)
    strides, step = [0] * 6, 1
    for d in range(5, -1, -1):
        strides[d] = step if padded[d] != 1 else 0
        step *= padded[d]
    return tuple(strides)


def kernel_params(data: QBinaryData) -> dict[str, int]:
    """The C parameter struct of ``_qelementwise.qbinary16``."""
    (m1, s1), (m2, s2) = data.input_multipliers
    mode = "double" if data.rounding == "tflite" else data.rounding
    pot = data.pot_shifts or (0, 0)
    return dict(
        op=_OP_CODES[data.op], offset1=data.offsets[0], offset2=data.offsets[1],
        output_offset=data.output_offset, left_shift=data.left_shift,
        multiplier1=m1, shift1=s1, multiplier2=m2, shift2=s2,
        output_multiplier=data.output_multiplier[0], output_shift=data.output_multiplier[1],
        act_min=data.act_min, act_max=data.act_max, rounding=fp.rounding_code(mode),
        pot=int(data.pot_shifts is not None), pot_shift1=pot[0], pot_shift2=pot[1],
    )  # fmt: skip


def pair_table(data: QBinaryData) -> np.ndarray:
    """8-bit ops: the result for every (a, b) byte pair, one row per form up to the run's.

    Row ``form``, entry ``a_byte * 256 + b_byte``, viewed as uint8 bytes for
    ``_qelementwise.qbinary_table``. Built by ``_qelementwise.pair_table_row`` (the
    reference arithmetic in C: ~0.3 ms a row instead of ~10 ms of numpy passes over
    65536 int64 pairs, which made quantized ADD most of an int8 model's load time), or
    by ``reference_pair_table`` when that cannot run. Rows the optimized walk never
    reads are left zero: the forms between the scalar one and the run's, and the scalar
    row itself when every run is a whole number of SIMD blocks (MobileNetV2's ADDs).
    """
    last = data.plan.run_form if data.forms is not None else 0
    shifts = (data.input_multipliers[0][1], data.input_multipliers[1][1], data.output_multiplier[1])
    if _qelementwise is None or not all(-31 <= s <= 30 for s in shifts):
        return reference_pair_table(data)  # (and the numpy arithmetic's shift errors)
    table = np.zeros((last + 1, 65536), np.uint8)
    for form in sorted({last} | ({0} if _reads_scalar_row(data) else set())):
        _qelementwise.pair_table_row(_pair_params(data, form), table[form])
    table.flags.writeable = False
    return table


def _reads_scalar_row(data: QBinaryData) -> bool:
    """Whether ``invoke_optimized`` looks any element up in the scalar form's row."""
    if data.forms is None:
        return True
    width = _WIDTHS[(data.op, data.dtype.name)][data.plan.run_form]
    return data.plan.run % width != 0


def _pair_params(data: QBinaryData, form: int) -> dict[str, int]:
    """The C parameter struct of ``_qelementwise.pair_table_row`` for one form's row."""
    (m1, s1), (m2, s2) = data.input_multipliers
    tflite = data.rounding == "tflite"
    return dict(
        op=_OP_CODES[data.op], is_uint8=int(data.dtype == np.uint8),
        offset1=data.offsets[0], offset2=data.offsets[1], output_offset=data.output_offset,
        left_shift=data.left_shift, multiplier1=m1, shift1=s1, multiplier2=m2, shift2=s2,
        output_multiplier=data.output_multiplier[0], output_shift=data.output_multiplier[1],
        act_min=data.act_min, act_max=data.act_max, tflite=int(tflite),
        rounding=fp.rounding_code("double" if tflite else data.rounding), form=form,
        wraps=int(form in data.wrapping_forms),
    )  # fmt: skip


def reference_pair_table(data: QBinaryData) -> np.ndarray:
    """``pair_table`` computed by the numpy reference arithmetic (``_compute``)."""
    values = np.arange(256, dtype=np.uint8).view(data.dtype).astype(np.int64)
    a, b = np.repeat(values, 256), np.tile(values, 256)
    rows = [_compute(a, b, data, 0)]
    last = data.plan.run_form if data.forms is not None else 0
    for form in range(1, last + 1):
        rows.append(_compute(a, b, data, form) if form == last else rows[0])
    table = np.ascontiguousarray(np.stack(rows).astype(data.dtype)).view(np.uint8)
    table.flags.writeable = False
    return table


_OP_CODES = {ADD: 0, SUB: 1, MUL: 2, SQUARED_DIFFERENCE: 3}


def walk_pair_table(table: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> bool:
    """out = table[0, a_byte * 256 + b_byte] over the broadcast of 8-bit a and b.

    For any 8-bit binary function tabulated at prepare (PRELU, comparisons); the
    output is written as bytes. False (nothing done) when the Cython walk is not
    available for these arrays.
    """
    if _qelementwise is None or out.ndim > 6 or not out.flags.c_contiguous:
        return False
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    shape = (1,) * (6 - out.ndim) + out.shape
    _qelementwise.qbinary_table(
        a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8),
        out.reshape(-1).view(np.uint8), shape, _strides6(a.shape, out.shape),
        _strides6(b.shape, out.shape), table, 0, 0, 0,
    )  # fmt: skip
    return True


def invoke_optimized(data: QBinaryData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """The Cython walks (``_qelementwise``), or the reference when they are not built."""
    out = outputs[0]
    if _qelementwise is None or out.ndim > 6 or not out.flags.c_contiguous:
        invoke_reference(data, inputs, outputs)
        return
    a, b = np.ascontiguousarray(inputs[0]), np.ascontiguousarray(inputs[1])
    shape = (1,) * (6 - out.ndim) + out.shape
    walk = (shape, _strides6(a.shape, out.shape), _strides6(b.shape, out.shape))
    if data.table is None:
        # int16 ADD without broadcasting: the first size - size % 16 elements take the
        # SIMD loop's input rescale.
        limit = 0 if data.forms is None else out.size - out.size % 16
        _qelementwise.qbinary16(
            a.reshape(-1), b.reshape(-1), out.reshape(-1), *walk, data.params, limit
        )
        return
    width = 0
    if data.forms is not None:
        width = _WIDTHS[(data.op, data.dtype.name)][data.plan.run_form]
    run = data.plan.run if width else 0
    _qelementwise.qbinary_table(
        a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8),
        out.reshape(-1).view(np.uint8), *walk, data.table,
        run, run - run % width if width else 0, data.plan.run_form,
    )  # fmt: skip
