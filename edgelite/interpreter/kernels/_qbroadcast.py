"""Which arithmetic the official runtime applies to each element of a quantized binary op.

TFLite's optimized ADD / MUL (int8, uint8) and SUB (int16) run a SIMD loop over
blocks of 8 or 16 elements and a scalar C loop over the rest, and the two round
differently in corner cases (see ``_qbinary``). Which elements fall in which loop
depends only on the shapes: ``ProcessBroadcastShapes`` folds the two input shapes
into the five dims ``y0..y4`` of ``BinaryBroadcastFiveFold``, which calls the
elementwise loop on runs of ``y4`` elements (or, when ``y4 == 1``, a loop with one
scalar operand on runs of ``y3`` elements); shapes that do not fold go to the
reference kernel, all scalar. This module reproduces that bookkeeping once, at
prepare, as a :class:`Plan`; kernels then mark each output element with its form.
"""

from __future__ import annotations

import math

import numpy as np

FORM_SCALAR = 0  # the scalar C loop (reference arithmetic)
FORM_ELEMENTWISE = 1  # the SIMD loop of the elementwise function
FORM_SCALAR_BROADCAST = 2  # the SIMD loop of the one-scalar-operand function

NON_BROADCAST = "none"
FIRST_BROADCASTS = "first"  # input 1 has the unit dims (kFirstInputBroadcastsFast)
SECOND_BROADCASTS = "second"
GENERIC = "generic"


class Plan:
    """How the official optimized kernel walks the output of ``a (op) b``.

    ``run`` is the length of the runs the SIMD function is called on (the whole
    output when nothing broadcasts, ``y4`` or ``y3`` otherwise, 0 for the generic
    fallback) and ``run_form`` the function (elementwise or scalar broadcast).
    """

    # A __slots__ class: defining it at import costs ~20 us against ~1 ms for a frozen
    # dataclass, and kernel-module imports are load time. Read-only after make_plan.
    __slots__ = ("category", "folded", "run", "run_form", "size")

    def __init__(
        self,
        category: str,
        folded: tuple[int, int, int, int, int],
        run: int,
        run_form: int,
        size: int,
    ) -> None:
        self.category = category
        self.folded = folded
        self.run = run
        self.run_form = run_form
        self.size = size

    @property
    def swapped(self) -> bool:
        """The fivefold loop treats input 2 as its first operand."""
        return self.category == SECOND_BROADCASTS


def fold_shapes(shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> tuple[str, list[int]]:
    """TFLite ProcessBroadcastShapes: the broadcast category and the five folded dims."""
    rank = max(len(shape_a), len(shape_b))
    a = [1] * (rank - len(shape_a)) + list(shape_a)
    b = [1] * (rank - len(shape_b)) + list(shape_b)
    if a == b:
        return NON_BROADCAST, [1, 1, 1, 1, math.prod(a)]
    category = GENERIC
    for i in range(rank - 1, -1, -1):
        if a[i] == b[i]:
            continue
        if a[i] == 1:
            category = FIRST_BROADCASTS
        elif b[i] == 1:
            category = SECOND_BROADCASTS
        break
    if category == GENERIC:
        return GENERIC, [1] * 5
    # The operand with the unit dims in the innermost broadcast run is "a" here.
    if category == SECOND_BROADCASTS:
        a, b = b, a
    y = [1] * 5
    i = rank - 1
    # y4 takes the equal trailing dims, y3 the dims where a is 1, y2 equal dims,
    # y1 the dims where b is 1, y0 equal dims again; anything left does not fold.
    for slot, test in ((4, "eq"), (3, "a1"), (2, "eq"), (1, "b1"), (0, "eq")):
        while i >= 0 and _fits(test, a[i], b[i]):
            y[slot] *= b[i] if test != "b1" else a[i]
            i -= 1
    return (GENERIC if i >= 0 else category), y


def _fits(test: str, a: int, b: int) -> bool:
    if test == "eq":
        return a == b
    if test == "a1":
        return a == 1
    return b == 1


def make_plan(shape_a: tuple[int, ...], shape_b: tuple[int, ...], size: int) -> Plan:
    """The walk of ``BroadcastXDispatch`` (or the plain elementwise call) for these shapes."""
    category, y = fold_shapes(shape_a, shape_b)
    if category == NON_BROADCAST:
        return Plan(category, tuple(y), size, FORM_ELEMENTWISE, size)  # type: ignore[arg-type]
    if category == GENERIC:
        return Plan(category, tuple(y), 0, FORM_SCALAR, size)  # type: ignore[arg-type]
    if y[4] > 1:
        return Plan(category, tuple(y), y[4], FORM_ELEMENTWISE, size)  # type: ignore[arg-type]
    return Plan(category, tuple(y), y[3], FORM_SCALAR_BROADCAST, size)  # type: ignore[arg-type]


def element_forms(plan: Plan, widths: dict[int, int]) -> np.ndarray:
    """The form (FORM_*) of every output element, flat in C order.

    ``widths`` maps a SIMD form to its block size; a form missing from it (or of
    width 0) has no SIMD loop in the official build, so its runs are all scalar.
    In each run the first ``run - run % width`` elements take the SIMD form.
    """
    forms = np.zeros(plan.size, np.uint8)
    width = widths.get(plan.run_form, 0)
    if plan.run <= 0 or width <= 0 or plan.size == 0:
        return forms
    limit = plan.run - plan.run % width
    if plan.size % plan.run == 0:  # always, for the five-fold walk: runs tile the output
        forms.reshape(-1, plan.run)[:, :limit] = plan.run_form
        return forms
    position = np.arange(plan.size, dtype=np.int64) % plan.run
    forms[position < limit] = plan.run_form
    return forms
