"""``load_delegate`` / ``Delegate``: the official signatures for external delegate libraries.

TFLite loads a delegate ``.so`` through ``tflite_plugin_create_delegate`` and the
returned ``TfLiteDelegate`` then drives the interpreter through the C structs of
the TFLite version it was built against (``TfLiteContext`` function pointers,
``TfLiteNode``, ``TfLiteRegistration``). edgelite's interpreter is not a TFLite C
context, and hosting such a library would need an ABI-exact shim of those
structs for every TFLite version a delegate may come from. Until that exists,
loading fails with a ValueError that says so (the error type ``load_delegate``
documents), so the usual ``try: load_delegate(...) except ValueError: CPU``
fallback in user scripts keeps working. Python delegates (``SimpleDelegate``
subclasses such as ``ReferenceDelegate``) go straight into
``experimental_delegates``.
"""

from __future__ import annotations

import os
from typing import Any

LIMITATION = (
    "edgelite cannot host external TfLiteDelegate libraries (that needs an ABI-compatible "
    "TFLite C context, which edgelite does not provide); pass a Python delegate "
    "(edgelite.interpreter.delegates.SimpleDelegate) in experimental_delegates instead"
)


class Delegate:
    """Stands for an external delegate library; construction always fails (see module doc)."""

    def __init__(self, library: str | os.PathLike, options: dict[str, Any] | None = None) -> None:
        self._library = None
        self._options = dict(options or {})
        exists = os.path.exists(os.fspath(library))
        where = "" if exists else " (and no such file exists)"
        raise ValueError(f"{LIMITATION}{where}")

    def _get_native_delegate_pointer(self) -> None:
        """There is no native TfLiteDelegate behind an edgelite Delegate."""
        return None


def load_delegate(library: str | os.PathLike, options: dict[str, Any] | None = None) -> Delegate:
    """Official signature; raises ValueError: external delegate libraries cannot be hosted.

    Raises:
      ValueError: always, naming the limitation (the official function raises
        ValueError when a delegate fails to load, so CPU fallbacks keep working).
    """
    try:
        return Delegate(library, options)
    except ValueError as exc:
        raise ValueError(f"Failed to load delegate from {os.fspath(library)}\n{exc}") from None
