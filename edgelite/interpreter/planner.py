"""The arena planner: tensor lifetimes and sizes in, one offset per tensor out.

Every non-constant tensor whose shape is known after prepare gets a byte range in
one arena. Two tensors may share bytes only if their lifetimes (the span of
execution-plan positions from first writer/reader to last reader) do not overlap.
The algorithm follows TFLite's ``ArenaPlanner`` / ``SimpleMemoryArena``:

1. Order the requests: those alive for the whole run first (graph inputs,
   outputs, variables; by request order), then by size, largest first, ties
   broken by the earlier first use.
2. Place each request in turn. Look at the already placed requests whose
   lifetime overlaps this one, sorted by offset, and collect the gaps between
   them (and before the first). Take the smallest gap the request fits in (a
   perfect fit ends the search); when none fits, place it after the highest
   overlapping one.
3. Offsets are multiples of ``ALIGNMENT`` (64 bytes, like TFLite), so every
   tensor view is aligned for SIMD loads whatever its dtype.

The planner is pure: no numpy, no arrays. ``Arena`` (below) turns a plan into
memory and views.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

ALIGNMENT = 64


class Request:
    """One tensor to place: ``nbytes`` live from plan position ``first`` to ``last``."""

    # A __slots__ class, not a frozen dataclass: a load makes one per tensor, ~4x cheaper.
    __slots__ = ("first", "key", "last", "nbytes", "whole_run")

    def __init__(
        self, key: int, nbytes: int, first: int, last: int, whole_run: bool = False
    ) -> None:
        self.key = key
        self.nbytes = nbytes
        self.first = first
        self.last = last
        self.whole_run = whole_run

    def __repr__(self) -> str:
        return (
            f"Request(key={self.key!r}, nbytes={self.nbytes!r}, first={self.first!r}, "
            f"last={self.last!r}, whole_run={self.whole_run!r})"
        )


class Plan:
    """Where each request went and how big the arena is."""

    __slots__ = ("offsets", "size")

    def __init__(self, offsets: dict[int, int], size: int) -> None:
        self.offsets = offsets  # request key -> byte offset into the arena
        self.size = size  # arena bytes needed (high-water mark)


def align(n: int) -> int:
    """Round ``n`` up to a multiple of ALIGNMENT."""
    return -(-n // ALIGNMENT) * ALIGNMENT


def plan_arena(requests: Sequence[Request]) -> Plan:
    """Greedy best-fit placement of ``requests`` (see the module docstring)."""
    order = sorted(
        range(len(requests)),
        key=lambda i: (
            not requests[i].whole_run,
            0 if requests[i].whole_run else -requests[i].nbytes,
            requests[i].first,
            i,
        ),
    )
    placed: list[tuple[int, int, int, int]] = []  # (offset, aligned size, first, last)
    offsets: dict[int, int] = {}
    high_water = 0
    for i in order:
        req = requests[i]
        size = align(req.nbytes)
        first, last = req.first, req.last
        # The placed requests alive at the same time as this one, by offset.
        live = sorted([(o, sz) for o, sz, start, end in placed if start <= last and first <= end])
        offset = _best_offset(live, size)
        offsets[req.key] = offset
        placed.append((offset, size, first, last))
        high_water = max(high_water, offset + size)
    return Plan(offsets, high_water)


def _best_offset(live: list[tuple[int, int]], size: int) -> int:
    """The smallest gap between the ``live`` (offset, size) blocks that fits ``size``."""
    best, best_slack = None, None
    cursor = 0
    for off, sz in live:
        gap = off - cursor
        if gap >= size:
            slack = gap - size
            if best_slack is None or slack < best_slack:
                best, best_slack = cursor, slack
                if slack == 0:
                    break
        cursor = max(cursor, off + sz)
    return cursor if best is None else best


def memory_limit() -> int:
    """Largest arena we agree to allocate: the memory available right now.

    Reads MemAvailable from /proc/meminfo (Linux), else the physical memory size,
    else 16 GiB. A forged shape in a model must end in a clear error, not in an
    attempt to allocate terabytes.
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 16 << 30


class Arena:
    """One 64-byte aligned block of memory and typed views into it."""

    def __init__(self, size: int) -> None:
        self.size = size
        # Over-allocate by one alignment unit and start at the first aligned byte.
        raw = np.zeros(size + ALIGNMENT, np.uint8)
        start = (-raw.ctypes.data) % ALIGNMENT
        self.buffer = raw[start : start + size]

    def view(self, offset: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A C-contiguous ``dtype`` array of ``shape`` starting at ``offset``."""
        nbytes = math.prod(shape) * dtype.itemsize  # exact, and 30x cheaper than np.prod
        return self.buffer[offset : offset + nbytes].view(dtype).reshape(shape)
