"""RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR: official runtime == reference == optimized."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder, quant
from edgelite.schema.generated.enums import BuiltinOperator
from edgelite.schema.generated.options import ResizeBilinearOptions, ResizeNearestNeighborOptions
from tests.kernel_runner import run_kernels
from tests.kernels.float_oracle import check_against_oracle, rand, with_threads

BILINEAR, NEAREST = BuiltinOperator.RESIZE_BILINEAR, BuiltinOperator.RESIZE_NEAREST_NEIGHBOR


def resize_model(code, x_shape, size, align, half, dtype=np.float32, version=3, runtime_size=False):
    mb = ModelBuilder()
    q = quant(0.5, 3) if dtype != np.float32 else None
    x = mb.input("x", x_shape, dtype, quantization=q)
    s = (
        mb.input("size", (2,), np.int32)
        if runtime_size
        else mb.const("size", np.array(size, np.int32))
    )
    y = mb.tensor("y", (x_shape[0], *size, x_shape[3]), dtype, quantization=q)
    options = ResizeBilinearOptions if code == BILINEAR else ResizeNearestNeighborOptions
    mb.op(code, [x, s], [y], options(align, half), version=version)
    mb.output(y)
    return mb.to_bytes()


SIZES = [
    ((1, 4, 4, 3), (8, 8)),
    ((2, 3, 5, 6), (7, 4)),  # up in one axis, down in the other
    ((1, 7, 9, 5), (3, 4)),
    ((1, 5, 5, 8), (5, 5)),
    ((1, 1, 3, 2), (4, 1)),  # single row/column edge cases
    ((1, 6, 6, 4), (13, 11)),
]
FLAGS = [(False, False), (True, False), (False, True)]


@pytest.mark.parametrize("x_shape, size", SIZES)
@pytest.mark.parametrize("align, half", FLAGS)
@pytest.mark.parametrize("code", [BILINEAR, NEAREST], ids=lambda c: c.name)
def test_resize_float32(code, x_shape, size, align, half):
    rng = np.random.default_rng(0)
    model = resize_model(code, x_shape, size, align, half)
    check_against_oracle(model, [rand(rng, *x_shape)])


@pytest.mark.parametrize("x_shape, size", SIZES)
def test_resize_nearest_float32_both_flags(x_shape, size):
    rng = np.random.default_rng(1)
    check_against_oracle(resize_model(NEAREST, x_shape, size, True, True), [rand(rng, *x_shape)])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("x_shape, size", SIZES)
@pytest.mark.parametrize("align, half", FLAGS)
def test_resize_nearest_integer_bit_exact(dtype, x_shape, size, align, half):
    rng = np.random.default_rng(2)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, x_shape, endpoint=True).astype(dtype)
    check_against_oracle(resize_model(NEAREST, x_shape, size, align, half, dtype, version=4), [x])


@pytest.mark.parametrize("code", [BILINEAR, NEAREST], ids=lambda c: c.name)
def test_resize_float32_runtime_size(code):
    rng = np.random.default_rng(3)
    model = resize_model(code, (1, 4, 5, 3), (7, 3), False, True, runtime_size=True)
    check_against_oracle(model, [rand(rng, 1, 4, 5, 3), np.array([7, 3], np.int32)])


@pytest.mark.parametrize(
    "code, dtype, align, half, message",
    [
        (BILINEAR, np.float32, True, True, "cannot both be true"),
        (BILINEAR, np.int8, True, True, "cannot both be true"),
    ],
)
def test_resize_rejects(code, dtype, align, half, message):
    model = resize_model(code, (1, 2, 2, 1), (4, 4), align, half, dtype)
    with pytest.raises(PrepareError, match=message):
        run_kernels(model, [np.zeros((1, 2, 2, 1), dtype)])


@pytest.mark.parametrize("code", [BILINEAR, NEAREST], ids=lambda c: c.name)
def test_resize_float32_two_threads(monkeypatch, code):
    with_threads(monkeypatch, 2)
    rng = np.random.default_rng(4)
    model = resize_model(code, (2, 40, 41, 36), (81, 79), False, True)
    check_against_oracle(model, [rand(rng, 2, 40, 41, 36)])
