"""Quantized RSQRT (int8 and symmetric int16) against the official runtime, bit-exact."""

from __future__ import annotations

import numpy as np
import pytest

from edgelite.schema.builder import quant
from edgelite.schema.generated.enums import BuiltinOperator as Op
from tests.kernel_runner import run_kernels
from tests.kernels._elementwise_helpers import single_op_model
from tests.kernels._quant_helpers import (
    Quantized,
    check_forced,
    oracle_and_ours_refuse,
    qcheck,
)
from tests.oracle import run_litert

pytestmark = pytest.mark.oracle


@pytest.mark.parametrize(
    ("s_in", "z_in", "s_out", "z_out"),
    [(0.05, -128, 0.03, -20), (0.2, -100, 0.1, -110), (0.013, -128, 0.02, -128), (1.7, 0, 0.01, 5)],
)
def test_rsqrt_int8_every_valid_value(s_in, z_in, s_out, z_out):
    x = np.arange(z_in, 128).astype(np.int8)  # RSQRT needs inputs >= the zero point
    qcheck(Op.RSQRT, [Quantized(x, quant(s_in, z_in))], np.int8, quant(s_out, z_out))


@pytest.mark.parametrize(("s_in", "s_out"), [(0.001, 0.01), (3e-5, 0.003), (0.5, 1e-4), (0.5, 0.5)])
def test_rsqrt_int16_every_valid_value(s_in, s_out):
    x = np.arange(0, 32768).astype(np.int16)
    qcheck(Op.RSQRT, [Quantized(x, quant(s_in))], np.int16, quant(s_out))


def test_forced_rounding_agrees():
    x = Quantized(np.arange(-20, 128).astype(np.int8), quant(0.037, -20))
    check_forced(Op.RSQRT, [x], np.int8, quant(0.011, -7))


def test_negative_inputs_fail_at_invoke_like_the_runtime():
    x = np.array([-128, -5, 3], np.int8)
    model, feed = single_op_model(Op.RSQRT, [Quantized(x, quant(0.1, -10))], np.int8, None, 1,
                                  None, quant(0.1))  # fmt: skip
    with pytest.raises(RuntimeError, match="only defined for positive"):
        run_litert(model, feed)
    for optimized in (False, True):
        with pytest.raises(ValueError, match="only defined for positive"):
            run_kernels(model, feed, optimized=optimized)


def test_type_rules():
    x = Quantized(np.zeros(4, np.uint8), quant(0.1, 3))
    official, ours = oracle_and_ours_refuse(Op.RSQRT, [x], np.uint8, quant(0.1, 3))
    assert "UINT8" in official and "int8 and int16" in str(ours)
    x16 = Quantized(np.zeros(4, np.int16), quant(0.1, 3))
    official, ours = oracle_and_ours_refuse(Op.RSQRT, [x16], np.int16, quant(0.1))
    assert "input_offset" in official and "zero point 3" in str(ours)
