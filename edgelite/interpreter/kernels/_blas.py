"""GEMM for the float kernels: numpy's BLAS (OpenBLAS), honouring ``num_threads``.

The GEMM-based kernels (conv, fully connected, transpose conv ...) need the BLAS numpy
was built with. Two problems with plain ``numpy.matmul``:

- OpenBLAS runs its own thread pool sized to every core at import time. That ignores
  the thread count the user asked for, and next to our own OpenMP threads (the Cython
  kernels) two pools of spinning threads fight for the same cores: measured 10-50x
  slower at num_threads=2 on this project's 2-core machine.
  ``OPENBLAS_NUM_THREADS`` only works before numpy is imported.
- Bias and activation need a second pass over the output.

So we find the already loaded OpenBLAS (numpy's wheels bundle ``scipy_openblas``; the
files in ``/proc/self/maps`` or ``numpy.libs``), keep it at one thread with its
``set_num_threads``, and call its ``cblas_sgemm`` from Cython (``_conv.gemm_bias_act``)
with the rows split across our OpenMP threads and bias/activation fused per block.
This sets OpenBLAS's thread count process-wide (other numpy code in the process then
runs single-threaded BLAS). Nothing happens at import. When no OpenBLAS is found (MKL,
Accelerate, a system BLAS under another name) ``gemm`` falls back to numpy matmul and
the BLAS keeps its own threading.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

import numpy as np

try:
    from ._conv import bias_act, gemm_bias_act
except ImportError:  # extensions not built: only the numpy reference kernels run
    bias_act = gemm_bias_act = None

# Symbol names across OpenBLAS builds: numpy's scipy-openblas (64-bit ints, prefixed
# and suffixed), plain OpenBLAS with 64-bit ints, plain OpenBLAS.
_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)

# cblas_sgemm under the same builds' names, with whether its integers are 64-bit.
_SGEMMS = (
    ("scipy_cblas_sgemm64_", True),
    ("cblas_sgemm64_", True),
    ("scipy_cblas_sgemm", False),
    ("cblas_sgemm", False),
)

_state: dict[str, object] = {}

# Below this many rows gemm() leaves the product to numpy (gemv), see gemm().
MIN_GEMM_ROWS = 4


def _loaded_blas_paths() -> list[str]:
    """Shared libraries named like OpenBLAS that this process has loaded (or numpy ships)."""
    paths: list[str] = []
    try:
        with open("/proc/self/maps") as maps:
            text = maps.read()
    except OSError:
        text = ""
    # Only the few lines naming OpenBLAS are split (the file has hundreds).
    for line in text.splitlines() if "openblas" in text.lower() else ():
        if "openblas" not in line.lower():
            continue
        path = line.rsplit(" ", 1)[-1].strip()
        if "openblas" in os.path.basename(path).lower() and path not in paths:
            paths.append(path)
    numpy_dir = os.path.dirname(np.__file__)
    # What ships next to numpy (glob "*openblas*" without importing glob: ~0.5 ms of load).
    for folder in (os.path.join(numpy_dir, "..", "numpy.libs"), os.path.join(numpy_dir, ".dylibs")):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if "openblas" in name and not name.startswith(".") and path not in paths:
                paths.append(path)
    return paths


def _libraries() -> list[ctypes.CDLL]:
    """The OpenBLAS candidates, opened once per process (the setter and sgemm lookups share)."""
    if "libraries" not in _state:
        libs = []
        for path in _loaded_blas_paths():
            try:
                libs.append(ctypes.CDLL(path))
            except OSError:
                continue
        _state["libraries"] = libs
    return _state["libraries"]  # type: ignore[return-value]


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


def sgemm_pointer() -> tuple[int, bool] | None:
    """(address of OpenBLAS's cblas_sgemm, whether it takes 64-bit ints), or None.

    Only offered together with a working thread-count setter: callers run the GEMM
    single-threaded from their own OpenMP threads.
    """
    if "sgemm" not in _state:
        _state["sgemm"] = find_function(_SGEMMS) if blas_available() else None
    return _state["sgemm"]  # type: ignore[return-value]


def find_function(names: tuple[tuple[str, bool], ...]) -> tuple[int, bool] | None:
    """(address, takes 64-bit ints) of the first of ``names`` the loaded OpenBLAS exports."""
    for lib in _libraries():
        for name, is_64 in names:
            fn = getattr(lib, name, None)
            if fn is not None:
                return ctypes.cast(fn, ctypes.c_void_p).value or 0, is_64
    return None


def gemm(
    a: np.ndarray,
    b: np.ndarray,
    out: np.ndarray,
    *,
    bias: np.ndarray | None = None,
    low: float = -np.inf,
    high: float = np.inf,
    b_transposed: bool = False,
    num_threads: int = 1,
) -> None:
    """out[...] = clamp(a @ b + bias, low, high) for C-contiguous float32 2-D arrays.

    With numpy's OpenBLAS found, the GEMM is called from Cython without the GIL, its
    rows split across ``num_threads`` OpenMP threads (OpenBLAS itself kept at one
    thread, so two thread pools never compete for the cores), with the bias filled in
    first and the clamp applied while each block is in cache. Otherwise numpy matmul
    with the BLAS thread count set, then one fused bias/clamp pass. ``b`` is [K, N],
    or [N, K] with ``b_transposed``.
    """
    bias = _NO_BIAS if bias is None else bias
    pointer = sgemm_pointer() if gemm_bias_act is not None else None
    if pointer is not None and a.shape[0] < MIN_GEMM_ROWS:
        # A few rows (a fully connected layer on one sample) is a matrix-vector
        # product: numpy dispatches it to gemv, which skips sgemm's packing of b.
        use_blas_threads(1)
        np.matmul(a, b.T if b_transposed else b, out=out)
        bias_act(out, bias, low, high, 1)
        return
    if pointer is not None:
        use_blas_threads(1)
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)  # no-ops for arena views
        gemm_bias_act(a, b, b_transposed, bias, out, low, high, pointer[0], pointer[1], num_threads)
        return
    use_blas_threads(num_threads)
    np.matmul(a, b.T if b_transposed else b, out=out)
    bias_act(out, bias, low, high, num_threads)


_NO_BIAS = np.empty(0, np.float32)
