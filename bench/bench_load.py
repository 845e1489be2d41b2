"""Load time side by side: init (Interpreter + allocate_tensors) and first invoke.

Each measurement is a fresh process (nothing imported, nothing cached), runtimes
interleaved so that machine noise hits them alike; prints median / min per runtime
and the init ratio against ai-edge-litert (its default XNNPACK delegate).

    .venv/bin/python bench/bench_load.py .cache/zoo/tf-2.21.0/mobilenet_v2.float32.tflite
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1] / ".cache/zoo/tf-2.21.0/mobilenet_v2.float32.tflite"

CHILD = r"""
import json, sys, time
import numpy as np
path, runtime = sys.argv[1], sys.argv[2]
if runtime == "litert":
    from ai_edge_litert.interpreter import Interpreter
    kwargs = {}
else:
    from edgelite.interpreter import Interpreter, OpResolverType
    kwargs = {}
    if runtime == "edgelite-plain":
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
start = time.perf_counter()
interp = Interpreter(model_path=path, **kwargs)
interp.allocate_tensors()
ready = time.perf_counter()
for d in interp.get_input_details():
    interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
interp.invoke()
done = time.perf_counter()
print(json.dumps({"init": (ready - start) * 1e3, "first": (done - ready) * 1e3}))
"""

RUNTIMES = ("edgelite", "edgelite-plain", "litert")


def measure(path: str, runtime: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, path, runtime],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", default=str(DEFAULT), help="default: zoo MobileNetV2")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {r: [] for r in RUNTIMES}
    for _ in range(args.runs):
        for runtime in RUNTIMES:
            results[runtime].append(measure(args.model, runtime))
    print(f"{args.model}: {args.runs} fresh processes per runtime, interleaved")
    print(f"{'runtime':16} {'init med':>9} {'init min':>9} {'first med':>10} {'init+first':>11}")
    medians = {}
    for runtime, rows in results.items():
        init = [r["init"] for r in rows]
        first = [r["first"] for r in rows]
        total = [r["init"] + r["first"] for r in rows]
        medians[runtime] = statistics.median(init)
        print(
            f"{runtime:16} {statistics.median(init):9.1f} {min(init):9.1f} "
            f"{statistics.median(first):10.1f} {statistics.median(total):11.1f}"
        )
    for runtime in ("edgelite", "edgelite-plain"):
        ratio = medians[runtime] / medians["litert"]
        print(f"{runtime} / litert (XNNPACK) init ratio: {ratio:.2f}x")
    print("edgelite-plain = BUILTIN_WITHOUT_DEFAULT_DELEGATES (no fused chains)")


if __name__ == "__main__":
    main()
