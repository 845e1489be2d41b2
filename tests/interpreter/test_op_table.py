"""The op table lists exactly what each kernel module implements, and loads lazily."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

from edgelite.interpreter import op_table
from edgelite.schema.generated.enums import BuiltinOperator

REPO = Path(__file__).resolve().parents[2]


def test_listed_ops_equal_each_modules_kernels():
    for module, names in op_table.KERNEL_MODULES.items():
        kernels = importlib.import_module(f"edgelite.interpreter.kernels.{module}").KERNELS
        assert sorted(BuiltinOperator(int(code)).name for code in kernels) == sorted(names), module
    for module, names in op_table.CUSTOM_MODULES.items():
        custom = importlib.import_module(f"edgelite.interpreter.kernels.custom.{module}")
        assert sorted(custom.CUSTOM_KERNELS) == sorted(names), module


def test_every_listed_op_resolves():
    table = op_table.builtin_table()
    for code in table:
        assert table[code].versions[0] >= 1
    assert table.get(int(BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)) is None
    assert op_table.custom_table().get("NoSuchOp") is None


def test_loading_a_model_imports_only_its_kernels(tmp_path):
    from tests.sample_models import conv_model

    path = tmp_path / "conv.tflite"
    path.write_bytes(conv_model().to_bytes())
    code = (
        "import json, sys; from edgelite.interpreter import Interpreter; "
        f"Interpreter(model_path={str(path)!r}).allocate_tensors(); "
        "print(json.dumps([m for m in sys.modules if m.startswith(sys.argv[1])]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "edgelite.interpreter.kernels."],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    ops = {m.rsplit(".", 1)[1] for m in json.loads(proc.stdout)} - {"base"}
    # Only kernel modules count; shared helpers (fixed-point toolkit, _private) may load.
    ops = {m for m in ops if m in op_table.KERNEL_MODULES}
    # conv_model: CONV_2D, RESHAPE, FULLY_CONNECTED, SOFTMAX (softmax imports unary helpers)
    assert ops <= {"conv_2d", "reshape", "fully_connected", "softmax", "unary"}, ops
