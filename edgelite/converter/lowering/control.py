"""Lowering of functional control flow (While/If) and TensorLists. (in progress)"""

from __future__ import annotations

LOWERINGS: dict = {}
