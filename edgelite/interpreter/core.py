"""The interpreter's state behind the public class: model, kernels, subgraphs, extras.

``Interpreter`` (interpreter.py) is the thin, tf.lite-compatible surface; this
module owns what it drives: resolved ops, one ``SubgraphRuntime`` per subgraph,
the runtime services of control-flow/variable kernels, taps, profiling,
registered custom ops and delegates.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from ..schema.model import Model
from .custom import make_custom_spec
from .graph_plan import make_steps
from .kernels.base import KernelSpec
from .planner import memory_limit
from .profiling import Profiler
from .resolver import resolve_model
from .runtime import RuntimeServices
from .subgraph import SubgraphRuntime


class Core:
    """Everything an Interpreter runs on."""

    def __init__(
        self,
        model: Model,
        *,
        num_threads: int = 1,
        reference: bool = False,
        preserve_all_tensors: bool = False,
        delegates: list | None = None,
        disable_delegate_clustering: bool = False,
        disable_delegate_node_fusion: bool = False,
        rounding: str = "tflite",
        hybrid: str = "fast",
        graph_fusion: bool = True,
    ) -> None:
        self.model = model
        self.graph_fusion = graph_fusion  # fuse float conv chains (fusion.py)
        self.rounding = rounding  # handed to every Node (kernels/base.py)
        self.hybrid = hybrid  # "fast": hybrid weights dequantized at load (hybrid.py)
        self.num_threads = num_threads
        self.reference = reference
        self.preserve_all_tensors = preserve_all_tensors
        self.delegates = list(delegates or [])
        self.disable_delegate_clustering = disable_delegate_clustering
        self.disable_delegate_node_fusion = disable_delegate_node_fusion
        self.custom_ops: dict[str, KernelSpec] = {}
        self.resolved = resolve_model(model, self.custom_ops, reference)
        self.memory_limit = memory_limit()
        self.services = RuntimeServices(self)
        self.profiler = Profiler()
        # taps[subgraph][tensor] -> [(callback, copy)], and tap handle -> where it is.
        self.taps: dict[int, dict[int, list[tuple[Callable, bool]]]] = {}
        self._tap_handles: dict[int, tuple[int, int, tuple[Callable, bool]]] = {}
        self._tap_ids = itertools.count(1)
        self.subgraphs = [SubgraphRuntime(self, i) for i in range(len(model.subgraphs))]

    def subgraph(self, index: int) -> SubgraphRuntime:
        """Subgraph ``index``; ValueError (official wording) when out of range."""
        if not 0 <= index < len(self.subgraphs):
            raise ValueError(
                f"Invalid subgraph index {index} exceeds max subgraph index {len(self.subgraphs)}"
            )
        return self.subgraphs[index]

    # -- custom ops -------------------------------------------------------------------

    def register_custom_op(self, name: str, **kernel: object) -> None:
        """Add (or replace) a Python custom op; every subgraph must be allocated again."""
        spec = make_custom_spec(name, **kernel)  # type: ignore[arg-type]
        custom_ops = {**self.custom_ops, name: spec}
        self.resolved = resolve_model(self.model, custom_ops, self.reference)
        self.custom_ops = custom_ops
        for rt in self.subgraphs:
            rt.ready = False
            rt.delegate_kernels.clear()

    # -- taps -------------------------------------------------------------------------

    def add_tap(self, subgraph: int, tensor: int, callback: Callable, copy: bool) -> int:
        """Call ``callback(value)`` right after ``tensor`` is produced; returns a handle."""
        if not callable(callback):
            raise TypeError(f"tap callback must be callable, got {callback!r}")
        entry = (callback, copy)
        self.taps.setdefault(subgraph, {}).setdefault(tensor, []).append(entry)
        handle = next(self._tap_ids)
        self._tap_handles[handle] = (subgraph, tensor, entry)
        self._refresh_steps(subgraph)
        return handle

    def remove_tap(self, handle: int) -> None:
        """Remove the tap ``add_tap`` returned ``handle`` for."""
        if handle not in self._tap_handles:
            raise ValueError(f"no tap with handle {handle!r}")
        subgraph, tensor, entry = self._tap_handles.pop(handle)
        self.taps[subgraph][tensor].remove(entry)
        self._refresh_steps(subgraph)

    def _refresh_steps(self, subgraph: int) -> None:
        # Taps change only the steps, not the memory plan: inputs already set survive.
        rt = self.subgraphs[subgraph]
        if rt.ready and rt.plan is not None:
            plan = rt.plan
            rt.plan = make_steps(rt, rt.units, plan.arrays, plan.arena, plan.arena_bytes)

    # -- state ------------------------------------------------------------------------

    def reset_all_variables(self) -> None:
        """Variable tensors to their initial values; resource variables and CALL_ONCE cleared."""
        for rt in self.subgraphs:
            rt.reset_variables()
        self.services.reset()

    @property
    def arena_bytes(self) -> int:
        """Bytes of every planned arena (main subgraph and those control flow prepared)."""
        return sum(rt.plan.arena_bytes for rt in self.subgraphs if rt.plan is not None)

    def delegate_report(self) -> list[dict]:
        """Per delegate: the partitions (node lists) it took and why it left each other node."""
        return [report.as_dict() for report in self.subgraphs[0].delegate_reports]
