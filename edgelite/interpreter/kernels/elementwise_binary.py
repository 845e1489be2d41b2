"""Broadcasting binary arithmetic: ADD SUB MUL DIV SQUARED_DIFFERENCE POW MAXIMUM
MINIMUM FLOOR_DIV FLOOR_MOD, and ADD_N (n same-shape inputs).

numpy ufuncs with ``out=`` broadcast (any rank) without temporaries, so the reference
invoke is also the fast one. What the official float kernels do and numpy does not:

* ADD/SUB/MUL/DIV/ADD_N clamp to their activation range, which for ``NONE`` is
  [-FLT_MAX, FLT_MAX]: an overflow to inf comes out as +-FLT_MAX (NaN stays NaN).
* MAXIMUM/MINIMUM are ``a > b ? a : b`` / ``a < b ? a : b``: a NaN in the second
  input wins, a NaN in the first loses.
* Integer DIV truncates toward zero; FLOOR_DIV floors the quotient taken in double
  and int POW goes through std::pow in double; integer (and float) FLOOR_DIV, integer
  FLOOR_MOD, integer DIV and POW with a negative int exponent fail at invoke,
  as they do in the official runtime.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ...schema.generated.enums import ActivationFunctionType, BuiltinOperator, TensorType
from ._fbinary import binary as fused_binary
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, broadcast_shape, check_inputs
from .unary import (
    QUANTIZED_TYPES,
    c_cast_int32,
    check_output,
    check_same_type,
    check_type,
    is_quantized,
)


def _qbinary() -> Any:
    """``_qbinary`` (the quantized path), imported on first use: float models never load it."""
    from . import _qbinary as module

    return module


Compute = Callable[[np.ndarray, np.ndarray, np.ndarray], None]

F32 = TensorType.FLOAT32
I32 = TensorType.INT32
I64 = TensorType.INT64
FLT_MAX = float(np.finfo(np.float32).max)

# Fused activation -> clamp bounds (None: that side is open).
_ACTIVATIONS: dict[int, tuple[float | None, float | None]] = {
    ActivationFunctionType.NONE: (None, None),
    ActivationFunctionType.RELU: (0.0, None),
    ActivationFunctionType.RELU_N1_TO_1: (-1.0, 1.0),
    ActivationFunctionType.RELU6: (0.0, 6.0),
}


class BinaryData(OpRecord):
    """Prepared float/integer binary op (read-only after prepare)."""

    __slots__ = ("compute", "low", "high", "clamp", "fast_op", "fast_pattern")
    compute: Compute
    low: Any  # clamp bounds in the output dtype, None when that side is open
    high: Any
    clamp: bool
    fast_op: int  # optimized float path (_fbinary): op code (0: none)
    fast_pattern: int  # and broadcast pattern
    _defaults = {"fast_op": 0, "fast_pattern": 0}


def clamp_bounds(node: Node, dtype: np.dtype) -> tuple[Any, Any, bool]:
    """Clamp bounds for the node's fused activation, in ``dtype``."""
    options = node.options
    act = getattr(options, "fused_activation_function", ActivationFunctionType.NONE)
    if act not in _ACTIVATIONS:
        name = ActivationFunctionType(act).name
        raise PrepareError(f"fused activation {name} is not supported by {node.op}")
    low, high = _ACTIVATIONS[act]
    if dtype.kind == "f":
        # The official float kernels always clamp, to [-FLT_MAX, FLT_MAX] at least.
        low = -FLT_MAX if low is None else low
        high = FLT_MAX if high is None else high
        return dtype.type(low), dtype.type(high), True
    if dtype.kind == "u" and low is not None and low <= 0:
        low = None  # an unsigned value is never below 0 or -1
    low = None if low is None else dtype.type(low)
    high = None if high is None else dtype.type(high)
    return low, high, (low is not None or high is not None)


# -- computations (a, b, out) ------------------------------------------------------


def _plain(ufunc: Callable[..., Any]) -> Compute:
    def compute(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
        ufunc(a, b, out=out)

    return compute


def _quiet(ufunc: Callable[..., Any]) -> Compute:
    """A ufunc whose inf/NaN results are the IEEE answer, not a warning."""

    def compute(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
        with np.errstate(all="ignore"):
            ufunc(a, b, out=out)

    return compute


def _require_nonzero(divisor: np.ndarray, op: str) -> None:
    if not np.all(divisor):
        raise ZeroDivisionError(f"{op}: the divisor holds a 0 (the official runtime fails too)")


def _div_int(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    # C++ int32 division truncates toward zero. Through float64 the quotient is exact
    # enough that trunc() gives the C answer, and INT_MIN / -1 becomes 2^31, which
    # the activation clamp below turns into INT_MAX as the official kernel does.
    _require_nonzero(b, "DIV")
    info = np.iinfo(out.dtype)
    quotient = np.trunc(np.divide(a, b, dtype=np.float64))
    np.clip(quotient, info.min, info.max, out=quotient)
    out[...] = quotient


def _squared_difference(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    with np.errstate(all="ignore"):
        np.subtract(a, b, out=out)
        np.multiply(out, out, out=out)


def _pow_int(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    # The official kernel calls std::pow(double, double) and casts back to int32, so
    # results beyond int32 do not wrap: they take the C cast's value (INT_MIN on x86).
    if np.any(b < 0):
        raise ValueError("POW: negative exponents are not supported for int32 (as in TFLite)")
    with np.errstate(all="ignore"):
        powers = np.power(a.astype(np.float64), b.astype(np.float64))
    out[...] = c_cast_int32(powers)


def _max_float(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    # a > b ? a : b  ==  fmax(a, b), except that a NaN in b must come through.
    np.fmax(a, b, out=out)
    np.maximum(out, b, out=out)


def _min_float(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    np.fmin(a, b, out=out)
    np.minimum(out, b, out=out)


def _floor_div_float(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    # std::floor of the quotient taken in double: floor(1e-40 / -1e30) is -1, not -0.
    _require_nonzero(b, "FLOOR_DIV")
    with np.errstate(all="ignore"):
        quotient = np.divide(a, b, dtype=np.float64)
        np.floor(quotient, out=quotient)
        out[...] = quotient


def _floor_div_int(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    _require_nonzero(b, "FLOOR_DIV")
    with np.errstate(all="ignore"):  # INT_MIN // -1 wraps, as in C++
        np.floor_divide(a, b, out=out)


def _floor_mod_float(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    # fmod, moved into the divisor's sign; x mod 0 is NaN (no error for floats).
    with np.errstate(all="ignore"):
        np.remainder(a, b, out=out)


def _floor_mod_int(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    _require_nonzero(b, "FLOOR_MOD")
    np.remainder(a, b, out=out)


# op -> {input type: compute}, fused activation?, versions
_ARITH = {F32: _quiet(np.add), I32: _plain(np.add), I64: _plain(np.add)}
_OPS: dict[BuiltinOperator, tuple[dict[TensorType, Compute], bool, tuple[int, int]]] = {
    # int16 ADD/MUL without quantization parameters are plain integer ops.
    BuiltinOperator.ADD: ({**_ARITH, TensorType.INT16: _plain(np.add)}, True, (1, 6)),
    BuiltinOperator.SUB: (
        {F32: _quiet(np.subtract), I32: _plain(np.subtract), I64: _plain(np.subtract)},
        True,
        (1, 5),
    ),
    BuiltinOperator.MUL: (
        {
            F32: _quiet(np.multiply),
            I32: _plain(np.multiply),
            I64: _plain(np.multiply),
            TensorType.INT16: _plain(np.multiply),
            TensorType.UINT32: _plain(np.multiply),
        },
        True,
        (1, 8),
    ),
    BuiltinOperator.DIV: ({F32: _quiet(np.divide), I32: _div_int}, True, (1, 2)),
    BuiltinOperator.SQUARED_DIFFERENCE: (
        {F32: _squared_difference, I32: _squared_difference},
        False,
        (1, 2),
    ),
    BuiltinOperator.POW: ({F32: _quiet(np.power), I32: _pow_int}, False, (1, 1)),
    # MAXIMUM/MINIMUM only pick one of the two values, so 8/16-bit tensors are fine
    # (the official kernel compares raw values too).
    BuiltinOperator.MAXIMUM: (
        {
            F32: _max_float,
            **{t: _plain(np.maximum) for t in (I32, I64, TensorType.INT16)},
            **{t: _plain(np.maximum) for t in (TensorType.INT8, TensorType.UINT8)},
        },
        False,
        (1, 4),
    ),
    BuiltinOperator.MINIMUM: (
        {
            F32: _min_float,
            **{t: _plain(np.minimum) for t in (I32, I64, TensorType.INT16)},
            **{t: _plain(np.minimum) for t in (TensorType.INT8, TensorType.UINT8)},
        },
        False,
        (1, 4),
    ),
    BuiltinOperator.FLOOR_DIV: (
        {
            F32: _floor_div_float,
            **{t: _floor_div_int for t in (I32, TensorType.INT16, TensorType.INT8)},
        },
        False,
        (1, 3),
    ),
    BuiltinOperator.FLOOR_MOD: (
        {
            F32: _floor_mod_float,
            **{t: _floor_mod_int for t in (I32, I64, TensorType.INT16, TensorType.INT8)},
        },
        False,
        (1, 2),
    ),
}
_SELECTS = (BuiltinOperator.MAXIMUM, BuiltinOperator.MINIMUM)
# Ops with a rescaling quantized kernel (_qbinary).
_QUANTIZED = (
    BuiltinOperator.ADD,
    BuiltinOperator.SUB,
    BuiltinOperator.MUL,
    BuiltinOperator.SQUARED_DIFFERENCE,
)


def _make_prepare(op: BuiltinOperator, computes: dict[TensorType, Compute], fused: bool):
    def prepare(node: Node) -> Prepared:
        check_inputs(node, 2)
        a, b = node.input(0), node.input(1)
        if op in _QUANTIZED and a.type in QUANTIZED_TYPES and is_quantized(a):
            return _qbinary().prepare(node, op.name)
        if op == BuiltinOperator.DIV and a.type in QUANTIZED_TYPES and is_quantized(a):
            from . import _qdivision  # first quantized use only

            return _qdivision.prepare(node)
        picks = op in _SELECTS
        # TFLite's 8/16-bit FLOOR_DIV / FLOOR_MOD are plain integer ops on the raw values:
        # quantization parameters may be present and are not applied.
        raw = op in (BuiltinOperator.FLOOR_DIV, BuiltinOperator.FLOOR_MOD)
        check_type(node, a, computes, allow_quantized=picks or raw)
        check_same_type(node, (a, b))
        if picks and is_quantized(a):
            _check_same_quantization(node)
        check_output(node, a.type)
        shape = broadcast_shape(a.shape, b.shape)
        low, high, clamp = clamp_bounds(node, a.dtype) if fused else (None, None, False)
        fast_op, pattern = _fast_path(op, a, b, shape)
        compute = computes[a.type]
        if op == BuiltinOperator.FLOOR_DIV and a.type in (TensorType.INT8, TensorType.INT16):
            from ._qdivision import floor_div_narrow  # how INT_MIN / -1 comes back

            compute = floor_div_narrow
        data = BinaryData(compute, low, high, clamp, fast_op, pattern)
        return Prepared(output_shapes=[shape], data=data)

    return prepare


_FAST_OPS = {
    BuiltinOperator.ADD: 1,
    BuiltinOperator.SUB: 2,
    BuiltinOperator.MUL: 3,
    BuiltinOperator.DIV: 4,
}


def _fast_path(op: BuiltinOperator, a: Any, b: Any, shape: tuple[int, ...]) -> tuple[int, int]:
    """(op code, pattern) for _fbinary when float32 and the broadcast is a simple one."""
    if op not in _FAST_OPS or a.type != F32:
        return 0, 0
    # math.prod: exact on the int shapes and ~20x cheaper than np.prod (prepare is load time).
    size, a_size, b_size = math.prod(shape), math.prod(a.shape), math.prod(b.shape)
    last = shape[-1] if shape else 1
    for pattern, ok in (
        (0, tuple(a.shape) == tuple(b.shape) == tuple(shape)),
        (1, a_size == size and tuple(a.shape) == tuple(shape) and b_size == 1),
        (2, b_size == size and tuple(b.shape) == tuple(shape) and a_size == 1),
        (3, tuple(a.shape) == tuple(shape) and b_size == last and _row(b.shape, last)),
        (4, tuple(b.shape) == tuple(shape) and a_size == last and _row(a.shape, last)),
    ):
        if ok:
            return _FAST_OPS[op], pattern
    return 0, 0


def _row(dims: tuple[int, ...], last: int) -> bool:
    """A shape that is all ones but (possibly) a last axis of ``last``: [..., 1, last]."""
    return bool(dims) and dims[-1] == last and all(d == 1 for d in dims[:-1])


def _check_same_quantization(node: Node) -> None:
    # Picking raw values is only right when every tensor means the same real values.
    params = [(t.scale, t.zero_point) for t in (node.input(0), node.input(1), node.outputs[0])]
    if len(set(params)) != 1:
        raise PrepareError(
            f"quantized {node.op} with differing scale/zero point not supported yet: {params}"
        )


def invoke(data: BinaryData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """out = a (op) b, broadcast, then clamped to the fused activation's range."""
    if not isinstance(data, BinaryData):  # quantized: checked second, float stays cheap
        if data.op == "DIV":  # _qdivision's data carries its kernels
            data.reference(inputs, outputs)
            return
        _qbinary().invoke_reference(data, inputs, outputs)
        return
    out = outputs[0]
    data.compute(inputs[0], inputs[1], out)
    if data.clamp:
        np.clip(out, data.low, data.high, out=out)


def invoke_opt(data: BinaryData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Quantized ops: the Cython kernel; float and plain integer ops: as the reference."""
    if not isinstance(data, BinaryData):
        if data.op == "DIV":  # _qdivision's data carries its kernels
            data.optimized(inputs, outputs)
            return
        _qbinary().invoke_optimized(data, inputs, outputs)
        return
    if data.fast_op:
        low, high = data.low, data.high
        fused_binary(data.fast_op, data.fast_pattern, inputs[0], inputs[1], outputs[0], low, high)
        return
    invoke(data, inputs, outputs)


# -- ADD_N --------------------------------------------------------------------------


def prepare_add_n(node: Node) -> Prepared:
    """ADD_N: two or more inputs, all of one type and one shape (no broadcasting)."""
    if len(node.inputs) < 2:
        raise PrepareError(f"ADD_N needs at least 2 inputs, got {len(node.inputs)}")
    inputs = [node.input(i) for i in range(len(node.inputs))]
    check_type(node, inputs[0], (F32, I32))
    check_same_type(node, inputs)
    shapes = {info.shape for info in inputs}
    if len(shapes) != 1:
        raise PrepareError(f"ADD_N inputs must all have one shape; got {sorted(shapes)}")
    check_output(node, inputs[0].type)
    clamp = inputs[0].type == F32  # the float kernel clamps to +-FLT_MAX like ADD
    low, high = (np.float32(-FLT_MAX), np.float32(FLT_MAX)) if clamp else (None, None)
    return Prepared(
        output_shapes=[inputs[0].shape], data=BinaryData(_quiet(np.add), low, high, clamp)
    )


def invoke_add_n(data: BinaryData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Sum the inputs in order into the output."""
    out = outputs[0]
    data.compute(inputs[0], inputs[1], out)
    for more in inputs[2:]:
        data.compute(out, more, out)
    if data.clamp:
        np.clip(out, data.low, data.high, out=out)


KERNELS = {
    op: KernelSpec(
        prepare=_make_prepare(op, computes, fused),
        invoke=invoke,
        versions=versions,
        invoke_opt=invoke_opt if op in _QUANTIZED or op == BuiltinOperator.DIV else None,
    )
    for op, (computes, fused, versions) in _OPS.items()
}
KERNELS[BuiltinOperator.ADD_N] = KernelSpec(prepare=prepare_add_n, invoke=invoke_add_n)
