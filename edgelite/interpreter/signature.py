"""SignatureRunner: run a model through one of its SignatureDefs, by input/output names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import tensor_access
from .details import full_signature_list, tensor_details

if TYPE_CHECKING:
    from .interpreter import Interpreter


class SignatureRunner:
    """Callable for one SignatureDef; get it from ``Interpreter.get_signature_runner``.

    ``runner(**inputs)`` resizes each input to the given value's shape, allocates
    the signature's subgraph when needed, copies the inputs in, invokes, and
    returns ``{output name: array copy}``. All names are the signature's names.
    """

    def __init__(self, interpreter: Interpreter | None = None, signature_key: str | None = None):
        if not interpreter:
            raise ValueError("None interpreter provided.")
        if not signature_key:
            raise ValueError("None signature_key provided.")
        self._interpreter = interpreter
        self._signature_key = signature_key
        signature_defs = full_signature_list(interpreter._core)
        if signature_key not in signature_defs:
            raise ValueError(f'Invalid signature_key provided: "{signature_key}".')
        self._inputs: dict[str, int] = signature_defs[signature_key]["inputs"]
        self._outputs: dict[str, int] = signature_defs[signature_key]["outputs"]
        sig = next(s for s in interpreter._core.model.signature_defs if s.key == signature_key)
        self._subgraph_index = sig.subgraph_index
        self._rt = interpreter._core.subgraph(sig.subgraph_index)

    def __call__(self, **kwargs: Any) -> dict[str, np.ndarray]:
        """Run the signature on ``kwargs`` (every input, by name); returns the outputs by name."""
        if len(kwargs) != len(self._inputs):
            raise ValueError(
                "Invalid number of inputs provided for running a SignatureDef, "
                f"expected {len(self._inputs)} vs provided {len(kwargs)}"
            )
        for name in kwargs:
            if name not in self._inputs:
                raise ValueError(f"Invalid Input name ({name}) for SignatureDef")
        self._interpreter._ensure_safe()
        values = {name: np.asarray(value) for name, value in kwargs.items()}
        rt = self._rt
        for name, value in values.items():
            size = np.array(value.shape, dtype=np.int32)
            tensor_access.resize_input(rt, self._inputs[name], size, strict=False)
        if not rt.ready:
            rt.allocate()
        for name, value in values.items():
            tensor_access.set_tensor(rt, self._inputs[name], value)
        rt.invoke()
        return {name: tensor_access.get_tensor(rt, t) for name, t in self._outputs.items()}

    def get_input_details(self) -> dict[str, dict]:
        """``{input name: detail dict}`` (the same dicts as Interpreter.get_input_details)."""
        return {name: tensor_details(self._rt, t) for name, t in self._inputs.items()}

    def get_output_details(self) -> dict[str, dict]:
        """``{output name: detail dict}``."""
        return {name: tensor_details(self._rt, t) for name, t in self._outputs.items()}
