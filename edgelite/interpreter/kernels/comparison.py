"""Comparisons LESS LESS_EQUAL GREATER GREATER_EQUAL EQUAL NOT_EQUAL (-> bool) and the
logical ops LOGICAL_AND LOGICAL_OR LOGICAL_NOT, all broadcasting.

One ufunc with ``out=`` each: allocation-free, so that is also the optimized version,
except for 8-bit quantized inputs, which the optimized kernel looks up in a table of
all 65536 byte pairs (``_qbinary.walk_pair_table``).

Quantized int8/uint8 inputs (and int16 ones of EQUAL / NOT_EQUAL) are compared as
TFLite does, after bringing both to a common scale: ``(x - zero_point) << 8``
times the input's own scale as a quantized multiplier (``ComparisonWithScaling``).
That rounds, so two different reals may compare equal, exactly as in the official
runtime. int16 LESS / GREATER and friends compare the raw values (the official
kernel ignores int16 quantization there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator, TensorType
from .base import (
    KernelSpec,
    Node,
    OpRecord,
    Prepared,
    PrepareError,
    TensorInfo,
    broadcast_shape,
    check_inputs,
)
from .unary import check_output, check_same_type, check_type, is_quantized, unary_prepare

_8BIT = (TensorType.INT8, TensorType.UINT8)
_ORDERED = (TensorType.FLOAT32, TensorType.INT32, TensorType.INT64, TensorType.INT16, *_8BIT)
# EQUAL/NOT_EQUAL also take bool and string tensors (strings compare byte-wise).
_EQUALITY = (*_ORDERED, TensorType.BOOL, TensorType.STRING)
_BOOL = (TensorType.BOOL,)
_EQUALITY_OPS = (BuiltinOperator.EQUAL, BuiltinOperator.NOT_EQUAL)

# op -> (ufunc, input types, versions)
_BINARY: dict[
    BuiltinOperator, tuple[Callable[..., Any], tuple[TensorType, ...], tuple[int, int]]
] = {
    BuiltinOperator.LESS: (np.less, _ORDERED, (1, 3)),
    BuiltinOperator.LESS_EQUAL: (np.less_equal, _ORDERED, (1, 2)),
    BuiltinOperator.GREATER: (np.greater, _ORDERED, (1, 2)),
    BuiltinOperator.GREATER_EQUAL: (np.greater_equal, _ORDERED, (1, 3)),
    BuiltinOperator.EQUAL: (np.equal, _EQUALITY, (1, 5)),
    BuiltinOperator.NOT_EQUAL: (np.not_equal, _EQUALITY, (1, 4)),
    BuiltinOperator.LOGICAL_AND: (np.logical_and, _BOOL, (1, 1)),
    BuiltinOperator.LOGICAL_OR: (np.logical_or, _BOOL, (1, 1)),
}


class CompareData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("ufunc", "rescale", "rounding", "table")
    ufunc: Callable[..., Any]
    # Quantized inputs: (offset, multiplier, shift) of each side, and the rounding.
    rescale: tuple[tuple[int, int, int], tuple[int, int, int]] | None
    rounding: str
    table: np.ndarray | None  # 8-bit: the result of every byte pair (optimized)
    _defaults = {"rescale": None, "rounding": "double", "table": None}


def _make_prepare(op: BuiltinOperator, ufunc: Callable[..., Any], allowed: tuple[TensorType, ...]):
    def prepare(node: Node) -> Prepared:
        check_inputs(node, 2)
        a, b = node.input(0), node.input(1)
        check_type(node, a, allowed, allow_quantized=True)
        check_same_type(node, (a, b))
        check_output(node, TensorType.BOOL)
        shape = broadcast_shape(a.shape, b.shape)
        rescale, rounding = None, "double"
        if a.type in _8BIT or (a.type == TensorType.INT16 and op in _EQUALITY_OPS):
            rescale, rounding = _quantized(node, op, a, b)
        data = CompareData(ufunc, rescale, rounding)
        if a.type in _8BIT:
            data = CompareData(ufunc, rescale, rounding, _pair_table(data, a.dtype))
        return Prepared(output_shapes=[shape], data=data)

    return prepare


def _quantized(
    node: Node, op: BuiltinOperator, a: TensorInfo, b: TensorInfo
) -> tuple[tuple[tuple[int, int, int], tuple[int, int, int]] | None, str]:
    """TFLite's rescaling of quantized comparison inputs (None: compare raw values)."""
    if a.type == TensorType.INT16 and not is_quantized(a):
        if op == BuiltinOperator.NOT_EQUAL:
            # The official kernel writes nothing for this case.
            raise PrepareError(f"NOT_EQUAL of int16 {a.name!r} needs quantization parameters")
        return None, "double"
    # The quantized helpers load here: float and bool comparisons never need them.
    from . import fixedpoint as fp
    from ._qparams import per_tensor, rounding_mode

    rounding = rounding_mode(node, "double")
    sides = []
    for info in (a, b):
        if not is_quantized(info):
            raise PrepareError(
                f"{node.op} input {info.name!r} is {TensorType(info.type).name.lower()} "
                "without quantization parameters; TFLite compares 8-bit inputs by their "
                "real values, so they need a scale and a zero point"
            )
        scale, zero_point = per_tensor(info, "input")
        if scale >= 1.0:
            # TFLite rescales with MultiplyByQuantizedMultiplierSmallerThanOneExp:
            # scales of 1 and above abort or give meaningless results there.
            raise PrepareError(
                f"input {info.name!r} has scale {scale!r}; quantized comparisons need "
                "scales below 1"
            )
        mode = "single" if rounding == "single" else "double"
        multiplier, shift = fp.quantize_multiplier_smaller_than_one_exp(scale, mode)
        sides.append((-zero_point, multiplier, shift))
    return (sides[0], sides[1]), rounding


def _rescaled(x: np.ndarray, side: tuple[int, int, int], rounding: str) -> np.ndarray:
    from . import fixedpoint as fp

    offset, multiplier, shift = side
    shifted = (x.astype(np.int64) + offset) << 8
    return fp.multiply_by_quantized_multiplier(shifted, multiplier, shift, rounding)


def _pair_table(data: CompareData, dtype: np.dtype) -> np.ndarray:
    """Every (a byte, b byte) result as one row of 65536 bytes, for walk_pair_table."""
    values = np.arange(256, dtype=np.uint8).view(dtype)
    result = np.empty(65536, np.bool_)
    invoke(data, [np.repeat(values, 256), np.tile(values, 256)], [result])
    table = result.view(np.uint8).reshape(1, -1)
    table.flags.writeable = False
    return table


def invoke_opt(data: CompareData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Quantized 8-bit: the prepared table over the broadcast; otherwise the reference."""
    if data.table is None:
        invoke(data, inputs, outputs)
        return
    from ._qbinary import walk_pair_table

    if not walk_pair_table(data.table, inputs[0], inputs[1], outputs[0]):
        invoke(data, inputs, outputs)


def invoke(data: CompareData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Compare (or combine) elementwise with broadcasting into the bool output."""
    a, b = inputs
    if data.rescale is not None:
        a = _rescaled(a, data.rescale[0], data.rounding)
        b = _rescaled(b, data.rescale[1], data.rounding)
    data.ufunc(a, b, out=outputs[0])


def prepare_not(node: Node) -> Prepared:
    """LOGICAL_NOT: bool in, bool out, same shape."""
    return unary_prepare(node, _BOOL, CompareData(np.logical_not))


def invoke_not(data: CompareData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Negate elementwise."""
    np.logical_not(inputs[0], out=outputs[0])


KERNELS = {
    op: KernelSpec(
        prepare=_make_prepare(op, ufunc, allowed),
        invoke=invoke,
        versions=versions,
        invoke_opt=invoke_opt,
    )
    for op, (ufunc, allowed, versions) in _BINARY.items()
}
KERNELS[BuiltinOperator.LOGICAL_NOT] = KernelSpec(prepare=prepare_not, invoke=invoke_not)
