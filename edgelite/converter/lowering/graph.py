"""The source graph as lowering sees it: nodes, tensor specs and attributes, framework-free.

A front-end (TensorFlow today) turns its frozen graph into these plain records, so the
lowering functions never import the source framework and can be tested on hand-made
graphs. Tensor names follow TensorFlow's ``node:index`` form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# dtype markers for tensors that are not plain arrays
VARIANT = "variant"  # TensorList handles and the like
RESOURCE = "resource"


@dataclass(frozen=True)
class TensorSpec:
    """Static facts about one source tensor: None in ``shape`` is an unknown dimension."""

    name: str
    shape: tuple[int | None, ...] | None  # None: unknown rank
    dtype: Any  # numpy dtype, or VARIANT / RESOURCE

    @property
    def is_array(self) -> bool:
        return not isinstance(self.dtype, str)

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(d is not None for d in self.shape)


@dataclass
class GraphNode:
    """One source operation: its type, data inputs (tensor names), outputs and attributes."""

    name: str
    type: str
    inputs: list[str]
    outputs: list[TensorSpec]
    attrs: dict[str, Any] = field(default_factory=dict)

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


@dataclass(frozen=True)
class StateVariable:
    """A variable the source function assigns: it stays a variable (TFLite resource)."""

    placeholder: str  # tensor name of its resource input in the source graph ('v:0')
    shared_name: str  # the TFLite VAR_HANDLE name (unique within the model)
    value: np.ndarray  # its value at conversion: the initial value in the model


# name, specs of the arguments[, prefix for its node names] -> the function's body
FunctionLoader = Callable[..., "Graph"]


@dataclass
class Graph:
    """A frozen, topologically ordered source graph (or function body)."""

    name: str
    nodes: list[GraphNode]
    inputs: list[TensorSpec]
    outputs: list[str]
    load_function: FunctionLoader | None = None
    layer_names: frozenset[str] = frozenset()


def tensor_name(node_name: str, index: int = 0) -> str:
    return f"{node_name}:{index}"


def node_of(name: str) -> str:
    """``'conv/Conv2D:0'`` -> ``'conv/Conv2D'``."""
    return name.rsplit(":", 1)[0] if ":" in name else name


def static_shape(shape: Sequence[int | None]) -> list[int]:
    """IR shape: unknown dimensions become 1 (their real size comes with the input)."""
    return [1 if d is None or d < 0 else int(d) for d in shape]


def shape_signature(shape: Sequence[int | None]) -> list[int] | None:
    """IR shape_signature: -1 for unknown dimensions; None when every size is known."""
    if all(d is not None and d >= 0 for d in shape):
        return None
    return [-1 if d is None or d < 0 else int(d) for d in shape]


def as_numpy(value: Any) -> np.ndarray:
    return value if isinstance(value, np.ndarray) else np.asarray(value)
