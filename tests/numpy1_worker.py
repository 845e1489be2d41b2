"""Run models in edgelite under whatever numpy this interpreter has; save outputs.

Used by test_numpy_compat.py with the numpy 1.26 venv (.venv-np1): the same
Cython extensions (built against numpy 2 headers) must work with numpy 1.26.
Usage: python numpy1_worker.py OUT.npz MODEL.tflite [MODEL.tflite ...]
"""

from __future__ import annotations

import sys

import numpy as np

from edgelite.benchmark import random_inputs
from edgelite.interpreter import Interpreter


def main() -> int:
    out_path, models = sys.argv[1], sys.argv[2:]
    results = {"numpy_version": np.array(np.__version__)}
    for i, path in enumerate(models):
        interp = Interpreter(model_path=path)
        interp.allocate_tensors()
        for detail, value in zip(
            interp.get_input_details(), random_inputs(interp.get_input_details())
        ):
            interp.set_tensor(detail["index"], value)
        interp.invoke()
        for k, detail in enumerate(interp.get_output_details()):
            results[f"m{i}_o{k}"] = interp.get_tensor(detail["index"])
    np.savez(out_path, **results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
