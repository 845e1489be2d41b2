"""Python custom ops: ``Interpreter.register_custom_op(name, prepare=..., invoke=...)``.

A registered op follows the kernel contract of ``kernels/base.py`` exactly:
``prepare(node) -> Prepared`` decides and returns output shapes and immutable op
data; ``invoke(data, inputs, outputs)`` writes into the preallocated outputs.
Registration wins over edgelite's own custom kernels of the same name.
"""

from __future__ import annotations

from collections.abc import Callable

from .kernels.base import Invoke, KernelSpec, Node, Prepared

# Custom ops are matched by name; the version in the model is not checked unless asked.
ANY_VERSION = (1, 2**31 - 1)


def make_custom_spec(
    name: str,
    prepare: Callable[[Node], Prepared],
    invoke: Invoke,
    invoke_opt: Invoke | None = None,
    versions: tuple[int, int] | None = None,
) -> KernelSpec:
    """Validate a custom op registration and wrap it as a KernelSpec."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"custom op name must be a non-empty string, got {name!r}")
    for what, fn in (("prepare", prepare), ("invoke", invoke)):
        if not callable(fn):
            raise TypeError(f"custom op {name!r}: {what} must be callable, got {fn!r}")
    if invoke_opt is not None and not callable(invoke_opt):
        raise TypeError(f"custom op {name!r}: invoke_opt must be callable, got {invoke_opt!r}")
    low, high = versions if versions is not None else ANY_VERSION
    if not 1 <= low <= high:
        raise ValueError(f"custom op {name!r}: bad version range {versions!r}")
    return KernelSpec(prepare=prepare, invoke=invoke, versions=(low, high), invoke_opt=invoke_opt)
