"""Conversion time and peak memory: edgelite's converter next to tf.lite.TFLiteConverter.

For each zoo model, both converters run on the same Keras model in one process (time:
best of ``--repeat`` full conversions, trace + freeze + lower + passes + write for
edgelite, ``convert()`` for the official one) and the ratio is printed. Peak memory is
the growth of the resident set during one conversion, sampled every 5 ms in a fresh
child process per converter (so neither sees the other's caches).

    .venv/bin/python bench/bench_converter.py                      # small_cnn, mobilenet_v2
    .venv/bin/python bench/bench_converter.py --models unet_like --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _quiet():
    """Silence the official converter's prints (it writes a page per conversion)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    return saved


def _restore(saved: int) -> None:
    sys.stdout.flush()
    os.dup2(saved, 1)
    os.close(saved)


def convert_once(which: str, model) -> tuple[float, int]:
    """One conversion; returns (seconds, bytes written)."""
    start = time.perf_counter()
    if which == "edgelite":
        from edgelite.converter import convert
        from edgelite.schema import write_model

        size = len(write_model(convert(model)))
    else:
        import tensorflow as tf

        saved = _quiet()
        try:
            size = len(tf.lite.TFLiteConverter.from_keras_model(model).convert())
        finally:
            _restore(saved)
    return time.perf_counter() - start, size


def _build(name: str):
    from tests.zoo.keras_models import BUILDERS

    return BUILDERS[name]()[0]


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure_peak(name: str, which: str) -> float:
    """Build the model, then convert it once while sampling RSS; the peak growth in MiB."""
    model = _build(name)
    baseline, peak, done = _rss_mib(), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mib())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        convert_once(which, model)
    finally:
        done.set()
        sampler.join()
    return max(peak[0], _rss_mib()) - baseline


def peak_memory_mib(name: str, which: str) -> float:
    """Peak memory growth of one conversion, in a fresh child process."""
    root = str(Path(__file__).resolve().parents[1])
    code = (
        f"import sys; sys.path.insert(0, {root!r});"
        "from bench.bench_converter import measure_peak;"
        f"print(measure_peak({name!r}, {which!r}))"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["small_cnn", "mobilenet_v2"])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-memory", action="store_true", help="skip the child-process runs")
    args = parser.parse_args()
    header = ("model", "edgelite s", "official s", "ratio", "ours MiB", "off MiB", "size ratio")
    print(f"{header[0]:<18}" + "".join(f"{h:>12}" for h in header[1:]))
    for name in args.models:
        model = _build(name)
        convert_once("edgelite", model)  # first calls pay TF's one-time tracing set-up
        ours = min(convert_once("edgelite", model) for _ in range(args.repeat))
        theirs = min(convert_once("official", model) for _ in range(args.repeat))
        memory = ("-", "-")
        if not args.no_memory:
            memory = tuple(f"+{peak_memory_mib(name, w):.0f}" for w in ("edgelite", "official"))
        print(
            f"{name:<18}{ours[0]:>12.2f}{theirs[0]:>12.2f}{ours[0] / theirs[0]:>12.2f}"
            f"{memory[0]:>12}{memory[1]:>12}{ours[1] / theirs[1]:>12.4f}"
        )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
