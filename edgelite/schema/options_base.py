"""Base of the generated builtin-options classes (``edgelite.schema.options``).

There are ~150 options tables. As ``@dataclass`` classes they cost ~60 ms at import
(the decorator compiles an ``__init__``/``__repr__``/``__eq__`` per class at run
time). The generator writes each class's ``__init__`` out instead, so importing is
only loading bytecode, and this base provides what the decorator did:
dataclass-style equality and repr, and the field list with defaults.
"""

from __future__ import annotations

from typing import Any, ClassVar


class OptionsTable:
    """A builtin-options table: one attribute per live schema field, in schema order."""

    __slots__ = ()
    # Field name -> default, in schema order (a fresh empty list for vector fields).
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.DEFAULTS)

    # Mutable and compared by value, like a dataclass: not hashable.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.DEFAULTS)
        return f"{type(self).__name__}({values})"


def option_fields(options: OptionsTable | type[OptionsTable]) -> dict[str, Any]:
    """Field name -> schema default of an options object or class, in schema order."""
    return options.DEFAULTS


def is_options(value: Any) -> bool:
    """Whether ``value`` is a builtin-options object."""
    return isinstance(value, OptionsTable)
