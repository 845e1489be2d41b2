"""Quantized AVERAGE_POOL_2D / MAX_POOL_2D (int8, uint8, int16) against the oracle."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import ActivationFunctionType as Act
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.enums import Padding
from edgelite.schema.generated.options import Pool2DOptions
from tests.kernel_runner import run_kernels
from tests.kernels._qconv_helpers import Spec, build, check, q

pytestmark = pytest.mark.oracle


def _model(
    rng,
    code,
    dtype,
    *,
    shape=(2, 9, 10, 5),
    k=(3, 3),
    stride=(2, 2),
    padding=Padding.SAME,
    act=Act.NONE,
    zero=-3,
    out_scale=None,
    out_zero=None,
):
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    n, h, w, c = shape
    if padding == Padding.SAME:
        oh, ow = -(-h // stride[0]), -(-w // stride[1])
    else:
        oh, ow = (h - k[0]) // stride[0] + 1, (w - k[1]) // stride[1] + 1
    options = Pool2DOptions(padding, stride[1], stride[0], k[1], k[0], act)
    scale = 0.05
    out_q = q(out_scale or scale, zero if out_zero is None else out_zero)
    version = 3 if dtype == np.int16 else 2
    return build(code, [Spec(x, q(scale, zero))], (n, oh, ow, c), dtype, out_q, options, version)


CASES = {
    "int8": {},
    "int8_valid_2x2": {"k": (2, 2), "padding": Padding.VALID},
    "int8_5x4_stride1": {"k": (5, 4), "stride": (1, 1)},
    "int8_relu": {"act": Act.RELU},
    "int8_relu6": {"act": Act.RELU6},
    "int8_relu_n1_to_1": {"act": Act.RELU_N1_TO_1, "shape": (1, 6, 6, 40)},
    "uint8": {"zero": 128},
    "uint8_relu6": {"zero": 10, "act": Act.RELU6},
    "int16": {"zero": 0},
    "int16_wide_window": {"zero": 0, "k": (6, 7), "stride": (1, 3)},
}  # fmt: skip


def _dtype(case):
    return (
        np.int16 if case.startswith("int16") else np.uint8 if case.startswith("uint8") else np.int8
    )


@pytest.mark.parametrize("code", [Op.AVERAGE_POOL_2D, Op.MAX_POOL_2D])
@pytest.mark.parametrize("case", CASES)
def test_pooling_quant(code, case):
    rng = np.random.default_rng(zlib.crc32(f"{code}{case}".encode()))
    model, feed = _model(rng, code, _dtype(case), **CASES[case])
    check(model, feed, case)


def test_pooling_quant_needs_same_parameters():
    model, feed = _model(np.random.default_rng(1), Op.AVERAGE_POOL_2D, np.int8, out_scale=0.1)
    with pytest.raises(PrepareError, match="scale and zero point"):
        run_kernels(model, feed)


def test_l2_pool_int8_is_rejected():
    model, feed = _model(np.random.default_rng(1), Op.L2_POOL_2D, np.int8)
    with pytest.raises(PrepareError, match="float32 only"):
        run_kernels(model, feed)


def test_pooling_quant_two_threads():
    from tests.kernels._qconv_helpers import run_with_rounding

    for code in (Op.AVERAGE_POOL_2D, Op.MAX_POOL_2D):
        model, feed = _model(np.random.default_rng(8), code, np.int8, shape=(2, 60, 60, 32))
        official = check(model, feed)
        threaded = run_with_rounding(model, feed, "tflite", optimized=True, num_threads=2)
        np.testing.assert_array_equal(threaded, official)
