"""Quantized MEAN / SUM / REDUCE_PROD (int8, uint8, int16) bit-exact against the official runtime.

Scales are drawn at random and also chosen to make rounding ties (equal input and output
scales with 2^k elements per mean), where the official kernels' rounding forms differ.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import ReducerOptions
from edgelite.schema.model import QuantizationParameters
from tests.kernels._shape_helpers import (
    Const,
    Out,
    Var,
    check,
    check_threads,
    op_model,
    prepare_blind,
)
from tests.oracle import assert_matches, litert_interpreter

DTYPES = [np.int8, np.uint8, np.int16]
AXES = [[1], [0, 2], [-1], [2, 0, 2], [], [0, 1, 2]]


def _version(op, dtype) -> int:
    if dtype == np.int16:
        return 2 if op in (Op.SUM, Op.REDUCE_PROD) else 3
    return 2


def _zero_point(rng, dtype) -> int:
    if dtype == np.int16:
        return 0  # int16 activations are symmetric
    info = np.iinfo(dtype)
    return int(rng.integers(info.min, info.max, endpoint=True))


def _values(rng, shape, dtype, low=None, high=None):
    info = np.iinfo(dtype)
    low = info.min if low is None else low
    high = info.max if high is None else high
    return rng.integers(low, high, shape, endpoint=True).astype(dtype)


def _check(op, x, axes, keep, q_in, q_out, dtype):
    operands = [Var(x, quantization=q_in), Const(axes, np.int32)]
    options = ReducerOptions(keep_dims=keep)
    return check(op, operands, Out(dtype, q_out), options, _version(op, dtype))


@pytest.mark.parametrize("op", [Op.MEAN, Op.SUM])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axes", AXES)
@pytest.mark.parametrize("keep", [False, True])
def test_mean_sum_random(op, dtype, axes, keep):
    rng = np.random.default_rng([int(op), len(axes), keep, np.dtype(dtype).itemsize])
    for _ in range(3):
        s_in, s_out = rng.uniform(0.002, 0.2, 2)
        q_in = quant(s_in, _zero_point(rng, dtype))
        q_out = quant(s_out * (4 if op == Op.SUM else 1), _zero_point(rng, dtype))
        _check(op, _values(rng, [3, 4, 5], dtype), axes, keep, q_in, q_out, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape, axes, keep",
    [
        ([2, 2, 2, 20], [1, 2], True),  # Mean4D (int8/uint8)
        ([2, 2, 2, 20], [2, 1], True),
        ([2, 2, 2, 20], [1, 2], False),  # the general kernel
        ([2, 2, 2, 20], [-3, -2], True),  # negative axes are resolved first: Mean4D
        ([2, 2, 2, 20], [1, 2, 1], True),  # and repeats dropped: Mean4D
        ([2, 2, 2, 20], [0, 1, 2], True),  # the general kernel
        ([3, 4, 50], [1], False),
        ([3, 8, 6], [0, 1], True),
    ],
)
def test_mean_rounding_ties(dtype, shape, axes, keep):
    """Equal scales and 2^k elements per mean make every odd sum a tie."""
    rng = np.random.default_rng(11)
    low = 0 if dtype == np.uint8 else -9
    x = _values(rng, shape, dtype, low, low + 18)
    z_in, z_out = (0, 0) if dtype == np.int16 else (3, -2 if dtype == np.int8 else 5)
    _check(Op.MEAN, x, axes, keep, quant(0.5, z_in), quant(0.5, z_out), dtype)


@pytest.mark.parametrize("depth", [1, 7, 15, 16, 17, 31, 33, 48])
def test_mean4d_vector_and_tail_channels(depth):
    """The official Mean4D rounds the 16-channel blocks and the tail differently."""
    rng = np.random.default_rng(depth)
    x = _values(rng, [2, 2, 2, depth], np.int8, -9, 9)
    _check(Op.MEAN, x, [1, 2], True, quant(0.25, 3), quant(0.25, -2), np.int8)


def test_mean_global_average_pool_mobilenet_shape():
    rng = np.random.default_rng(3)
    x = _values(rng, [1, 7, 7, 96], np.int8)
    for keep in (False, True):
        _check(Op.MEAN, x, [1, 2], keep, quant(0.0235, -128), quant(0.0117, -128), np.int8)


def test_mean_int32_sum_wraps_like_tflite():
    """Large tensors: the int32 sum of the reference kernel wraps, ours too."""
    x = np.full([1, 2, 17000, 8], -128, np.int8).reshape(2, 17000, 8)
    _check(Op.MEAN, x, [0, 1], False, quant(0.1, 5), quant(0.1, 0), np.int8)


def _threaded(model: bytes, feeds, threads: int):
    ours = Interpreter(model_content=model, num_threads=threads)
    theirs = litert_interpreter(model, num_threads=threads)
    results = []
    for interp in (ours, theirs):
        interp.allocate_tensors()
        interp.set_tensor(interp.get_input_details()[0]["index"], feeds[0])
        interp.invoke()
        results.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    return results


@pytest.mark.parametrize("depth", [24, 40, 72])
def test_mean4d_thread_split(depth):
    """With 2 threads the official kernel splits the channels and rounds per range."""
    x = _values(np.random.default_rng(5), [1, 2, 2, depth], np.int8, -9, 9)
    operands = [Var(x, quantization=quant(0.25, 1)), Const([1, 2], np.int32)]
    model, feeds = op_model(
        Op.MEAN, operands, [Out(np.int8, quant(0.25, 0))], ReducerOptions(True), 2
    )
    ours, theirs = _threaded(model, feeds, 2)
    assert_matches(ours, theirs)


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
@pytest.mark.parametrize("axes", [[1], [0, 2], [2], [], [0, 1, 2]])
def test_prod(dtype, axes):
    rng = np.random.default_rng(len(axes))
    for _ in range(3):
        z_in, z_out = _zero_point(rng, dtype) // 8, _zero_point(rng, dtype) // 8
        s_in, s_out = rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.5)
        x = _values(rng, [3, 4, 2], dtype, -40, 40)
        _check(Op.REDUCE_PROD, x, axes, False, quant(s_in, z_in), quant(s_out, z_out), dtype)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_prod_without_quantization_wraps(dtype):
    x = _values(np.random.default_rng(9), [3, 4], dtype, 0, 9)
    check(Op.REDUCE_PROD, [Var(x), Const([1], np.int32)], Out(dtype), ReducerOptions(), 2)


def test_sum_int8_saturates():
    x = np.array([[100, 100, 7], [-128, -128, -128]], np.int8)
    _check(Op.SUM, x, [1], False, quant(0.5, 1), quant(0.5, 1), np.int8)


# -- forced rounding ---------------------------------------------------------------------


def _run(model: bytes, feeds, rounding: str) -> np.ndarray:
    interp = Interpreter(model_content=model, rounding=rounding)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], feeds[0])
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


@pytest.mark.parametrize("keep", [False, True])
def test_forced_rounding(keep):
    """A sum of -2 over 4 elements is -0.5: "double" rounds it to -1, "single" to 0."""
    x = np.array([[[[-1], [-1]], [[0], [0]]]], np.int8)  # [1, 2, 2, 1]
    operands = [Var(x, quantization=quant(0.5, 0)), Const([1, 2], np.int32)]
    out = Out(np.int8, quant(0.5, 0))
    model, feeds = op_model(Op.MEAN, operands, [out], ReducerOptions(keep), 2)
    assert _run(model, feeds, "double").reshape(-1).tolist() == [-1]
    assert _run(model, feeds, "single").reshape(-1).tolist() == [0]
    # Mean4D (keep_dims) runs its one channel in the scalar "double" tail officially.
    assert _run(model, feeds, "tflite").reshape(-1).tolist() == [-1]


# -- bad parameters ----------------------------------------------------------------------


def _params(scale, zero_point, axis=0):
    return QuantizationParameters(
        np.asarray(scale, np.float32), np.asarray(zero_point, np.int64), axis
    )


@pytest.mark.parametrize(
    "q_in, q_out, dtype, message",
    [
        (None, quant(0.5), np.int8, "no quantization parameters"),
        (quant(0.5), None, np.int8, "no quantization parameters"),
        (_params([0.5, 0.25], [0, 0], 1), quant(0.5), np.int8, "per-tensor"),
        (quant(0.0), quant(0.5), np.int8, "scales must be > 0"),
        (quant(-0.5), quant(0.5), np.int8, "scales must be > 0"),
        (quant(0.5, 200), quant(0.5), np.int8, "outside int8"),
        (quant(0.5, -1), quant(0.5), np.uint8, "outside uint8"),
        (quant(0.5, 3), quant(0.5), np.int16, "zero point 0"),
    ],
)
@pytest.mark.parametrize("op", [Op.MEAN, Op.SUM])
def test_bad_quantization_parameters(op, q_in, q_out, dtype, message):
    operands = [Var(np.zeros([2, 3], dtype), quantization=q_in), Const([1], np.int32)]
    with pytest.raises(PrepareError, match=message):
        prepare_blind(op, operands, Out(dtype, q_out), ReducerOptions(), 2)


def test_prod_uint8_rejected():
    operands = [Var(np.zeros([2, 3], np.uint8), quantization=quant(0.5, 3)), Const([1], np.int32)]
    with pytest.raises(PrepareError, match="not uint8"):
        prepare_blind(Op.REDUCE_PROD, operands, Out(np.uint8, quant(0.5, 3)), ReducerOptions(), 2)


@pytest.mark.parametrize("op", [Op.MEAN, Op.SUM])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axes, keep", [([1, 2], True), ([1, 2], False), ([3], False), ([0], True)])
def test_optimized_threads(op, dtype, axes, keep):
    """The Cython kernel over chunks past 256 channels, two threads, equals the reference."""
    rng = np.random.default_rng(8)
    x = _values(rng, [2, 5, 3, 301], dtype)
    q_in, q_out = quant(0.05, _zero_point(rng, dtype)), quant(0.07, _zero_point(rng, dtype))
    operands = [Var(x, quantization=q_in), Const(axes, np.int32)]
    options = ReducerOptions(keep_dims=keep)
    check_threads(op, operands, Out(dtype, q_out), options, _version(op, dtype))
