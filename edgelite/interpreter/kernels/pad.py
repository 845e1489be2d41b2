"""PAD, PADV2, MIRROR_PAD: grow a tensor at both ends of each dimension (bit-exact).

PAD fills with zero (the output zero point for quantized tensors), PADV2 with
its constant_values input, MIRROR_PAD with reflected (REFLECT: edge excluded) or
mirrored (SYMMETRIC: edge included) input values.
"""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import BuiltinOperator, MirrorPadMode
from ._shape_util import (
    QUANTIZED_DTYPES,
    all_known,
    check_same_dtype,
    check_same_quantization,
    index_values,
)
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, TensorInfo, check_inputs

try:
    from . import _pad as fast  # type: ignore[attr-defined]
except ImportError:  # extensions not built: the reference kernels still run
    fast = None  # type: ignore[assignment]

MAX_RANK = 8
Index = tuple[slice, ...]


class PadData(OpRecord):
    """Prepared data of the op (read-only after prepare)."""

    __slots__ = ("interior", "fill", "mirror_copies", "plan", "num_threads")
    interior: Index  # where the input lands in the output
    fill: int | float | None  # None: PADV2 reads constant_values at invoke
    mirror_copies: tuple[tuple[Index, Index], ...]  # (destination, source) within output
    plan: tuple  # _pad.plan(): the same constant pad over the fewest axes
    num_threads: int
    _defaults = {"mirror_copies": (), "plan": (), "num_threads": 1}


def _paddings(node: Node, x: TensorInfo, info: TensorInfo) -> list[tuple[int, int]]:
    rank = len(x.shape)
    if rank > MAX_RANK:
        raise PrepareError(f"input {x.name!r} has rank {rank}; padding supports up to {MAX_RANK}")
    if info.shape != (rank, 2):
        raise PrepareError(
            f"paddings {info.name!r} has shape {list(info.shape)}; expected [{rank}, 2]"
        )
    flat = index_values(info, "paddings")
    pairs = [(flat[2 * i], flat[2 * i + 1]) for i in range(rank)]
    if any(before < 0 or after < 0 for before, after in pairs):
        raise PrepareError(f"paddings {pairs} must be >= 0")
    return pairs


def _padded(
    x_shape: tuple[int, ...], pairs: list[tuple[int, int]]
) -> tuple[tuple[int, ...], Index]:
    shape = tuple(d + b + a for d, (b, a) in zip(x_shape, pairs))
    interior = tuple(slice(b, b + d) for d, (b, _) in zip(x_shape, pairs))
    return shape, interior


def _prepare_pad(node: Node) -> Prepared:
    check_inputs(node, 2, 3)
    x, pad_info, out = node.input(0), node.input(1), node.outputs[0]
    check_same_dtype(node, x, out)
    constant = node.optional_input(2)
    fill: int | float | None = out.zero_point if out.dtype in QUANTIZED_DTYPES else 0
    if constant is not None:
        check_same_dtype(node, x, constant)
        check_same_quantization(node, constant, out)
        if int(np.prod(constant.shape)) != 1:
            raise PrepareError(f"constant_values {constant.name!r} must hold exactly one value")
        fill = None
    if not all_known(pad_info):
        return Prepared(dynamic=True)
    pairs = _paddings(node, x, pad_info)
    shape, interior = _padded(x.shape, pairs)
    plan = fast.plan(x.shape, tuple(pairs)) if fast is not None and x.shape else ()
    return Prepared([shape], data=PadData(interior, fill, (), plan, node.num_threads))


def _invoke_pad(data: PadData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    out = outputs[0]
    out.fill(inputs[2].reshape(-1)[0] if data.fill is None else data.fill)
    out[data.interior] = inputs[0]


def _invoke_pad_opt(data: PadData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    """Each output row written once (``_pad.pyx``)."""
    if not data.plan:  # a scalar input: nothing to pad
        _invoke_pad(data, inputs, outputs)
        return
    fill = inputs[2].reshape(-1)[0] if data.fill is None else data.fill
    fast.run(inputs[0], outputs[0], fill, *data.plan, data.num_threads)


def _mirror_copies(x_shape: tuple[int, ...], pairs: list[tuple[int, int]], edge: int) -> tuple:
    """Per-axis copies that mirror the already-placed interior outwards.

    ``edge`` is 1 for REFLECT (the edge value is not repeated) and 0 for SYMMETRIC.
    Axes are done in order, each over the full extent of the others, so corners
    come out right (mirroring is separable).
    """
    copies = []
    for axis, (dim, (before, after)) in enumerate(zip(x_shape, pairs)):
        lead = (slice(None),) * axis
        if before:
            first = before + edge  # output position mirrored onto position before - 1
            copies.append(
                (
                    (*lead, slice(0, before)),
                    (*lead, slice(first + before - 1, _stop(first - 1), -1)),
                )
            )
        if after:
            last = before + dim - 1 - edge  # output position mirrored onto before + dim
            copies.append(
                (
                    (*lead, slice(before + dim, before + dim + after)),
                    (*lead, slice(last, _stop(last - after), -1)),
                )
            )
    return tuple(copies)


def _stop(position: int) -> int | None:
    """A reversed slice's stop: -1 would mean 'the last element', so spell it None."""
    return None if position < 0 else position


def _prepare_mirror_pad(node: Node) -> Prepared:
    check_inputs(node, 2)
    x, pad_info, out = node.input(0), node.input(1), node.outputs[0]
    check_same_dtype(node, x, out)
    check_same_quantization(node, x, out)
    if not all_known(pad_info):
        return Prepared(dynamic=True)
    pairs = _paddings(node, x, pad_info)
    mode = node.options.mode if node.options is not None else MirrorPadMode.REFLECT
    edge = 1 if mode == MirrorPadMode.REFLECT else 0
    for dim, (before, after) in zip(x.shape, pairs):
        if max(before, after) > dim - edge:
            raise PrepareError(
                f"{MirrorPadMode(mode).name} padding {before, after} is too large for a "
                f"dimension of size {dim} (at most {dim - edge})"
            )
    shape, interior = _padded(x.shape, pairs)
    return Prepared([shape], data=PadData(interior, 0, _mirror_copies(x.shape, pairs, edge)))


def _invoke_mirror_pad(data: PadData, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
    out = outputs[0]
    out[data.interior] = inputs[0]
    for destination, source in data.mirror_copies:
        out[destination] = out[source]


_pad_opt = _invoke_pad_opt if fast is not None else None

KERNELS = {
    BuiltinOperator.PAD: KernelSpec(
        _prepare_pad, _invoke_pad, versions=(1, 6), invoke_opt=_pad_opt
    ),
    BuiltinOperator.PADV2: KernelSpec(
        _prepare_pad, _invoke_pad, versions=(1, 6), invoke_opt=_pad_opt
    ),
    BuiltinOperator.MIRROR_PAD: KernelSpec(
        _prepare_mirror_pad, _invoke_mirror_pad, versions=(1, 3)
    ),
}
