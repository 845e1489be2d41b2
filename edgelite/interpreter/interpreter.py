"""``Interpreter``: the tf.lite / ai_edge_litert Python API, on edgelite's runtime.

Names, arguments, return values, detail dicts and error messages follow
``ai_edge_litert.interpreter.Interpreter`` so user scripts run unchanged
(``import edgelite.interpreter as tflite``). Beyond the official API:
``arena_bytes``, ``add_tap``/``remove_tap`` (observe intermediate tensors without
disabling memory reuse), ``enable_profiling``/``profile`` (per-node timing),
``register_custom_op`` (Python custom ops), ``delegate_report``, and the
constructor's ``rounding`` and ``hybrid`` choices.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..schema.reader import read_model
from . import details, tensor_access
from .core import Core
from .delegates.base import SimpleDelegate
from .kernels.base import Invoke, Node, Prepared
from .resolver import OpResolverType, coerce_resolver_type
from .signature import SignatureRunner

_VIEW_HELD = """There is at least 1 reference to internal data
      in the interpreter in the form of a numpy array or slice. Be sure to
      only hold the function returned from tensor() if you are using raw
      data access."""


class _ViewSource:
    """Base object of every ``tensor()`` view: keeps the arena alive and counts views."""

    __slots__ = ("__array_interface__", "array", "guard")

    def __init__(self, guard: object, array: np.ndarray) -> None:
        self.guard = guard
        self.array = array
        self.__array_interface__ = array.__array_interface__


# Interpreter(rounding=...): the official optimized kernels' per-op forms, the official
# reference kernels (BUILTIN_REF), or one of TFLite's two builds forced.
ROUNDING_CHOICES = ("tflite", "reference", "double", "single")
# Interpreter(hybrid=...): dequantize hybrid weights at load, or the official arithmetic.
HYBRID_CHOICES = ("fast", "exact")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")


def _check_delegates(delegates: Any) -> list[SimpleDelegate]:
    delegates = list(delegates or [])
    for i, delegate in enumerate(delegates):
        if not isinstance(delegate, SimpleDelegate):
            raise ValueError(
                f"experimental_delegates[{i}] is a {type(delegate).__name__}; edgelite runs "
                "Python delegates (edgelite.interpreter.delegates.SimpleDelegate subclasses)"
            )
    return delegates


class Interpreter:
    """Interpreter interface for running TensorFlow Lite models (official API)."""

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        model_content: bytes | None = None,
        experimental_delegates: list | None = None,
        num_threads: int | None = None,
        experimental_op_resolver_type: OpResolverType = OpResolverType.AUTO,
        experimental_preserve_all_tensors: bool = False,
        experimental_disable_delegate_clustering: bool = False,
        experimental_default_delegate_latest_features: bool = False,
        experimental_compress_quantization_zero_points: bool = False,
        experimental_disable_delegate_node_fusion: bool = False,
        experimental_force_delegate_node_profiling: bool = False,
        rounding: str = "tflite",
        hybrid: str = "fast",
    ) -> None:
        """Load a model from ``model_path`` or ``model_content`` (exactly one).

        edgelite extras: ``rounding`` picks which official integer arithmetic the
        quantized kernels reproduce: "tflite" (default) the official runtime's builtin
        kernels, op by op (ai-edge-litert with BUILTIN_WITHOUT_DEFAULT_DELEGATES);
        "reference" its reference kernels (``experimental_op_resolver_type=
        OpResolverType.BUILTIN_REF``): double-rounding multipliers everywhere, and the
        reference formulas where they differ (FULLY_CONNECTED, QUANTIZE, 8-bit SOFTMAX,
        MEAN / SUM / REDUCE_PROD, int16 LOGISTIC / TANH, uint8 RESIZE_BILINEAR);
        "double" / "single" force TFLite's double-rounding or TFLITE_SINGLE_ROUNDING
        multiplier form everywhere. This is independent of
        ``experimental_op_resolver_type``, which picks edgelite's numpy (BUILTIN_REF) or
        optimized kernels; both give the same integers in every mode.

        ``hybrid`` picks how dynamic-range (int8-weight, float-activation) ops run:
        "fast" (default) dequantizes the weights once at load and runs float kernels,
        "exact" keeps the int8 weights and reproduces the official hybrid arithmetic.

        Raises:
          ValueError: no/both model sources, a malformed model, a bad argument, or
            builtin ops edgelite cannot run (UnsupportedOpError lists them all).
        """
        resolver = coerce_resolver_type(experimental_op_resolver_type)
        _check_choice("rounding", rounding, ROUNDING_CHOICES)
        _check_choice("hybrid", hybrid, HYBRID_CHOICES)
        if num_threads is not None:
            if not isinstance(num_threads, int):
                raise ValueError("type of num_threads should be int")
            if num_threads < 1:
                raise ValueError("num_threads should >= 1")
        if model_path and not model_content:
            model = read_model(os.fspath(model_path))
        elif model_content and not model_path:
            if isinstance(model_content, (str, os.PathLike)):
                raise ValueError(
                    "model_content must be the model's bytes; use model_path for a file"
                )
            self._model_content = model_content
            model = read_model(model_content)
        elif not model_content and not model_path:
            raise ValueError("`model_path` or `model_content` must be specified.")
        else:
            raise ValueError("Can't both provide `model_path` and `model_content`")
        self._experimental_compress_quantization_zero_points = (
            experimental_compress_quantization_zero_points
        )
        self._delegates = _check_delegates(experimental_delegates)
        self._core = Core(
            model,
            num_threads=int(num_threads or 1),
            reference=resolver == OpResolverType.BUILTIN_REF,
            preserve_all_tensors=bool(experimental_preserve_all_tensors),
            delegates=self._delegates,
            disable_delegate_clustering=bool(experimental_disable_delegate_clustering),
            disable_delegate_node_fusion=bool(experimental_disable_delegate_node_fusion),
            rounding=rounding,
            hybrid=hybrid,
            # Like the official default delegate: BUILTIN_WITHOUT_DEFAULT_DELEGATES and
            # BUILTIN_REF run every node with its own builtin kernel.
            graph_fusion=resolver in (OpResolverType.AUTO, OpResolverType.BUILTIN),
        )
        # tensor() views point at this object; while any is alive its refcount says so.
        self._guard = object()
        self._signature_defs = self.get_signature_list()

    # -- lifecycle --------------------------------------------------------------------

    def allocate_tensors(self) -> None:
        """Prepare every node of the main subgraph and plan its memory.

        Raises:
          RuntimeError: a node cannot run as configured (PrepareError names it), or a
            ``tensor()`` view is still held.
        """
        self._ensure_safe()
        self._core.subgraphs[0].allocate()

    def invoke(self) -> None:
        """Run the main subgraph once.

        Raises:
          RuntimeError: not allocated ("Invoke called on model that is not ready."),
            a ``tensor()`` view is held, or a node failed (InvokeError names it).
        """
        self._ensure_safe()
        self._core.subgraphs[0].invoke()

    def _safe_to_run(self) -> bool:
        """True when no numpy view returned by ``tensor()`` is alive."""
        return sys.getrefcount(self._guard) == 2

    def _ensure_safe(self) -> None:
        """Raise RuntimeError while a ``tensor()`` view could be invalidated."""
        if not self._safe_to_run():
            raise RuntimeError(_VIEW_HELD)

    def reset_all_variables(self) -> None:
        """Reset variable tensors, resource variables and CALL_ONCE initialization.

        Unlike ai-edge-litert (which only zeroes ``is_variable`` tensors), resource
        variables are cleared too and CALL_ONCE initializers run again on the next
        invoke, so the model is back in its freshly allocated state.
        """
        self._core.reset_all_variables()

    # -- details ------------------------------------------------------------------------

    def _get_tensor_details(self, tensor_index: int, subgraph_index: int) -> dict:
        rt = self._core.subgraph(subgraph_index)
        return details.tensor_details(rt, tensor_access.check_index(rt, tensor_index))

    def get_tensor_details(self, subgraph_index: int = 0) -> list[dict]:
        """Details of every tensor of a subgraph that has valid details."""
        count = len(self._core.subgraphs)
        if subgraph_index < 0 or subgraph_index >= count:
            raise ValueError(
                f"subgraph_index is out of range: {subgraph_index} for the model,"
                f" which has {count} subgraphs."
            )
        result = []
        for t in range(len(self._core.subgraphs[subgraph_index].sg.tensors)):
            with contextlib.suppress(ValueError):  # tensors without details (BFLOAT16)
                result.append(self._get_tensor_details(t, subgraph_index))
        return result

    def get_input_details(self) -> list[dict]:
        """Details of the main subgraph's inputs."""
        return [self._get_tensor_details(t, 0) for t in self._core.subgraphs[0].sg.inputs]

    def get_output_details(self) -> list[dict]:
        """Details of the main subgraph's outputs."""
        return [self._get_tensor_details(t, 0) for t in self._core.subgraphs[0].sg.outputs]

    def _get_op_details(self, op_index: int) -> dict:
        """index, op_name, inputs, outputs, operand_types, result_types of one node."""
        return details.op_details(self._core, op_index)

    def _get_ops_details(self) -> list[dict]:
        return [self._get_op_details(i) for i in range(details.op_count(self._core))]

    def num_subgraphs(self) -> int:
        """Number of subgraphs in the model."""
        return len(self._core.subgraphs)

    # -- tensors ----------------------------------------------------------------------

    def set_tensor(self, tensor_index: int, value: Any) -> None:
        """Copy ``value`` into a tensor of the main subgraph (dtype and shape must match)."""
        tensor_access.set_tensor(self._core.subgraphs[0], tensor_index, value)

    def get_tensor(self, tensor_index: int, subgraph_index: int = 0) -> np.ndarray:
        """A copy of a tensor's value (intermediates may be reused memory: see add_tap)."""
        return tensor_access.get_tensor(self._core.subgraph(subgraph_index), tensor_index)

    def tensor(self, tensor_index: int) -> Callable[[], np.ndarray]:
        """A function returning a zero-copy numpy view of a main-subgraph tensor.

        Hold the function, not the view: while a view is alive, invoke() and
        allocate_tensors() raise RuntimeError (the memory may move).
        """
        return lambda: self._view(tensor_index)

    def _view(self, tensor_index: int) -> np.ndarray:
        rt = self._core.subgraphs[0]
        t = tensor_access.check_index(rt, tensor_index)
        array = rt.arrays[t]
        if array is None:
            raise ValueError("Tensor data is null. Run allocate_tensors() first")
        return np.asarray(_ViewSource(self._guard, array))

    def resize_tensor_input(self, input_index: int, tensor_size: Any, strict: bool = False) -> None:
        """Give an input a new shape; call allocate_tensors() before the next invoke.

        With ``strict`` only dimensions that are -1 in ``shape_signature`` may change.
        """
        self._ensure_safe()
        size = np.array(tensor_size, dtype=np.int32)
        tensor_access.resize_input(self._core.subgraphs[0], input_index, size, bool(strict))

    # -- signatures ---------------------------------------------------------------------

    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        """``{key: {'inputs': [names], 'outputs': [names]}}``."""
        full = details.full_signature_list(self._core)
        return {
            key: {"inputs": list(sig["inputs"]), "outputs": list(sig["outputs"])}
            for key, sig in full.items()
        }

    def _get_full_signature_list(self) -> dict:
        return details.full_signature_list(self._core)

    def get_signature_runner(self, signature_key: str | None = None) -> SignatureRunner:
        """A callable running one SignatureDef by name (None: the model's only one)."""
        if signature_key is None:
            if len(self._signature_defs) != 1:
                raise ValueError(
                    f"SignatureDef signature_key is None and model has "
                    f"{len(self._signature_defs)} Signatures. None is only allowed when the "
                    "model has 1 SignatureDef"
                )
            signature_key = next(iter(self._signature_defs))
        return SignatureRunner(interpreter=self, signature_key=signature_key)

    # -- edgelite extras ------------------------------------------------------------------

    @property
    def experimental_compress_quantization_zero_points(self) -> bool:
        return self._experimental_compress_quantization_zero_points

    @property
    def rounding(self) -> str:
        """The integer arithmetic quantized kernels reproduce ("tflite", "reference",
        "double" or "single"; see the constructor)."""
        return self._core.rounding

    @property
    def hybrid(self) -> str:
        """How hybrid (dynamic-range) ops run: "fast" or "exact"."""
        return self._core.hybrid

    @property
    def arena_bytes(self) -> int:
        """Bytes of the planned arena(s): the main subgraph and those control flow uses."""
        return self._core.arena_bytes

    def add_tap(
        self,
        tensor: int | str,
        callback: Callable[[np.ndarray], Any],
        subgraph_index: int = 0,
        copy: bool = True,
    ) -> int:
        """Call ``callback(value)`` during invoke, right after ``tensor`` is produced.

        ``tensor`` is an index or a tensor name. Memory reuse stays on: the value is
        passed while still valid (a copy; with ``copy=False`` a read-only view that
        must not be kept past the callback). Inputs and variables are observed
        before the first node. Returns a handle for ``remove_tap``.
        """
        rt = self._core.subgraph(subgraph_index)
        if isinstance(tensor, str):
            matches = [i for i, t in enumerate(rt.sg.tensors) if t.name == tensor]
            if not matches:
                raise ValueError(f"no tensor named {tensor!r} in subgraph {subgraph_index}")
            tensor = matches[0]
        index = tensor_access.check_index(rt, tensor)
        return self._core.add_tap(subgraph_index, index, callback, bool(copy))

    def remove_tap(self, handle: int) -> None:
        """Stop the tap ``add_tap`` returned ``handle`` for."""
        self._core.remove_tap(handle)

    def enable_profiling(self, enabled: bool = True) -> None:
        """Time every node of the main subgraph from now on (and reset the totals)."""
        self._core.profiler.enabled = bool(enabled)
        self._core.profiler.reset(self._core.subgraphs[0].plan)

    def profile(self) -> list[dict]:
        """Per node of the last plan: ``{'node', 'op', 'ms', 'calls'}``, ms = mean per invoke."""
        return self._core.profiler.table(self._core.subgraphs[0].plan)

    def register_custom_op(
        self,
        name: str,
        prepare: Callable[[Node], Prepared],
        invoke: Invoke,
        invoke_opt: Invoke | None = None,
        versions: tuple[int, int] | None = None,
    ) -> None:
        """Implement custom op ``name`` in Python (contract of kernels/base.py).

        Call allocate_tensors() afterwards.
        """
        self._core.register_custom_op(
            name, prepare=prepare, invoke=invoke, invoke_opt=invoke_opt, versions=versions
        )

    def delegate_report(self) -> list[dict]:
        """Per delegate: ``{'delegate', 'partitions': [[nodes]], 'rejected': {node: why}}``."""
        return self._core.delegate_report()

    def _native_handle(self) -> int:
        """There is no native tflite::Interpreter behind edgelite."""
        raise RuntimeError("edgelite has no native tflite::Interpreter to hand out")
