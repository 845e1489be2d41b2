"""Decode any verified flatbuffer into plain dicts, driven by a generated layout.

Used for metadata records (CONVERSION_METADATA) that `inspect` shows and that
have no Model dataclass of their own.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from flatbuffers.table import Table

from .options_codec import _FLAGS
from .verify import verify_table_tree


def decode(buf: bytes, layout: ModuleType, what: str) -> dict[str, Any]:
    """Verify ``buf`` against ``layout`` and return its root table as a dict."""
    verify_table_tree(buf, layout.ROOT, layout.TABLES, layout.UNIONS, what)
    root = int.from_bytes(buf[:4], "little")
    return _table(Table(buf, root), layout.ROOT, layout)


def _table(tab: Table, name: str, layout: ModuleType) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fname, kind, ftype, is_vector, slot, deprecated in layout.TABLES[name]:
        o = tab.Offset(4 + 2 * slot)
        if deprecated or not o:
            continue
        enum_names = layout.ENUMS.get(layout.FIELD_ENUMS.get((name, fname)), {})
        if kind == "string":
            out[fname] = tab.String(o + tab.Pos).decode("utf-8", "replace")
        elif kind == "table" and not is_vector:
            out[fname] = _table(Table(tab.Bytes, tab.Indirect(o + tab.Pos)), ftype, layout)
        elif kind == "table":
            start, count = tab.Vector(o), tab.VectorLen(o)
            out[fname] = [
                _table(Table(tab.Bytes, tab.Indirect(start + 4 * i)), ftype, layout)
                for i in range(count)
            ]
        elif is_vector:
            values = tab.GetVectorAsNumpy(_FLAGS[ftype], o).tolist()
            out[fname] = [enum_names.get(v, v) for v in values]
        elif kind in ("scalar", "enum"):
            value = tab.Get(_FLAGS[ftype], o + tab.Pos)
            out[fname] = enum_names.get(value, value)
    return out
