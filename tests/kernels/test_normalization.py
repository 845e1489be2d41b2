"""L2_NORMALIZATION / LOCAL_RESPONSE_NORMALIZATION float32 against the official runtime."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator
from edgelite.schema.generated.options import L2NormOptions, LocalResponseNormalizationOptions
from tests.kernel_runner import run_kernels
from tests.kernels.float_oracle import check_against_oracle, rand
from tests.oracle import run_litert

L2, LRN = BuiltinOperator.L2_NORMALIZATION, BuiltinOperator.LOCAL_RESPONSE_NORMALIZATION


def norm_model(code, shape, opts, version=1, dtype=np.float32):
    mb = ModelBuilder()
    x = mb.input("x", shape, dtype)
    y = mb.tensor("y", shape, dtype)
    mb.op(code, [x], [y], opts, version=version)
    mb.output(y)
    return mb.to_bytes()


@pytest.mark.parametrize("shape", [(5,), (3, 8), (2, 3, 4), (1, 4, 4, 16), (1, 2, 2, 2, 3)])
def test_l2_normalization_float32(shape):
    rng = np.random.default_rng(0)
    check_against_oracle(norm_model(L2, shape, L2NormOptions(), version=2), [rand(rng, *shape)])


def test_l2_normalization_float32_tiny_and_zero_rows():
    # The 1e-6 floor on the norm: zero rows give 0, tiny rows are scaled by 1e6.
    x = np.array([[0, 0, 0], [1e-7, 0, 0], [3e-7, 4e-7, 0], [1e-3, 0, 0]], np.float32)
    check_against_oracle(norm_model(L2, (4, 3), L2NormOptions()), [x])


@pytest.mark.parametrize(
    "radius, bias, alpha, beta",
    [
        (1, 1.0, 1.0, 1.0),
        (2, 1.0, 0.5, 0.75),
        (5, 2.0, 1e-4, 0.75),
        (0, 1.0, 1.0, 0.5),
        (3, 0.5, 0.2, 2.0),
        (10, 1.0, 0.1, 0.3),
    ],
)
def test_local_response_normalization_float32(radius, bias, alpha, beta):
    rng = np.random.default_rng(1)
    opts = LocalResponseNormalizationOptions(radius, bias, alpha, beta)
    check_against_oracle(norm_model(LRN, (2, 3, 4, 12), opts), [rand(rng, 2, 3, 4, 12)])


def test_local_response_normalization_window_is_symmetric():
    # The official runtime's default kernel sums |k - c| <= radius (TensorFlow's
    # definition); its reference kernel leaves out k = c + radius. We follow the first.
    x = np.arange(1, 7, dtype=np.float32).reshape(1, 1, 1, 6)
    opts = LocalResponseNormalizationOptions(1, 1.0, 1.0, 1.0)
    model = norm_model(LRN, (1, 1, 1, 6), opts)
    squares = np.pad(x.ravel() ** 2, 1)
    expected = x.ravel() / (1 + squares[:-2] + squares[1:-1] + squares[2:])
    np.testing.assert_allclose(run_litert(model, [x])[0].ravel(), expected, rtol=1e-6)
    check_against_oracle(model, [x])


@pytest.mark.parametrize(
    "code, shape, opts, dtype, message",
    [
        (L2, (2, 3), L2NormOptions(Act.RELU), np.float32, "fused activation RELU"),
        (L2, (2, 3), L2NormOptions(), np.int8, "quantized L2_NORMALIZATION"),
        (LRN, (2, 3), LocalResponseNormalizationOptions(1, 1, 1, 1), np.float32, "needs 4"),
        (LRN, (1, 1, 1, 3), LocalResponseNormalizationOptions(-1, 1, 1, 1), np.float32, "radius"),
    ],
)
def test_normalization_rejects(code, shape, opts, dtype, message):
    with pytest.raises(PrepareError, match=message):
        run_kernels(norm_model(code, shape, opts, dtype=dtype), [np.zeros(shape, dtype)])
