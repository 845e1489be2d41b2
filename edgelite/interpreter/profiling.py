"""Per-node timing of the main subgraph (``Interpreter.enable_profiling``/``profile``).

Timing runs a second variant of the invoke loop that reads a monotonic clock
around every step, so the plain loop carries no profiling branch at all. Times
accumulate over the invokes since profiling was enabled (or the last
``allocate_tensors``, which builds a new plan); the table reports the mean.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .graph_plan import ExecutionPlan


class Profiler:
    """Collects step times of the main subgraph's plan while enabled."""

    def __init__(self) -> None:
        self.enabled = False

    def run(self, plan: ExecutionPlan) -> None:
        plan.run_timed()

    @staticmethod
    def reset(plan: ExecutionPlan | None) -> None:
        if plan is not None:
            plan.elapsed_ns[:] = 0
            plan.runs = 0

    @staticmethod
    def table(plan: ExecutionPlan | None) -> list[dict]:
        """One row per executed node (or delegate partition): node, op, ms, calls.

        ``ms`` is the mean wall time per invoke; ``node`` is -1 for a delegate
        partition (its ``op`` names the delegate and its nodes).
        """
        if plan is None or plan.runs == 0 or len(plan.elapsed_ns) != len(plan.steps):
            return []
        rows = []
        for step_index, info in enumerate(plan.nodes):
            if info is None:
                continue  # tap steps
            node, op = info
            ms = float(plan.elapsed_ns[step_index]) / plan.runs / 1e6
            rows.append({"node": node, "op": op, "ms": ms, "calls": plan.runs})
        return rows


def format_profile(rows: list[dict]) -> str:
    """The profile as an aligned text table, slowest nodes first, with percentages."""
    total = sum(row["ms"] for row in rows) or 1.0
    lines = [f"{'node':>5}  {'op':<28} {'ms':>9} {'%':>6}"]
    for row in sorted(rows, key=lambda r: -r["ms"]):
        share = 100.0 * row["ms"] / total
        lines.append(f"{row['node']:>5}  {row['op']:<28} {row['ms']:>9.4f} {share:>6.1f}")
    lines.append(f"{'':>5}  {'total':<28} {sum(r['ms'] for r in rows):>9.4f}")
    return "\n".join(lines)
