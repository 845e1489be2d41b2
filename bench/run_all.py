"""`make bench`: every side-by-side benchmark, one after the other.

Each script prints its own table with edgelite/official ratios. Results recorded by
hand, with the machine's state, go in bench/RESULTS.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_models.py",
    "bench_load.py",
    "bench_kernels.py",
    "bench_converter.py",
    "bench_quantize.py",
]


def main() -> int:
    failed = []
    for script in SCRIPTS:
        path = HERE / script
        if not path.exists():
            continue
        print(f"\n#### {script}", flush=True)
        if subprocess.run([sys.executable, str(path)], check=False).returncode:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
