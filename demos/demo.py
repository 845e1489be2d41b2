"""`make demo`: train -> convert -> quantize -> check -> run, end to end, in a few minutes.

1. Train a small CNN on scikit-learn's handwritten digits with Keras (seconds).
2. Convert it with edgelite's own converter to a float32 .tflite (TensorFlow only traces).
3. Quantize it to full-integer int8 with edgelite's quantizer (200 calibration images).
4. Check both against the TFLite quantization spec (`edgelite check`).
5. Run both models in edgelite's interpreter and in the official runtime (ai-edge-litert)
   on 500 held-out images, and print one table: accuracy, file size, latency per runtime,
   and the largest difference between the two runtimes' outputs.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import edgelite  # noqa: E402
from edgelite.quantization import CalibrationOptions, QuantizeOptions, check_model  # noqa: E402
from edgelite.textfmt import human_bytes, table  # noqa: E402


def load_digits() -> dict[str, np.ndarray]:
    """8x8 digit images in [0, 1], a fixed split: 500 held out for testing."""
    from sklearn.datasets import load_digits as sk_digits

    digits = sk_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    order = np.random.default_rng(0).permutation(len(images))
    test, train = order[:500], order[500:]
    return {
        "x_train": images[train],
        "y_train": digits.target[train],
        "x_test": images[test],
        "y_test": digits.target[test],
    }


def train(data: dict[str, np.ndarray]):
    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1), name="image"),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax", name="probs"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(data["x_train"], data["y_train"], epochs=30, batch_size=64, verbose=0)
    return model


def run(interpreter_class, path: Path, images: np.ndarray) -> tuple[np.ndarray, float]:
    """The plain tf.lite classification loop; returns (outputs, median ms per image)."""
    interp = interpreter_class(model_path=str(path))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    results, times = [], []
    for image in images:
        interp.set_tensor(inp["index"], image[None].astype(inp["dtype"]))
        start = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - start) * 1e3)
        results.append(interp.get_tensor(out["index"])[0])
    return np.asarray(results, np.float32), float(np.median(times))


def main() -> int:
    from ai_edge_litert.interpreter import Interpreter as LiteRT

    work = Path(tempfile.mkdtemp(prefix="edgelite-demo-"))
    step = lambda text: print(f"[demo] {text}", flush=True)  # noqa: E731
    step("training a small CNN on scikit-learn's digits ...")
    data = load_digits()
    keras_model = train(data)
    step("converting with edgelite (float32) ...")
    paths = {"float32": work / "digits.float32.tflite", "int8": work / "digits.int8.tflite"}
    float_model = edgelite.convert(keras_model)
    float_model.save(paths["float32"])
    step("quantizing with edgelite (int8, 200 calibration images) ...")
    int8_model = edgelite.quantize(
        float_model,
        QuantizeOptions(mode="int8", calibration=CalibrationOptions(progress_every=100)),
        representative_data=[x[None] for x in data["x_train"][:200]],
    )
    int8_model.save(paths["int8"])
    for path in paths.values():
        violations = check_model(edgelite.read_model(path))
        step(
            f"edgelite check {path.name}: "
            f"{'passes the spec' if not violations else f'{len(violations)} violation(s)'}"
        )
    from ai_edge_litert.interpreter import OpResolverType

    def litert_builtin(model_path: str) -> LiteRT:
        no_xnnpack = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        return LiteRT(model_path=model_path, experimental_op_resolver_type=no_xnnpack)

    runtimes = {
        "edgelite": edgelite.Interpreter,
        "litert (XNNPACK)": LiteRT,
        "litert (builtin)": litert_builtin,
    }
    rows = []
    for flavour, path in paths.items():
        outputs = {}
        for name, make in runtimes.items():
            step(f"running {path.name} in {name} on {len(data['x_test'])} images ...")
            try:
                outputs[name], ms = run(make, path, data["x_test"])
            except edgelite.EdgeliteError as err:
                rows.append([flavour, name, "n/a", "n/a", str(err).split(": ", 1)[-1][:50]])
                continue
            accuracy = float(np.mean(outputs[name].argmax(1) == data["y_test"]))
            diff = ""
            if name != "edgelite" and "edgelite" in outputs:
                diff = f"{float(np.abs(outputs['edgelite'] - outputs[name]).max()):.2g}"
            rows.append([flavour, name, f"{100 * accuracy:.1f}%", f"{ms:.3f}", diff])
    sizes = ", ".join(f"{f} {human_bytes(p.stat().st_size)}" for f, p in paths.items())
    print(f"\nfile sizes: {sizes}")
    print("max |diff| = largest difference between edgelite's outputs and that runtime's")
    print()
    print(
        table(
            rows,
            ["model", "runtime", "accuracy", "ms/image", "max |diff| vs edgelite"],
            right=[2, 3, 4],
        )
    )
    print(f"\nmodels written to {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
