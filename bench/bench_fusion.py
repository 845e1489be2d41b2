"""Fused convolution chains (edgelite/interpreter/fusion.py): fused vs unfused vs litert.

One process builds the model twice in edgelite, with graph fusion on and off, and once
in ai-edge-litert (its default XNNPACK delegate), then alternates whole invokes of the
three so that all of them see the same machine load; it prints min / median latency and
the ratios. ``--per-chain`` adds the best time of each fused step next to the summed
best times of the nodes it replaces (from edgelite's per-step timing loop).

    .venv/bin/python bench/bench_fusion.py .cache/zoo/tf-2.21.0/mobilenet_v2.float32.tflite
    .venv/bin/python bench/bench_fusion.py MODEL --threads 2 --runs 60 --per-chain
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgelite.interpreter import Interpreter
from edgelite.interpreter._loop import run_steps_timed


def edgelite_interpreter(path: str, threads: int, fuse: bool) -> Interpreter:
    interp = Interpreter(model_path=path, num_threads=threads)
    interp._core.graph_fusion = fuse  # what OpResolverType picks (see fusion.fusion_enabled)
    interp.allocate_tensors()
    return interp


def feed(interp, rng: np.random.Generator) -> None:
    for detail in interp.get_input_details():
        value = rng.standard_normal(detail["shape"]).astype(detail["dtype"])
        interp.set_tensor(detail["index"], value)


def latency(runtimes: dict, runs: int) -> dict[str, np.ndarray]:
    """Alternate one invoke of each runtime, ``runs`` times; milliseconds per runtime."""
    times: dict[str, list[float]] = {name: [] for name in runtimes}
    for _ in range(runs):
        for name, interp in runtimes.items():
            start = time.perf_counter()
            interp.invoke()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: np.array(values) for name, values in times.items()}


def per_chain(fused: Interpreter, unfused: Interpreter, runs: int) -> None:
    """Best time of every fused step against the best times of its nodes, unfused."""
    plans = [it._core.subgraphs[0].plan for it in (fused, unfused)]
    best = [np.full(len(plan.steps), np.iinfo(np.int64).max) for plan in plans]
    for _ in range(runs):
        for k, plan in enumerate(plans):
            elapsed = np.zeros(len(plan.steps), np.int64)
            run_steps_timed(plan.steps, elapsed)
            best[k] = np.minimum(best[k], elapsed)
    node_ns = {info[0]: ns for info, ns in zip(plans[1].nodes, best[1]) if info is not None}
    chains = {chain.nodes[0]: chain.nodes for chain in plans[0].chains}
    print(f"\n{'node':>5}  {'step':<40} {'fused us':>9} {'nodes us':>9} {'ratio':>6}")
    for info, ns in zip(plans[0].nodes, best[0]):
        if info is None:
            continue
        nodes_ns = sum(node_ns[n] for n in chains.get(info[0], (info[0],)))
        print(f"{info[0]:>5}  {info[1][:40]:<40} {ns / 1e3:>9.1f} {nodes_ns / 1e3:>9.1f} "
              f"{ns / nodes_ns:>6.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--per-chain", action="store_true")
    args = parser.parse_args()
    from ai_edge_litert.interpreter import Interpreter as LiteRT

    runtimes = {
        "edgelite fused": edgelite_interpreter(args.model, args.threads, True),
        "edgelite unfused": edgelite_interpreter(args.model, args.threads, False),
        "litert XNNPACK": LiteRT(model_path=args.model, num_threads=args.threads),
    }
    runtimes["litert XNNPACK"].allocate_tensors()
    for interp in runtimes.values():
        feed(interp, np.random.default_rng(0))
        for _ in range(5):
            interp.invoke()
    times = latency(runtimes, args.runs)
    base = np.median(times["litert XNNPACK"])
    print(f"{args.model}: {args.threads} thread(s), {args.runs} alternating runs")
    for name, values in times.items():
        print(f"  {name:<18} min {values.min():7.3f} ms  median {np.median(values):7.3f} ms  "
              f"median / litert {np.median(values) / base:5.2f}x")  # fmt: skip
    if args.per_chain:
        per_chain(runtimes["edgelite fused"], runtimes["edgelite unfused"], args.runs)


if __name__ == "__main__":
    main()
