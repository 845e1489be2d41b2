"""AVERAGE/MAX/L2_POOL_2D float32: official runtime == numpy reference == optimized."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels import pooling
from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator, Padding
from edgelite.schema.generated.options import Pool2DOptions
from tests.kernel_runner import run_kernels
from tests.kernels.float_oracle import check_against_oracle, rand, with_threads
from tests.oracle import run_litert

OPS = [BuiltinOperator.AVERAGE_POOL_2D, BuiltinOperator.MAX_POOL_2D, BuiltinOperator.L2_POOL_2D]


def pool_model(code, x_shape, out_shape, opts, version=1, dtype=np.float32):
    mb = ModelBuilder()
    x = mb.input("x", x_shape, dtype)
    y = mb.tensor("y", out_shape, dtype)
    mb.op(code, [x], [y], opts, version=version)
    mb.output(y)
    return mb.to_bytes()


def out_size(size, k, stride, padding):
    return -(-size // stride) if padding == Padding.SAME else (size - k) // stride + 1


CASES = [
    # (N, H, W, C), (fh, fw), (sh, sw), padding
    ((1, 4, 4, 2), (2, 2), (2, 2), Padding.VALID),
    ((2, 7, 7, 5), (3, 3), (2, 2), Padding.SAME),  # edge windows: average over fewer taps
    ((1, 8, 6, 19), (3, 2), (1, 2), Padding.SAME),  # ragged channel tail
    ((1, 9, 9, 16), (3, 3), (2, 2), Padding.VALID),
    ((1, 5, 6, 3), (5, 6), (1, 1), Padding.VALID),  # global pool
    ((1, 6, 6, 4), (4, 4), (1, 1), Padding.SAME),  # even filter: extra padding at the end
    ((1, 3, 3, 8), (1, 1), (2, 2), Padding.SAME),
]


@pytest.mark.parametrize("code", OPS, ids=lambda c: c.name)
@pytest.mark.parametrize("x_shape, filt, stride, padding", CASES)
def test_pool_float32(code, x_shape, filt, stride, padding):
    rng = np.random.default_rng(0)
    oh = out_size(x_shape[1], filt[0], stride[0], padding)
    ow = out_size(x_shape[2], filt[1], stride[1], padding)
    opts = Pool2DOptions(padding, stride[1], stride[0], filt[1], filt[0])
    model = pool_model(code, x_shape, (x_shape[0], oh, ow, x_shape[3]), opts)
    check_against_oracle(model, [rand(rng, *x_shape)])


@pytest.mark.parametrize("code", OPS, ids=lambda c: c.name)
@pytest.mark.parametrize("act", [Act.RELU, Act.RELU_N1_TO_1, Act.RELU6])
def test_pool_float32_activations(code, act):
    rng = np.random.default_rng(1)
    opts = Pool2DOptions(Padding.SAME, 2, 2, 3, 3, act)
    model = pool_model(code, (1, 6, 6, 9), (1, 3, 3, 9), opts)
    check_against_oracle(model, [rand(rng, 1, 6, 6, 9, scale=3.0)])


@pytest.mark.parametrize("code", OPS, ids=lambda c: c.name)
def test_pool_float32_tanh_is_applied(code):
    # The official float kernels ignore a fused TANH; edgelite applies it.
    rng = np.random.default_rng(2)
    x = rand(rng, 1, 6, 6, 5, scale=2.0)
    plain = pool_model(code, (1, 6, 6, 5), (1, 3, 3, 5), Pool2DOptions(Padding.SAME, 2, 2, 2, 2))
    expected = [np.tanh(run_litert(plain, [x])[0])]
    opts = Pool2DOptions(Padding.SAME, 2, 2, 2, 2, Act.TANH)
    check_against_oracle(pool_model(code, (1, 6, 6, 5), (1, 3, 3, 5), opts), [x], expected)


def test_pool_float32_versions():
    rng = np.random.default_rng(3)
    opts = Pool2DOptions(Padding.VALID, 2, 2, 2, 2)
    for code in OPS[:2]:
        check_against_oracle(
            pool_model(code, (1, 4, 4, 3), (1, 2, 2, 3), opts, version=3), [rand(rng, 1, 4, 4, 3)]
        )


def test_pool_optimized_extension_is_built():
    assert pooling.KERNELS[BuiltinOperator.MAX_POOL_2D].invoke_opt is not None


@pytest.mark.parametrize("code", OPS, ids=lambda c: c.name)
@pytest.mark.parametrize(
    "dtype, opts, message",
    [
        (np.int8, Pool2DOptions(Padding.VALID, 1, 1, 2, 2), "quantized"),
        (np.float32, Pool2DOptions(Padding.VALID, 0, 1, 2, 2), "stride_w is 0"),
        (np.float32, Pool2DOptions(Padding.VALID, 1, 1, 2, 0), "filter_height is 0"),
        (np.float32, Pool2DOptions(Padding.VALID, 1, 1, 5, 2), "smaller than the dilated filter"),
    ],
)
def test_pool_rejects(code, dtype, opts, message):
    model = pool_model(code, (1, 4, 4, 2), (1, 3, 3, 2), opts, dtype=dtype)
    with pytest.raises(PrepareError, match=message):
        run_kernels(model, [np.zeros((1, 4, 4, 2), dtype)])


@pytest.mark.parametrize("code", OPS, ids=lambda c: c.name)
@pytest.mark.parametrize("seed", range(6))
def test_pool_float32_random_geometry(code, seed):
    rng = np.random.default_rng(300 + seed)
    fh, fw = (int(v) for v in rng.integers(1, 5, 2))
    sh, sw = (int(v) for v in rng.integers(1, 4, 2))
    padding = Padding.SAME if rng.random() < 0.5 else Padding.VALID
    h, w, c = int(rng.integers(fh, 14)), int(rng.integers(fw, 14)), int(rng.integers(1, 24))
    oh, ow = out_size(h, fh, sh, padding), out_size(w, fw, sw, padding)
    model = pool_model(code, (1, h, w, c), (1, oh, ow, c), Pool2DOptions(padding, sw, sh, fw, fh))
    check_against_oracle(model, [rand(rng, 1, h, w, c)])


@pytest.mark.parametrize("code", OPS, ids=lambda c: c.name)
def test_pool_float32_two_threads(monkeypatch, code):
    with_threads(monkeypatch, 2)
    rng = np.random.default_rng(9)
    opts = Pool2DOptions(Padding.SAME, 2, 2, 3, 3, Act.RELU)
    model = pool_model(code, (2, 65, 63, 36), (2, 33, 32, 36), opts)
    check_against_oracle(model, [rand(rng, 2, 65, 63, 36)])
