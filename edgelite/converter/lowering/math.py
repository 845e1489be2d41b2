"""Lowering of elementwise math, activations, comparisons, logic and reductions.

Most source ops map one-to-one onto a TFLite builtin. The exception is GELU: its exact
form is written with Erfc/Erf, which TFLite has no builtin for, so the final multiply
of the pattern is lowered to one GELU op and the partial products become dead code.
"""

from __future__ import annotations

import numpy as np

from ...schema.dtypes import tensor_type
from ...schema.generated.enums import BuiltinOperator
from ...schema.generated.options import (
    ArgMaxOptions,
    ArgMinOptions,
    CastOptions,
    GeluOptions,
    LeakyReluOptions,
    ReducerOptions,
)
from .context import Lowering, LoweringError
from .graph import GraphNode
from .helpers import scalar

B = BuiltinOperator

_BINARY = {
    "Add": B.ADD,
    "AddV2": B.ADD,
    "Sub": B.SUB,
    "Mul": B.MUL,
    "RealDiv": B.DIV,
    "Maximum": B.MAXIMUM,
    "Minimum": B.MINIMUM,
    "SquaredDifference": B.SQUARED_DIFFERENCE,
    "Pow": B.POW,
    "FloorDiv": B.FLOOR_DIV,
    "FloorMod": B.FLOOR_MOD,
    "Less": B.LESS,
    "LessEqual": B.LESS_EQUAL,
    "Greater": B.GREATER,
    "GreaterEqual": B.GREATER_EQUAL,
    "Equal": B.EQUAL,
    "NotEqual": B.NOT_EQUAL,
    "LogicalAnd": B.LOGICAL_AND,
    "LogicalOr": B.LOGICAL_OR,
    "SelectV2": B.SELECT_V2,
}
_UNARY = {
    "Relu": B.RELU,
    "Relu6": B.RELU6,
    "Elu": B.ELU,
    "Sigmoid": B.LOGISTIC,
    "Tanh": B.TANH,
    "Exp": B.EXP,
    "Log": B.LOG,
    "Sqrt": B.SQRT,
    "Rsqrt": B.RSQRT,
    "Square": B.SQUARE,
    "Neg": B.NEG,
    "Abs": B.ABS,
    "Sin": B.SIN,
    "Cos": B.COS,
    "Floor": B.FLOOR,
    "Ceil": B.CEIL,
    "Round": B.ROUND,
    "Rint": B.ROUND,
    "Sign": B.SIGN,
    "LogicalNot": B.LOGICAL_NOT,
}
_REDUCE = {
    "Mean": B.MEAN,
    "Sum": B.SUM,
    "Max": B.REDUCE_MAX,
    "Min": B.REDUCE_MIN,
    "Prod": B.REDUCE_PROD,
    "Any": B.REDUCE_ANY,
    "All": B.REDUCE_ALL,
}


def _binary(code: BuiltinOperator):
    def lower(ctx: Lowering, node: GraphNode) -> None:
        if code == B.MUL and _lower_gelu(ctx, node):
            return
        inputs = [ctx.input(node, i) for i in range(len(node.inputs))]
        ctx.emit(code, inputs, [ctx.output(node)])

    return lower


def _unary(code: BuiltinOperator):
    return lambda ctx, node: ctx.unary(code, node)


def lower_div(ctx: Lowering, node: GraphNode) -> None:
    """Div is true division for floats only (integers truncate, which DIV does not)."""
    if not np.issubdtype(node.outputs[0].dtype, np.floating):
        raise LoweringError(f"integer Div ({np.dtype(node.outputs[0].dtype).name})")
    _binary(B.DIV)(ctx, node)


def lower_reciprocal(ctx: Lowering, node: GraphNode) -> None:
    one = ctx.constant(f"{node.name}/one", np.ones((), node.outputs[0].dtype))
    ctx.emit(B.DIV, [one, ctx.input(node, 0)], [ctx.output(node)])


def lower_select(ctx: Lowering, node: GraphNode) -> None:
    """Select (v1): a rank-1 condition picks whole rows; broadcast it as SELECT_V2 does."""
    cond_shape, x_shape = ctx.shape(node.inputs[0]), ctx.shape(node.inputs[1])
    cond = ctx.input(node, 0)
    if len(cond_shape) == 1 and len(x_shape) > 1:
        rows = [-1 if cond_shape[0] is None else cond_shape[0]] + [1] * (len(x_shape) - 1)
        shaped = ctx.temp(f"{node.name}/cond", [cond_shape[0], *rows[1:]], np.bool_)
        ctx.emit(
            B.RESHAPE, [cond, ctx.constant(f"{node.name}/cond_shape", rows, "int32")], [shaped]
        )
        cond = shaped
    out = ctx.output(node)
    ctx.emit(B.SELECT_V2, [cond, ctx.input(node, 1), ctx.input(node, 2)], [out])


def lower_leaky_relu(ctx: Lowering, node: GraphNode) -> None:
    ctx.unary(B.LEAKY_RELU, node, LeakyReluOptions(alpha=float(node.attr("alpha", 0.2))))


def lower_add_n(ctx: Lowering, node: GraphNode) -> None:
    inputs = [ctx.input(node, i) for i in range(len(node.inputs))]
    ctx.emit(B.ADD_N, inputs, [ctx.output(node)])


def lower_cast(ctx: Lowering, node: GraphNode) -> None:
    source = ctx.spec(node.inputs[0]).dtype
    target = node.outputs[0].dtype
    if np.dtype(source) == np.dtype(target):
        ctx.forward(node)
        return
    options = CastOptions(tensor_type(source), tensor_type(target))
    ctx.unary(B.CAST, node, options)


def lower_clip(ctx: Lowering, node: GraphNode) -> None:
    """ClipByValue: RELU6 / RELU_N1_TO_1 / RELU_0_TO_1 when the bounds say so."""
    low, high = ctx.const(node.inputs[1]), ctx.const(node.inputs[2])
    if low is not None and high is not None and low.size == 1 and high.size == 1:
        bounds = (float(scalar(low)), float(scalar(high)))
        code = {(0.0, 6.0): B.RELU6, (-1.0, 1.0): B.RELU_N1_TO_1, (0.0, 1.0): B.RELU_0_TO_1}.get(
            bounds
        )
        if code is not None:
            ctx.unary(code, node)
            return
    shape = ctx.shape(node.outputs[0].name)
    upper = ctx.temp(f"{node.name}/upper", shape, node.outputs[0].dtype)
    ctx.emit(B.MINIMUM, [ctx.input(node, 0), ctx.input(node, 2)], [upper])
    ctx.emit(B.MAXIMUM, [upper, ctx.input(node, 1)], [ctx.output(node)])


def _reduce(code: BuiltinOperator):
    def lower(ctx: Lowering, node: GraphNode) -> None:
        axes = ctx.need_const(node, 1, "reduction axes").astype(np.int32).reshape(-1)
        keep = bool(node.attr("keep_dims", False))
        axes_t = ctx.constant(f"{node.name}/axes", axes)
        ctx.emit(code, [ctx.input(node, 0), axes_t], [ctx.output(node)], ReducerOptions(keep))

    return lower


def _arg(code: BuiltinOperator, options_type):
    def lower(ctx: Lowering, node: GraphNode) -> None:
        axis = ctx.need_const(node, 1, "axis").astype(np.int32).reshape(())
        options = options_type(tensor_type(node.outputs[0].dtype))
        axis_t = ctx.constant(f"{node.name}/axis", axis.reshape(1))
        ctx.emit(code, [ctx.input(node, 0), axis_t], [ctx.output(node)], options)

    return lower


# -- GELU ------------------------------------------------------------------------------


def _scalar(ctx: Lowering, name: str, value: float) -> bool:
    const = ctx.const(name)
    if const is None or const.size != 1:
        return False
    return bool(np.isclose(float(scalar(const)), value, rtol=1e-5))


def _other(ctx: Lowering, node: GraphNode, value: float) -> str | None:
    """For a binary node with one constant input equal to ``value``, the other input."""
    a, b = node.inputs[:2]
    if _scalar(ctx, a, value):
        return b
    if _scalar(ctx, b, value):
        return a
    return None


def _gelu_input(ctx: Lowering, half_x: str, tail: str) -> str | None:
    """x when ``half_x`` is 0.5*x and ``tail`` is erfc(-x/sqrt2) or 1 + erf(x/sqrt2)."""
    half = ctx.producer(half_x, "Mul")
    x = _other(ctx, half, 0.5) if half is not None else None
    if x is None:
        return None
    erfc = ctx.producer(tail, "Erfc")
    if erfc is not None:
        scaled = ctx.producer(erfc.inputs[0], "Mul")
        neg_x = _other(ctx, scaled, 0.5**0.5) if scaled is not None else None
        neg = ctx.producer(neg_x, "Neg") if neg_x is not None else None
        return x if neg is not None and neg.inputs[0] == x else None
    plus = ctx.producer(tail, "AddV2") or ctx.producer(tail, "Add")
    erf_out = _other(ctx, plus, 1.0) if plus is not None else None
    erf = ctx.producer(erf_out, "Erf") if erf_out is not None else None
    if erf is None:
        return None
    inner = ctx.producer(erf.inputs[0], "Mul") or ctx.producer(erf.inputs[0], "RealDiv")
    if inner is None:
        return None
    wanted = 0.5**0.5 if inner.type == "Mul" else 2**0.5
    found = _other(ctx, inner, wanted) if inner.type == "Mul" else inner.inputs[0]
    if inner.type == "RealDiv" and not _scalar(ctx, inner.inputs[1], wanted):
        return None
    return x if found == x else None


def _gelu_tanh_input(ctx: Lowering, half_x: str, tail: str) -> str | None:
    """x when ``half_x`` is 0.5*x and ``tail`` is 1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3))."""
    half = ctx.producer(half_x, "Mul")
    x = _other(ctx, half, 0.5) if half is not None else None
    plus = (ctx.producer(tail, "AddV2") or ctx.producer(tail, "Add")) if x else None
    tanh_out = _other(ctx, plus, 1.0) if plus is not None else None
    tanh = ctx.producer(tanh_out, "Tanh") if tanh_out is not None else None
    scaled = ctx.producer(tanh.inputs[0], "Mul") if tanh is not None else None
    inner_out = _other(ctx, scaled, (2 / np.pi) ** 0.5) if scaled is not None else None
    inner = (
        (ctx.producer(inner_out, "AddV2") or ctx.producer(inner_out, "Add")) if inner_out else None
    )
    if inner is None or x not in inner.inputs[:2]:
        return None
    cubic = ctx.producer(inner.inputs[1 - inner.inputs.index(x)], "Mul")
    power_out = _other(ctx, cubic, 0.044715) if cubic is not None else None
    power = ctx.producer(power_out, "Pow") if power_out is not None else None
    if power is None or power.inputs[0] != x or not _scalar(ctx, power.inputs[1], 3.0):
        return None
    return x


def _lower_gelu(ctx: Lowering, node: GraphNode) -> bool:
    """Mul(0.5*x, erfc(-x/sqrt2)) and the tanh form (either order) -> GELU(x)."""
    a, b = node.inputs[:2]
    for half, tail in ((a, b), (b, a)):
        for match, approximate in ((_gelu_input, False), (_gelu_tanh_input, True)):
            x = match(ctx, half, tail)
            if x is not None:
                options = GeluOptions(approximate=approximate)
                ctx.emit(B.GELU, [ctx.tensor(x)], [ctx.output(node)], options)
                return True
    return False


def lower_softplus(ctx: Lowering, node: GraphNode) -> None:
    """softplus(x) = relu(x) - log(sigmoid(|x|)).

    TFLite has no SOFTPLUS; log(1 + exp(x)) would overflow to inf above x = 88, while
    sigmoid(|x|) stays in [0.5, 1], so this form is exact to rounding everywhere.
    """
    shape = ctx.shape(node.outputs[0].name)
    dtype = node.outputs[0].dtype
    x = ctx.input(node, 0)
    steps = {
        name: ctx.temp(f"{node.name}/{name}", shape, dtype)
        for name in ("relu", "abs", "sig", "log")
    }
    ctx.emit(B.RELU, [x], [steps["relu"]])
    ctx.emit(B.ABS, [x], [steps["abs"]])
    ctx.emit(B.LOGISTIC, [steps["abs"]], [steps["sig"]])
    ctx.emit(B.LOG, [steps["sig"]], [steps["log"]])
    ctx.emit(B.SUB, [steps["relu"], steps["log"]], [ctx.output(node)])


LOWERINGS = {name: _binary(code) for name, code in _BINARY.items()}
LOWERINGS.update({name: _unary(code) for name, code in _UNARY.items()})
LOWERINGS.update({name: _reduce(code) for name, code in _REDUCE.items()})
LOWERINGS.update(
    {
        "Div": lower_div,
        "Reciprocal": lower_reciprocal,
        "Inv": lower_reciprocal,
        "Select": lower_select,
        "LeakyRelu": lower_leaky_relu,
        "AddN": lower_add_n,
        "Cast": lower_cast,
        "ClipByValue": lower_clip,
        "Softplus": lower_softplus,
        "ArgMax": _arg(B.ARG_MAX, ArgMaxOptions),
        "ArgMin": _arg(B.ARG_MIN, ArgMinOptions),
    }
)
