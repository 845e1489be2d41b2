"""`make demo`: the end-to-end path that exists today, on a built-in default model.

1. Build a small image classifier with edgelite's ModelBuilder (no TensorFlow).
2. Write it to a .tflite file, read it back through the verifier.
3. Show `edgelite inspect` on it.
4. Run it in edgelite's interpreter (when present) and in the official runtime
   (ai-edge-litert, when installed) and compare the answers.

Later issues grow this into convert -> quantize -> run on a real Keras model.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgelite import read_model  # noqa: E402
from edgelite.cli import main as cli  # noqa: E402
from tests.sample_models import conv_model  # noqa: E402


def classify(interpreter_class, path: Path, image: np.ndarray) -> np.ndarray:
    """The usual tf.lite-style classification script; both runtimes take it unchanged."""
    interp = interpreter_class(model_path=str(path))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], image)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


def official_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    return Interpreter


def main() -> int:
    out_dir = Path(tempfile.mkdtemp(prefix="edgelite-demo-"))
    path = out_dir / "classifier.tflite"
    conv_model().build().save(path)
    model = read_model(path)
    print(
        f"wrote and verified {path} ({path.stat().st_size} bytes, "
        f"{len(model.main.operators)} ops)\n"
    )
    cli(["inspect", str(path)])
    image = np.random.default_rng(0).standard_normal((1, 8, 8, 3)).astype(np.float32)
    from edgelite.interpreter import Interpreter

    official = official_interpreter()
    ours = classify(Interpreter, path, image)
    theirs = classify(official, path, image) if official else None
    print()
    for label, result in (("edgelite", ours), ("ai-edge-litert", theirs)):
        if result is None:
            print(f"{label:15s} not available")
        else:
            print(f"{label:15s} top class {int(result.argmax())}  probs {np.round(result[0], 4)}")
    if ours is not None and theirs is not None:
        print(f"max |diff| = {float(np.abs(ours - theirs).max()):.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
