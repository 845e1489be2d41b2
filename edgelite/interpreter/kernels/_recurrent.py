"""Helpers shared by the recurrent kernels (LSTM, RNN, SVDF): activations, checks, views."""

from __future__ import annotations

import numpy as np

from ...schema.generated.enums import ActivationFunctionType as Act
from .base import Node, PrepareError, TensorInfo

_QUANTIZED = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function in float32 (exp overflows to inf for very negative x: result 0)."""
    with np.errstate(over="ignore"):
        return (np.float32(1) / (np.float32(1) + np.exp(-x))).astype(np.float32)


def activate(x: np.ndarray, act: int) -> np.ndarray:
    """TFLite's ApplyActivationToVector for the fused activations of the recurrent ops."""
    if act == Act.NONE:
        return x
    if act == Act.TANH:
        return np.tanh(x)
    if act == Act.RELU:
        return np.maximum(x, np.float32(0))
    if act == Act.RELU6:
        return np.clip(x, np.float32(0), np.float32(6))
    if act == Act.RELU_N1_TO_1:
        return np.clip(x, np.float32(-1), np.float32(1))
    if act == Act.SIGN_BIT:
        return np.signbit(x).astype(np.float32)
    raise ValueError(f"unknown fused activation {act}")


def check_float_input(node: Node, op: str, pos: int = 0) -> TensorInfo:
    """The float32 activation input at ``pos``; quantized inputs are a later issue."""
    info = node.input(pos)
    if info.dtype in _QUANTIZED:
        raise PrepareError(
            f"quantized {op} not supported yet (input {info.name!r} is {info.dtype})"
        )
    if info.dtype != np.float32:
        raise PrepareError(f"input {info.name!r} has type {info.dtype.name}; {op} needs float32")
    return info


def check_state(node: Node, pos: int, size: int, what: str) -> TensorInfo:
    """A state input: a float32 variable tensor of ``size`` elements (any shape, as TFLite)."""
    info = node.input(pos)
    if not info.is_variable:
        raise PrepareError(
            f"{what} {info.name!r} must be a variable tensor: the op writes the new state into it"
        )
    if info.dtype != np.float32:
        raise PrepareError(f"{what} {info.name!r} has type {info.dtype.name}; expected float32")
    if int(np.prod(info.shape)) != size:
        raise PrepareError(
            f"{what} {info.name!r} has shape {list(info.shape)}; needs {size} elements"
        )
    return info


def time_major_view(array: np.ndarray, time_major: bool) -> np.ndarray:
    """A [time, batch, ...] view of a sequence ([batch, features] is one time step)."""
    if array.ndim == 2:
        return array[None]
    return array if time_major else array.swapaxes(0, 1)


def state_view(array: np.ndarray, n_batch: int) -> np.ndarray:
    """The state variable as a writable [batch, n] view (never a copy)."""
    view = array.reshape(n_batch, -1)
    if not np.may_share_memory(view, array):
        raise RuntimeError("state tensors must be contiguous so the kernel can update them")
    return view
