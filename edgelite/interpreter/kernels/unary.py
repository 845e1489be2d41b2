"""Unary math: ABS NEG EXP LOG SQRT RSQRT SQUARE SIN COS FLOOR CEIL ROUND SIGN.

Every op is one numpy ufunc pass (two for RSQRT) written straight into the output,
which is already allocation-free, so there is no separate optimized version.

The type helpers at the top are shared by the other elementwise kernel modules
(binary, comparison, activations, softmax, select, cast, quantize).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator, TensorType
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, TensorInfo, check_inputs

# Integer types whose tensors normally carry quantization parameters.
QUANTIZED_TYPES = (TensorType.INT8, TensorType.UINT8, TensorType.INT16)


def is_quantized(info: TensorInfo) -> bool:
    """True when the tensor carries scale/zero-point parameters."""
    q = info.quantization
    return q is not None and len(q.scale) > 0


def check_type(
    node: Node,
    info: TensorInfo,
    allowed: Iterable[TensorType],
    what: str = "input",
    allow_quantized: bool = False,
) -> None:
    """Raise a PrepareError unless ``info`` has one of the ``allowed`` file types.

    The file type is checked, not the numpy dtype: INT4 and BFLOAT16 share numpy
    dtypes with INT8 and UINT16 but mean something else. Quantized 8/16-bit
    tensors get their own message (they are a later piece of work) unless the op
    only moves values around (``allow_quantized``).
    """
    allowed = tuple(allowed)
    quantized = info.type in QUANTIZED_TYPES and is_quantized(info)
    if info.type in allowed and (allow_quantized or not quantized):
        return
    type_name = _type_name(info.type)
    if info.type in QUANTIZED_TYPES:
        raise PrepareError(
            f"quantized {node.op} not supported yet ({what} {info.name!r} is {type_name})"
        )
    names = ", ".join(_type_name(t) for t in allowed)
    raise PrepareError(f"{what} {info.name!r} has type {type_name}; {node.op} supports: {names}")


def check_same_type(node: Node, infos: Iterable[TensorInfo], what: str = "inputs") -> None:
    """All ``infos`` must share one file type (TFLite never converts implicitly)."""
    infos = list(infos)
    types = {info.type for info in infos}
    if len(types) > 1:
        listed = ", ".join(f"{info.name!r} {_type_name(info.type)}" for info in infos)
        raise PrepareError(f"{node.op} {what} must have one type; got {listed}")


def check_output(node: Node, type_: TensorType) -> None:
    """The model's output tensor must have the type the op produces."""
    out = node.outputs[0]
    if out.type != type_:
        raise PrepareError(
            f"output {out.name!r} has type {_type_name(out.type)}; "
            f"{node.op} produces {_type_name(type_)} here"
        )


def c_cast_int32(values: np.ndarray) -> np.ndarray:
    """``static_cast<int32_t>(double)`` of every value, as the official runtime does it on x86.

    In-range values truncate toward zero; NaN and values outside the int32 range
    (undefined behaviour in C++) come out as INT_MIN, which is what the x86
    conversion instruction returns and therefore what the oracle produces.
    """
    values = np.asarray(values, np.float64)
    valid = (values >= -(2.0**31)) & (values < 2.0**31)
    return np.where(valid, values, -(2.0**31)).astype(np.int32)


def _type_name(type_: int) -> str:
    try:
        return TensorType(type_).name.lower()
    except ValueError:
        return f"type{type_}"


def unary_prepare(node: Node, allowed: Iterable[TensorType], data: Any) -> Prepared:
    """Prepare for a one-input, same-shape, same-type op."""
    check_inputs(node, 1)
    x = node.input(0)
    check_type(node, x, allowed)
    check_output(node, x.type)
    return Prepared(output_shapes=[x.shape], data=data)


# -- the ops ----------------------------------------------------------------------

F32 = (TensorType.FLOAT32,)


class UnaryData(OpRecord):
    """Prepared float/integer unary op: the ufunc pass to run (read-only after prepare)."""

    __slots__ = ("compute",)
    compute: Callable[[np.ndarray, np.ndarray], None]


def _qa() -> Any:
    """``_qactivation`` (quantized RSQRT), imported on first use: float models never need it."""
    from . import _qactivation as module

    return module


def _rsqrt(x: np.ndarray, out: np.ndarray) -> None:
    # 1 / sqrt(x) in float32 like the official kernel (not a fast approximation).
    with np.errstate(all="ignore"):
        np.sqrt(x, out=out)
        np.divide(1.0, out, out=out)


def _ufunc(ufunc: Callable[..., Any]) -> Callable[[np.ndarray, np.ndarray], None]:
    """One ufunc pass; for ops that cannot raise floating-point flags."""

    def compute(x: np.ndarray, out: np.ndarray) -> None:
        ufunc(x, out=out)

    return compute


def _quiet(ufunc: Callable[..., Any]) -> Callable[[np.ndarray, np.ndarray], None]:
    """One ufunc pass where overflow/NaN results are normal IEEE answers, not warnings.

    errstate costs a couple of microseconds, so only ops that can set flags use it.
    """

    def compute(x: np.ndarray, out: np.ndarray) -> None:
        with np.errstate(all="ignore"):
            ufunc(x, out=out)

    return compute


# op -> (compute, allowed input types, supported versions)
_OPS: dict[BuiltinOperator, tuple[Callable[..., None], tuple[TensorType, ...], tuple[int, int]]] = {
    # int16 ABS without quantization parameters is plain integer abs (version 4).
    # Integer abs wraps the most negative value onto itself, as the official kernel does.
    BuiltinOperator.ABS: (_ufunc(np.abs), (*F32, TensorType.INT32, TensorType.INT16), (1, 5)),
    BuiltinOperator.NEG: (
        _ufunc(np.negative),
        (*F32, TensorType.INT32, TensorType.INT64),
        (1, 1),
    ),
    BuiltinOperator.EXP: (_quiet(np.exp), F32, (1, 2)),
    BuiltinOperator.LOG: (_quiet(np.log), F32, (1, 2)),
    BuiltinOperator.SQRT: (_quiet(np.sqrt), F32, (1, 2)),
    BuiltinOperator.RSQRT: (_rsqrt, F32, (1, 3)),
    BuiltinOperator.SQUARE: (_quiet(np.square), F32, (1, 1)),
    BuiltinOperator.SIN: (_quiet(np.sin), F32, (1, 2)),
    BuiltinOperator.COS: (_quiet(np.cos), F32, (1, 2)),
    BuiltinOperator.FLOOR: (_ufunc(np.floor), F32, (1, 1)),
    BuiltinOperator.CEIL: (_ufunc(np.ceil), F32, (1, 1)),
    # TFLite rounds halves to even (banker's rounding), which is what rint does.
    BuiltinOperator.ROUND: (_ufunc(np.rint), F32, (1, 1)),
    # SIGN keeps NaN as NaN and maps +-0 to 0; version 2 adds int32.
    BuiltinOperator.SIGN: (
        _ufunc(np.sign),
        (*F32, TensorType.FLOAT64, TensorType.INT32),
        (1, 2),
    ),
}
# Ops whose 8/16-bit quantized forms live in _qunary_more (the _qactivation table kernels).
_QUANTIZED_MORE = (
    BuiltinOperator.ABS,
    BuiltinOperator.NEG,
    BuiltinOperator.EXP,
    BuiltinOperator.LOG,
)


def _make_prepare(
    op: BuiltinOperator, compute: Callable[..., None], allowed: tuple[TensorType, ...]
):
    def prepare(node: Node) -> Prepared:
        if op == BuiltinOperator.RSQRT and node.inputs and node.inputs[0] is not None:
            x = node.inputs[0]
            if x.type in QUANTIZED_TYPES and is_quantized(x):
                return _prepare_quantized_rsqrt(node)
        if op in _QUANTIZED_MORE and node.inputs and node.inputs[0] is not None:
            x = node.inputs[0]
            # Quantized ABS/EXP/LOG; NEG negates raw 8/16-bit values quantized or not.
            if x.type in QUANTIZED_TYPES and (is_quantized(x) or op == BuiltinOperator.NEG):
                from . import _qunary_more  # first quantized use only

                return _qunary_more.prepare(node)
        return unary_prepare(node, allowed, UnaryData(compute))

    return prepare


def _prepare_quantized_rsqrt(node: Node) -> Prepared:
    """RSQRT int8 / int16 (symmetric), TFLite's quantized types for it: see _qactivation."""
    check_inputs(node, 1)
    x = node.input(0)
    if x.type not in (TensorType.INT8, TensorType.INT16):
        raise PrepareError(
            f"quantized RSQRT supports int8 and int16 (as TFLite); input {x.name!r} is "
            f"{_type_name(x.type)}"
        )
    qa = _qa()
    return qa.make_data(node, qa.rsqrt_compute(node), min_valid=x.zero_point)


def invoke(data: UnaryData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Apply the op's ufunc into the output (log/sqrt of negatives give NaN quietly)."""
    if not isinstance(data, UnaryData):  # quantized RSQRT
        _qa().invoke_reference(data, inputs, outputs)
        return
    data.compute(inputs[0], outputs[0])


def invoke_opt(data: UnaryData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Quantized RSQRT: the prepared table; everything else as the reference."""
    if not isinstance(data, UnaryData):
        _qa().invoke_table(data, inputs, outputs)
        return
    data.compute(inputs[0], outputs[0])


KERNELS = {
    op: KernelSpec(
        prepare=_make_prepare(op, compute, allowed),
        invoke=invoke,
        versions=versions,
        invoke_opt=invoke_opt if op == BuiltinOperator.RSQRT or op in _QUANTIZED_MORE else None,
    )
    for op, (compute, allowed, versions) in _OPS.items()
}
