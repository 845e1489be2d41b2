"""Quantized RESIZE_BILINEAR (int8, int16: integer formula; uint8: float formula) against
the oracle, over align_corners / half_pixel_centers and up- / down-sampling."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from edgelite.interpreter.kernels.base import PrepareError
from edgelite.schema.generated.enums import BuiltinOperator as Op
from edgelite.schema.generated.options import ResizeBilinearOptions
from tests.kernel_runner import run_kernels
from tests.kernels._qconv_helpers import Spec, build, check, q, run_with_rounding

pytestmark = pytest.mark.oracle

SIZES = [(10, 14), (9, 13), (3, 4), (5, 7), (1, 1)]
MODES = {"plain": (False, False), "align": (True, False), "half_pixel": (False, True)}


def _model(rng, dtype, size, align, half, *, out_zero=None):
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, (2, 5, 7, 3), endpoint=True).astype(dtype)
    zero = 0 if dtype == np.int16 else 3
    operands = [Spec(x, q(0.1, zero)), Spec(np.array(size, np.int32), const=True)]
    out_q = q(0.1, zero if out_zero is None else out_zero)
    options = ResizeBilinearOptions(align, half)
    version = 4 if dtype == np.int16 else 3
    return build(Op.RESIZE_BILINEAR, operands, (2, *size, 3), dtype, out_q, options, version)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_resize_bilinear_quant(dtype, size, mode):
    rng = np.random.default_rng(zlib.crc32(f"{dtype}{size}{mode}".encode()))
    model, feed = _model(rng, dtype, size, *MODES[mode])
    check(model, feed, f"{np.dtype(dtype).name} {size} {mode}")


def test_resize_bilinear_single_rounding_rounds_ties_up():
    model, feed = _model(np.random.default_rng(1), np.int8, (10, 14), False, True)
    single = run_with_rounding(model, feed, "single", optimized=False)
    official = run_kernels(model, feed)[0]
    assert np.all((single == official) | (single == official + 1))
    assert not np.array_equal(single, official)


def test_resize_bilinear_quant_needs_same_parameters():
    model, feed = _model(np.random.default_rng(2), np.int8, (10, 14), False, False, out_zero=0)
    with pytest.raises(PrepareError, match="scale and zero point"):
        run_kernels(model, feed)
