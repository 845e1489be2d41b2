"""Conversion time and peak memory: edgelite's converter next to tf.lite.TFLiteConverter.

For each zoo model, both converters run on the same Keras model in one process (time:
best of ``--repeat`` full conversions, trace + freeze + lower + passes + write for
edgelite, ``convert()`` for the official one) and the ratio is printed. Peak memory is
the growth of the resident set over its baseline (the kernel's high-water mark, reset
just before) during a conversion, in a fresh child process per converter (so neither
sees the other's imports or caches), for its first conversion (which also pays lazy
imports and TensorFlow's one-time set-up) and a second one.

    .venv/bin/python bench/bench_converter.py                      # small_cnn, mobilenet_v2
    .venv/bin/python bench/bench_converter.py --models unet_like --repeat 3
    .venv/bin/python bench/bench_converter.py --memory-only --memory-runs 3
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import statistics
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


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/self/status")


def _settle() -> None:
    """Free what the model build left behind and hand free heap pages back to the OS, so
    the baseline is memory in use (building MobileNetV2 with its batch-norm calibration
    leaves hundreds of MiB in malloc's free lists, which a conversion would then reuse
    without the RSS growing: that would measure the build, not the converter)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class _Peak:
    """Peak RSS over a baseline: the kernel's high-water mark, reset through
    /proc/self/clear_refs (Linux >= 4.0); RSS sampled every 2 ms where that is refused."""

    def __enter__(self) -> _Peak:
        _settle()
        self.exact = True
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")  # VmHWM := VmRSS
        except OSError:
            self.exact = False
        self.baseline = _status_kib("VmRSS")
        self.sampled, self.done = self.baseline, threading.Event()
        self.sampler = None
        if not self.exact:
            self.sampler = threading.Thread(target=self._sample)
            self.sampler.start()
        return self

    def _sample(self) -> None:
        while not self.done.is_set():
            self.sampled = max(self.sampled, _status_kib("VmRSS"))
            time.sleep(0.002)

    def __exit__(self, *exc) -> None:
        self.done.set()
        if self.sampler is not None:
            self.sampler.join()
        peak = _status_kib("VmHWM") if self.exact else max(self.sampled, _status_kib("VmRSS"))
        self.growth_mib = (peak - self.baseline) / 1024


def measure_peak(name: str, which: str) -> tuple[float, float]:
    """Build the model, then convert it twice; the peak RSS growth over the baseline of
    each conversion in MiB: (first, which also pays lazy imports and TensorFlow's one-time
    set-up, second)."""
    model = _build(name)
    growth = []
    for _ in range(2):
        with _Peak() as peak:
            convert_once(which, model)
        growth.append(peak.growth_mib)
    return growth[0], growth[1]


def peak_memory_mib(name: str, which: str) -> tuple[float, float]:
    """:func:`measure_peak` in a fresh child process (neither converter sees the other's
    imports or caches)."""
    root = str(Path(__file__).resolve().parents[1])
    code = (
        f"import sys; sys.path.insert(0, {root!r});"
        "from bench.bench_converter import measure_peak;"
        f"print(*measure_peak({name!r}, {which!r}))"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    first, second = out.stdout.strip().splitlines()[-1].split()
    return float(first), float(second)


def memory_table(models: list[str], runs: int) -> None:
    """Peak memory of both converters, ``runs`` child processes each: min / median."""
    print("peak RSS growth during conversion, MiB (min/median of fresh processes):")
    header = ("model", "ours 1st", "off 1st", "ratio", "ours 2nd", "off 2nd", "ratio")
    print(f"{header[0]:<18}" + "".join(f"{h:>14}" for h in header[1:]))
    for name in models:
        ours = [peak_memory_mib(name, "edgelite") for _ in range(runs)]
        theirs = [peak_memory_mib(name, "official") for _ in range(runs)]
        cells = []
        for k in (0, 1):
            a = sorted(r[k] for r in ours)
            b = sorted(r[k] for r in theirs)
            cells += [
                f"{a[0]:.0f}/{statistics.median(a):.0f}",
                f"{b[0]:.0f}/{statistics.median(b):.0f}",
                f"{statistics.median(a) / max(statistics.median(b), 1e-9):.2f}",
            ]
        print(f"{name:<18}" + "".join(f"{c:>14}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["small_cnn", "mobilenet_v2"])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-memory", action="store_true", help="skip the child-process runs")
    parser.add_argument("--memory-only", action="store_true", help="skip the timing runs")
    parser.add_argument("--memory-runs", type=int, default=1, help="child processes per side")
    args = parser.parse_args()
    if not args.memory_only:
        header = ("model", "edgelite s", "official s", "ratio", "size ratio")
        print(f"{header[0]:<18}" + "".join(f"{h:>12}" for h in header[1:]))
        for name in args.models:
            model = _build(name)
            convert_once("edgelite", model)  # first calls pay TF's one-time tracing set-up
            ours = min(convert_once("edgelite", model) for _ in range(args.repeat))
            theirs = min(convert_once("official", model) for _ in range(args.repeat))
            print(
                f"{name:<18}{ours[0]:>12.2f}{theirs[0]:>12.2f}{ours[0] / theirs[0]:>12.2f}"
                f"{ours[1] / theirs[1]:>12.4f}"
            )
    if not args.no_memory:
        memory_table(args.models, args.memory_runs)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
