"""A small parser for the subset of the FlatBuffers schema language tflite.fbs uses.

It turns ``tflite.fbs`` into plain descriptions of enums, unions and tables. The
code generator (``tools/gen_schema.py``) uses them to write the typed options
dataclasses, the named enums and the wire layout the verifier walks, so that all
three follow the schema file and can never drift from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SCALAR_SIZES = {
    "bool": 1,
    "byte": 1,
    "ubyte": 1,
    "int8": 1,
    "uint8": 1,
    "short": 2,
    "ushort": 2,
    "int16": 2,
    "uint16": 2,
    "int": 4,
    "uint": 4,
    "int32": 4,
    "uint32": 4,
    "float": 4,
    "long": 8,
    "ulong": 8,
    "int64": 8,
    "uint64": 8,
    "double": 8,
}

# Canonical spelling of each scalar, so later code deals with one name per kind.
CANONICAL = {
    "bool": "bool",
    "byte": "int8",
    "int8": "int8",
    "ubyte": "uint8",
    "uint8": "uint8",
    "short": "int16",
    "int16": "int16",
    "ushort": "uint16",
    "uint16": "uint16",
    "int": "int32",
    "int32": "int32",
    "uint": "uint32",
    "uint32": "uint32",
    "float": "float32",
    "long": "int64",
    "int64": "int64",
    "ulong": "uint64",
    "uint64": "uint64",
    "double": "float64",
}


@dataclass
class EnumDef:
    name: str
    base: str  # canonical scalar name
    values: dict[str, int]


@dataclass
class UnionDef:
    name: str
    members: list[str]  # member i has wire type i + 1 (0 is NONE)


@dataclass
class FieldDef:
    name: str
    type: str  # scalar, enum, table, union or "string"
    is_vector: bool
    default: str | None
    deprecated: bool
    slot: int  # vtable slot; a union takes two slots (type, then value)


@dataclass
class TableDef:
    name: str
    fields: list[FieldDef] = field(default_factory=list)


@dataclass
class Schema:
    enums: dict[str, EnumDef]
    unions: dict[str, UnionDef]
    tables: dict[str, TableDef]
    root_type: str
    file_identifier: str

    def kind(self, type_name: str) -> str:
        """Return 'scalar', 'enum', 'union', 'table' or 'string' for a field type."""
        if type_name in CANONICAL:
            return "scalar"
        if type_name == "string":
            return "string"
        for kind, names in (("enum", self.enums), ("union", self.unions), ("table", self.tables)):
            if type_name in names:
                return kind
        raise ValueError(f"unknown type {type_name!r} in schema")


_COMMENT = re.compile(r"//[^\n]*")
_BLOCK = re.compile(r"\b(enum|union|table)\s+(\w+)\s*(?::\s*(\w+))?\s*(\([^)]*\))?\s*\{([^}]*)\}")
_FIELD = re.compile(r"(\w+)\s*:\s*(\[?)\s*(\w+)\s*\]?\s*(?:=\s*([\w.+-]+))?\s*(\([^)]*\))?")


def parse_fbs(text: str) -> Schema:
    """Parse schema text into a :class:`Schema`."""
    text = _COMMENT.sub("", text)
    enums: dict[str, EnumDef] = {}
    unions: dict[str, UnionDef] = {}
    tables: dict[str, TableDef] = {}
    for kind, name, base, _attrs, body in _BLOCK.findall(text):
        if kind == "enum":
            enums[name] = EnumDef(name, CANONICAL[base], _enum_values(body))
        elif kind == "union":
            unions[name] = UnionDef(name, [_strip_attr(m) for m in _items(body)])
        else:
            tables[name] = TableDef(name)
            tables[name].fields = _table_fields(body, unions)
    root = re.search(r"root_type\s+(\w+)\s*;", text)
    ident = re.search(r'file_identifier\s+"(\w+)"\s*;', text)
    if not root:
        raise ValueError("schema lacks a root_type")
    return Schema(enums, unions, tables, root.group(1), ident.group(1) if ident else "")


def load_schema(path: str | Path | None = None) -> Schema:
    """Parse ``tflite.fbs`` (the copy shipped in this package by default)."""
    path = Path(path) if path else Path(__file__).with_name("tflite.fbs")
    return parse_fbs(path.read_text(encoding="utf-8"))


def _items(body: str) -> list[str]:
    return [item.strip() for item in body.split(",") if item.strip()]


def _strip_attr(item: str) -> str:
    return item.split("(")[0].strip()


def _enum_values(body: str) -> dict[str, int]:
    values: dict[str, int] = {}
    next_value = 0
    for item in _items(body):
        name, _, value = _strip_attr(item).partition("=")
        if value.strip():
            next_value = int(value.strip())
        values[name.strip()] = next_value
        next_value += 1
    return values


def _table_fields(body: str, unions: dict[str, UnionDef]) -> list[FieldDef]:
    fields = []
    slot = 0
    for statement in body.split(";"):
        statement = statement.strip()
        if not statement:
            continue
        match = _FIELD.fullmatch(statement)
        if not match:
            raise ValueError(f"cannot parse table field {statement!r}")
        name, bracket, type_name, default, attrs = match.groups()
        deprecated = "deprecated" in (attrs or "")
        if type_name in unions:
            slot += 1  # the hidden <name>_type byte comes first
        fields.append(FieldDef(name, type_name, bool(bracket), default, deprecated, slot))
        slot += 1
    return fields
