"""Read and write builtin-options tables generically, driven by the generated layout.

There are ~150 options tables; each is a flat record of scalars, enums, strings
and scalar vectors. Rather than hand-writing 300 functions, the codec walks
``layout.TABLES[name]`` and fills the matching options class from
``edgelite.schema.options``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import flatbuffers
import numpy as np
from flatbuffers import number_types as nt

from .flatread import TYPE_CODES
from .generated import enums, options
from .generated.layout import FIELD_ENUMS, TABLES
from .options_base import option_fields

_FLAGS = {
    "bool": nt.BoolFlags,
    "int8": nt.Int8Flags,
    "uint8": nt.Uint8Flags,
    "int16": nt.Int16Flags,
    "uint16": nt.Uint16Flags,
    "int32": nt.Int32Flags,
    "uint32": nt.Uint32Flags,
    "float32": nt.Float32Flags,
    "int64": nt.Int64Flags,
    "uint64": nt.Uint64Flags,
    "float64": nt.Float64Flags,
}
_NUMPY = {name: np.dtype(np.bool_ if name == "bool" else name) for name in _FLAGS}
_PREPEND = {
    "bool": "PrependBoolSlot",
    "int8": "PrependInt8Slot",
    "uint8": "PrependUint8Slot",
    "int16": "PrependInt16Slot",
    "uint16": "PrependUint16Slot",
    "int32": "PrependInt32Slot",
    "uint32": "PrependUint32Slot",
    "float32": "PrependFloat32Slot",
    "int64": "PrependInt64Slot",
    "uint64": "PrependUint64Slot",
    "float64": "PrependFloat64Slot",
}


@cache
def _enum_types(class_name: str) -> dict[str, type | None]:
    """Field name -> IntEnum class (element class for lists), None for plain values."""
    names = {row[0]: FIELD_ENUMS.get((class_name, row[0])) for row in TABLES[class_name]}
    return {field: getattr(enums, name) if name else None for field, name in names.items()}


def _as_enum(enum_cls: type | None, value: int) -> Any:
    if enum_cls is None:
        return value
    try:
        return enum_cls(value)
    except ValueError:
        return value  # a value newer than our schema: keep the number


def read_options(fb: Any, table: int, class_name: str) -> Any:
    """Decode the options table at position ``table`` of FlatReader ``fb`` into its class."""
    cls = options.OPTION_CLASSES[class_name]
    enum_of = _enum_types(class_name)
    values: dict[str, Any] = {}
    for fname, kind, ftype, is_vector, slot, deprecated in TABLES[class_name]:
        if deprecated:
            continue
        if kind == "string":
            value = fb.string(table, slot)
        elif is_vector:
            value = fb.values(table, slot, TYPE_CODES[ftype])
            enum_cls = enum_of[fname]
            if value is not None and enum_cls is not None:
                value = [_as_enum(enum_cls, v) for v in value]
        else:
            value = fb.scalar(table, slot, TYPE_CODES[ftype], None)
            if value is not None:
                value = _as_enum(enum_of[fname], value)
        if value is not None:
            values[fname] = value
    return cls(**values)


def write_options(builder: flatbuffers.Builder, obj: Any) -> int:
    """Serialize an options object; returns the table's offset."""
    name = type(obj).__name__
    layout = TABLES[name]
    refs: dict[str, int] = {}
    for fname, kind, ftype, is_vector, _slot, deprecated in layout:
        value = None if deprecated else getattr(obj, fname, None)
        if kind == "string" and value is not None:
            refs[fname] = builder.CreateString(value)
        elif is_vector and value:
            refs[fname] = builder.CreateNumpyVector(
                np.asarray([int(v) if ftype != "float32" else v for v in value], _NUMPY[ftype])
            )
    num_slots = max((row[4] for row in layout), default=-1) + 1
    builder.StartObject(num_slots)
    defaults = option_fields(obj)
    for fname, kind, ftype, is_vector, slot, deprecated in layout:
        if deprecated:
            continue
        if fname in refs:
            builder.PrependUOffsetTRelativeSlot(slot, refs[fname], 0)
        elif kind in ("scalar", "enum") and not is_vector:
            value = getattr(obj, fname)
            default = defaults[fname]
            getattr(builder, _PREPEND[ftype])(slot, _scalar(ftype, value), _scalar(ftype, default))
    return int(builder.EndObject())


def _scalar(ftype: str, value: Any) -> Any:
    if ftype == "bool":
        return bool(value)
    if ftype.startswith("float"):
        return float(value)
    return int(value)
