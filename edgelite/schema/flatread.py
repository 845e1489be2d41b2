"""Typed, bounds-checked reads of a flatbuffer at absolute positions.

``FlatReader`` is what reader.py decodes a verified .tflite through: the Cython
class from ``_flatread`` when the extension is built, else ``PyFlatReader`` below,
which has the same methods and results (tests run both). Every read checks its
bytes against the buffer's size and raises ValueError when they do not fit.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

# Scalar type code (the argument of scalar()/values()) -> struct format; the order is
# _flatread.TYPE_NAMES's.
TYPE_CODES = {
    "bool": 0,
    "int8": 1,
    "uint8": 2,
    "int16": 3,
    "uint16": 4,
    "int32": 5,
    "uint32": 6,
    "int64": 7,
    "uint64": 8,
    "float32": 9,
    "float64": 10,
}
_FORMATS = [struct.Struct(f) for f in ("<?", "<b", "<B", "<h", "<H", "<i", "<I", "<q", "<Q")]
_FORMATS += [struct.Struct("<f"), struct.Struct("<d")]
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")


class PyFlatReader:
    """Reads scalars, strings, vectors and sub-tables at absolute positions of ``source``."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.view = memoryview(source).cast("B")
        self.size = len(self.view)

    def _check(self, pos: int, length: int) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise ValueError(
                f"{length} bytes at offset {pos} lie outside the {self.size}-byte buffer"
            )

    def _deref(self, pos: int) -> int:
        self._check(pos, 4)
        return pos + int(_U32.unpack_from(self.view, pos)[0])

    def _field(self, table: int, slot: int) -> int:
        self._check(table, 4)
        vtable = table - int(_I32.unpack_from(self.view, table)[0])
        self._check(vtable, 4)
        entry = 4 + 2 * slot
        if slot < 0 or entry + 2 > _U16.unpack_from(self.view, vtable)[0]:
            return -1
        self._check(vtable + entry, 2)
        offset = int(_U16.unpack_from(self.view, vtable + entry)[0])
        return table + offset if offset else -1

    def _vector(self, table: int, slot: int, width: int) -> tuple[int, int]:
        if width <= 0:
            raise ValueError(f"vector element width {width} is invalid")
        pos = self._field(table, slot)
        if pos < 0:
            return -1, 0
        pos = self._deref(pos)
        self._check(pos, 4)
        count = int(_U32.unpack_from(self.view, pos)[0])
        if count > (self.size - pos - 4) // width:
            raise ValueError(
                f"vector of {count} x {width} bytes at offset {pos} runs past the "
                f"{self.size}-byte buffer"
            )
        return pos + 4, count

    def _scalar_at(self, pos: int, code: int) -> Any:
        fmt = _FORMATS[code]
        self._check(pos, fmt.size)
        return fmt.unpack_from(self.view, pos)[0]

    def root(self) -> int:
        """Position of the root table."""
        return self._deref(0)

    def scalar(self, table: int, slot: int, code: int, default: Any) -> Any:
        """Scalar field of type ``code`` (a TYPE_CODES value), ``default`` when absent."""
        if not 0 <= code < len(_FORMATS):
            raise ValueError(f"unknown scalar type code {code}")
        pos = self._field(table, slot)
        return default if pos < 0 else self._scalar_at(pos, code)

    def string(self, table: int, slot: int) -> str | None:
        """String field decoded as UTF-8 (bad bytes replaced), None when absent."""
        pos = self._field(table, slot)
        if pos < 0:
            return None
        pos = self._deref(pos)
        self._check(pos, 4)
        length = int(_U32.unpack_from(self.view, pos)[0])
        self._check(pos + 4, length)
        return bytes(self.view[pos + 4 : pos + 4 + length]).decode("utf-8", "replace")

    def raw(self, table: int, slot: int) -> bytes | None:
        """A ubyte vector field copied into ``bytes``, None when absent."""
        start, count = self._vector(table, slot, 1)
        return None if start < 0 else bytes(self.view[start : start + count])

    def values(self, table: int, slot: int, code: int) -> list | None:
        """A scalar vector field as a list of Python values, None when absent."""
        if not 0 <= code < len(_FORMATS):
            raise ValueError(f"unknown scalar type code {code}")
        fmt = _FORMATS[code]
        start, count = self._vector(table, slot, fmt.size)
        if start < 0:
            return None
        return [v[0] for v in fmt.iter_unpack(self.view[start : start + count * fmt.size])]

    def array(self, table: int, slot: int, dtype: Any) -> np.ndarray | None:
        """A scalar vector field as a numpy view of the buffer, None when absent."""
        dtype = np.dtype(dtype)
        start, count = self._vector(table, slot, dtype.itemsize)
        return None if start < 0 else np.frombuffer(self.source, dtype, count, start)

    def table(self, table: int, slot: int) -> int | None:
        """Position of a sub-table field, None when absent."""
        pos = self._field(table, slot)
        if pos < 0:
            return None
        pos = self._deref(pos)
        self._check(pos, 4)
        return pos

    def tables(self, table: int, slot: int) -> list[int]:
        """Positions of a vector-of-tables field's tables ([] when absent)."""
        start, count = self._vector(table, slot, 4)
        result = []
        for i in range(max(count, 0) if start >= 0 else 0):
            target = self._deref(start + 4 * i)
            self._check(target, 4)
            result.append(target)
        return result


try:
    from ._flatread import FlatReader
except ImportError:  # extension not built: the same reads in Python
    FlatReader = PyFlatReader  # type: ignore[assignment,misc]
