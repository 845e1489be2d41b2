"""Mapping between the file's TensorType and numpy dtypes.

The file numbering (FLOAT32=0, FLOAT16=1, ...) is not the runtime TfLiteType
numbering (kTfLiteFloat32=1, ...); everything in edgelite goes through this module
so the two never meet.
"""

from __future__ import annotations

import numpy as np

from .generated.enums import TensorType

_NUMPY: dict[int, np.dtype] = {
    TensorType.FLOAT32: np.dtype(np.float32),
    TensorType.FLOAT16: np.dtype(np.float16),
    TensorType.INT32: np.dtype(np.int32),
    TensorType.UINT8: np.dtype(np.uint8),
    TensorType.INT64: np.dtype(np.int64),
    TensorType.STRING: np.dtype(np.object_),
    TensorType.BOOL: np.dtype(np.bool_),
    TensorType.INT16: np.dtype(np.int16),
    TensorType.COMPLEX64: np.dtype(np.complex64),
    TensorType.INT8: np.dtype(np.int8),
    TensorType.FLOAT64: np.dtype(np.float64),
    TensorType.COMPLEX128: np.dtype(np.complex128),
    TensorType.UINT64: np.dtype(np.uint64),
    # Resource and variant tensors hold handles; the official Python API reports
    # them with these dtypes too.
    TensorType.RESOURCE: np.dtype(np.int32),
    TensorType.VARIANT: np.dtype(np.int32),
    TensorType.UINT32: np.dtype(np.uint32),
    TensorType.UINT16: np.dtype(np.uint16),
    # INT4 is packed two to a byte in buffers; unpacked it is int8.
    TensorType.INT4: np.dtype(np.int8),
    # numpy has no bfloat16; the raw 16-bit pattern is kept.
    TensorType.BFLOAT16: np.dtype(np.uint16),
}

_FROM_NUMPY = {
    dtype: ttype
    for ttype, dtype in _NUMPY.items()
    if ttype not in (TensorType.RESOURCE, TensorType.VARIANT, TensorType.INT4, TensorType.BFLOAT16)
}


def numpy_dtype(tensor_type: int) -> np.dtype:
    """The numpy dtype that holds one element of ``tensor_type``."""
    try:
        return _NUMPY[tensor_type]
    except KeyError:
        raise ValueError(f"unknown TensorType {tensor_type}") from None


def tensor_type(dtype: np.dtype | type) -> TensorType:
    """The TensorType for a numpy dtype (e.g. ``np.int8`` -> ``TensorType.INT8``)."""
    try:
        return TensorType(_FROM_NUMPY[np.dtype(dtype)])
    except KeyError:
        raise ValueError(f"no TFLite tensor type for numpy dtype {np.dtype(dtype)}") from None


def type_name(tensor_type: int) -> str:
    """Lower-case name as users see it in tables (``float32``, ``int8`` ...)."""
    try:
        return TensorType(tensor_type).name.lower()
    except ValueError:
        return f"type{tensor_type}"


def storage_bytes(tensor_type: int, num_elements: int) -> int | None:
    """Bytes a dense constant of this type needs, or None when not fixed (strings)."""
    if tensor_type == TensorType.STRING:
        return None
    if tensor_type == TensorType.INT4:
        return (num_elements + 1) // 2
    return num_elements * numpy_dtype(tensor_type).itemsize
