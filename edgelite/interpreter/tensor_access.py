"""set_tensor / get_tensor / resize_tensor_input checks, with the official messages.

The messages and exception types follow ai-edge-litert where user code may
match on them (``Cannot set tensor: ...``, ``Invalid tensor index ...``,
``Tensor data is null ...``); where the official runtime only reports an
internal check, ours says what was wrong instead.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..schema.dtypes import tensor_type
from ..schema.generated.enums import TensorType

if TYPE_CHECKING:
    from .subgraph import SubgraphRuntime


def check_index(rt: SubgraphRuntime, index: Any, error: type = ValueError) -> int:
    """The tensor index as an int; ``error`` when out of range (TypeError when not an int)."""
    index = operator.index(index)
    count = len(rt.sg.tensors)
    if not 0 <= index < count:
        raise error(f"Invalid tensor index {index} exceeds max tensor index {count}")
    return index


def type_name_of(dtype: np.dtype) -> str:
    """TFLite's name for the type of a numpy value (FLOAT64, INT64, STRING ...)."""
    if dtype.kind in "SUO":
        return "STRING"
    try:
        return tensor_type(dtype).name
    except ValueError:
        return "NOTYPE"


def _as_strings(value: Any) -> np.ndarray:
    array = np.asarray(value, dtype=object)
    flat = [v.encode() if isinstance(v, str) else bytes(v) for v in array.reshape(-1)]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(array.shape)


def set_tensor(rt: SubgraphRuntime, index: Any, value: Any) -> None:
    """Copy ``value`` into tensor ``index`` after the official dtype and shape checks."""
    t = check_index(rt, index)
    target = rt.arrays[t]
    if target is None:
        raise ValueError(
            "Cannot set tensor: Tensor is unallocated. Try calling allocate_tensors() first"
        )
    tensor = rt.sg.tensors[t]
    if t in rt.constants:
        raise ValueError(
            f"Cannot set tensor: tensor {t} {tensor.name!r} is a constant of the model "
            "(read-only model data)"
        )
    value = np.asarray(value)
    if tensor.type == TensorType.STRING:
        if value.dtype.kind not in "SUO":
            raise ValueError(
                f"Cannot set tensor: Got value of type {type_name_of(value.dtype)} but expected "
                f"type STRING for input {t}, name: {tensor.name} "
            )
        value = _as_strings(value)
    elif value.dtype != target.dtype:
        raise ValueError(
            f"Cannot set tensor: Got value of type {type_name_of(value.dtype)} but expected "
            f"type {TensorType(tensor.type).name} for input {t}, name: {tensor.name} "
        )
    if value.ndim != target.ndim:
        raise ValueError(
            f"Cannot set tensor: Dimension mismatch. Got {value.ndim} but expected "
            f"{target.ndim} for input {t}."
        )
    for dim, (got, want) in enumerate(zip(value.shape, target.shape)):
        if got != want:
            raise ValueError(
                f"Cannot set tensor: Dimension mismatch. Got {got} but expected {want} for "
                f"dimension {dim} of input {t}."
            )
    np.copyto(target, value)


def get_tensor(rt: SubgraphRuntime, index: Any) -> np.ndarray:
    """A copy of tensor ``index`` (strings as ``bytes_``; a 0-d tensor as a numpy scalar)."""
    t = check_index(rt, index)
    array = rt.arrays[t]
    if array is None:
        raise ValueError("Tensor data is null. Run allocate_tensors() first")
    if rt.sg.tensors[t].type == TensorType.STRING:
        items = [b"" if v is None else v for v in array.reshape(-1)]
        value = np.array(items, dtype=np.bytes_).reshape(array.shape)
    else:
        value = array.copy()
    # Like the official runtime, a scalar tensor comes back as a numpy scalar.
    return value[()] if value.ndim == 0 else value


def resize_input(rt: SubgraphRuntime, index: Any, size: np.ndarray, strict: bool) -> None:
    """Resize tensor ``index`` to ``size`` (an int32 array); RuntimeError when not allowed."""
    t = check_index(rt, index, RuntimeError)
    if size.ndim != 1:
        raise ValueError(f"Shape should be 1D instead of {size.ndim}.")
    shape = tuple(int(d) for d in size)
    tensor = rt.sg.tensors[t]
    if t in rt.constants:
        raise RuntimeError(f"tensor {t} {tensor.name!r} is a constant and cannot be resized")
    bad = [d for d in shape if d < 0]
    if bad:
        raise RuntimeError(
            f"cannot resize tensor {t} {tensor.name!r} to {list(shape)}: dimensions must be >= 0"
        )
    if strict:
        _check_strict(rt, t, shape)
    rt.resize(t, shape)


def _check_strict(rt: SubgraphRuntime, t: int, shape: tuple[int, ...]) -> None:
    tensor = rt.sg.tensors[t]
    current = rt.current_shape(t)
    signature = list(tensor.shape_signature) if tensor.shape_signature else list(current)
    if len(signature) != len(shape):
        raise RuntimeError(
            f"tensor {t} {tensor.name!r} has rank {len(signature)}; a strict resize cannot "
            f"change it to rank {len(shape)}"
        )
    for dim, (sig, old, new) in enumerate(zip(signature, current, shape)):
        if sig != -1 and old != new:
            raise RuntimeError(
                f"Attempting to resize dimension {dim} of tensor {t} with value {old} to "
                f"{new}. ResizeInputTensorStrict only allows mutating unknown dimensions "
                "identified by -1."
            )
