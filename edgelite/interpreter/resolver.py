"""Op resolution: every operator of every subgraph -> its kernel, before anything runs.

Builtin ops are looked up by (code, version) in the one op table
(``op_table.builtin_table()``). All unresolved builtins are reported together in
one :class:`UnsupportedOpError`. Custom ops are looked up among the ops the user
registered (``Interpreter.register_custom_op``) and edgelite's own custom
kernels; an unknown custom op is *not* an error yet, like in TFLite: it resolves
to a placeholder that fails at prepare ("Encountered unresolved custom op"),
which leaves a delegate the chance to claim it first (``edgetpu-custom-op``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..schema.generated.enums import BuiltinOperator
from ..schema.model import Model
from . import op_table
from .errors import UnresolvedOp, UnsupportedOpError
from .kernels.base import Invoke, KernelSpec


class OpResolverType(enum.Enum):
    """Which kernels run, with the official names and values.

    ``AUTO`` and ``BUILTIN`` pick the optimized kernels (Cython where a kernel has
    one), ``BUILTIN_REF`` the numpy reference kernels, and
    ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` is ``BUILTIN`` (edgelite applies no
    default delegate).
    """

    AUTO = 0
    BUILTIN = 1
    BUILTIN_REF = 2
    BUILTIN_WITHOUT_DEFAULT_DELEGATES = 3


def coerce_resolver_type(value: object) -> OpResolverType:
    """Accept our enum or one with the same member name (e.g. ai_edge_litert's)."""
    if isinstance(value, OpResolverType):
        return value
    name = getattr(value, "name", None)
    if (
        isinstance(name, str)
        and name in OpResolverType.__members__
        and isinstance(value, enum.Enum)
    ):
        return OpResolverType[name]
    raise ValueError(f"Unrecognized passed in op resolver type: {value}")


@dataclass(frozen=True)
class ResolvedOp:
    """The kernel chosen for one operator (``spec`` None: unresolved custom op)."""

    name: str
    version: int
    builtin_code: int
    spec: KernelSpec | None
    invoke: Invoke | None

    @property
    def is_custom(self) -> bool:
        return self.builtin_code == BuiltinOperator.CUSTOM


def unresolved_custom_message(name: str) -> str:
    """What preparing an unresolved custom op says (the official wording first)."""
    if name.startswith("Flex"):
        return (
            f"Regular TensorFlow ops are not supported by this interpreter: {name!r} is a "
            "Select TF (Flex) op; convert the model without SELECT_TF_OPS"
        )
    return (
        f"Encountered unresolved custom op: {name}. Register it with "
        "Interpreter.register_custom_op(name, prepare=..., invoke=...) or use a delegate "
        "that claims it"
    )


def resolve_model(
    model: Model, custom_ops: dict[str, KernelSpec], reference: bool
) -> list[list[ResolvedOp]]:
    """Resolve every operator; raise UnsupportedOpError listing every unresolved builtin."""
    builtins = op_table.builtin_table()
    # Registered custom ops first; the built-in ones are imported only when looked up.
    builtin_customs = op_table.custom_table()
    missing: list[UnresolvedOp] = []
    result: list[list[ResolvedOp]] = []
    for sg_index, sg in enumerate(model.subgraphs):
        resolved = []
        for node_index, op in enumerate(sg.operators):
            if not 0 <= op.opcode_index < len(model.operator_codes):
                raise UnsupportedOpError(
                    [_unresolved(model, sg_index, node_index, f"opcode {op.opcode_index}", 0, None)]
                )
            code = model.operator_codes[op.opcode_index]
            name, version, builtin = code.name, code.version, int(code.builtin_code)
            if builtin == BuiltinOperator.CUSTOM:
                name_key = code.custom_code or ""
                spec = custom_ops.get(name_key) or builtin_customs.get(name_key)
                if spec is not None and not spec.versions[0] <= version <= spec.versions[1]:
                    spec = None  # stays an unresolved custom op: fails at prepare
            else:
                spec = builtins.get(builtin)
                if spec is None or not spec.versions[0] <= version <= spec.versions[1]:
                    supported = spec.versions if spec is not None else None
                    missing.append(
                        _unresolved(model, sg_index, node_index, name, version, supported)
                    )
                    spec = None
            invoke = None
            if spec is not None:
                invoke = spec.invoke if reference or spec.invoke_opt is None else spec.invoke_opt
            resolved.append(ResolvedOp(name, version, builtin, spec, invoke))
        result.append(resolved)
    if missing:
        raise UnsupportedOpError(missing)
    return result


def _unresolved(
    model: Model,
    sg_index: int,
    node_index: int,
    name: str,
    version: int,
    supported: tuple[int, int] | None,
) -> UnresolvedOp:
    sg = model.subgraphs[sg_index]
    op = sg.operators[node_index]

    def names(indices: list[int]) -> tuple[str, ...]:
        return tuple(sg.tensors[t].name if 0 <= t < len(sg.tensors) else "-" for t in indices)

    return UnresolvedOp(
        name, version, sg_index, node_index, names(op.inputs), names(op.outputs), supported
    )
