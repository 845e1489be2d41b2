"""Python side of the exact integer GEMM kernels (_qconv.pyx): plans built at prepare.

``plan_conv`` decides everything ``_qconv.conv_gemm`` needs for one quantized
convolution or fully connected layer: float copies of the weights (minus their zero
point), the bias with the input zero-point correction folded in, the K-chunk length
that keeps float32 sums exact, per-thread scratch buffers and the BLAS routine. It
returns None when numpy's OpenBLAS cannot be reached (the numpy reference then runs).
"""

from __future__ import annotations

import math
import threading

import numpy as np

from . import _blas
from ._requant import MODE_CODES, Requant
from .base import OpRecord

try:
    from ._qconv import conv_gemm, requant
    from ._qdirect import depthwise_int8, gemv_int8
except ImportError:  # extensions not built: only the numpy reference kernels run
    conv_gemm = depthwise_int8 = gemv_int8 = requant = None

# cblas_dgemm under the names of numpy's OpenBLAS builds (see _blas for sgemm).
_DGEMMS = (
    ("scipy_cblas_dgemm64_", True),
    ("cblas_dgemm64_", True),
    ("scipy_cblas_dgemm", False),
    ("cblas_dgemm", False),
)

# Scratch per thread: about this many bytes of patches and of accumulators.
BLOCK_BYTES = 1 << 19

# Float32 represents every integer up to 2^24: the bound on any partial GEMM sum.
FLOAT32_EXACT = 1 << 24

_dgemm: dict[str, tuple[int, bool] | None] = {}

_local = threading.local()


def scratch(slot: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A scratch array from this thread's pool, shared by every layer of every model.

    The kernels run one after another on a thread, so one buffer per ``slot`` (grown
    to the largest request) serves them all: the per-layer scratch of a model would
    otherwise cost tens of MiB. Views are cached per (slot, shape, dtype).
    """
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    key = (slot, shape, dtype)
    view = pool.get(key)
    if view is not None:
        return view
    need = math.prod(shape) * np.dtype(dtype).itemsize
    buffer = pool.get(slot)
    if buffer is None or buffer.nbytes < need:
        buffer = np.empty(max(need, 64), np.uint8)
        # A bigger buffer invalidates every view of the old one.
        for stale in [k for k in pool if isinstance(k, tuple) and k[0] == slot]:
            del pool[stale]
        pool[slot] = buffer
    view = buffer[:need].view(dtype).reshape(shape)
    pool[key] = view
    return view


def dgemm_pointer() -> tuple[int, bool] | None:
    """(address of OpenBLAS's cblas_dgemm, 64-bit ints), next to _blas.sgemm_pointer()."""
    if "dgemm" not in _dgemm:
        found = _blas.find_function(_DGEMMS) if _blas.sgemm_pointer() is not None else None
        _dgemm["dgemm"] = found
    return _dgemm["dgemm"]


class GemmPlan(OpRecord):
    """What ``_qconv.conv_gemm`` needs for one layer, decided at prepare."""

    __slots__ = (
        "weights",
        "epilogue",
        "window",
        "groups",
        "pad",
        "xshift",
        "chunk",
        "cols",
        "acc",
        "iacc",
        "real",
        "gemm",
        "gemm_int64",
        "num_threads",
    )
    weights: np.ndarray  # [O, K] float32 / float64: weight minus its zero point
    epilogue: tuple  # _qconv epilogue arguments (bias with the zero-point correction)
    window: tuple[int, ...]  # (kh, kw, sh, sw, dh, dw, pad_t, pad_l)
    groups: int
    pad: float  # value of a padding tap: the shifted input zero point
    xshift: int  # subtracted from inputs so that they fit [-128, 128] (uint8: 128)
    chunk: int  # K-chunk whose float32 sums stay exact
    cols: tuple[int, ...]  # scratch shapes: [threads, block, K] patches,
    acc: tuple[int, ...]  # [threads, block, O / groups] GEMM results,
    iacc: tuple[int, ...]  # [threads, block, O / groups] int32 sums of chunks (or empty)
    real: type  # np.float32, or np.float64 for int16 inputs
    gemm: int
    gemm_int64: bool
    num_threads: int


def _block_rows(rows: int, k: int, out: int, itemsize: int) -> int:
    return max(1, min(rows, BLOCK_BYTES // (itemsize * max(k, out, 1))))


def plan_conv(
    weights: np.ndarray,
    weight_zero: np.ndarray,
    x_dtype: np.dtype,
    x_zero: int,
    bias: np.ndarray | None,
    rq: Requant,
    window: tuple[int, ...],
    groups: int,
    rows: int,
    num_threads: int,
) -> GemmPlan | None:
    """A conv_gemm plan for constant ``weights`` [O, K] (int) and ``rows`` output pixels.

    ``weight_zero`` is the per-output-channel weight zero point, ``bias`` the int32 /
    int64 bias (or None); ``rows`` is batches * output pixels.
    """
    wide = x_dtype == np.dtype(np.int16)
    real = np.float64 if wide else np.float32
    pointer = dgemm_pointer() if wide else _blas.sgemm_pointer()
    if conv_gemm is None or pointer is None:
        return None
    out_c, k = weights.shape
    # Weights minus zero point, straight in the GEMM's float type (exact: |w - zw| <= 255,
    # or 2^16 for int16 weights). The other passes read the integer weights: a quarter
    # of the bytes, and no float temporaries (page faults are much of a model's load).
    centred: np.ndarray = weights.astype(real)
    zero = np.asarray(weight_zero, np.int64).reshape(-1)
    if np.any(zero):
        np.subtract(centred, zero.astype(real).reshape(-1, 1), out=centred)
        peak_weight = int(np.abs(centred).max(initial=0))
    else:
        peak_weight = max(-int(weights.min(initial=0)), int(weights.max(initial=0)))
    xshift = 128 if x_dtype == np.dtype(np.uint8) else 0
    pad = x_zero - xshift
    # Shifted inputs and padding lie in [-128, 128] (int8 / uint8); int16 uses float64.
    limit = 2**53 if wide else FLOAT32_EXACT
    peak = max(peak_weight, 1) * (32768 if wide else 128)
    chunk = max(1, min(k, limit // peak))
    # sum_k (x - zx) w = sum_k (x - xshift) w - pad * sum_k w: the bias takes the second term.
    correction = 0
    if pad:
        correction = pad * (weights.sum(axis=1, dtype=np.int64) - k * zero)
    total = (np.zeros(out_c, np.int64) if bias is None else bias.astype(np.int64)) - correction
    int64_modes = bool(np.any(rq.codes == MODE_CODES["int64"]))
    epilogue = rq.epilogue(
        None if int64_modes else total.astype(np.int32),  # wraps like the int32 accumulators
        total if int64_modes else None,
    )
    group_out = out_c // groups
    block = _block_rows(rows, k, group_out, np.dtype(real).itemsize)
    threads = max(1, int(num_threads))
    iacc_rows = block if chunk < k else 0
    return GemmPlan(
        weights=np.ascontiguousarray(centred),
        epilogue=epilogue,
        window=tuple(int(v) for v in window),
        groups=groups,
        pad=float(pad),
        xshift=xshift,
        chunk=int(chunk),
        cols=(threads, block, k),
        acc=(threads, block, group_out),
        iacc=(threads, iacc_rows, group_out if iacc_rows else 0),
        real=real,
        gemm=pointer[0],
        gemm_int64=pointer[1],
        num_threads=threads,
    )


def run_conv(plan: GemmPlan, x: np.ndarray, out: np.ndarray) -> None:
    """Run a planned convolution on NHWC ``x`` into NHWC ``out`` (same integer type)."""
    _blas.use_blas_threads(1)
    conv_gemm(
        x,
        plan.weights,
        out,
        scratch("cols", plan.cols, plan.real),
        scratch("acc", plan.acc, plan.real),
        scratch("iacc", plan.iacc, np.int32),
        plan.window,
        plan.groups,
        plan.pad,
        plan.xshift,
        plan.chunk,
        plan.epilogue,
        plan.gemm,
        plan.gemm_int64,
        plan.num_threads,
    )
