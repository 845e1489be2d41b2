"""Quantized L2_NORMALIZATION (int8, uint8) against the oracle."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import L2NormOptions
from tests.kernel_runner import run_kernels
from tests.kernels._qconv_helpers import Spec, build, check, q, run_with_rounding

pytestmark = pytest.mark.oracle


def _model(rng, dtype, shape, *, zero=5, spread=None, out_scale=1 / 128, out_zero=None):
    info = np.iinfo(dtype)
    if spread is None:
        x = rng.integers(info.min, info.max, shape, endpoint=True)
    else:
        x = np.clip(rng.integers(-spread, spread + 1, shape) + zero, info.min, info.max)
    x = x.astype(dtype)
    if out_zero is None:
        out_zero = 128 if dtype == np.uint8 else 0
    return build(Op.L2_NORMALIZATION, [Spec(x, q(0.07, zero))], shape, dtype,
                 q(out_scale, out_zero), L2NormOptions(), 2)  # fmt: skip


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize(
    ("shape", "spread"), [((4, 32), None), ((2, 3, 5, 17), None), ((6, 9), 2), ((3, 400), 1)]
)
def test_l2_normalization_quant(dtype, shape, spread):
    zero = 128 if dtype == np.uint8 else -3
    rng = np.random.default_rng(sum(shape))
    model, feed = _model(rng, dtype, shape, zero=zero, spread=spread)
    check(model, feed)


def test_l2_normalization_all_zero_rows():
    model, feed = _model(np.random.default_rng(0), np.int8, (3, 8), zero=4, spread=0)
    check(model, feed)


def test_l2_normalization_forced_single():
    model, feed = _model(np.random.default_rng(1), np.int8, (8, 33))
    single = run_with_rounding(model, feed, "single", optimized=True)
    assert single.dtype == np.int8 and single.shape == (8, 33)


def test_l2_normalization_needs_output_scale():
    model, feed = _model(np.random.default_rng(2), np.int8, (2, 8), out_scale=1 / 64)
    with pytest.raises(PrepareError, match="1/128"):
        run_kernels(model, feed)
