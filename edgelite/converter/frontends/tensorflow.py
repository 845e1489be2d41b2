"""TensorFlow / Keras front-end: load a model, trace it, freeze it, hand over Graphs.

Accepted sources: a Keras model object (Keras 3 or tf_keras), a ``.keras`` / ``.h5``
file, a SavedModel directory (each requested signature becomes a subgraph), a
``tf.function`` with an input signature, or a ConcreteFunction. TensorFlow is used
only here and only to trace and freeze; lowering, passes and writing are ours.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConversionError, MissingDependencyError
from ..lowering.graph import Graph, StateVariable
from .tf_graph import Library, graph_from_tf
from .tf_variables import assigned_variables, freeze_keeping_state

# ModelType values of the CONVERSION_METADATA schema
SAVED_MODEL, KERAS_MODEL, CONCRETE_FUNCTIONS = 1, 2, 3


def import_tensorflow() -> Any:
    """TensorFlow, or an error that says how to install it."""
    try:
        import tensorflow as tf
    except ImportError as err:
        raise MissingDependencyError(
            f"converting TensorFlow / Keras models needs TensorFlow ({err}); "
            "install it with: pip install edgelite[tensorflow]"
        ) from err
    return tf


@dataclass
class TracedFunction:
    """One function to convert: a signature key, the traced function and its I/O names."""

    key: str
    function: Any  # tf ConcreteFunction
    input_names: list[str]
    output_names: list[str]


@dataclass
class LoadedSource:
    functions: list[TracedFunction]
    model_type: int
    description: str
    layer_names: frozenset[str] = frozenset()
    tf_version: str = ""


@dataclass
class FrozenFunction:
    traced: TracedFunction
    graph: Graph
    model_hash: int = 0
    variables: list[StateVariable] = field(default_factory=list)  # state it assigns


def load_source(
    source: Any, signature_keys: Sequence[str] | None, input_shapes: Mapping[str, Sequence[int]]
) -> LoadedSource:
    """Trace ``source`` into one ConcreteFunction per requested signature."""
    tf = import_tensorflow()
    if isinstance(source, (str, Path)):
        return _load_path(tf, Path(source), signature_keys, input_shapes)
    if _is_keras_model(source):
        return _trace_keras(tf, source, input_shapes, type(source).__name__)
    if hasattr(source, "get_concrete_function"):
        if getattr(source, "input_signature", None) is None:
            raise ConversionError(
                "the tf.function has no input_signature; decorate it with "
                "@tf.function(input_signature=[tf.TensorSpec(shape, dtype, name=...)])"
            )
        return _from_concrete(tf, source.get_concrete_function(), "tf.function")
    if hasattr(source, "structured_input_signature") and hasattr(source, "graph"):
        return _from_concrete(tf, source, "ConcreteFunction")
    raise ConversionError(
        f"cannot convert a {type(source).__name__}: give a Keras model, a .keras/.h5 file, "
        "a SavedModel directory or a tf.function with an input_signature"
    )


def _is_keras_model(obj: Any) -> bool:
    modules = {cls.__module__.split(".")[0] for cls in type(obj).__mro__}
    return bool(modules & {"keras", "tf_keras"}) and hasattr(obj, "layers") and callable(obj)


def _load_path(tf: Any, path: Path, keys: Sequence[str] | None, shapes: Mapping) -> LoadedSource:
    if not path.exists():
        raise ConversionError(f"{path}: no such file or directory")
    if path.is_dir():
        if not (path / "saved_model.pb").exists() and not (path / "saved_model.pbtxt").exists():
            raise ConversionError(
                f"{path} is a directory but not a SavedModel (it has no saved_model.pb)"
            )
        return _load_saved_model(tf, path, keys, shapes)
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        raise ConversionError(f"{path} is already a .tflite model (see `edgelite inspect`)")
    if suffix not in (".keras", ".h5", ".hdf5"):
        raise ConversionError(
            f"{path} is not a model this converter reads: give a SavedModel directory, "
            "a .keras file or a .h5 file"
        )
    model = _load_keras_file(path)
    return _trace_keras(tf, model, shapes, path.name)


def _load_keras_file(path: Path) -> Any:
    errors = []
    for module_name in ("keras", "tf_keras"):
        try:
            module = __import__(module_name)
            return module.models.load_model(path, compile=False)
        except Exception as err:  # each loader reports its own reasons
            errors.append(f"{module_name}: {err}")
    raise ConversionError(f"{path}: cannot load the Keras model ({'; '.join(errors)})")


def _layer_names(model: Any) -> frozenset[str]:
    names: set[str] = set()
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        names.add(layer.name)
        stack.extend(getattr(layer, "layers", []) or [])
    return frozenset(names)


def _input_spec(tf: Any, name: str, shape: Sequence, dtype: Any, shapes: Mapping) -> Any:
    """A TensorSpec for one input: overrides applied, unknown non-batch sizes refused."""
    shape = [None if d is None else int(d) for d in shape]
    if name in shapes:
        wanted = [int(d) for d in shapes[name]]
        fits = len(wanted) == len(shape) and all(d is None or d == w for d, w in zip(shape, wanted))
        if not fits:
            raise ConversionError(
                f"input shape {wanted} for {name!r} does not fit the model's {shape} "
                "(give one size per dimension, equal to every size the model fixes)"
            )
        shape = wanted
    if any(d is None for d in shape[1:]):
        example = ",".join("1" if d is None else str(d) for d in shape)
        raise ConversionError(
            f"input {name!r} has unknown dimensions {shape}; give its shape with "
            f"--input-shape {name}:{example} (input_shapes={{{name!r}: [...]}})"
        )
    return tf.TensorSpec(shape, dtype, name=name)


def _check_shape_names(shapes: Mapping, names: Sequence[str]) -> None:
    unknown = sorted(set(shapes) - set(names))
    if unknown:
        raise ConversionError(
            f"--input-shape names {unknown} are not inputs; inputs: {list(names)}"
        )


def _output_names(tf: Any, structured: Any, preferred: Sequence[str] | None) -> list[str]:
    flat = tf.nest.flatten(structured)
    if isinstance(structured, Mapping):
        return [str(k) for k in sorted(structured)]
    if preferred is not None and len(preferred) == len(flat):
        return [str(p) for p in preferred]
    return [f"output_{i}" for i in range(len(flat))]


def _trace_keras(tf: Any, model: Any, shapes: Mapping, description: str) -> LoadedSource:
    try:
        inputs = list(model.inputs)
    except (AttributeError, ValueError) as err:
        raise ConversionError(
            "the Keras model has no defined inputs (a subclassed model that was never built); "
            "convert a tf.function with an input_signature instead"
        ) from err
    names = [str(t.name).split(":")[0] for t in inputs]
    _check_shape_names(shapes, names)
    specs = [_input_spec(tf, n, t.shape, t.dtype, shapes) for n, t in zip(names, inputs)]

    def call(*args: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The structure of `inputs`")
            return model(list(args) if len(args) > 1 else args[0], training=False)

    concrete = tf.function(call, input_signature=specs).get_concrete_function()
    outputs = _output_names(tf, concrete.structured_outputs, getattr(model, "output_names", None))
    traced = TracedFunction("serving_default", concrete, names, outputs)
    return LoadedSource([traced], KERAS_MODEL, description, _layer_names(model), tf.__version__)


def _from_concrete(tf: Any, concrete: Any, description: str) -> LoadedSource:
    specs = tf.nest.flatten(concrete.structured_input_signature)
    names = [getattr(s, "name", None) or f"input_{i}" for i, s in enumerate(specs)]
    outputs = _output_names(tf, concrete.structured_outputs, None)
    traced = TracedFunction("serving_default", concrete, names, outputs)
    return LoadedSource([traced], CONCRETE_FUNCTIONS, description, frozenset(), tf.__version__)


def _load_saved_model(
    tf: Any, path: Path, keys: Sequence[str] | None, shapes: Mapping
) -> LoadedSource:
    loaded = tf.saved_model.load(str(path))
    available = sorted(loaded.signatures.keys())
    if not available:
        raise ConversionError(f"SavedModel {path} has no signatures; export it with signatures=...")
    wanted = list(keys) if keys else available
    missing = [k for k in wanted if k not in available]
    if missing:
        raise ConversionError(
            f"signature(s) {missing} not in SavedModel {path}; it has {available} "
            "(pick with --signature KEY)"
        )
    functions = [_trace_signature(tf, key, loaded.signatures[key], shapes) for key in wanted]
    layers = _layer_names(loaded) if hasattr(loaded, "layers") else frozenset()
    result = LoadedSource(functions, SAVED_MODEL, path.name, layers, tf.__version__)
    result.keepalive = loaded  # type: ignore[attr-defined]  # variables live as long as we trace
    return result


def _trace_signature(tf: Any, key: str, function: Any, shapes: Mapping) -> TracedFunction:
    """Re-trace a signature with positional inputs (so shapes can be overridden)."""
    kwargs = function.structured_input_signature[1]
    names = sorted(kwargs)
    _check_shape_names(shapes, names)
    specs = [_input_spec(tf, n, kwargs[n].shape, kwargs[n].dtype, shapes) for n in names]

    def call(*args: Any) -> Any:
        return function(**dict(zip(names, args)))

    concrete = tf.function(call, input_signature=specs).get_concrete_function()
    outputs = _output_names(tf, concrete.structured_outputs, None)
    return TracedFunction(key, concrete, names, outputs)


def freeze(loaded: LoadedSource) -> list[FrozenFunction]:
    """Variables -> constants (those the function assigns stay variables), functions
    inlined; each traced function as a Graph."""
    tf = import_tensorflow()
    frozen_functions = []
    names: dict[int, str] = {}  # variable -> TFLite shared name, across signatures
    try:
        mutable = set().union(*(assigned_variables(t.function) for t in loaded.functions))
    except Exception as err:  # TF raises many kinds; all mean the same
        raise ConversionError(f"cannot inspect the model's variables: {err}") from err
    for traced in loaded.functions:
        try:
            frozen, variables = freeze_keeping_state(traced.function, mutable, names)
        except Exception as err:  # TF raises many kinds; all mean the same
            raise ConversionError(f"cannot freeze signature {traced.key!r}: {err}") from err
        graph_def = frozen.graph.as_graph_def()
        if len(frozen.inputs) != len(traced.input_names) + len(variables):
            raise ConversionError(
                f"signature {traced.key!r}: {len(frozen.inputs)} inputs after freezing, "
                f"expected {len(traced.input_names)} (a resource input is left?)"
            )
        library = Library(tf, graph_def, loaded.layer_names)
        ops = frozen.graph.get_operations()
        graph = graph_from_tf(tf, frozen.inputs, frozen.outputs, ops, traced.key, library)
        digest = hashlib.blake2b(graph_def.SerializeToString(deterministic=True), digest_size=8)
        model_hash = int.from_bytes(digest.digest(), "little")
        frozen_functions.append(FrozenFunction(traced, graph, model_hash, variables))
    return frozen_functions
