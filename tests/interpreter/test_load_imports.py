"""Load time: a float model imports none of the quantized kernels' helper modules.

Importing a kernel module is part of the first ``allocate_tensors`` of a model using
it, so the float kernels reach their quantized halves (fixed-point toolkit, tables,
quantized Cython loops: tens of milliseconds of imports) only when a node is
quantized. Checked in a fresh interpreter process, as a user's first load is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated import options as opt
from edgelite.schema.generated.enums import ActivationFunctionType, BuiltinOperator, Padding
from tests.sample_models import quantized_model

REPO = Path(__file__).resolve().parents[2]
RELU6 = ActivationFunctionType.RELU6


def _float_block() -> ModelBuilder:
    """A float MobileNetV2's ops (CONV_2D, DEPTHWISE_CONV_2D, ADD, MEAN, FC, SOFTMAX) and more."""
    rng = np.random.default_rng(0)
    mb = ModelBuilder()
    x = mb.input("x", [1, 6, 6, 4], np.float32)

    def const(name: str, shape: tuple[int, ...]) -> int:
        return mb.const(name, rng.standard_normal(shape).astype(np.float32))

    conv = mb.tensor("conv", [1, 6, 6, 4], np.float32)
    conv_opts = opt.Conv2DOptions(Padding.SAME, 1, 1, RELU6)
    mb.op(
        BuiltinOperator.CONV_2D, [x, const("w", (4, 1, 1, 4)), const("b", (4,))], [conv], conv_opts
    )
    dw = mb.tensor("dw", [1, 6, 6, 4], np.float32)
    dw_opts = opt.DepthwiseConv2DOptions(Padding.SAME, 1, 1, 1, RELU6)
    dw_inputs = [conv, const("dw_w", (1, 3, 3, 4)), const("dw_b", (4,))]
    mb.op(BuiltinOperator.DEPTHWISE_CONV_2D, dw_inputs, [dw], dw_opts, version=2)
    added = mb.tensor("add", [1, 6, 6, 4], np.float32)
    mb.op(BuiltinOperator.ADD, [x, dw], [added], opt.AddOptions())
    swished = mb.tensor("hard_swish", [1, 6, 6, 4], np.float32)
    mb.op(BuiltinOperator.HARD_SWISH, [added], [swished])
    joined = mb.tensor("concat", [1, 6, 6, 8], np.float32)
    concat_opts = opt.ConcatenationOptions(axis=3)
    mb.op(BuiltinOperator.CONCATENATION, [swished, added], [joined], concat_opts)
    axes = mb.const("axes", np.array([1, 2], np.int32))
    pooled = mb.tensor("mean", [1, 8], np.float32)
    mb.op(BuiltinOperator.MEAN, [joined, axes], [pooled], opt.ReducerOptions(keep_dims=False))
    logits = mb.tensor("logits", [1, 3], np.float32)
    fc_inputs = [pooled, const("fc_w", (3, 8)), const("fc_b", (3,))]
    mb.op(BuiltinOperator.FULLY_CONNECTED, fc_inputs, [logits], opt.FullyConnectedOptions())
    probs = mb.tensor("probs", [1, 3], np.float32)
    mb.op(BuiltinOperator.SOFTMAX, [logits], [probs], opt.SoftmaxOptions(beta=1.0))
    mb.output(probs)
    return mb


def _kernel_modules_after_load(path: Path) -> set[str]:
    """The edgelite kernel modules a fresh process holds after loading ``path``."""
    code = (
        "import json, sys; from edgelite.interpreter import Interpreter; "
        f"it = Interpreter(model_path={str(path)!r}); it.allocate_tensors(); it.invoke(); "
        "print(json.dumps([m for m in sys.modules if m.startswith(sys.argv[1])]))"
    )
    prefix = "edgelite.interpreter.kernels."
    proc = subprocess.run(
        [sys.executable, "-c", code, prefix], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    return {name[len(prefix) :] for name in json.loads(proc.stdout)}


def test_float_model_loads_no_quantized_helpers(tmp_path):
    path = tmp_path / "float_block.tflite"
    path.write_bytes(_float_block().to_bytes())
    modules = _kernel_modules_after_load(path)
    assert {"conv_2d", "activations", "concat_split", "reduce", "softmax"} <= modules
    quantized = {m for m in modules if m.startswith(("_q", "fixedpoint")) or "_quant" in m}
    assert not quantized, sorted(quantized)


def test_quantized_model_still_loads_its_helpers(tmp_path):
    path = tmp_path / "quantized.tflite"
    path.write_bytes(quantized_model().to_bytes())
    assert "_depthwise_quant" in _kernel_modules_after_load(path)
