"""CONV_2D float32: official runtime == numpy reference == optimized kernel."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels import conv_2d
from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator, Padding
from edgelite.schema.generated.options import Conv2DOptions
from tests.kernel_runner import run_kernels
from tests.kernels.float_oracle import check_against_oracle, rand, with_threads


def conv_model(
    x_shape,
    filt: np.ndarray,
    bias: np.ndarray | None,
    out_shape,
    opts: Conv2DOptions,
    version: int = 1,
    runtime_filter: bool = False,
) -> bytes:
    mb = ModelBuilder()
    x = mb.input("x", x_shape)
    w = mb.input("w", filt.shape) if runtime_filter else mb.const("w", filt)
    ins = [x, w] + ([mb.const("b", bias)] if bias is not None else [])
    y = mb.tensor("y", out_shape)
    mb.op(BuiltinOperator.CONV_2D, ins, [y], opts, version=version)
    mb.output(y)
    return mb.to_bytes()


def out_size(size: int, k: int, stride: int, dilation: int, padding: Padding) -> int:
    dilated = (k - 1) * dilation + 1
    return -(-size // stride) if padding == Padding.SAME else (size - dilated) // stride + 1


CASES = [
    # (N, H, W, C), (out, kh, kw), stride (h, w), dilation (h, w), padding
    ((1, 5, 7, 3), (4, 3, 3), (1, 1), (1, 1), Padding.SAME),
    ((2, 6, 6, 2), (3, 3, 3), (2, 2), (1, 1), Padding.SAME),
    ((1, 7, 8, 3), (5, 3, 2), (2, 3), (1, 1), Padding.VALID),
    ((1, 9, 9, 2), (2, 3, 3), (1, 1), (2, 2), Padding.SAME),
    ((1, 9, 10, 2), (3, 2, 3), (1, 2), (3, 2), Padding.VALID),
    ((2, 6, 5, 8), (16, 1, 1), (1, 1), (1, 1), Padding.SAME),  # pointwise GEMM path
    ((1, 6, 6, 8), (4, 1, 1), (2, 2), (1, 1), Padding.VALID),  # strided 1x1: im2col
    ((1, 16, 16, 3), (8, 3, 3), (2, 2), (1, 1), Padding.SAME),  # stem-like
    ((1, 4, 4, 3), (2, 5, 5), (1, 1), (1, 1), Padding.SAME),  # filter larger than input
]


@pytest.mark.parametrize("x_shape, fshape, stride, dilation, padding", CASES)
@pytest.mark.parametrize("act", [Act.NONE, Act.RELU6])
def test_conv_2d_float32(x_shape, fshape, stride, dilation, padding, act):
    rng = np.random.default_rng(0)
    filt = rand(rng, fshape[0], fshape[1], fshape[2], x_shape[3])
    bias = rand(rng, fshape[0])
    oh = out_size(x_shape[1], fshape[1], stride[0], dilation[0], padding)
    ow = out_size(x_shape[2], fshape[2], stride[1], dilation[1], padding)
    opts = Conv2DOptions(padding, stride[1], stride[0], act, dilation[1], dilation[0])
    model = conv_model(x_shape, filt, bias, (x_shape[0], oh, ow, fshape[0]), opts, version=2)
    check_against_oracle(model, [rand(rng, *x_shape)])


@pytest.mark.parametrize("act", [Act.RELU, Act.RELU_N1_TO_1, Act.RELU6])
def test_conv_2d_float32_activations(act):
    rng = np.random.default_rng(1)
    filt, bias = rand(rng, 6, 3, 3, 4), rand(rng, 6)
    model = conv_model(
        (1, 6, 6, 4), filt, bias, (1, 6, 6, 6), Conv2DOptions(Padding.SAME, 1, 1, act)
    )
    check_against_oracle(model, [rand(rng, 1, 6, 6, 4, scale=2.0)])


@pytest.mark.parametrize("fshape", [(6, 3, 3), (6, 1, 1)])
def test_conv_2d_float32_tanh_is_applied(fshape):
    # The official float kernel ignores a fused TANH; edgelite applies it, so the
    # expectation is the oracle's un-activated result through tanh.
    rng = np.random.default_rng(2)
    filt, bias, x = rand(rng, *fshape, 4), rand(rng, 6), rand(rng, 1, 5, 5, 4)
    plain = conv_model((1, 5, 5, 4), filt, bias, (1, 5, 5, 6), Conv2DOptions(Padding.SAME, 1, 1))
    from tests.oracle import run_litert

    expected = [np.tanh(run_litert(plain, [x])[0])]
    opts = Conv2DOptions(Padding.SAME, 1, 1, Act.TANH)
    model = conv_model((1, 5, 5, 4), filt, bias, (1, 5, 5, 6), opts)
    check_against_oracle(model, [x], expected)


@pytest.mark.parametrize("groups, kernel", [(2, 3), (4, 1), (3, 3)])
def test_conv_2d_float32_grouped(groups, kernel):
    rng = np.random.default_rng(3)
    cin, cout = 12, 12
    filt, bias = rand(rng, cout, kernel, kernel, cin // groups), rand(rng, cout)
    opts = Conv2DOptions(Padding.SAME, 1, 1, Act.RELU)
    model = conv_model((2, 5, 5, cin), filt, bias, (2, 5, 5, cout), opts, version=6)
    check_against_oracle(model, [rand(rng, 2, 5, 5, cin)])


@pytest.mark.parametrize("kernel", [1, 3])
def test_conv_2d_float32_without_bias(kernel):
    # The official runtime requires a bias: compare with a zero bias there.
    rng = np.random.default_rng(4)
    filt, x = rand(rng, 5, kernel, kernel, 3), rand(rng, 1, 6, 6, 3)
    opts = Conv2DOptions(Padding.SAME, 1, 1)
    with_zero = conv_model((1, 6, 6, 3), filt, np.zeros(5, np.float32), (1, 6, 6, 5), opts)
    from tests.oracle import run_litert

    expected = run_litert(with_zero, [x])
    check_against_oracle(conv_model((1, 6, 6, 3), filt, None, (1, 6, 6, 5), opts), [x], expected)


def test_conv_2d_float32_runtime_filter():
    rng = np.random.default_rng(5)
    filt, bias, x = rand(rng, 4, 3, 3, 2), rand(rng, 4), rand(rng, 1, 6, 6, 2)
    opts = Conv2DOptions(Padding.VALID, 1, 1)
    model = conv_model((1, 6, 6, 2), filt, bias, (1, 4, 4, 4), opts, runtime_filter=True)
    check_against_oracle(model, [x, filt])


def test_conv_2d_float32_chunked_im2col(monkeypatch):
    # Force several im2col chunks (and a ragged last one) on a small image.
    monkeypatch.setattr(conv_2d, "IM2COL_CHUNK_BYTES", 3 * 7 * 27 * 4)
    rng = np.random.default_rng(6)
    filt, bias, x = rand(rng, 4, 3, 3, 3), rand(rng, 4), rand(rng, 2, 13, 7, 3)
    model = conv_model((2, 13, 7, 3), filt, bias, (2, 13, 7, 4), Conv2DOptions(Padding.SAME, 1, 1))
    check_against_oracle(model, [x])


def test_conv_2d_optimized_extension_is_built():
    assert conv_2d.KERNELS[BuiltinOperator.CONV_2D].invoke_opt is not None


@pytest.mark.parametrize(
    "dtype, filt_dtype, message",
    [
        (np.int8, np.int8, "quantized CONV_2D needs a scale and zero point"),
        (np.float32, np.int8, "hybrid CONV_2D"),
    ],
)
def test_conv_2d_rejects_quantized(dtype, filt_dtype, message):
    mb = ModelBuilder()
    x = mb.input("x", (1, 4, 4, 2), dtype)
    w = mb.const("w", np.ones((3, 1, 1, 2), filt_dtype))
    y = mb.tensor("y", (1, 4, 4, 3), dtype)
    mb.op(BuiltinOperator.CONV_2D, [x, w], [y], Conv2DOptions(Padding.SAME, 1, 1))
    mb.output(y)
    with pytest.raises(PrepareError, match=message):
        run_kernels(mb.to_bytes(), [np.zeros((1, 4, 4, 2), dtype)])


@pytest.mark.parametrize(
    "opts, fshape, message",
    [
        (Conv2DOptions(Padding.SAME, 0, 1), (3, 1, 1, 2), "stride_w is 0"),
        (Conv2DOptions(Padding.VALID, 1, 1), (3, 5, 5, 2), "smaller than the dilated filter"),
        (Conv2DOptions(Padding.SAME, 1, 1), (3, 1, 1, 3), "multiple of the filter's"),
    ],
)
def test_conv_2d_rejects_bad_options(opts, fshape, message):
    rng = np.random.default_rng(7)
    model = conv_model((1, 4, 4, 2), rand(rng, *fshape), None, (1, 4, 4, 3), opts)
    with pytest.raises(PrepareError, match=message):
        run_kernels(model, [np.zeros((1, 4, 4, 2), np.float32)])


@pytest.mark.parametrize("seed", range(10))
def test_conv_2d_float32_random_geometry(seed):
    rng = np.random.default_rng(200 + seed)
    groups = int(rng.choice([1, 1, 1, 2, 3]))
    cin, cout = groups * int(rng.integers(1, 6)), groups * int(rng.integers(1, 6))
    kh, kw = (int(v) for v in rng.integers(1, 5, 2))
    sh, sw, dh, dw = (int(v) for v in rng.integers(1, 4, 4))
    padding = Padding.SAME if rng.random() < 0.5 else Padding.VALID
    h = int(rng.integers((kh - 1) * dh + 1, 16))
    w = int(rng.integers((kw - 1) * dw + 1, 16))
    filt, bias = rand(rng, cout, kh, kw, cin // groups), rand(rng, cout)
    oh, ow = out_size(h, kh, sh, dh, padding), out_size(w, kw, sw, dw, padding)
    opts = Conv2DOptions(padding, sw, sh, Act.RELU, dw, dh)
    model = conv_model((2, h, w, cin), filt, bias, (2, oh, ow, cout), opts, version=6)
    check_against_oracle(model, [rand(rng, 2, h, w, cin)])


@pytest.mark.parametrize("kernel, stride", [(1, 1), (3, 2)])
def test_conv_2d_float32_two_threads(monkeypatch, kernel, stride):
    # num_threads splits rows (Cython) and sets the BLAS thread count: same results.
    with_threads(monkeypatch, 2)
    rng = np.random.default_rng(8)
    # Big enough that every parallel loop really gets two threads (_threads.pxd).
    filt, bias, x = rand(rng, 48, kernel, kernel, 32), rand(rng, 48), rand(rng, 2, 33, 31, 32)
    oh, ow = -(-33 // stride), -(-31 // stride)
    opts = Conv2DOptions(Padding.SAME, stride, stride, Act.RELU6)
    check_against_oracle(conv_model((2, 33, 31, 32), filt, bias, (2, oh, ow, 48), opts), [x])


def test_conv_2d_finds_numpys_openblas():
    # The fast GEMM path (cblas_sgemm called from Cython, one thread pool) needs
    # numpy's bundled OpenBLAS; if a numpy upgrade renames it, this says so.
    from edgelite.interpreter.kernels import _blas

    assert _blas.blas_available()
    assert _blas.sgemm_pointer() is not None


@pytest.mark.parametrize("kernel", [1, 3])
def test_conv_2d_float32_numpy_gemm_fallback(monkeypatch, kernel):
    # Without a usable OpenBLAS the GEMMs go through numpy matmul: same results.
    from edgelite.interpreter.kernels import _blas

    monkeypatch.setattr(_blas, "sgemm_pointer", lambda: None)
    rng = np.random.default_rng(10)
    filt, bias, x = rand(rng, 7, kernel, kernel, 5), rand(rng, 7), rand(rng, 1, 9, 8, 5)
    opts = Conv2DOptions(Padding.SAME, 1, 1, Act.RELU6)
    check_against_oracle(conv_model((1, 9, 8, 5), filt, bias, (1, 9, 8, 7), opts), [x])
