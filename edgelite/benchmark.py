"""``edgelite benchmark``: latency, load time and memory, in the spirit of benchmark_model.

Each runtime is measured in its own fresh subprocess (``measure_in_subprocess``)
so that peak RSS and load time are not polluted by the other runtime or by the
parent: the figures compare like with like. ``--compare-litert`` runs the
official runtime (ai-edge-litert) on the same model, inputs and thread count.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

import numpy as np


def random_inputs(details: list[dict], seed: int = 0) -> list[np.ndarray]:
    """Deterministic inputs for each input detail (dynamic dims taken as 1)."""
    rng = np.random.default_rng(seed)
    values = []
    for detail in details:
        dtype = np.dtype(detail["dtype"])
        shape = [int(d) if d > 0 else 1 for d in detail["shape"]]
        if dtype.kind == "f":
            values.append(rng.standard_normal(shape).astype(dtype))
        elif dtype == np.bool_:
            values.append(rng.integers(0, 2, shape).astype(bool))
        else:
            info = np.iinfo(dtype)
            values.append(
                rng.integers(max(info.min, -100), min(info.max, 100), shape).astype(dtype)
            )
    return values


def _stats(times_ms: list[float]) -> dict[str, float]:
    arr = np.asarray(times_ms)
    return {
        "min_ms": float(arr.min()),
        "median_ms": float(np.median(arr)),
        "avg_ms": float(arr.mean()),
        "p95_ms": float(np.percentile(arr, 95)),
        "std_ms": float(arr.std()),
    }


def _peak_rss_bytes() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _factory(runtime: str) -> Any:
    """Import the runtime (timed separately from loading) and return a constructor."""
    if runtime == "edgelite":
        from .interpreter import Interpreter

        return lambda path, threads: Interpreter(model_path=path, num_threads=threads)
    from ai_edge_litert.interpreter import Interpreter as LiteRT
    from ai_edge_litert.interpreter import OpResolverType

    resolver = (
        OpResolverType.AUTO
        if runtime == "litert"
        else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    return lambda path, threads: LiteRT(
        model_path=path, num_threads=threads, experimental_op_resolver_type=resolver
    )


def measure(
    runtime: str,
    path: str,
    threads: int = 1,
    runs: int = 50,
    warmup: int = 5,
    profile: bool = False,
    max_secs: float = 60.0,
) -> dict[str, Any]:
    """Measure one runtime in this process: 'edgelite', 'litert' (XNNPACK) or 'litert-noxnn'."""
    rss_before = _peak_rss_bytes()
    start = time.perf_counter()
    make = _factory(runtime)
    import_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    interp = make(path, threads)
    interp.allocate_tensors()
    init_ms = (time.perf_counter() - start) * 1e3
    inputs = random_inputs(interp.get_input_details())

    def once() -> float:
        for detail, value in zip(interp.get_input_details(), inputs):
            interp.set_tensor(detail["index"], value)
        t0 = time.perf_counter()
        interp.invoke()
        return (time.perf_counter() - t0) * 1e3

    first_ms = once()
    for _ in range(warmup):
        once()
    if profile and runtime == "edgelite":
        interp.enable_profiling(True)
    times: list[float] = []
    deadline = time.perf_counter() + max_secs
    while len(times) < runs and time.perf_counter() < deadline:
        times.append(once())
    result = {
        "runtime": runtime,
        "model": path,
        "threads": threads,
        "runs": len(times),
        "import_ms": import_ms,
        "init_ms": init_ms,
        "first_invoke_ms": first_ms,
        **_stats(times),
        "peak_rss_bytes": _peak_rss_bytes(),
        "rss_at_start_bytes": rss_before,
    }
    if runtime == "edgelite":
        result["arena_bytes"] = int(interp.arena_bytes)
        if profile:
            result["ops"] = op_table(interp.profile())
    return result


def op_table(per_node: list[dict]) -> list[dict[str, Any]]:
    """Aggregate per-node timings into (op type, count, total ms, %) rows."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for row in per_node:
        totals[row["op"]][0] += 1
        totals[row["op"]][1] += row["ms"]
    grand = sum(t for _, t in totals.values()) or 1.0
    rows = [
        {"op": op, "count": int(n), "total_ms": t, "percent": 100.0 * t / grand}
        for op, (n, t) in totals.items()
    ]
    return sorted(rows, key=lambda r: -r["total_ms"])


def measure_in_subprocess(runtime: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """Run :func:`measure` in a fresh interpreter process and return its result."""
    args = json.dumps({"runtime": runtime, "path": path, **kwargs})
    # Time the runtime's own import first, in the fresh process, before anything else.
    module = "edgelite.interpreter" if runtime == "edgelite" else "ai_edge_litert.interpreter"
    code = (
        f"import time; t0 = time.perf_counter(); import {module}; "
        "t1 = time.perf_counter(); import json, sys; from edgelite.benchmark import measure; "
        "r = measure(**json.loads(sys.argv[1])); r['import_ms'] = (t1 - t0) * 1e3; "
        "print(json.dumps(r))"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-c", code, args], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{runtime} benchmark failed:\n{proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
