"""TRANSPOSE: permute dimensions (rank up to 6, any dtype, bit-exact)."""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator
from ._shape_util import all_known, check_same_dtype, index_values
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_inputs

try:
    from . import _transpose as fast  # type: ignore[attr-defined]
except ImportError:  # extensions not built: the reference kernel still runs
    fast = None  # type: ignore[assignment]

MAX_RANK = 6


class TransposeData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("perm", "plan_shape", "plan_perm", "num_threads")
    perm: tuple[int, ...]
    # The same move over the fewest axes (merged neighbours, size-1 axes dropped).
    plan_shape: tuple[int, ...]
    plan_perm: tuple[int, ...]
    num_threads: int


def plan_transpose(
    shape: tuple[int, ...], perm: tuple[int, ...], num_threads: int
) -> TransposeData:
    """TransposeData for moving ``shape`` by ``perm`` (shared with DEPTH_TO_SPACE & co.)."""
    plan_shape, plan_perm = fast.plan(shape, perm) if fast is not None else (shape, perm)
    return TransposeData(perm, plan_shape, plan_perm, num_threads)


def _run_fast(data: TransposeData, x: np.ndarray, out: np.ndarray) -> None:
    """Move ``x`` into ``out`` with the blocked Cython transpose (``_transpose.pyx``)."""
    fast.run(x, out, data.plan_shape, data.plan_perm, data.num_threads)


# For kernels whose data movement is a transpose (DEPTH_TO_SPACE ...); None when not built.
fast_transpose = _run_fast if fast is not None else None


def _prepare(node: Node) -> Prepared:
    check_inputs(node, 2)
    x, perm_info, out = node.input(0), node.input(1), node.outputs[0]
    check_same_dtype(node, x, out)
    rank = len(x.shape)
    if rank > MAX_RANK:
        raise PrepareError(f"input {x.name!r} has rank {rank}; TRANSPOSE supports up to {MAX_RANK}")
    if len(perm_info.shape) != 1:
        raise PrepareError(
            f"perm {perm_info.name!r} must be 1-D, got shape {list(perm_info.shape)}"
        )
    if not all_known(perm_info):
        return Prepared(dynamic=True)
    perm = tuple(index_values(perm_info, "perm"))
    if sorted(perm) != list(range(rank)):
        raise PrepareError(f"perm {list(perm)} is not a permutation of the {rank} input dimensions")
    shape = tuple(x.shape[p] for p in perm)
    return Prepared([shape], data=plan_transpose(x.shape, perm, node.num_threads))


def _invoke(data: TransposeData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    np.copyto(outputs[0], inputs[0].transpose(data.perm))


def _invoke_opt(data: TransposeData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    """Blocked Cython transpose on the collapsed plan (``_transpose.pyx``)."""
    _run_fast(data, inputs[0], outputs[0])


KERNELS = {
    BuiltinOperator.TRANSPOSE: KernelSpec(
        _prepare, _invoke, versions=(1, 9), invoke_opt=_invoke_opt if fast is not None else None
    ),
}
