"""Float activations: TANH LOGISTIC RELU RELU6 RELU_N1_TO_1 RELU_0_TO_1 LEAKY_RELU PRELU
ELU HARD_SWISH GELU (exact erf form, or the tanh approximation when ``approximate``).

The numpy reference writes straight into the output with ``out=`` ufunc passes.
Where that takes several passes, a temporary or a slow ufunc (TANH, LOGISTIC, ELU,
HARD_SWISH, GELU, LEAKY_RELU, PRELU) the optimized version is a fused, vectorized
Cython loop (``_elementwise.pyx``), split over ``num_threads``. The RELU family is
one clip pass already and has no separate version.

Quantized activations (int8, uint8, int16 where TFLite has them) follow the
official integer kernels bit for bit (``_qactivation``); PRELU's quantized form is
in ``_qprelu``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...schema.generated.enums import BuiltinOperator, TensorType
from .base import KernelSpec, Node, OpRecord, Prepared, PrepareError, check_inputs
from .unary import check_output, check_same_type, check_type, is_quantized, unary_prepare

try:
    from ._elementwise import (
        ELU,
        GELU,
        GELU_TANH,
        HARD_SWISH,
        LEAKY_RELU,
        LOGISTIC,
        TANH,
        prelu_f32,
        unary_f32,
    )

    # Kinds with a fused Cython loop.
    _FUSED = {
        "logistic": LOGISTIC,
        "tanh": TANH,
        "elu": ELU,
        "hard_swish": HARD_SWISH,
        "leaky_relu": LEAKY_RELU,
        "gelu": GELU,
        "gelu_tanh": GELU_TANH,
    }
except ImportError:  # extensions not built: the reference kernels still run
    prelu_f32 = unary_f32 = None
    _FUSED = {}

F32 = (TensorType.FLOAT32,)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
# math.erf over an array: exact and slow, fine for the readable reference (the
# optimized kernel uses a vectorized approximation, 1.5e-7 from erf).
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _qa() -> Any:
    """``_qactivation`` (quantized activations), imported on first use: float models skip it."""
    from . import _qactivation as module

    return module


def _qp() -> Any:
    """``_qprelu`` (quantized PRELU), imported on first use."""
    from . import _qprelu as module

    return module


class ActivationData(OpRecord):
    """Prepared float activation (read-only after prepare)."""

    __slots__ = ("kind", "alpha", "low", "high", "num_threads", "fused_kind")
    kind: str  # the op's formula, see _REFERENCE
    alpha: float  # LEAKY_RELU slope
    low: float  # clamp bounds of the RELU family
    high: float
    num_threads: int
    fused_kind: int  # the _elementwise loop for this kind, -1: none
    _defaults = {"alpha": 0.0, "low": 0.0, "high": 0.0, "num_threads": 1, "fused_kind": -1}


# -- numpy reference formulas (x, out, data) ----------------------------------------


def _clamp(x: np.ndarray, out: np.ndarray, data: ActivationData) -> None:
    np.clip(x, data.low, data.high, out=out)  # NaN stays NaN


def _tanh(x: np.ndarray, out: np.ndarray, data: ActivationData) -> None:
    np.tanh(x, out=out)


def _logistic(x: np.ndarray, out: np.ndarray, data: ActivationData) -> None:
    # 1 / (1 + exp(-x)); exp overflowing to inf gives the right limit 0.
    with np.errstate(all="ignore"):
        np.negative(x, out=out)
        np.exp(out, out=out)
        np.add(out, 1.0, out=out)
        np.divide(1.0, out, out=out)


def _elu(x: np.ndarray, out: np.ndarray, data: ActivationData) -> None:
    # x < 0 ? exp(x) - 1 : x  ==  expm1(min(x, 0)) + max(x, 0)
    with np.errstate(all="ignore"):
        np.minimum(x, 0.0, out=out)
        np.expm1(out, out=out)
        out += np.maximum(x, 0.0)


def _hard_swish(x: np.ndarray, out: np.ndarray, data: ActivationData) -> None:
    # x * relu6(x + 3) / 6
    with np.errstate(all="ignore"):
        np.add(x, 3.0, out=out)
        np.clip(out, 0.0, 6.0, out=out)
        np.multiply(out, x, out=out)
        np.divide(out, 6.0, out=out)


def _leaky_relu(x: np.ndarray, out: np.ndarray, data: ActivationData) -> None:
    # x > 0 ? x : alpha * x. For alpha <= 1 that is max(x, alpha x), else min.
    with np.errstate(all="ignore"):
        np.multiply(x, np.float32(data.alpha), out=out)
        (np.maximum if data.alpha <= 1.0 else np.minimum)(out, x, out=out)


def _gelu(x: np.ndarray, out: np.ndarray, data: ActivationData) -> None:
    # 0.5 x (1 + erf(x / sqrt(2)))
    with np.errstate(all="ignore"):
        out[...] = _erf(x.astype(np.float64) / math.sqrt(2.0))
        np.add(out, 1.0, out=out)
        np.multiply(out, x, out=out)
        np.multiply(out, 0.5, out=out)


def _gelu_tanh(x: np.ndarray, out: np.ndarray, data: ActivationData) -> None:
    # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    with np.errstate(all="ignore"):
        np.multiply(x, x, out=out)
        np.multiply(out, x, out=out)
        np.multiply(out, 0.044715, out=out)
        np.add(out, x, out=out)
        np.multiply(out, SQRT_2_OVER_PI, out=out)
        np.tanh(out, out=out)
        np.add(out, 1.0, out=out)
        np.multiply(out, x, out=out)
        np.multiply(out, 0.5, out=out)


_REFERENCE = {
    "clamp": _clamp,
    "tanh": _tanh,
    "logistic": _logistic,
    "elu": _elu,
    "hard_swish": _hard_swish,
    "leaky_relu": _leaky_relu,
    "gelu": _gelu,
    "gelu_tanh": _gelu_tanh,
}


def invoke(data: ActivationData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Reference: the numpy formula for the op."""
    if not isinstance(data, ActivationData):  # quantized: _qactivation's QUnaryData
        _qa().invoke_reference(data, inputs, outputs)
        return
    _REFERENCE[data.kind](inputs[0], outputs[0], data)


def invoke_opt(data: ActivationData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Optimized: one fused pass over the flat tensor (quantized: a table gather)."""
    if not isinstance(data, ActivationData):
        _qa().invoke_table(data, inputs, outputs)
        return
    out = outputs[0]
    if data.fused_kind < 0 or not out.flags.c_contiguous:
        invoke(data, inputs, outputs)
        return
    unary_f32(data.fused_kind, inputs[0].reshape(-1), out.reshape(-1), data.alpha, data.num_threads)


# -- prepare ------------------------------------------------------------------------

_CLAMPS = {
    BuiltinOperator.RELU: (0.0, np.inf),
    BuiltinOperator.RELU6: (0.0, 6.0),
    BuiltinOperator.RELU_N1_TO_1: (-1.0, 1.0),
    BuiltinOperator.RELU_0_TO_1: (0.0, 1.0),
}
_KINDS = {
    BuiltinOperator.TANH: "tanh",
    BuiltinOperator.LOGISTIC: "logistic",
    BuiltinOperator.ELU: "elu",
    BuiltinOperator.HARD_SWISH: "hard_swish",
}


# Quantized types each op has in TFLite, and the arithmetic (see _qactivation).
_I8, _U8, _I16 = TensorType.INT8, TensorType.UINT8, TensorType.INT16


def _gelu_compute(node: Node) -> Any:
    kind = "GELU_TANH" if getattr(node.options, "approximate", False) else "GELU"
    if node.input(0).type == TensorType.INT16:
        return _qa().lut16_compute(node, kind)
    return _qa().lut8_compute(node, kind)


_QUANTIZED: dict[BuiltinOperator, tuple[tuple[TensorType, ...], Any]] = {
    BuiltinOperator.RELU: ((_I8, _U8, _I16), lambda n: _qa().relu_compute(n, 0.0, np.inf)),
    BuiltinOperator.RELU6: ((_I8, _U8, _I16), lambda n: _qa().relu_compute(n, 0.0, 6.0)),
    BuiltinOperator.RELU_N1_TO_1: ((_I8, _U8), lambda n: _qa().relu_compute(n, -1.0, 1.0)),
    BuiltinOperator.RELU_0_TO_1: ((_I8, _U8), lambda n: _qa().relu_compute(n, 0.0, 1.0)),
    BuiltinOperator.LEAKY_RELU: ((_I8, _U8, _I16), lambda n: _qa().leaky_relu_compute(n)),
    BuiltinOperator.HARD_SWISH: ((_I8, _U8), lambda n: _qa().hard_swish_compute(n)),
    BuiltinOperator.LOGISTIC: ((_I8, _U8, _I16), lambda n: _sigmoid_like(n, False)),
    BuiltinOperator.TANH: ((_I8, _U8, _I16), lambda n: _sigmoid_like(n, True)),
    BuiltinOperator.ELU: ((_I8,), lambda n: _qa().lut8_compute(n, "ELU")),
    BuiltinOperator.GELU: ((_I8, _U8, _I16), _gelu_compute),
}


def _sigmoid_like(node: Node, tanh: bool) -> Any:
    if node.input(0).type == TensorType.INT16:
        return _qa().int16_sigmoid_compute(node, tanh)
    out = node.outputs[0]
    if not tanh and out.scale != 1.0 / 256:
        # TFLite: TF_LITE_ENSURE(context, output->params.scale == 1. / 256).
        raise PrepareError(
            f"output {out.name!r} has scale {out.scale!r}; quantized LOGISTIC needs output "
            "scale 1/256 (output->params.scale == 1. / 256)"
        )
    return _qa().lut8_compute(node, "TANH" if tanh else "LOGISTIC")


def _prepare_quantized(node: Node, op: BuiltinOperator) -> Prepared:
    check_inputs(node, 1)
    types, make = _QUANTIZED.get(op, ((), None))
    x = node.input(0)
    if x.type not in types:
        names = ", ".join(TensorType(t).name.lower() for t in types) or "no quantized types"
        raise PrepareError(
            f"quantized {node.op} supports {names} (as TFLite); input {x.name!r} is "
            f"{TensorType(x.type).name.lower()}"
        )
    return _qa().make_data(node, make(node))


def _prepare_for(op: BuiltinOperator):
    def prepare(node: Node) -> Prepared:
        if node.inputs and node.inputs[0] is not None and is_quantized(node.inputs[0]):
            return _prepare_quantized(node, op)
        threads = max(node.num_threads, 1)
        low = high = alpha = 0.0
        if op in _CLAMPS:
            kind, (low, high) = "clamp", _CLAMPS[op]
        elif op == BuiltinOperator.LEAKY_RELU:
            kind, alpha = "leaky_relu", float(np.float32(getattr(node.options, "alpha", 0.0)))
        elif op == BuiltinOperator.GELU:
            approximate = bool(getattr(node.options, "approximate", False))
            kind = "gelu_tanh" if approximate else "gelu"
        else:
            kind = _KINDS[op]
        fused = _FUSED.get(kind, -1)
        data = ActivationData(kind, alpha, low, high, num_threads=threads, fused_kind=fused)
        return unary_prepare(node, F32, data)

    return prepare


# -- PRELU --------------------------------------------------------------------------


class PreluData(OpRecord):
    """Prepared float PRELU (read-only after prepare)."""

    __slots__ = ("alpha_block", "block_dims", "num_threads")
    # alpha broadcast over the trailing output dims it varies along, flattened: the
    # output is that block repeated. None when alpha is not a constant.
    alpha_block: np.ndarray | None
    block_dims: int  # how many trailing output dims the block spans
    num_threads: int
    _defaults = {"num_threads": 1}


def prepare_prelu(node: Node) -> Prepared:
    """PRELU: alpha broadcasts against the input, the output keeps the input's shape."""
    check_inputs(node, 2)
    x, alpha = node.input(0), node.input(1)
    if is_quantized(x):
        check_type(node, x, (_I8, _U8), allow_quantized=True)
        return _qp().prepare(node)
    check_type(node, x, F32)
    check_same_type(node, (x, alpha))
    check_output(node, x.type)
    try:
        shape = tuple(np.broadcast_shapes(x.shape, alpha.shape))
    except ValueError:
        shape = None
    if shape != x.shape:
        raise PrepareError(
            f"alpha {list(alpha.shape)} must broadcast to the input shape {list(x.shape)}"
        )
    dims = _block_dims(alpha.shape)
    block = None if alpha.data is None else _alpha_block(alpha.data, x.shape, dims)
    return Prepared(output_shapes=[x.shape], data=PreluData(block, dims, max(node.num_threads, 1)))


def _block_dims(alpha_shape: tuple[int, ...]) -> int:
    """Trailing dims from alpha's first non-1 dim on: the span alpha varies over."""
    for i, size in enumerate(alpha_shape):
        if size != 1:
            return len(alpha_shape) - i
    return 0


def _alpha_block(alpha: np.ndarray, out_shape: tuple[int, ...], dims: int) -> np.ndarray:
    """alpha broadcast over the last ``dims`` output dims, flattened (C order)."""
    if dims == 0:
        return np.asarray(alpha, np.float32).reshape(1)
    tail = out_shape[len(out_shape) - dims :]
    alpha_tail = alpha.reshape(alpha.shape[len(alpha.shape) - dims :])
    return np.ascontiguousarray(np.broadcast_to(alpha_tail, tail), np.float32).reshape(-1)


def invoke_prelu(data: PreluData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Reference: x >= 0 ? x : x * alpha (alpha broadcast)."""
    if not isinstance(data, PreluData):  # quantized: _qprelu's QPreluData
        _qp().invoke_reference(data, inputs, outputs)
        return
    x, alpha = inputs
    out = outputs[0]
    with np.errstate(all="ignore"):
        np.multiply(x, alpha, out=out)
    np.copyto(out, x, where=x >= 0)


def invoke_prelu_opt(data: PreluData, inputs: list[Any], outputs: list[np.ndarray]) -> None:
    """Optimized: one pass with the alpha block repeating along the flat tensor."""
    if not isinstance(data, PreluData):
        _qp().invoke_optimized(data, inputs, outputs)
        return
    x, alpha = inputs
    out = outputs[0]
    if prelu_f32 is None or not out.flags.c_contiguous:
        invoke_prelu(data, inputs, outputs)
        return
    block = data.alpha_block
    if block is None:
        block = _alpha_block(np.asarray(alpha), out.shape, data.block_dims)
    prelu_f32(x.reshape(-1), block, out.reshape(-1), data.num_threads)


# -- registration -------------------------------------------------------------------

_VERSIONS = {
    BuiltinOperator.TANH: (1, 3),
    BuiltinOperator.LOGISTIC: (1, 3),
    BuiltinOperator.RELU: (1, 3),
    BuiltinOperator.RELU6: (1, 3),
    BuiltinOperator.RELU_N1_TO_1: (1, 1),
    BuiltinOperator.RELU_0_TO_1: (1, 1),
    BuiltinOperator.LEAKY_RELU: (1, 2),
    BuiltinOperator.ELU: (1, 1),
    BuiltinOperator.HARD_SWISH: (1, 1),
    BuiltinOperator.GELU: (1, 3),
}

KERNELS = {
    op: KernelSpec(
        prepare=_prepare_for(op), invoke=invoke, versions=versions, invoke_opt=invoke_opt
    )
    for op, versions in _VERSIONS.items()
}
KERNELS[BuiltinOperator.PRELU] = KernelSpec(
    prepare=prepare_prelu, invoke=invoke_prelu, invoke_opt=invoke_prelu_opt
)
