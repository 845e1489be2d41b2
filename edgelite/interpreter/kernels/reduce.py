"""MEAN, SUM, REDUCE_PROD, REDUCE_MAX, REDUCE_MIN, REDUCE_ANY, REDUCE_ALL.

Axes come from a tensor (negative and repeated entries allowed, an empty list
copies the input). Numerics follow TFLite: integer SUM/PROD wrap around in the
input type; integer MEAN sums in int64 and divides truncating toward zero; an
empty MAX/MIN gives the type's lowest/highest value and an empty MEAN gives NaN
(0 for integers). REDUCE_MAX/MIN also take int8/uint8/int16 (a max of raw values
is the max of the real values when input and output share scale and zero point).
Quantized MEAN, SUM (int8/uint8/int16) and REDUCE_PROD (int8/int16) rescale to the
output's parameters exactly as the official kernels do: ``_reduce_quant``. Integer
REDUCE_PROD without quantization parameters multiplies raw values, wrapping.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator

if TYPE_CHECKING:
    from ._reduce_quant import QuantReduce
from ._shape_util import (
    QUANTIZED_DTYPES,
    all_known,
    check_same_dtype,
    check_same_quantization,
    index_values,
)
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_dtype, check_inputs

try:
    from . import _reduce as fast  # type: ignore[attr-defined]
except ImportError:  # extensions not built: the reference kernels still run
    fast = None  # type: ignore[assignment]

_ORDERED = (np.float32, np.int32, np.int64, np.int8, np.uint8, np.int16)


def _reduce_quant() -> Any:
    """``_reduce_quant`` (the quantized path), imported on first use: float models skip it."""
    from . import _reduce_quant as module

    return module


class ReduceData(OpRecord):
    """Prepared reduction (read-only after prepare)."""

    __slots__ = ("axes", "keep_dims", "count", "block", "num_threads", "quant")
    axes: tuple[int, ...]
    keep_dims: bool
    count: int  # elements folded into each output element
    block: tuple[int, int, int] | None  # (outer, reduce, inner) for _reduce.pyx
    num_threads: int
    quant: QuantReduce | None  # quantized MEAN / SUM / PROD
    _defaults = {"block": None, "num_threads": 1, "quant": None}


def _resolve_axes(node: Node, rank: int, raw: list[int]) -> tuple[int, ...]:
    axes: list[int] = []
    for axis in raw:
        if not -rank <= axis < rank:
            raise PrepareError(f"reduction axis {axis} is out of range for a rank-{rank} input")
        axis %= rank
        if axis not in axes:
            axes.append(axis)
    return tuple(sorted(axes))


def _has_quantization(info) -> bool:
    return info.quantization is not None and len(info.quantization.scale) > 0


def _quantized(
    node: Node, op: str, axes: tuple[int, ...], count: int, raw_axes: list[int], keep: bool
):
    """The integer rescaling of quantized MEAN / SUM / PROD, or None for a plain reduction."""
    x, out = node.input(0), node.outputs[0]
    if x.dtype not in QUANTIZED_DTYPES:
        return None
    if op == "mean":
        mean4d = _reduce_quant().is_mean4d(x, raw_axes, keep)
        return _reduce_quant().prepare_mean(node, x, out, count, mean4d)
    if op == "sum":
        return _reduce_quant().prepare_sum(node, x, out, count)
    if op == "prod" and _has_quantization(x):
        return _reduce_quant().prepare_prod(node, x, out, axes, count)
    return None  # PROD of integers without quantization parameters: raw products


def _make_prepare(op: str, dtypes: tuple[Any, ...]):
    def prepare(node: Node) -> Prepared:
        check_inputs(node, 2)
        x, out = node.input(0), node.outputs[0]
        check_dtype(x, dtypes, "input")
        check_same_dtype(node, x, out)
        if op in ("max", "min"):
            check_same_quantization(node, x, out)
        if not all_known(node.input(1)):
            return Prepared(dynamic=True)
        rank = len(x.shape)
        raw_axes = index_values(node.input(1), "axis", (np.int32,))
        axes = _resolve_axes(node, rank, raw_axes) if rank else ()
        keep = bool(node.options.keep_dims) if node.options is not None else False
        if keep:
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        count = math.prod(x.shape[a] for a in axes)
        quant = _quantized(node, op, axes, count, raw_axes, keep)
        block = fast.plan(x.shape, axes) if fast is not None and 0 not in x.shape else None
        if quant is not None:
            quant, block = _reduce_quant().with_block(quant, block), None
        data = ReduceData(axes, keep, count, block, node.num_threads, quant)
        return Prepared([shape], data=data)

    return prepare


def _out_view(data: ReduceData, out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The output seen with kept (size-1) reduced axes, so numpy can write into it."""
    return out.reshape(tuple(1 if i in data.axes else d for i, d in enumerate(x.shape)))


def _run_quantized(data: ReduceData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    x = inputs[0]
    assert data.quant is not None
    view = _out_view(data, outputs[0], x)
    _reduce_quant().invoke(data.quant, x, view, data.axes, data.count)


def _quantized_first(float_invoke: Any) -> Any:
    """SUM / PROD / MEAN: quantized nodes run _reduce_quant, the rest ``float_invoke``."""

    def invoke(data: ReduceData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
        if data.quant is not None:
            _run_quantized(data, inputs, outputs)
        else:
            float_invoke(data, inputs, outputs)

    return invoke


@_quantized_first
def _invoke_sum(data: ReduceData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    x, out = inputs[0], outputs[0]
    np.sum(x, axis=data.axes, dtype=x.dtype, out=_out_view(data, out, x), keepdims=True)


@_quantized_first
def _invoke_prod(data: ReduceData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    x, out = inputs[0], outputs[0]
    np.prod(x, axis=data.axes, dtype=x.dtype, out=_out_view(data, out, x), keepdims=True)


@_quantized_first
def _invoke_mean(data: ReduceData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    x, out = inputs[0], outputs[0]
    view = _out_view(data, out, x)
    if data.count == 0:
        view.fill(np.nan if np.issubdtype(out.dtype, np.floating) else 0)
    elif np.issubdtype(x.dtype, np.floating):
        np.sum(x, axis=data.axes, out=view, keepdims=True)
        np.divide(view, x.dtype.type(data.count), out=view)
    else:
        total = np.sum(x, axis=data.axes, dtype=np.int64, keepdims=True)
        # C++ integer division truncates toward zero; numpy's // floors.
        quotient = np.abs(total) // data.count
        np.copyto(view, np.where(total < 0, -quotient, quotient), casting="unsafe")


def _extreme(x: np.ndarray, lowest: bool) -> Any:
    """TFLite's start value for max (lowest) / min (highest): finite for floats."""
    info = np.finfo(x.dtype) if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype)
    return info.min if lowest else info.max


def _invoke_max(data: ReduceData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    x, out = inputs[0], outputs[0]
    view = _out_view(data, out, x)
    np.max(x, axis=data.axes, out=view, keepdims=True, initial=_extreme(x, True))


def _invoke_min(data: ReduceData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    x, out = inputs[0], outputs[0]
    view = _out_view(data, out, x)
    np.min(x, axis=data.axes, out=view, keepdims=True, initial=_extreme(x, False))


def _invoke_any(data: ReduceData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    x, out = inputs[0], outputs[0]
    np.any(x, axis=data.axes, out=_out_view(data, out, x), keepdims=True)


def _invoke_all(data: ReduceData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    x, out = inputs[0], outputs[0]
    np.all(x, axis=data.axes, out=_out_view(data, out, x), keepdims=True)


def _make_opt(kind: str, reference: Any):
    """The _reduce.pyx loop when the reduced axes form one block, else the reference."""

    def invoke_opt(data: ReduceData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
        if data.quant is not None:
            if not _reduce_quant().invoke_opt(data.quant, inputs[0], outputs[0], data.num_threads):
                reference(data, inputs, outputs)
        elif data.block is None:
            reference(data, inputs, outputs)
        else:
            fast.run(inputs[0], outputs[0], kind, data.block, data.num_threads)

    return invoke_opt if fast is not None else None


KERNELS = {
    BuiltinOperator.MEAN: KernelSpec(
        _make_prepare("mean", _ORDERED),
        _invoke_mean,
        versions=(1, 3),
        invoke_opt=_make_opt("mean", _invoke_mean),
    ),
    BuiltinOperator.SUM: KernelSpec(
        _make_prepare("sum", _ORDERED),
        _invoke_sum,
        versions=(1, 2),
        invoke_opt=_make_opt("sum", _invoke_sum),
    ),
    BuiltinOperator.REDUCE_PROD: KernelSpec(
        _make_prepare("prod", _ORDERED), _invoke_prod, versions=(1, 2)
    ),
    BuiltinOperator.REDUCE_MAX: KernelSpec(
        _make_prepare("max", _ORDERED),
        _invoke_max,
        versions=(1, 3),
        invoke_opt=_make_opt("max", _invoke_max),
    ),
    BuiltinOperator.REDUCE_MIN: KernelSpec(
        _make_prepare("min", _ORDERED),
        _invoke_min,
        versions=(1, 3),
        invoke_opt=_make_opt("min", _invoke_min),
    ),
    BuiltinOperator.REDUCE_ANY: KernelSpec(
        _make_prepare("any", (np.bool_,)), _invoke_any, versions=(1, 1)
    ),
    BuiltinOperator.REDUCE_ALL: KernelSpec(
        _make_prepare("all", (np.bool_,)), _invoke_all, versions=(1, 1)
    ),
}
