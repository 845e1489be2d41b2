"""int8 quantization time: edgelite's quantizer next to tf.lite.TFLiteConverter, one run.

Both quantize MobileNetV2 to full int8 (float I/O) from the same 100 calibration
images (the zoo's synthetic image sampler). edgelite starts from the float .tflite
(``.cache/zoo/tf-<version>/mobilenet_v2.float32.tflite``) and times read + calibrate +
quantize + write. The official converter cannot quantize a .tflite, so it starts from
the same Keras model the zoo converted (rebuilt from tests/zoo/keras_models.py) and
times ``convert()`` with the representative dataset + write. The Keras model, the
samples and TensorFlow itself are set up before any timing. Prints both times and the
ratio (best of ``--repeat``), and the mean |output - float output| of each model on
a few held-out images, so a fast but wrong quantization would show.

    .venv/bin/python bench/bench_quantize.py [--samples 100] [--repeat 1]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODEL = "mobilenet_v2"
SEED = 0  # the zoo's representative seed (tests/zoo/build.py)
HELD_OUT_SEED = 7


@contextlib.contextmanager
def _silenced():
    """The official converter prints pages of MLIR diagnostics to both streams."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def quantize_edgelite(float_path: Path, samples: list[np.ndarray], out: Path) -> float:
    """Seconds for read + calibrate + quantize + write with edgelite."""
    from edgelite.quantization import QuantizeOptions, quantize
    from edgelite.schema import read_model, write_model

    start = time.perf_counter()
    model = quantize(read_model(float_path), QuantizeOptions(mode="int8"), samples, log=None)
    out.write_bytes(write_model(model))
    return time.perf_counter() - start


def quantize_official(keras_model, samples: list[np.ndarray], out: Path) -> float:
    """Seconds for TFLiteConverter's int8 conversion (float I/O, like ours) + write."""
    import tensorflow as tf

    def representative():
        for sample in samples:
            yield [sample]

    start = time.perf_counter()
    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with _silenced():
        blob = converter.convert()
    out.write_bytes(blob)
    return time.perf_counter() - start


def output_error(model: Path, float_model: Path, images: list[np.ndarray]) -> float:
    """Mean |output - float output| over ``images`` (ai-edge-litert, no delegates)."""
    from tests.quantization.helpers import run_real

    quantized, reference = model.read_bytes(), float_model.read_bytes()
    errors = [
        np.mean(np.abs(run_real(quantized, [x])[0] - run_real(reference, [x])[0])) for x in images
    ]
    return float(np.mean(errors))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100, help="calibration samples")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs each")
    parser.add_argument("--check", type=int, default=4, help="held-out images to compare")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tests.zoo import ensure_zoo
    from tests.zoo import keras_models as km

    float_path = next(e.path for e in ensure_zoo(models=[MODEL], flavours=["float32"]))
    print(f"building the Keras {MODEL} and {args.samples} calibration images ...", flush=True)
    keras_model, sampler = km.BUILDERS[MODEL]()
    samples = sampler(args.samples, seed=SEED)
    with tempfile.TemporaryDirectory() as scratch:
        ours, theirs = Path(scratch, "edgelite.tflite"), Path(scratch, "official.tflite")
        times = {"edgelite": [], "official": []}
        for run in range(args.repeat):
            print(f"run {run + 1}/{args.repeat}: edgelite ...", flush=True)
            times["edgelite"].append(quantize_edgelite(float_path, samples, ours))
            print(f"run {run + 1}/{args.repeat}: tf.lite.TFLiteConverter ...", flush=True)
            times["official"].append(quantize_official(keras_model, samples, theirs))
        held_out = sampler(args.check, seed=HELD_OUT_SEED)
        errors = {
            name: output_error(path, float_path, held_out)
            for name, path in (("edgelite", ours), ("official", theirs))
        }
        sizes = {"edgelite": ours.stat().st_size, "official": theirs.stat().st_size}
    best = {name: min(values) for name, values in times.items()}
    print(
        f"\nint8 quantization of {MODEL}, {args.samples} calibration samples "
        f"(calibrate + quantize + write, best of {args.repeat})"
    )
    print(f"{'':<10}{'seconds':>10}{'KiB':>10}{'mean|err|':>12}")
    for name in ("edgelite", "official"):
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(
            f"{name:<10}{best[name]:>10.2f}{sizes[name] / 1024:>10.0f}{errors[name]:>12.2e}"
            f"   runs: {runs}"
        )
    print(f"ratio edgelite/official: {best['edgelite'] / best['official']:.2f}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
