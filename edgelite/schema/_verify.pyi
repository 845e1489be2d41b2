"""Type stub of the C structural verifier (_verify.pyx)."""

from typing import Any

import numpy as np

def walk(
    buf: Any,
    fields: np.ndarray,
    table_start: np.ndarray,
    members: np.ndarray,
    union_start: np.ndarray,
    root: int,
    max_depth: int,
    max_tables: int,
) -> bool: ...
