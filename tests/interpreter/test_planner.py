"""The arena planner: a property test over random lifetimes plus a few exact cases."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.planner import ALIGNMENT, Arena, Request, align, plan_arena


def _random_requests(rng: np.random.Generator, count: int, steps: int) -> list[Request]:
    requests = []
    for key in range(count):
        first = int(rng.integers(0, steps))
        last = int(rng.integers(first, steps))
        nbytes = int(rng.choice([0, 1, 3, 63, 64, 65, 200, 4096, int(rng.integers(1, 10000))]))
        whole = bool(rng.random() < 0.15)
        if whole:
            first, last = 0, steps
        requests.append(Request(key, nbytes, first, last, whole_run=whole))
    return requests


@pytest.mark.parametrize("seed", range(40))
def test_no_two_live_tensors_overlap(seed: int) -> None:
    rng = np.random.default_rng(seed)
    requests = _random_requests(rng, int(rng.integers(1, 60)), int(rng.integers(1, 30)))
    plan = plan_arena(requests)
    assert set(plan.offsets) == {r.key for r in requests}
    for r in requests:
        offset = plan.offsets[r.key]
        assert offset % ALIGNMENT == 0
        assert offset + r.nbytes <= plan.size
    for i, a in enumerate(requests):
        for b in requests[i + 1 :]:
            if a.first <= b.last and b.first <= a.last and a.nbytes and b.nbytes:
                a0, b0 = plan.offsets[a.key], plan.offsets[b.key]
                assert a0 + a.nbytes <= b0 or b0 + b.nbytes <= a0, (a, b, a0, b0)
    # Never worse than giving every tensor its own bytes.
    assert plan.size <= sum(align(r.nbytes) for r in requests)
    # And at least what is live at the busiest step.
    steps = max(r.last for r in requests) + 1
    peak = max(
        sum(align(r.nbytes) for r in requests if r.first <= s <= r.last) for s in range(steps)
    )
    assert plan.size >= peak


def test_chain_reuses_memory() -> None:
    # t0 -> n0 -> t1 -> n1 -> t2 -> n2 -> t3: at most two tensors live at once.
    requests = [Request(k, 1000, max(0, k - 1), k) for k in range(4)]
    plan = plan_arena(requests)
    assert plan.size == 2 * align(1000)


def test_whole_run_tensors_never_shared() -> None:
    requests = [
        Request(0, 100, 0, 5, whole_run=True),
        Request(1, 100, 0, 0),
        Request(2, 100, 5, 5),
    ]
    plan = plan_arena(requests)
    assert plan.offsets[0] not in (plan.offsets[1], plan.offsets[2])
    assert plan.offsets[1] == plan.offsets[2]  # disjoint lifetimes share


def test_best_fit_prefers_the_tightest_gap() -> None:
    # Live during step 1: a 64-byte hole and a 256-byte hole; a 64-byte tensor takes the small one.
    requests = [
        Request(0, 64, 0, 2),  # placed at 0 (largest-first places 1 and 3 before it)
        Request(1, 256, 0, 0),
        Request(2, 64, 0, 2),
        Request(3, 256, 0, 2),
        Request(4, 64, 1, 1),
    ]
    plan = plan_arena(requests)
    live_at_1 = sorted((plan.offsets[k], align(requests[k].nbytes)) for k in (0, 2, 3))
    gaps = []
    cursor = 0
    for off, size in live_at_1:
        if off > cursor:
            gaps.append((cursor, off - cursor))
        cursor = max(cursor, off + size)
    offset = plan.offsets[4]
    fitting = [g for g in gaps if g[1] >= 64]
    if fitting:
        assert offset == min(fitting, key=lambda g: g[1])[0]


def test_empty_plan() -> None:
    plan = plan_arena([])
    assert plan.size == 0 and plan.offsets == {}


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.float64, np.bool_, np.complex64])
def test_arena_views_are_aligned_and_typed(dtype) -> None:
    arena = Arena(4 * ALIGNMENT + 128)
    view = arena.view(ALIGNMENT * 2, (2, 3), np.dtype(dtype))
    assert view.shape == (2, 3) and view.dtype == dtype
    assert view.ctypes.data % ALIGNMENT == 0
    assert view.flags.c_contiguous and view.flags.writeable
