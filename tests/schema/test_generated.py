"""The generated schema files are exactly what `make schema` produces from tflite.fbs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from edgelite.schema.fbs import load_schema
from edgelite.schema.generated import enums, layout

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "edgelite" / "schema" / "generated"


def test_regenerated_bindings_match_committed(tmp_path):
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "gen_schema.py"), str(tmp_path)], check=True
    )
    names = ("tflite_generated.py", "enums.py", "options.py", "layout.py", "conversion_layout.py")
    for name in (*names, "__init__.py"):
        fresh = (tmp_path / name).read_text()
        committed = (GENERATED / name).read_text()
        assert fresh == committed, f"{name} differs from `make schema` output: run make schema"


def test_layout_slots_agree_with_flatc():
    """Our parser's vtable slots equal the offsets flatc wrote into its bindings."""
    source = (GENERATED / "tflite_generated.py").read_text()
    for table, fields in layout.TABLES.items():
        for name, _kind, _type, _vec, slot, deprecated in fields:
            if deprecated:
                continue
            camel = "".join(part[:1].upper() + part[1:] for part in name.split("_"))
            pattern = (
                rf"class {table}\(object\):.*?# {table}\n    def {camel}\(self.*?Offset\((\d+)\)"
            )
            match = re.search(pattern, source, re.S)
            assert match, f"{table}.{name} not found in flatc output"
            assert int(match.group(1)) == 4 + 2 * slot, f"{table}.{name}: slot mismatch"


def test_schema_covers_the_official_enums():
    schema = load_schema()
    ops = schema.enums["BuiltinOperator"].values
    assert len(ops) == 208 and set(ops.values()) == set(range(208))
    assert ops["PLACEHOLDER_FOR_GREATER_OP_CODES"] == 127 and ops["COMPLEX"] == 207
    assert ops["STABLEHLO_COMPOSITE"] == 206 and ops["BATCH_MATMUL"] == 126
    assert enums.TensorType.INT4 == 17 and enums.TensorType.BFLOAT16 == 18
    assert len(schema.unions["BuiltinOptions"].members) == 126
    assert len(schema.unions["BuiltinOptions2"].members) == 21
    assert enums.BuiltinOptionsType.RightShiftOptions == 126
    assert enums.BuiltinOptions2Type.StableHLOCompositeOptions == 21
