"""Op versions and the model's minimum runtime version.

Every operator gets the lowest version that encodes the features it uses, following
the official versioning rules (tflite ``tools/versioning/op_version.cc``), so older
runtimes and the Edge TPU compiler accept what we write. ``min_runtime_version`` is
the newest runtime any of those (op, version) pairs needs
(``tools/versioning/runtime_version.cc``).
"""

from __future__ import annotations

from collections.abc import Callable

from ..schema.generated.enums import ActivationFunctionType, BuiltinOperator, TensorType
from ..schema.model import Model, Operator, OperatorCode, Subgraph

B = BuiltinOperator
T = TensorType


class _Signature:
    """What version rules look at: the operator's input/output types and ranks, options."""

    def __init__(self, sg: Subgraph, op: Operator, op_code: int) -> None:
        self.op = op
        self.op_code = op_code
        self.options = op.builtin_options
        self.in_types = [sg.tensors[i].type if i >= 0 else None for i in op.inputs]
        self.in_ranks = [len(sg.tensors[i].shape) if i >= 0 else 0 for i in op.inputs]
        self.in_shapes = [tuple(sg.tensors[i].shape) if i >= 0 else () for i in op.inputs]
        self.out_types = [sg.tensors[i].type for i in op.outputs if i >= 0]
        self.sg = sg

    def t(self, i: int = 0) -> TensorType | None:
        return self.in_types[i] if i < len(self.in_types) else None

    def opt(self, name: str, default=None):
        return getattr(self.options, name, default)

    def needs_broadcast_above(self, rank: int) -> bool:
        two = self.in_shapes[:2]
        return len(two) == 2 and two[0] != two[1] and max(self.in_ranks[:2]) > rank


def _by_type(table: dict[TensorType, int], index: int = 0) -> Callable[[_Signature], int]:
    """A rule that only looks at the type of input ``index``."""
    return lambda s: table.get(s.t(index), 1)  # type: ignore[arg-type]


def _conv_2d(s: _Signature) -> int:
    x, w = s.sg.tensors[s.op.inputs[0]], s.sg.tensors[s.op.inputs[1]]
    if len(x.shape) == 4 and len(w.shape) == 4 and x.shape[3] != w.shape[3]:
        return 6  # grouped convolution
    return 3 if (s.t(0), s.t(1)) == (T.INT8, T.INT8) else 1


def _depthwise(s: _Signature) -> int:
    if (s.t(0), s.t(1)) == (T.INT8, T.INT8):
        return 3
    return 2 if s.opt("dilation_w_factor", 1) != 1 or s.opt("dilation_h_factor", 1) != 1 else 1


def _fully_connected(s: _Signature) -> int:
    if len(s.op.inputs) == 2:
        return 6
    if s.opt("keep_num_dims", False):
        return 5
    return 4 if (s.t(0), s.t(1)) == (T.INT8, T.INT8) else 1


def _gather(s: _Signature) -> int:
    if s.t(1) == T.INT16:
        return 6
    if s.opt("batch_dims", 0):
        return 5
    return {T.INT16: 4, T.BOOL: 3, T.INT8: 2}.get(s.t(0), 1)  # type: ignore[arg-type]


def _transpose(s: _Signature) -> int:
    rank = s.in_ranks[0]
    if rank > 5:
        return 6
    if s.t(0) == T.INT16:
        return 5
    if rank > 4:
        return 4
    return {T.BOOL: 3, T.INT8: 2}.get(s.t(0), 1)  # type: ignore[arg-type]


def _transpose_conv(s: _Signature) -> int:
    if s.opt("fused_activation_function", 0) != ActivationFunctionType.NONE:
        return 4
    if len(s.op.inputs) == 4 and s.op.inputs[3] >= 0:
        return 3
    return 2 if s.t(1) == T.INT8 else 1


def _slice(s: _Signature) -> int:
    if s.in_ranks[0] > 4:
        return 5
    return {T.INT16: 4, T.STRING: 3, T.INT8: 2}.get(s.t(0), 1)  # type: ignore[arg-type]


def _strided_slice(s: _Signature) -> int:
    if s.opt("offset", False):
        return 8
    if s.opt("ellipsis_mask", 0) or s.opt("new_axis_mask", 0):
        return 6
    if s.t(0) == T.STRING:
        return 5
    if s.in_ranks[0] > 4:
        return 4
    return {T.BOOL: 3, T.INT8: 2}.get(s.t(0), 1)  # type: ignore[arg-type]


def _resize(s: _Signature) -> int:
    if s.t(0) == T.INT16:
        return 4
    corners = s.opt("align_corners", False) and s.op_code == B.RESIZE_NEAREST_NEIGHBOR
    if s.opt("half_pixel_centers", False) or corners:
        return 3
    return 2 if s.t(0) == T.INT8 else 1


def _broadcast_binary(version: int, int8: int = 2) -> Callable[[_Signature], int]:
    def rule(s: _Signature) -> int:
        if s.t(0) == T.INT64 and s.op_code == B.SUB:
            return 4
        if s.needs_broadcast_above(4):
            return version
        return int8 if s.t(0) == T.INT8 else 1

    return rule


def _pad(s: _Signature) -> int:
    if s.in_ranks[0] > 4:
        return 4
    return {T.INT16: 3, T.INT8: 2}.get(s.t(0), 1)  # type: ignore[arg-type]


def _select(s: _Signature) -> int:
    if s.t(0) == T.UINT32:
        return 4
    if 5 in s.in_ranks[:3]:
        return 3
    return 2 if s.t(0) == T.INT8 else 1


def _cast(s: _Signature) -> int:
    types = {s.t(0), *s.out_types}
    for version, wanted in ((5, {T.FLOAT64, T.FLOAT16}), (4, {T.UINT16}), (3, {T.INT8})):
        if types & wanted:
            return version
    return 2 if T.UINT32 in types else 1


def _fill(s: _Signature) -> int:
    return {T.FLOAT16: 4, T.INT8: 3, T.INT16: 3, T.BOOL: 2, T.STRING: 2}.get(s.t(1), 1)  # type: ignore[arg-type]


def _space_batch(s: _Signature) -> int:
    if s.t(0) == T.INT16:
        return 4
    if s.in_ranks[0] != 4:
        return 3
    return 2 if s.t(0) == T.INT8 else 1


_INT8_2 = {T.INT8: 2}
_QUANT_3 = {T.INT16: 3, T.INT8: 2}

RULES: dict[int, Callable[[_Signature], int]] = {
    B.CONV_2D: _conv_2d,
    B.DEPTHWISE_CONV_2D: _depthwise,
    B.FULLY_CONNECTED: _fully_connected,
    B.GATHER: _gather,
    B.TRANSPOSE: _transpose,
    B.TRANSPOSE_CONV: _transpose_conv,
    B.SLICE: _slice,
    B.STRIDED_SLICE: _strided_slice,
    B.RESIZE_BILINEAR: _resize,
    B.RESIZE_NEAREST_NEIGHBOR: _resize,
    B.MAXIMUM: _broadcast_binary(3),
    B.MINIMUM: _broadcast_binary(3),
    B.SUB: _broadcast_binary(3),
    B.DIV: _broadcast_binary(2, int8=1),
    B.PAD: _pad,
    B.PADV2: _pad,
    B.SELECT: _select,
    B.CAST: _cast,
    B.FILL: _fill,
    B.SPACE_TO_BATCH_ND: _space_batch,
    B.BATCH_TO_SPACE_ND: _space_batch,
    B.BROADCAST_TO: lambda s: 3 if s.t(0) in (T.INT8, T.INT16) else 2,
    B.WHERE: lambda s: 1 if s.t(0) == T.BOOL else 2,
    B.SPLIT: _by_type({T.INT16: 4, T.INT32: 3, T.INT8: 2}, index=1),
    B.UNPACK: _by_type({T.INT8: 2, T.UINT8: 2, T.BOOL: 3, T.INT16: 4}),
    B.PACK: _by_type({T.INT8: 2, T.INT16: 3, T.UINT32: 4}),
    B.TILE: _by_type({T.INT8: 3, T.STRING: 2}),
    B.SQUEEZE: _by_type({T.STRING: 2}),
    B.ADD: _by_type({T.INT64: 4, T.INT8: 2}),
    B.MUL: _by_type({T.UINT32: 7, T.COMPLEX64: 6, T.INT64: 5, T.INT16: 7, T.INT8: 2}),
    B.GATHER_ND: _by_type({T.BOOL: 5, T.INT16: 3, T.STRING: 2}),
    B.EQUAL: _by_type({T.INT16: 4, T.STRING: 3, T.INT8: 2}),
    B.NOT_EQUAL: _by_type({T.STRING: 3, T.INT8: 2}),
    B.LEAKY_RELU: _by_type({T.INT16: 2}),
    B.RANGE: _by_type({T.INT64: 2}),
    B.BATCH_MATMUL: _by_type(_QUANT_3),
    B.CONCATENATION: _by_type({T.UINT32: 4, T.INT16: 3, T.INT8: 2}),
    B.LESS: _by_type(_QUANT_3),
    B.GREATER_EQUAL: _by_type(_QUANT_3),
    B.SELECT_V2: _by_type({T.UINT32: 2}),
    B.RELU: _by_type({T.INT16: 3, T.INT8: 2, T.UINT8: 2}),
    B.ABS: _by_type({T.INT32: 5, T.INT16: 4, T.INT8: 2, T.UINT8: 2}),
    B.SIGN: _by_type({T.INT32: 2}),
    B.FLOOR_DIV: _by_type({T.INT16: 3, T.INT8: 3, T.FLOAT32: 2}),
    B.FLOOR_MOD: _by_type({T.INT16: 2, T.INT8: 2}),
    B.ARG_MAX: _by_type({T.BOOL: 3, T.INT8: 2}),
    B.ARG_MIN: _by_type({T.BOOL: 3, T.INT8: 2}),
    B.REVERSE_V2: _by_type({T.INT8: 3, T.BOOL: 2}),
    B.GELU: _by_type({T.INT8: 2, T.UINT8: 2}),
    B.EXP: _by_type({T.INT8: 2, T.INT16: 2}),
    B.LOG: _by_type({T.INT8: 2, T.INT16: 2}),
    B.REDUCE_PROD: _by_type({T.INT8: 2, T.INT16: 2}),
    B.TOPK_V2: _by_type(_INT8_2),
    B.MAX_POOL_2D: _by_type(_QUANT_3),
    B.AVERAGE_POOL_2D: _by_type(_QUANT_3),
    B.TANH: _by_type(_QUANT_3),
    B.LOGISTIC: _by_type(_QUANT_3),
}
for _code in (B.SOFTMAX, B.MEAN, B.MIRROR_PAD, B.REDUCE_MAX, B.REDUCE_MIN, B.RELU6, B.RSQRT):
    RULES[_code] = _by_type(_QUANT_3)
for _code in (
    B.SPACE_TO_DEPTH,
    B.DEPTH_TO_SPACE,
    B.SPLIT_V,
    B.SUM,
    B.LOG_SOFTMAX,
    B.GREATER,
    B.LESS_EQUAL,
    B.SQUARED_DIFFERENCE,
):
    RULES[_code] = _by_type(_INT8_2)


def operator_version(model: Model, sg: Subgraph, op: Operator) -> int:
    """The lowest version of ``op``'s builtin that encodes what it uses."""
    code = model.operator_codes[op.opcode_index]
    rule = RULES.get(int(code.builtin_code))
    if rule is None or code.builtin_code == B.CUSTOM:
        return 1
    return rule(_Signature(sg, op, int(code.builtin_code)))


def assign_versions(model: Model) -> None:
    """Give every operator its lowest version and drop operator codes nothing uses."""
    codes: list[OperatorCode] = []
    index_of: dict[tuple, int] = {}
    for sg in model.subgraphs:
        for op in sg.operators:
            old = model.operator_codes[op.opcode_index]
            version = 1 if old.builtin_code == B.CUSTOM else operator_version(model, sg, op)
            key = (int(old.builtin_code), old.custom_code, version)
            if key not in index_of:
                index_of[key] = len(codes)
                codes.append(OperatorCode(old.builtin_code, old.custom_code, version))
            op.opcode_index = index_of[key]
    model.operator_codes = codes


# (op, version) -> the first runtime release that runs it, for the ops we emit.
_RUNTIME: dict[int, tuple[str, ...]] = {
    B.ADD: ("1.5.0", "1.14.0", "2.4.0", "2.6.0"),
    B.AVERAGE_POOL_2D: ("1.5.0", "1.14.0", "2.3.0"),
    B.BATCH_MATMUL: ("2.3.0", "2.3.0", "2.4.0", "2.5.0"),
    B.BROADCAST_TO: ("", "2.5.0", "2.5.0"),
    B.CAST: ("1.5.0", "2.7.0", "2.8.0", "2.9.0"),
    B.CONCATENATION: ("1.5.0", "1.14.0", "2.3.0"),
    B.CONV_2D: ("1.5.0", "1.14.0", "1.14.0", "2.3.0", "2.4.0", "2.9.0"),
    B.DEPTHWISE_CONV_2D: ("1.5.0", "1.12.0", "1.14.0", "2.2.0", "2.3.0", "2.3.0"),
    B.DEPTH_TO_SPACE: ("2.1.0", "2.5.0"),
    B.DIV: ("1.6.0", "2.3.0"),
    B.FULLY_CONNECTED: ("1.5.0", "1.10.0", "1.14.0", "1.14.0", "2.0.0", "2.1.0", "2.3.0"),
    B.GATHER: ("1.6.0", "1.14.0", "1.15.0", "2.4.0", "2.5.0"),
    B.MAX_POOL_2D: ("1.5.0", "1.14.0", "2.3.0"),
    B.MEAN: ("1.6.0", "1.14.0", "2.4.0"),
    B.MUL: ("1.5.0", "1.14.0", "1.15.0", "2.3.0", "2.6.0"),
    B.PAD: ("1.5.0", "1.14.0", "2.4.0", "2.6.0"),
    B.PADV2: ("1.9.0", "1.14.0", "2.4.0", "2.6.0"),
    B.RESHAPE: ("1.5.0",),
    B.RESIZE_BILINEAR: ("1.7.0", "1.14.0", "2.2.0", "2.5.0"),
    B.RESIZE_NEAREST_NEIGHBOR: ("1.13.1", "1.14.0", "2.3.0", "2.4.0"),
    B.SOFTMAX: ("1.5.0", "1.14.0", "2.3.0"),
    B.STRIDED_SLICE: ("1.6.0", "1.14.0", "2.1.0", "2.2.0", "2.5.0", "2.6.0"),
    B.SLICE: ("1.14.0", "1.14.0", "1.14.0", "2.4.0", "2.5.0"),
    B.SUB: ("1.6.0", "1.14.0", "2.3.0", "2.4.0", "2.4.0"),
    B.TRANSPOSE: ("1.6.0", "1.14.0", "1.15.0", "2.3.0", "2.4.0"),
    B.TRANSPOSE_CONV: ("1.9.0", "2.2.0", "2.3.0"),
    B.TILE: ("1.10.1", "2.2.0", "2.8.0"),
    B.UNIDIRECTIONAL_SEQUENCE_LSTM: ("1.13.1", "1.14.0", "2.3.0"),
    B.CONV_3D: ("2.5.0",),
    B.CONV_3D_TRANSPOSE: ("2.6.0",),
    B.GELU: ("2.9.0", "2.9.0"),
    B.WHILE: ("1.15.0",),
    B.IF: ("1.15.0",),
    B.SELECT_V2: ("2.2.0",),
    B.HARD_SWISH: ("1.15.0",),
    B.SQUARED_DIFFERENCE: ("1.13.1", "2.5.0"),
    B.RSQRT: ("1.10.0", "2.5.0"),
    B.RELU6: ("1.5.0", "1.14.0", "2.5.0"),
    B.RELU: ("1.5.0", "2.1.0", "2.5.0"),
    B.LOGISTIC: ("1.14.0", "1.14.0", "2.3.0"),
    B.TANH: ("1.14.0", "1.14.0", "2.3.0"),
    B.SPLIT: ("1.5.0", "1.14.0", "1.14.0", "2.3.0"),
    B.SPLIT_V: ("1.13.1", "2.3.0"),
    B.PACK: ("1.11.0", "1.14.0", "2.3.0"),
    B.UNPACK: ("1.11.0", "1.14.0", "2.2.0", "2.3.0"),
    B.SUM: ("1.10.0", "1.15.0"),
    B.REDUCE_MAX: ("1.11.0", "1.14.0", "2.5.0"),
    B.LEAKY_RELU: ("1.13.1", "2.3.0"),
    B.FILL: ("1.13.0", "2.3.0", "2.5.0"),
    B.CUMSUM: ("2.4.0",),
    B.DYNAMIC_UPDATE_SLICE: ("2.9.0",),
}
_RUNTIME_V1 = {
    B.SHAPE: "1.10.0",
    B.EXPAND_DIMS: "1.10.0",
    B.SQUEEZE: "1.6.0",
    B.EXP: "1.7.0",
    B.LOG: "1.14.0",
    B.SQRT: "1.10.0",
    B.SQUARE: "1.12.0",
    B.NEG: "1.9.0",
    B.ABS: "1.13.0",
    B.ELU: "1.14.0",
    B.LOG_SOFTMAX: "1.14.0",
    B.RANGE: "1.13.0",
    B.LESS: "1.14.0",
    B.EQUAL: "1.14.0",
    B.LOGICAL_AND: "1.11.0",
    B.MAXIMUM: "1.14.0",
    B.MINIMUM: "1.14.0",
    B.POW: "1.10.0",
    B.FLOOR: "1.9.0",
    B.REDUCE_PROD: "1.11.0",
}


def runtime_version(code: int, version: int) -> str:
    """The first runtime release that runs (op, version), or '' when not recorded."""
    if code in _RUNTIME:
        known = _RUNTIME[code]
        return known[version - 1] if version <= len(known) else ""
    return _RUNTIME_V1.get(code, "") if version == 1 else ""  # type: ignore[call-overload]


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def min_runtime_version(model: Model) -> str:
    """The newest runtime release any operator of ``model`` needs ('' if none recorded)."""
    best = ""
    for code in model.operator_codes:
        if code.builtin_code == B.CUSTOM:
            continue
        needed = runtime_version(int(code.builtin_code), code.version)
        if needed and (not best or _version_key(needed) > _version_key(best)):
            best = needed
    return best
