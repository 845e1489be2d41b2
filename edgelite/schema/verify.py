"""Structural verifier: proves every offset in a .tflite flatbuffer is safe to follow.

The Python flatbuffers runtime trusts its input; a forged offset makes it read
garbage, loop, or raise deep inside generated code. ``verify_flatbuffer`` walks
the whole file the way FlatBuffers' own C++ verifier does -- driven by the
generated layout of tflite.fbs -- before anything else touches it, and raises
ModelError naming the table path of the first problem.

The same walk runs in C first (``_verify.walk``, ~100x faster); it only says
"valid or not", and on "not" the Python walker below finds and names the problem.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from ..errors import ModelError
from .generated.layout import FILE_IDENTIFIER, ROOT, TABLES, UNIONS

try:
    from ._verify import walk as _walk
except ImportError:  # extension not built: the Python walker does all the work
    _walk = None  # type: ignore[assignment]

SCALAR_SIZE = {
    "bool": 1,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "uint16": 2,
    "int32": 4,
    "uint32": 4,
    "float32": 4,
    "int64": 8,
    "uint64": 8,
    "float64": 8,
}
MAX_DEPTH = 64
MAX_TABLES = 1_000_000  # same limit as FlatBuffers' C++ verifier
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")


class _Walker:
    def __init__(
        self, buf: bytes | memoryview, tables: dict = TABLES, unions: dict = UNIONS
    ) -> None:
        self.buf = buf
        self.tables_layout = tables
        self.unions = unions
        self.size = len(buf)
        self.tables = 0

    def fail(self, path: str, what: str) -> ModelError:
        return ModelError(f"corrupt model: {path}: {what}")

    def u32(self, pos: int, path: str) -> int:
        self.need(pos, 4, path)
        return int(_U32.unpack_from(self.buf, pos)[0])

    def need(self, pos: int, length: int, path: str) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise self.fail(
                path,
                f"{length} bytes at offset {pos} run past the end of the "
                f"{self.size}-byte file (truncated?)",
            )

    def follow(self, pos: int, path: str) -> int:
        """Target of the uoffset stored at ``pos``."""
        target = pos + self.u32(pos, path)
        if target >= self.size:
            raise self.fail(path, f"offset points to {target}, outside the {self.size}-byte file")
        return target

    def table(self, name: str, pos: int, path: str, depth: int) -> None:
        self.tables += 1
        if self.tables > MAX_TABLES or depth > MAX_DEPTH:
            raise self.fail(path, "too many or too deeply nested tables (forged offsets?)")
        self.need(pos, 4, path)
        if pos % 4:
            raise self.fail(path, f"table at offset {pos} is not 4-byte aligned")
        vtable = pos - int(_I32.unpack_from(self.buf, pos)[0])
        self.need(vtable, 4, path + " vtable")
        vt_len, tbl_len = (
            _U16.unpack_from(self.buf, vtable)[0],
            _U16.unpack_from(self.buf, vtable + 2)[0],
        )
        if vt_len < 4 or vt_len % 2:
            raise self.fail(path, f"vtable size {vt_len} is invalid")
        self.need(vtable, vt_len, path + " vtable")
        self.need(pos, tbl_len, path)
        for fname, kind, ftype, is_vector, slot, _deprecated in self.tables_layout[name]:
            if kind == "union":
                self.union_type_slot(vtable, vt_len, tbl_len, slot, f"{path}.{fname}_type")
            entry = 4 + 2 * slot
            if entry + 2 > vt_len:
                continue
            field_off = _U16.unpack_from(self.buf, vtable + entry)[0]
            if field_off == 0:
                continue
            fpath = f"{path}.{fname}"
            width = SCALAR_SIZE[ftype] if kind in ("scalar", "enum") and not is_vector else 4
            if field_off + width > tbl_len:
                raise self.fail(
                    fpath, f"field at {field_off} lies outside its {tbl_len}-byte table"
                )
            if kind in ("scalar", "enum") and not is_vector:
                continue
            target = self.follow(pos + field_off, fpath)
            if kind == "union":
                self.union(ftype, pos, vtable, vt_len, slot, target, fpath, depth)
            elif is_vector:
                self.vector(kind, ftype, target, fpath, depth)
            elif kind == "string":
                self.string(target, fpath)
            else:
                self.table(ftype, target, fpath, depth + 1)

    def union_type_slot(self, vtable: int, vt_len: int, tbl_len: int, slot: int, path: str) -> None:
        """The hidden one-byte ``<field>_type`` slot must lie inside the table too."""
        entry = 4 + 2 * (slot - 1)
        if entry + 2 <= vt_len:
            type_off = _U16.unpack_from(self.buf, vtable + entry)[0]
            if type_off and type_off + 1 > tbl_len:
                raise self.fail(path, f"field at {type_off} lies outside its {tbl_len}-byte table")

    def union(
        self,
        union: str,
        pos: int,
        vtable: int,
        vt_len: int,
        slot: int,
        target: int,
        path: str,
        depth: int,
    ) -> None:
        type_entry = 4 + 2 * (slot - 1)
        type_off = (
            _U16.unpack_from(self.buf, vtable + type_entry)[0] if type_entry + 2 <= vt_len else 0
        )
        type_value = self.buf[pos + type_off] if type_off else 0
        members = self.unions[union]
        if type_value == 0:
            raise self.fail(path, "union value present but its type is NONE")
        if type_value > len(members):
            raise self.fail(path, f"union type {type_value} is not a member of {union}")
        self.table(members[type_value - 1], target, f"{path}<{members[type_value - 1]}>", depth + 1)

    def vector(self, kind: str, ftype: str, pos: int, path: str, depth: int) -> None:
        count = self.u32(pos, path)
        elem = SCALAR_SIZE[ftype] if kind in ("scalar", "enum") else 4
        self.need(pos + 4, count * elem, path)
        if kind in ("scalar", "enum"):
            return
        for i in range(count):
            item = pos + 4 + 4 * i
            target = self.follow(item, f"{path}[{i}]")
            if kind == "string":
                self.string(target, f"{path}[{i}]")
            else:
                self.table(ftype, target, f"{path}[{i}]", depth + 1)

    def string(self, pos: int, path: str) -> None:
        length = self.u32(pos, path)
        self.need(pos + 4, length + 1, path)
        if self.buf[pos + 4 + length] != 0:
            raise self.fail(path, "string is not NUL-terminated")


def verify_flatbuffer(buf: bytes | memoryview, source: str = "<bytes>") -> None:
    """Raise ModelError unless ``buf`` is a structurally valid TFLite flatbuffer."""
    size = len(buf)
    if size == 0:
        raise ModelError(f"{source}: file is empty, not a TFLite model")
    if size < 8:
        raise ModelError(f"{source}: file is only {size} bytes, too short for a TFLite model")
    ident = bytes(buf[4:8])
    if ident != FILE_IDENTIFIER.encode():
        raise ModelError(
            f"{source}: not a TFLite model: file identifier is {ident!r}, expected "
            f"{FILE_IDENTIFIER!r} (is this a SavedModel, ONNX or a size-prefixed buffer?)"
        )
    if _fast_walk(buf, TABLES, UNIONS, ROOT):
        return
    walker = _Walker(buf)
    try:
        walker.table(ROOT, walker.follow(0, "model"), "model", 0)
    except ModelError as err:
        raise ModelError(f"{source}: {err}") from None
    raise _disagreement(source)


def verify_table_tree(
    buf: bytes | memoryview, root: str, tables: dict, unions: dict, what: str
) -> None:
    """Verify a flatbuffer of another schema (e.g. CONVERSION_METADATA) before decoding it."""
    if len(buf) < 8:
        raise ModelError(f"{what}: {len(buf)} bytes is too short for a flatbuffer")
    if _fast_walk(buf, tables, unions, root):
        return
    walker = _Walker(buf, tables, unions)
    walker.table(root, walker.follow(0, what), what, 0)
    raise _disagreement(what)


def _disagreement(what: str) -> ModelError:
    # The C walker rejected what the Python walker accepts: never trust such a file.
    return ModelError(f"{what}: corrupt model: structural verification failed")


# Field kinds and the column order of _verify's compiled field table.
_KINDS = {"scalar": 0, "enum": 0, "string": 1, "table": 2, "union": 3}
_COMPILED: dict[tuple[int, int], tuple] = {}


def _compile(tables: dict, unions: dict) -> tuple:
    """layout TABLES/UNIONS -> (fields [n, 5] int32, table_start, members, union_start, ids)."""
    table_ids = {name: i for i, name in enumerate(tables)}
    union_ids = {name: i for i, name in enumerate(unions)}
    rows, table_start = [], [0]
    for name in tables:
        for _fname, kind, ftype, is_vector, slot, _deprecated in tables[name]:
            width = SCALAR_SIZE[ftype] if kind in ("scalar", "enum") else 4
            target = table_ids.get(ftype, union_ids.get(ftype, 0))
            rows.append((slot, _KINDS[kind], width, target, int(is_vector)))
        table_start.append(len(rows))
    members, union_start = [], [0]
    for name in unions:
        members += [table_ids[member] for member in unions[name]]
        union_start.append(len(members))
    return (
        np.array(rows, np.int32).reshape(-1, 5),
        np.array(table_start, np.int32),
        np.array(members, np.int32),
        np.array(union_start, np.int32),
        table_ids,
    )


def _fast_walk(buf: Any, tables: dict, unions: dict, root: str) -> bool:
    """True when the C walker proves ``buf`` valid; False: unknown, ask the Python walker."""
    if _walk is None:
        return False
    key = (id(tables), id(unions))
    if key not in _COMPILED:
        # The entry holds the dicts themselves, so their ids cannot be reused meanwhile.
        _COMPILED[key] = (tables, unions, _compile(tables, unions))
    fields, table_start, members, union_start, table_ids = _COMPILED[key][2]
    try:
        return bool(
            _walk(
                buf,
                fields,
                table_start,
                members,
                union_start,
                table_ids[root],
                MAX_DEPTH,
                MAX_TABLES,
            )
        )
    except (TypeError, ValueError, BufferError):
        return False  # not a plain contiguous byte buffer: the Python walker handles it
