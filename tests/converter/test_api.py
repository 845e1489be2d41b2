"""The converter's interface: sources, options, errors that name the fix, the CLI."""

from __future__ import annotations

import builtins
import json
import subprocess
import sys

import numpy as np
import pytest

from edgelite.cli import main
from edgelite.converter import (
    ConversionError,
    ConvertOptions,
    MissingDependencyError,
    UnsupportedOpsError,
    convert,
    save,
)
from edgelite.schema import read_model, write_model
from tests.converter.helpers import check_runs, convert_to_bytes, keras_outputs


def _small_keras(name="tiny", input_shape=(4,)):
    import keras

    keras.utils.set_random_seed(5)
    inputs = keras.Input(input_shape, name="features")
    outputs = keras.layers.Dense(3, activation="relu", name="scores")(inputs)
    return keras.Model(inputs, outputs, name=name)


def test_importing_edgelite_does_not_import_tensorflow_or_the_converter():
    code = (
        "import sys, edgelite; edgelite.ConvertOptions; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_missing_tensorflow_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_tensorflow(name, *args, **kwargs):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("No module named 'tensorflow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorflow)
    with pytest.raises(MissingDependencyError, match=r"pip install edgelite\[tensorflow\]"):
        convert("model.keras")


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        (lambda tmp: tmp / "missing.keras", "no such file"),
        (lambda tmp: tmp, "not a SavedModel"),
        (lambda tmp: (tmp / "notes.txt").write_text("hi") and tmp / "notes.txt", "not a model"),
    ],
)
def test_paths_that_are_not_models(tmp_path, make_path, message):
    with pytest.raises(ConversionError, match=message):
        convert(make_path(tmp_path))


@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")
def test_keras_file_and_tf_keras_model(tmp_path):
    import tf_keras

    model = _small_keras()
    path = tmp_path / "tiny.keras"
    model.save(path)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    data, _ = convert_to_bytes(path)
    check_runs(data, [x], keras_outputs(model, [x]))
    legacy = tf_keras.Sequential([tf_keras.Input((4,), name="features"), tf_keras.layers.Dense(2)])
    legacy.save(tmp_path / "legacy.h5")
    data, _ = convert_to_bytes(tmp_path / "legacy.h5")
    check_runs(data, [x], [legacy(x).numpy()])


def test_unknown_sizes_need_an_input_shape():
    import keras

    inputs = keras.Input((None, None, 3), name="image")
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs))
    with pytest.raises(ConversionError, match=r"--input-shape image:1,1,1,3"):
        convert(model)
    with pytest.raises(ConversionError, match="does not fit"):
        convert(model, options=ConvertOptions(input_shapes={"image": [1, 8, 8, 4]}))
    with pytest.raises(ConversionError, match="not inputs"):
        convert(model, options=ConvertOptions(input_shapes={"picture": [1, 8, 8, 3]}))
    x = np.random.default_rng(1).standard_normal((1, 8, 8, 3)).astype(np.float32)
    data, _ = convert_to_bytes(model, input_shapes={"image": [1, 8, 8, 3]})
    check_runs(data, [x], keras_outputs(model, [x]))


def test_unknown_signature_key_lists_the_available_ones(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.f = tf.function(lambda x: x + 1.0, input_signature=[tf.TensorSpec([2], tf.float32)])
    tf.saved_model.save(module, str(tmp_path), signatures={"plus_one": module.f})
    with pytest.raises(ConversionError, match=r"\['plus_one'\]"):
        convert(tmp_path, options=ConvertOptions(signature_keys=["serving"]))


def _unsupported_model():
    import keras
    import tensorflow as tf

    inputs = keras.Input((4,), name="x")
    y = keras.layers.Lambda(lambda t: tf.math.erf(t), name="erf_layer")(inputs)
    y = keras.layers.Lambda(lambda t: tf.math.lgamma(t + 2.0), name="lgamma_layer")(y)
    return keras.Model(inputs, y)


def test_all_unsupported_ops_are_listed_with_their_layers():
    with pytest.raises(UnsupportedOpsError) as caught:
        convert(_unsupported_model())
    kinds = {(op.op_type, op.layer) for op in caught.value.ops}
    assert kinds == {("Erf", "erf_layer"), ("Lgamma", "lgamma_layer")}
    assert "--allow-custom-ops" in str(caught.value)


def test_allow_custom_ops_emits_and_reports_them():
    model = convert(_unsupported_model(), options=ConvertOptions(allow_custom_ops=True))
    customs = [c.custom_code for c in model.operator_codes if c.custom_code]
    assert sorted(customs) == ["Erf", "Lgamma"]


def test_save_is_all_or_nothing(tmp_path):
    model = convert(_small_keras())
    target = tmp_path / "model.tflite"
    assert save(model, target) == target.stat().st_size
    with pytest.raises(OSError):
        save(model, tmp_path / "no_such_dir" / "model.tflite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]


def test_names_metadata_and_versions():
    model = convert(_small_keras())
    signature = model.signature_defs[0]
    assert (list(signature.inputs), list(signature.outputs)) == (["features"], ["scores"])
    assert model.main.tensors[model.main.inputs[0]].name == "features"
    assert model.metadata_bytes("min_runtime_version").rstrip(b"\0") == b"1.5.0"
    assert model.metadata_bytes("CONVERSION_METADATA")
    read_model(write_model(model))  # the written file verifies


def test_cli_convert_writes_model_report_and_summary(tmp_path, capsys):
    source = tmp_path / "tiny.keras"
    _small_keras().save(source)
    out, report = tmp_path / "tiny.tflite", tmp_path / "report.json"
    assert main(["convert", str(source), "-o", str(out), "--json-report", str(report)]) == 0
    captured = capsys.readouterr()
    assert "FULLY_CONNECTED" in captured.out and "lowering" in captured.err
    data = json.loads(report.read_text())
    assert data["ops_final"] == 1 and data["size_bytes"] == out.stat().st_size


def test_cli_failure_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out.tflite"
    assert main(["convert", str(tmp_path / "nope.keras"), "-o", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not out.exists()


def test_cli_rejects_a_malformed_input_shape(tmp_path):
    with pytest.raises(SystemExit):
        main(["convert", "m.keras", "-o", str(tmp_path / "o.tflite"), "--input-shape", "image=1,2"])
