"""Convert the Keras zoo models to .tflite in every flavour and record them in the manifest.

This is the TensorFlow side of the zoo; tests should not import it but call
:func:`tests.zoo.ensure_zoo`, which runs it as ``python -m tests.zoo`` when needed.

Per model the Keras model is built once (deterministic weights) and converted with
``tf.lite.TFLiteConverter.from_keras_model`` once per flavour.  Each result is described
(op histogram over all subgraphs, sparse tensors, inputs/outputs) and run once in the LiteRT
interpreter; the manifest is rewritten after every conversion so an interrupted build keeps
its progress.  Converter refusals are recorded as failures with their reason, not retried.

The converter can also crash the whole process (its calibrator segfaults on WHILE loops).
So ``python -m tests.zoo`` is a supervisor that never imports TensorFlow: it runs the
conversions in a worker process (``--worker``), which marks each combination as pending
in the manifest before converting it.  When the worker dies, the supervisor records the
pending combination as failed, with the crash site, and starts a new worker for the rest.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.zoo import catalog, real_models

# TensorFlow, Keras and LiteRT are imported inside the functions that use them: the
# supervisor and ``--list`` must start in milliseconds, without them.

# Calibration samples for the int8/int16x8 flavours: enough to cover the spread of our
# synthetic inputs, few enough to keep MobileNetV2's calibration short.
REPRESENTATIVE_SAMPLES = 12
REPRESENTATIVE_SEED = 0
# Held-out inputs saved next to the models for tests (not used for calibration).
SAVED_SAMPLES = 4
SAVED_SAMPLES_SEED = 7
MAX_ERROR_CHARS = 600


def _configure(converter, flavour: str, representative: Callable) -> None:
    """Apply one flavour's options to a fresh TFLiteConverter."""
    import tensorflow as tf

    if flavour == "float32":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if flavour == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif flavour in ("int8", "int8_floatio"):
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if flavour == "int8":
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    elif flavour == "int16x8":
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]


def convert(model, samples: Callable, flavour: str) -> bytes:
    """Convert a Keras model to a .tflite flatbuffer in the given flavour."""
    import tensorflow as tf

    def representative():
        for sample in samples(REPRESENTATIVE_SAMPLES, seed=REPRESENTATIVE_SEED):
            yield [sample]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    _configure(converter, flavour, representative)
    with _stdout_to_stderr():
        return converter.convert()


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send file descriptor 1 to stderr for a while.

    The Keras 3 export step prints a page about the SavedModel it writes and the quantizer
    prints from C++; both would bury the progress lines, which are the only stdout.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _builtin_names() -> dict[int, str]:
    from tensorflow.lite.python import schema_py_generated as schema

    ops = schema.BuiltinOperator
    return {value: name for name, value in vars(ops).items() if not name.startswith("_")}


def _type_names() -> dict[int, str]:
    from tensorflow.lite.python import schema_py_generated as schema

    types = schema.TensorType
    return {value: name for name, value in vars(types).items() if not name.startswith("_")}


def describe_flatbuffer(blob: bytes) -> dict:
    """Op histogram over all subgraphs, subgraph count, sparse tensors, constant dtypes.

    Custom ops are counted as ``CUSTOM:<name>``.  The interpreter's op list covers the
    main subgraph only, so the flatbuffer is read directly with TF's generated schema.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(blob, 0)
    builtin, types = _builtin_names(), _type_names()
    ops: Counter[str] = Counter()
    constants: Counter[str] = Counter()
    sparse = 0
    for subgraph in model.subgraphs:
        for op in subgraph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            # Codes above 127 live in builtinCode; the deprecated byte keeps older ones.
            number = max(code.builtinCode, code.deprecatedBuiltinCode)
            name = builtin.get(number, str(number))
            if name == "CUSTOM":
                name = f"CUSTOM:{code.customCode.decode()}"
            ops[name] += 1
        for tensor in subgraph.tensors or []:
            sparse += tensor.sparsity is not None
            buffer = model.buffers[tensor.buffer] if tensor.buffer else None
            if buffer is not None and (buffer.data is not None or buffer.size):
                constants[types.get(tensor.type, str(tensor.type))] += 1
    return {
        "ops": dict(sorted(ops.items())),
        "subgraphs": len(model.subgraphs),
        "sparse_tensors": sparse,
        "constant_dtypes": dict(sorted(constants.items())),
    }


def _tensor_json(detail: dict) -> dict:
    scale, zero_point = detail["quantization"]
    return {
        "name": detail["name"],
        "shape": [int(d) for d in detail["shape"]],
        "shape_signature": [int(d) for d in detail["shape_signature"]],
        "dtype": np.dtype(detail["dtype"]).name,
        "scale": float(scale),
        "zero_point": int(zero_point),
    }


def to_input_dtype(sample: np.ndarray, detail: dict) -> np.ndarray:
    """Quantize a float sample for an integer input (or cast it), as a caller of the model must."""
    scale, zero_point = detail["quantization"]
    return catalog.quantize(sample, np.dtype(detail["dtype"]), scale, zero_point)


def run_in_litert(blob: bytes, sample: np.ndarray) -> tuple[dict, str | None]:
    """Load and invoke the model once in LiteRT with builtin kernels only (no XNNPACK).

    Returns the input/output description and an error message (None when it ran).
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_content=blob,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    io_info = {
        "inputs": [_tensor_json(d) for d in interpreter.get_input_details()],
        "outputs": [_tensor_json(d) for d in interpreter.get_output_details()],
    }
    try:
        interpreter.allocate_tensors()
        (detail,) = interpreter.get_input_details()
        interpreter.set_tensor(detail["index"], to_input_dtype(sample, detail))
        interpreter.invoke()
        for out in interpreter.get_output_details():
            if not np.all(np.isfinite(interpreter.get_tensor(out["index"]))):
                return io_info, "non-finite output"
    except (RuntimeError, ValueError) as error:
        return io_info, _short(error)
    return io_info, None


def _short(error: BaseException) -> str:
    """The first lines of an error: converter messages can run to pages of MLIR."""
    text = f"{type(error).__name__}: {error}".strip()
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " ..."


def _save_samples(directory: Path, name: str, samples: Callable) -> str:
    """Store held-out inputs as ``<model>.samples.npz`` (key ``x``: samples x batch 1 x ...)."""
    file = f"{name}.samples.npz"
    batch = np.stack(samples(SAVED_SAMPLES, seed=SAVED_SAMPLES_SEED))
    with open(directory / f"{file}.tmp", "wb") as handle:
        np.savez(handle, x=batch)
    os.replace(directory / f"{file}.tmp", directory / file)
    return file


def _convert_one(directory: Path, model, samples: Callable, name: str, flavour: str) -> dict:
    """Convert, write, describe and run one combination; returns its manifest entry.

    Raises whatever the converter raised when it refuses the combination.
    """
    blob = convert(model, samples, flavour)
    file = f"{name}.{flavour}.tflite"
    tmp = directory / f"{file}.tmp"
    tmp.write_bytes(blob)
    os.replace(tmp, directory / file)
    io_info, error = run_in_litert(blob, samples(1, seed=SAVED_SAMPLES_SEED)[0])
    entry = {
        "file": file,
        "model": name,
        "flavour": flavour,
        "model_version": catalog.MODELS[name].version,
        "slow": catalog.MODELS[name].slow,
        "size": len(blob),
        "sha256": hashlib.sha256(blob).hexdigest(),
        **io_info,
        **describe_flatbuffer(blob),
    }
    if error:
        entry["litert_error"] = error
    return entry


def build_models(directory: Path, models: list[str], flavours: list[str], log=print) -> dict:
    """Build the missing combinations of ``models`` x ``flavours`` into ``directory``."""
    builder = _Builder(directory, catalog.read_manifest(directory), log)
    for name in models:
        builder.build_model(name, flavours)
    return builder.manifest


@dataclass
class _Builder:
    """The state of one build: where files go, the manifest being updated, the logger."""

    directory: Path
    manifest: dict
    log: Callable[[str], object]

    def build_model(self, name: str, flavours: list[str]) -> None:
        """Build the Keras model once, then every flavour of it that is missing."""
        from tests.zoo import keras_models  # imports Keras: only the worker gets here

        todo = [
            flavour
            for flavour in flavours
            if catalog.combo_status(self.directory, self.manifest, name, flavour) == "missing"
        ]
        if not todo:
            self.log(f"{name}: cached")
            return
        start = time.perf_counter()
        model, samples = keras_models.BUILDERS[name]()
        info = catalog.MODELS[name]
        self.manifest["models"][name] = {
            "description": info.description,
            "slow": info.slow,
            "version": info.version,
            "samples": _save_samples(self.directory, name, samples),
        }
        self.log(f"{name}: built Keras model in {time.perf_counter() - start:.1f}s")
        for flavour in todo:
            self.build_flavour(model, samples, name, flavour)

    def build_flavour(self, model, samples: Callable, name: str, flavour: str) -> None:
        """Convert one combination and record the outcome (entry or failure)."""
        key = catalog.entry_key(name, flavour)
        # Marked before converting: if the converter kills the process, the supervisor
        # knows which combination did it.
        self.manifest["pending"] = key
        catalog.write_manifest(self.directory, self.manifest)
        start = time.perf_counter()
        try:
            entry = _convert_one(self.directory, model, samples, name, flavour)
        except Exception as error:  # any converter refusal is a recorded outcome, not a crash
            seconds = time.perf_counter() - start
            _record_failure(self.manifest, name, flavour, _short(error))
            self.log(f"  {key}: FAILED after {seconds:.1f}s: {_short(error).splitlines()[0]}")
        else:
            seconds = time.perf_counter() - start
            entry["convert_seconds"] = round(seconds, 2)
            self.manifest["failures"].pop(key, None)
            self.manifest["entries"][key] = entry
            note = f" (LiteRT: {entry['litert_error']})" if "litert_error" in entry else ""
            self.log(f"  {key}: {seconds:.1f}s, {entry['size'] / 1024:.0f} KiB{note}")
        self.manifest.pop("pending", None)
        catalog.write_manifest(self.directory, self.manifest)


def _record_failure(manifest: dict, name: str, flavour: str, reason: str) -> None:
    """Replace any entry for the combination by a failure with ``reason``."""
    key = catalog.entry_key(name, flavour)
    manifest["entries"].pop(key, None)
    manifest["failures"][key] = {
        "model": name,
        "flavour": flavour,
        "model_version": catalog.MODELS[name].version,
        "error": reason,
    }


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m tests.zoo [--models M ...] [--flavours F ...] [--fast] [--list]``."""
    parser = argparse.ArgumentParser(prog="python -m tests.zoo", description=__doc__)
    parser.add_argument("--models", nargs="+", choices=list(catalog.MODELS))
    parser.add_argument("--flavours", nargs="+", choices=list(catalog.FLAVOURS))
    parser.add_argument("--fast", action="store_true", help="skip the models marked slow")
    parser.add_argument("--list", action="store_true", help="list the cached zoo and exit")
    parser.add_argument("--real", action="store_true", help="also fetch the real models")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    models, flavours = catalog.select(args.models, args.flavours)
    if args.fast:
        models = [m for m in models if not catalog.MODELS[m].slow]
    if args.worker:
        return _work(args.worker, models, flavours)
    if args.list:
        return _list()
    directory = catalog.zoo_dir()
    start = time.perf_counter()
    with catalog.locked(directory):
        print(f"zoo: {directory}", flush=True)
        _supervise(directory, models, flavours)
    print(f"zoo: done in {time.perf_counter() - start:.1f}s", flush=True)
    if args.real:
        for real in real_models.ensure_real_models():
            print(f"real: {real.name}: {real.path}", flush=True)
    return 0


def _supervise(directory: Path, models: list[str], flavours: list[str]) -> None:
    """Run workers until every combination is built or recorded as failed.

    Each worker crash costs one combination (the pending one), so this ends.
    """
    command = [sys.executable, "-m", "tests.zoo", "--worker", str(directory)]
    command += ["--models", *models, "--flavours", *flavours]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    _clear_pending(directory)
    if not _missing(directory, models, flavours):
        print("zoo: every requested combination is cached", flush=True)
    while _missing(directory, models, flavours):
        result = subprocess.run(
            command, check=False, cwd=catalog.REPO_ROOT, env=env, stderr=subprocess.PIPE, text=True
        )
        if result.returncode == 0:
            return
        manifest = catalog.read_manifest(directory)
        pending = manifest.pop("pending", None)
        if pending is None:
            sys.stderr.write(result.stderr[-4000:])
            raise SystemExit(f"zoo worker failed with exit code {result.returncode}")
        reason = _crash_reason(result.returncode, result.stderr)
        model, flavour = pending.split(".", 1)
        _record_failure(manifest, model, flavour, reason)
        catalog.write_manifest(directory, manifest)
        print(f"  {pending}: FAILED: {reason}", flush=True)


def _missing(directory: Path, models: list[str], flavours: list[str]) -> bool:
    """Whether any combination still needs a worker (checked without importing TensorFlow)."""
    manifest = catalog.read_manifest(directory)
    return any(
        catalog.combo_status(directory, manifest, model, flavour) == "missing"
        for model in models
        for flavour in flavours
    )


def _clear_pending(directory: Path) -> None:
    """Forget a pending mark left by an interrupted build: it says nothing about a crash."""
    manifest = catalog.read_manifest(directory)
    if manifest.pop("pending", None) is not None:
        catalog.write_manifest(directory, manifest)


def _crash_reason(returncode: int, stderr: str) -> str:
    """Describe a worker crash by its signal and innermost Python frame (from faulthandler)."""
    how = f"signal {signal.Signals(-returncode).name}" if returncode < 0 else f"exit {returncode}"
    frames = re.findall(
        r'File "([^"]+)", line (\d+) in (\S+)', stderr.rsplit("Fatal Python", maxsplit=1)[-1]
    )
    where = ""
    if frames:
        path, line, function = frames[0]
        short = path.split("site-packages/")[-1]
        where = f" in {function} ({short}:{line})"
    return f"converter crashed the process ({how}){where}"


def _work(directory: Path, models: list[str], flavours: list[str]) -> int:
    """The worker: import TensorFlow and build, printing one progress line per step."""
    faulthandler.enable()
    directory.mkdir(parents=True, exist_ok=True)
    build_models(directory, models, flavours, log=lambda line: print(line, flush=True))
    return 0


def _list() -> int:
    """Print the cached entries and known failures without importing TensorFlow."""
    for entry in catalog.zoo_entries():
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(entry.ops.items()))
        print(f"{entry.id}: {entry.path.name} [{ops}]")
    for key, error in catalog.zoo_failures().items():
        print(f"{key}: FAILED {error.splitlines()[0]}")
    return 0
