"""The kernel contract: what every op module provides and what the core gives it.

Each op module (one op, or one family sharing a kernel) exports ``KERNELS``, a
dict ``{BuiltinOperator.X: KernelSpec(...)}`` (custom ops: ``{"Name": KernelSpec}``
in ``CUSTOM_KERNELS``). The interpreter's one explicit op table
(``edgelite/interpreter/op_table.py``) merges them.

``prepare(node) -> Prepared`` runs once per allocate_tensors (and again when an
input shape changes). It validates, decides everything (output shapes, which
code path, quantization multipliers, transposed weights ...) and returns the
output shapes plus an immutable ``data`` object for invoke.

``invoke(data, inputs, outputs)`` computes. ``inputs`` are numpy arrays (None for
an omitted optional input, -1 in the model); ``outputs`` are preallocated arrays
of the prepared shapes, views into the arena: write into them in place
(``np.add(a, b, out=outputs[0])`` or ``outputs[0][...] = ...``), never rebind,
never keep references between invokes (the arena moves on re-plan).

Dynamic outputs: if prepare needs a value that is not known yet (a non-constant
shape input, say), it returns ``Prepared(dynamic=True)`` with no shapes; the core
then calls prepare again at invoke time with every input's ``data`` filled in.
If even then the shape depends on the computation itself (WHERE, UNIQUE), prepare
returns ``dynamic=True`` again and ``invoke`` must *return* the list of output
arrays instead of writing into ``outputs`` (which is then empty).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import EdgeliteError
from ...schema.generated.enums import ActivationFunctionType, TensorType
from ...schema.model import QuantizationParameters, Sparsity


class PrepareError(EdgeliteError, RuntimeError):
    """A node cannot run as configured; the core prefixes node index, op and version."""


@dataclass
class TensorInfo:
    """What prepare may know about one tensor."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    type: TensorType
    quantization: QuantizationParameters | None = None
    data: np.ndarray | None = None  # the value, when known (constants; runtime re-prepare)
    shape_signature: tuple[int, ...] | None = None
    is_variable: bool = False
    sparsity: Sparsity | None = None  # set for sparse constants (DENSIFY decodes them)

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def scale(self) -> float:
        """Per-tensor scale (first entry); 0.0 when not quantized."""
        q = self.quantization
        return float(q.scale[0]) if q is not None and len(q.scale) else 0.0

    @property
    def zero_point(self) -> int:
        q = self.quantization
        return int(q.zero_point[0]) if q is not None and len(q.zero_point) else 0


@dataclass
class Node:
    """One operator as prepare sees it."""

    index: int
    op: str  # builtin name or custom code
    version: int
    inputs: list[TensorInfo | None]
    outputs: list[TensorInfo]
    options: Any = None  # builtin options dataclass (edgelite.schema.options)
    options_2: Any = None
    custom_options: bytes | None = None
    intermediates: list[TensorInfo] = field(default_factory=list)
    subgraph: int = 0
    num_threads: int = 1
    # "tflite": each op's official (optimized kernel) arithmetic; "reference": the official
    # reference kernels' (BUILTIN_REF); "double"/"single": one multiplier form forced.
    rounding: str = "tflite"
    # The interpreter's services for control-flow and variable ops (WHILE, IF,
    # CALL_ONCE, VAR_HANDLE ...): set by the core, None in plain kernel tests.
    runtime: Any = None

    def input(self, i: int) -> TensorInfo:
        """Input ``i``, raising a clear PrepareError when it is missing."""
        if i >= len(self.inputs) or self.inputs[i] is None:
            raise PrepareError(f"input {i} is required but missing")
        info = self.inputs[i]
        assert info is not None
        return info

    def optional_input(self, i: int) -> TensorInfo | None:
        return self.inputs[i] if i < len(self.inputs) else None


@dataclass
class Prepared:
    output_shapes: list[tuple[int, ...]] = field(default_factory=list)
    data: Any = None
    dynamic: bool = False


Invoke = Callable[[Any, list[Any], list[np.ndarray]], "list[np.ndarray] | None"]


class OpRecord:
    """Base of the ``data`` kernels prepare: named fields, set by the constructor only.

    A subclass lists its fields in ``__slots__`` (the constructor's positional order),
    annotates them for readers and type checkers, and may give defaults in
    ``_defaults``. Why not dataclasses or NamedTuples: defining one costs ~1 ms / ~250
    us at import against ~20 us for a slots class, and kernel-module imports are part
    of model load time.
    """

    __slots__ = ()
    _defaults: dict[str, Any] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names: tuple[str, ...] = self.__slots__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes {len(names)} fields, got {len(args)}")
        values = {**self._defaults, **dict(zip(names, args))}
        for key, value in kwargs.items():
            if key not in names or key in names[: len(args)]:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated field {key!r}")
            values[key] = value
        missing = [key for key in names if key not in values]
        if missing:
            raise TypeError(f"{type(self).__name__} is missing fields {missing}")
        for key in names:
            object.__setattr__(self, key, values[key])

    def set_fields(self, **fields: Any) -> None:
        """Set ``fields`` while prepare still owns the record (before returning it)."""
        for key, value in fields.items():
            if key not in self.__slots__:
                raise TypeError(f"{type(self).__name__} has no field {key!r}")
            object.__setattr__(self, key, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only once prepared ({name!r})")

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{key}={getattr(self, key)!r}" for key in names)
        return f"{type(self).__name__}({fields})"


@dataclass(frozen=True)
class KernelSpec:
    prepare: Callable[[Node], Prepared]
    invoke: Invoke  # numpy reference: the readable spec (OpResolverType.BUILTIN_REF)
    versions: tuple[int, int] = (1, 1)  # supported version range, inclusive
    invoke_opt: Invoke | None = None  # optimized version, held equal to the reference


# -- helpers shared by many kernels -------------------------------------------------


def check_inputs(node: Node, low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(node.inputs) <= high:
        want = str(low) if low == high else f"{low}..{high}"
        raise PrepareError(f"expects {want} inputs, got {len(node.inputs)}")


def check_dtype(info: TensorInfo, allowed: tuple[Any, ...], what: str = "input") -> None:
    if info.dtype not in [np.dtype(a) for a in allowed]:
        names = ", ".join(np.dtype(a).name for a in allowed)
        raise PrepareError(f"{what} {info.name!r} has type {info.dtype.name}; supported: {names}")


def activation_range(
    act: ActivationFunctionType | int, dtype: Any = np.float32
) -> tuple[float, float]:
    """Clamp bounds of a fused activation (float domain)."""
    bounds = {
        ActivationFunctionType.NONE: (-np.inf, np.inf),
        ActivationFunctionType.RELU: (0.0, np.inf),
        ActivationFunctionType.RELU_N1_TO_1: (-1.0, 1.0),
        ActivationFunctionType.RELU6: (0.0, 6.0),
    }
    if act not in bounds:
        raise PrepareError(
            f"fused activation {ActivationFunctionType(act).name} is not supported here"
        )
    return bounds[ActivationFunctionType(act)]


def apply_activation(out: np.ndarray, act: ActivationFunctionType | int) -> None:
    """Apply a float fused activation to ``out`` in place."""
    if act == ActivationFunctionType.NONE:
        return
    if act == ActivationFunctionType.TANH:
        np.tanh(out, out=out)
        return
    if act == ActivationFunctionType.SIGN_BIT:
        np.copyto(out, np.signbit(out).astype(out.dtype))
        return
    low, high = activation_range(act)
    np.clip(out, low, high, out=out)


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise PrepareError(f"shapes {list(a)} and {list(b)} do not broadcast") from None
