"""Honour the interpreter's ``num_threads`` in numpy's BLAS (OpenBLAS).

The GEMM-based kernels (conv, fully connected, batch matmul ...) hand their big matrix
products to ``numpy.matmul``, i.e. to the BLAS numpy was built with. OpenBLAS runs its
own thread pool sized to every core at import time: on a small shared machine that
oversubscribes the cores (measured 2-10x slower than one thread on this project's
2-core box) and ignores the thread count the user asked for. ``OPENBLAS_NUM_THREADS``
only works before numpy is imported, so instead we find the already loaded OpenBLAS
(numpy's wheels bundle ``scipy_openblas``) and call its ``set_num_threads`` before each
GEMM-using kernel when the wanted count changes. Nothing happens at import; when no
OpenBLAS can be found (MKL, Accelerate, a system BLAS under another name) this is a
no-op and the BLAS keeps its own threading.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Callable

import numpy as np

# Symbol names across OpenBLAS builds: numpy's scipy-openblas (64-bit ints, prefixed
# and suffixed), plain OpenBLAS with 64-bit ints, plain OpenBLAS.
_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)

_state: dict[str, object] = {}


def _loaded_blas_paths() -> list[str]:
    """Shared libraries named like OpenBLAS that this process has loaded (or numpy ships)."""
    paths: list[str] = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rsplit(" ", 1)[-1].strip()
                if "openblas" in os.path.basename(path).lower() and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    numpy_dir = os.path.dirname(np.__file__)
    for pattern in ("../numpy.libs/*openblas*", ".dylibs/*openblas*"):
        paths.extend(p for p in glob.glob(os.path.join(numpy_dir, pattern)) if p not in paths)
    return paths


def _libraries() -> list[ctypes.CDLL]:
    libs = []
    for path in _loaded_blas_paths():
        try:
            libs.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libs


def _find_setter() -> Callable[[int], None] | None:
    for lib in _libraries():
        for name in _SETTERS:
            setter = getattr(lib, name, None)
            if setter is not None:
                setter.argtypes = [ctypes.c_int]
                setter.restype = None
                return setter
    return None


def blas_available() -> bool:
    """Whether numpy's OpenBLAS thread count can be controlled from here."""
    if "setter" not in _state:
        _state["setter"] = _find_setter()
    return _state["setter"] is not None


def use_blas_threads(num_threads: int) -> None:
    """Make the next BLAS calls use ``num_threads`` threads (cheap when unchanged)."""
    wanted = max(1, int(num_threads))
    if _state.get("threads") == wanted:
        return
    if "setter" not in _state:
        _state["setter"] = _find_setter()
    setter = _state["setter"]
    if setter is not None:
        setter(wanted)  # type: ignore[operator]
    _state["threads"] = wanted

